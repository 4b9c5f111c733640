//! Command-line grammar.

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "offx",
    version,
    about = "FINRA off-exchange features (short volume share, short exempt share, ATS share) per symbol and trading day",
    long_about = None,
    after_help = "Every FINRA_* setting is read from the environment (and .env); a flag overrides it.\n\
                  Exit codes: 0 ok, 2 usage, 3 configuration, 4 FINRA (network or data), 5 store,\n\
                  130 interrupted (Ctrl-C), 1 other."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "FINRA settings and output (every command)")]
pub struct Global {
    /// FINRA CDN root or a file:// mirror [env: FINRA_BASE_URL] [default: https://cdn.finra.org/equity]
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,
    /// Reg SHO market: TOT (all FINRA volume, composed), CNMS, FNSQ, FNQC, FNYX, FNRA, FORF
    /// [env: FINRA_SHORT_VOLUME_MARKET] [default: TOT]
    #[arg(long, global = true, value_name = "CODE")]
    pub market: Option<String>,
    /// Seconds per HTTP request [env: FINRA_HTTP_TIMEOUT] [default: 30]
    #[arg(
        long,
        global = true,
        allow_negative_numbers = true,
        value_name = "SECS"
    )]
    pub timeout: Option<String>,
    /// Retries after the first attempt [env: FINRA_HTTP_RETRIES] [default: 3]
    #[arg(long, global = true, allow_negative_numbers = true, value_name = "N")]
    pub retries: Option<String>,
    /// Base seconds of the exponential backoff [env: FINRA_HTTP_BACKOFF] [default: 0.5]
    #[arg(
        long,
        global = true,
        allow_negative_numbers = true,
        value_name = "SECS"
    )]
    pub backoff: Option<String>,
    /// User-Agent sent to FINRA (its CDN refuses bare clients) [env: FINRA_HTTP_USER_AGENT]
    #[arg(long, global = true, value_name = "TEXT")]
    pub user_agent: Option<String>,
    /// FINRA Query API root, source of the weekly ATS data [env: FINRA_API_BASE_URL]
    /// [default: https://api.finra.org]
    #[arg(long, global = true, value_name = "URL")]
    pub api_base_url: Option<String>,
    /// Weekly ATS data from: auto (the Query API when --base-url is FINRA's CDN, else the
    /// mirror's ZIP), api, zip [env: FINRA_ATS_SOURCE] [default: auto]
    #[arg(long, global = true, value_name = "SOURCE")]
    pub ats_source: Option<String>,
    /// More detail: every skipped line and invariant violation (-vv: debug logs)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compute one trading session's features, print them, and store them
    Enrich(EnrichArgs),
    /// Every NYSE session of a date range into the store; resumable, each file fetched once
    Backfill(BackfillArgs),
    /// Fill `ats_share_of_total` of recent rows whose ATS week FINRA has published since, and
    /// recompute the weeks of the last 8 that FINRA has revised
    CatchUp(CatchUpArgs),
    /// Stored features of a date range, as they are now or as knowable at a moment (--as-of),
    /// with when each value became knowable; CSV, JSON or Parquet
    Export(ExportArgs),
    /// A day's symbols ranked by a feature or a rolling signal, optionally only the liquid ones
    Top(TopArgs),
    /// A symbol's features over time: an SVG file, or a compact chart in the terminal
    Chart(ChartArgs),
    /// One self-contained HTML page for a day: coverage, rankings, every symbol, charts
    Report(ReportArgs),
    /// FINRA's short interest (open short positions) of symbols over settlement dates, as
    /// stored; with --as-of, as knowable then
    ShortInterest(ShortInterestArgs),
    /// Per calendar date, each dataset's state: stored, published but not stored, not yet due,
    /// awaited, outside the API window (historic), before FINRA published it, failed
    Coverage(CoverageArgs),
    /// The FINRA datasets offx reads, their tables, and where each begins (with sources)
    Datasets,
    /// The raw-file cache (OFFX_CACHE_DIR)
    Cache {
        #[command(subcommand)]
        action: CacheAction,
    },
    /// The store's schema (daily_features)
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Args, Debug)]
pub struct BackfillArgs {
    /// First date (inclusive), YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: NaiveDate,
    /// Last date (inclusive), YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: NaiveDate,
    /// Store URL [env: OFFX_STORE] [default: sqlite in the user data dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Files downloading at once (be polite to FINRA)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Redo sessions the store already holds
    #[arg(long)]
    pub force: bool,
    /// Summary format
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
}

#[derive(Args, Debug)]
pub struct CoverageArgs {
    /// First date (inclusive), YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: NaiveDate,
    /// Last date (inclusive), YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: NaiveDate,
    /// Store URL [env: OFFX_STORE] [default: sqlite in the user data dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Ask FINRA about what the store lacks (published but not stored, or awaited)
    #[arg(long)]
    pub check: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
}

#[derive(Args, Debug)]
pub struct CatchUpArgs {
    /// How many calendar days back to look for rows with a null ats_share_of_total
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u16).range(1..=3660))]
    pub days: u16,
    /// Look back from this date instead of today, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub until: Option<NaiveDate>,
    /// Store URL [env: OFFX_STORE] [default: sqlite in the user data dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Summary format
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table)]
    pub format: SummaryFormat,
}

#[derive(Subcommand, Debug)]
pub enum DbAction {
    /// Create daily_features and ats_weekly (migrations/*.sql) if missing; safe to run again
    Init {
        /// Store URL: postgres://..., sqlite:PATH, supabase:, https://<ref>.supabase.co
        /// [env: OFFX_STORE, DATABASE_URL, SUPABASE_DB_URL, SUPABASE_URL]
        /// [default: sqlite in the user data dir]
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CacheAction {
    /// Where the cache is and what it holds
    Info,
    /// Delete every cached file
    Clear,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// First trade date (inclusive), YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: NaiveDate,
    /// Last trade date (inclusive), YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: NaiveDate,
    /// Only these symbols, comma-separated, exact (case-sensitive) FINRA spelling
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub symbols: Option<Vec<String>>,
    /// Each value as it was knowable at this time (RFC 3339, e.g. 2024-04-02T23:00:00Z): the
    /// latest version published at or before it, null when none was
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub as_of: Option<DateTime<Utc>>,
    /// Store URL [env: OFFX_STORE] [default: sqlite in the user data dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Output format (parquet needs --out)
    #[arg(long, value_enum, default_value_t = ExportFormatArg::Csv)]
    pub format: ExportFormatArg,
    /// Write to this file (written whole, then renamed into place); default: stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Add columns: short-interest (short_interest, days_to_cover,
    /// short_interest_settlement_date: the latest settlement published by each day's close)
    #[arg(long = "with", value_enum, value_delimiter = ',', value_name = "EXTRA")]
    pub with: Vec<ExportExtra>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    /// Trading date, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub date: NaiveDate,
    /// What to rank by
    #[arg(long, value_enum, default_value_t = RankByArg::ShortVolShare)]
    pub by: RankByArg,
    /// Only symbols whose Reg SHO total volume that day is at least this many shares
    #[arg(long, value_name = "SHARES")]
    pub min_total_volume: Option<f64>,
    /// Rows shown
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
    /// Lowest first
    #[arg(long)]
    pub bottom: bool,
    /// Store URL [env: OFFX_STORE] [default: sqlite in the user data dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Args, Debug)]
pub struct ChartArgs {
    /// The symbol, exact Reg SHO spelling (BRK/B)
    pub symbol: String,
    /// First session [default: 90 days before --to]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last session [default: the store's latest]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Write the chart to this file, SVG or PNG by its name (written whole, then renamed)
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    pub out: Option<std::path::PathBuf>,
    /// Store URL [env: OFFX_STORE] [default: sqlite in the user data dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Trading date, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub date: NaiveDate,
    /// Only symbols with at least this Reg SHO total volume in the lists
    #[arg(long, value_name = "SHARES")]
    pub min_total_volume: Option<f64>,
    /// Rows per list
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Write here [default: offexchange-report-DATE.html]
    #[arg(long, value_name = "FILE.html")]
    pub out: Option<std::path::PathBuf>,
    /// Store URL [env: OFFX_STORE] [default: sqlite in the user data dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// What `offx top` ranks by.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankByArg {
    /// Short volume / total volume
    ShortVolShare,
    /// short_vol_share's z-score against its 20 sessions
    ShortVolZ,
    /// Weekly ATS / (ATS + non-ATS OTC) volume
    AtsShareOfTotal,
}

/// Columns `offx export --with` adds.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportExtra {
    /// FINRA's short interest as each trade date saw it
    ShortInterest,
}

#[derive(Args, Debug)]
pub struct ShortInterestArgs {
    /// Symbols, comma-separated, Reg SHO spelling (BRK/B)
    #[arg(long, value_delimiter = ',', value_name = "LIST", required = true)]
    pub symbols: Vec<String>,
    /// First settlement date (inclusive) [default: a year before --to]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last settlement date (inclusive) [default: today]
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Each settlement's version knowable at this time (RFC 3339)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub as_of: Option<DateTime<Utc>>,
    /// Store URL [env: OFFX_STORE] [default: sqlite in the user data dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// Formats for a listing.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    /// Aligned columns for people
    Table,
    /// One header line, then one line per row (null = empty)
    Csv,
    /// One JSON array of row objects
    Json,
}

/// A date written exactly `YYYY-MM-DD` (chrono alone would also take `2024-4-1`).
fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let t = text.trim();
    let shaped = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(format!(
            "expected a date written YYYY-MM-DD, e.g. 2024-04-01, got {t:?}"
        ));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|e| format!("{t}: {e}"))
}

/// An RFC 3339 time with its offset (`2024-04-02T23:00:00Z`, `2024-04-02T19:00:00-04:00`).
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected an RFC 3339 time such as 2024-04-02T23:00:00Z ({e})"))
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormatArg {
    /// symbol,trade_date,<3 features>,short_available_at,ats_available_at (null = empty)
    Csv,
    /// One JSON array of row objects
    Json,
    /// Apache Parquet (needs --out)
    Parquet,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct EnrichArgs {
    /// Trading date, YYYY-MM-DD
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub date: NaiveDate,
    /// Only these symbols, comma-separated, exact (case-sensitive) FINRA spelling: AAPL,BRK/B
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub symbols: Option<Vec<String>>,
    /// Store URL: sqlite:PATH, memory: [env: OFFX_STORE] [default: sqlite in the user data dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Compute and print only; write nothing
    #[arg(long, conflicts_with = "store")]
    pub no_store: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Table format: print only the first N rows (by symbol) and say how many were left out
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people
    Table,
    /// symbol,trade_date,short_vol_share,short_exempt_share,ats_share_of_total (null = empty)
    Csv,
    /// One JSON document: rows, coverage, data quality, store summary
    Json,
}
