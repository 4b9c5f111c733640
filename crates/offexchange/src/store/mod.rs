//! Where features land: a `daily_features` table keyed by `(symbol, trade_date)`.
//!
//! Every store implements [`Store`] with the same contract (one test suite checks them all):
//! upserts touch only the three feature columns, commit a trading date all-or-nothing, and never
//! let a [`Feature::Pending`] cell overwrite a stored value. Symbols are stored byte for byte.
//!
//! Beside it, `ats_weekly` keeps per `(symbol, week_start)` the ATS and non-ATS shares behind
//! `ats_share_of_total` and FINRA's `lastUpdateDate` ([`AtsWeeklyRow`]), so a stored ratio can be
//! explained and re-derived, and catch-up can tell when FINRA revised a week
//! ([`crate::Engine::catch_up`]). Shares are exact decimals there (PostgreSQL `numeric`, SQLite text),
//! never floats.
//!
//! # Store URLs ([`open`])
//!
//! | URL                                   | store                                                  |
//! |---------------------------------------|--------------------------------------------------------|
//! | `memory:`                             | [`MemoryStore`], gone when the process ends            |
//! | `sqlite:PATH`, `sqlite://PATH`        | [`SqliteStore`], one file                              |
//! | `postgres://…`, `postgresql://…`      | [`PostgresStore`], a direct (or pooled) connection     |
//! | `supabase:`                           | [`SupabaseStore`], REST; project URL and key from env  |
//! | `https://<ref>.supabase.co`           | [`SupabaseStore`] at that project; key from env        |
//!
//! PostgreSQL URLs take libpq's parameters: `sslmode=disable|prefer|require|verify-ca|verify-full`
//! (default `prefer`, as libpq: TLS when the server offers it; `require` insists, as Supabase
//! asks; the `verify-*` modes check the certificate), `sslrootcert=PATH` (Supabase's CA for
//! `verify-full`), and `options=-csearch_path%3Dmy_schema` to work in another schema.
//! Supabase URLs take `?batch_size=N` (rows per POST, default 1000). The key comes from
//! `SUPABASE_SERVICE_ROLE_KEY`, else `SUPABASE_ANON_KEY`, else `NEXT_PUBLIC_SUPABASE_ANON_KEY`;
//! the project URL of `supabase:` from `SUPABASE_URL`, else `NEXT_PUBLIC_SUPABASE_URL`.
//!
//! # Which store ([`choose`])
//!
//! One rule for every front: an explicit URL (`--store`, a Python argument), then `OFFX_STORE`,
//! then a database URL (`DATABASE_URL`, then `SUPABASE_DB_URL`), then Supabase REST credentials,
//! else the front's fallback (the CLI: SQLite in the user data directory; Python: in memory, with
//! a warning).

mod choose;
mod history;
mod memory;
mod postgres;
mod redact;
pub(crate) mod short_interest;
mod sqlite;
mod supabase;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

pub use crate::features::AtsWeeklyRow;
use crate::features::{Feature, FeatureRow};
pub use crate::provenance::{LedgerRow, SourceVersion};

pub use choose::{choose, StoreChoice, DATABASE_URL_VARS};
pub(crate) use history::{daily_volumes, versions_of};
pub use history::{FeatureVersion, Part, Provenance, RegShoDailyRow, StoredVolumes};
pub use memory::MemoryStore;
pub use postgres::{PostgresStore, MIGRATIONS};
pub use redact::redact_url;
pub use short_interest::{SettlementVersion, ShortInterestRow};
pub use sqlite::SqliteStore;
pub use supabase::{
    ApiKey, PostgrestError, SupabaseCredentials, SupabaseSettings, SupabaseStore, KEY_VARS,
    URL_VARS,
};

/// A store operation that failed. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{store}: {message} [{kind}]")]
pub struct StoreError {
    /// The store's redacted description (`sqlite:/data/offx.sqlite`).
    pub store: String,
    /// What went wrong, in one line.
    pub message: String,
    /// Whether trying again later can help.
    pub kind: StoreErrorKind,
}

/// Whether a store failure is worth retrying: orchestrators (Prefect) retry only transient ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreErrorKind {
    /// The connection was lost, a timeout, HTTP 5xx/429, a lock or serialization conflict: the
    /// same call may succeed later.
    Transient,
    /// A missing table or column, refused credentials, a constraint, a bad request, a caller bug:
    /// retrying changes nothing until someone fixes the cause.
    Permanent,
}

impl std::fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreErrorKind::Transient => "transient: retrying may help",
            StoreErrorKind::Permanent => "permanent: retrying will not help",
        })
    }
}

impl StoreError {
    /// A permanent failure (the safe default: nothing retries it).
    pub fn new(store: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError {
            store: store.into(),
            message: message.into(),
            kind: StoreErrorKind::Permanent,
        }
    }

    /// A failure that may go away on its own (a lost connection, a timeout, a lock).
    pub fn transient(store: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError {
            kind: StoreErrorKind::Transient,
            ..StoreError::new(store, message)
        }
    }

    /// The same failure with `kind`.
    pub fn with_kind(mut self, kind: StoreErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Whether retrying may help.
    pub fn is_transient(&self) -> bool {
        self.kind == StoreErrorKind::Transient
    }
}

/// Everything one session writes, committed together: its `daily_features` rows, the record of
/// the ATS week its values were computed from, and (with [`Provenance`]) the source versions in
/// the `finra_files` ledger and the session's values in `feature_versions`, stamped with when
/// they became knowable. Every store writes it in one transaction (Supabase
/// REST: one request after the other, see [`SupabaseStore`]), so a session is never stored
/// without its week's record.
#[derive(Debug, Clone, Copy)]
pub struct SessionCommit<'a> {
    /// The session.
    pub trade_date: NaiveDate,
    /// Its rows (pending cells leave stored values alone).
    pub rows: &'a [FeatureRow],
    /// The `ats_weekly` record of its week, when the week is published.
    pub week: Option<WeekRecord<'a>>,
    /// Where the values came from and when each part became knowable.
    pub provenance: Option<Provenance<'a>>,
}

impl<'a> SessionCommit<'a> {
    /// Rows only, no week record.
    pub fn rows(trade_date: NaiveDate, rows: &'a [FeatureRow]) -> Self {
        SessionCommit {
            trade_date,
            rows,
            week: None,
            provenance: None,
        }
    }

    /// The same commit, with its provenance.
    pub fn with_provenance(mut self, provenance: Provenance<'a>) -> Self {
        self.provenance = Some(provenance);
        self
    }

    /// Rows, and the record of the week starting `week_start` when `write` is given and the week
    /// has rows (an unpublished week has no record to write).
    pub fn with_week(
        trade_date: NaiveDate,
        rows: &'a [FeatureRow],
        week_start: NaiveDate,
        week_rows: &'a [AtsWeeklyRow],
        write: Option<WeekWrite>,
    ) -> Self {
        SessionCommit {
            trade_date,
            rows,
            week: write
                .filter(|_| !week_rows.is_empty())
                .map(|write| WeekRecord {
                    week_start,
                    rows: week_rows,
                    write,
                }),
            provenance: None,
        }
    }
}

/// An ATS week's `ats_weekly` rows, written with a session.
#[derive(Debug, Clone, Copy)]
pub struct WeekRecord<'a> {
    /// The Monday of the week.
    pub week_start: NaiveDate,
    /// Every symbol of the week, under Reg SHO spelling.
    pub rows: &'a [AtsWeeklyRow],
    /// Whether an existing record of the week is replaced.
    pub write: WeekWrite,
}

/// When a session's week record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeekWrite {
    /// Only when the store holds no record of the week yet. A recorded week is left alone even
    /// when these rows are newer (FINRA revised the week since): the other stored sessions of the
    /// week were computed from the recorded version, and only a job that recomputes all of them
    /// (catch-up, or a backfill that computed the whole week) moves the record forward. So the
    /// record never claims a version that stored values do not reflect.
    IfAbsent,
    /// Always: every stored session of the week was computed from these rows.
    Replace,
}

/// Which stored symbols discovery returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// Every symbol with a row on the date.
    All,
    /// Only rows with at least one feature column still null.
    MissingFeatures,
}

/// What an upsert did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpsertSummary {
    /// Rows sent.
    pub rows: usize,
    /// Rows that were new (REST stores cannot tell: 0 with `updated` 0).
    pub inserted: usize,
    /// Rows that replaced stored ones.
    pub updated: usize,
    /// Statements or requests used.
    pub batches: usize,
    /// The commit wrote its week's `ats_weekly` record ([`WeekWrite`]: a `Replace`, or an
    /// `IfAbsent` that found none).
    #[serde(skip)]
    pub week_recorded: bool,
    /// Wall time.
    #[serde(skip)]
    pub elapsed: Duration,
}

/// A row as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRow {
    /// The symbol, byte for byte.
    pub symbol: String,
    /// The session.
    pub trade_date: NaiveDate,
    /// As stored.
    pub short_vol_share: Option<f64>,
    /// As stored.
    pub short_exempt_share: Option<f64>,
    /// As stored.
    pub ats_share_of_total: Option<f64>,
}

/// A place features are kept: the one contract every store fulfils (one test suite checks them
/// all).
#[async_trait]
pub trait Store: Send + Sync {
    /// A description safe to log (no passwords or keys).
    fn describe(&self) -> String;

    /// Creates `daily_features`, `ats_weekly`, `finra_files`, `feature_versions` and
    /// `short_interest` if they do not exist (idempotent; over Supabase REST, checks they are there).
    async fn init(&self) -> Result<(), StoreError>;

    /// The stored symbols of `trade_date`, sorted.
    async fn discover_symbols(
        &self,
        trade_date: NaiveDate,
        which: Discovery,
    ) -> Result<Vec<String>, StoreError>;

    /// Writes one session in one transaction: its rows and, when given, its week's `ats_weekly`
    /// record ([`WeekWrite`] says when), all of it or none. The summary counts the rows.
    async fn commit(&self, commit: &SessionCommit<'_>) -> Result<UpsertSummary, StoreError>;

    /// Writes one trading date's rows in one transaction: all of them or none.
    async fn upsert(
        &self,
        trade_date: NaiveDate,
        rows: &[FeatureRow],
    ) -> Result<UpsertSummary, StoreError> {
        self.commit(&SessionCommit::rows(trade_date, rows)).await
    }

    /// The stored rows of `trade_date`, sorted by symbol.
    async fn read(&self, trade_date: NaiveDate) -> Result<Vec<StoredRow>, StoreError>;

    /// The stored rows of `symbols` over `from..=to`, sorted by (trade_date, symbol bytes): a
    /// symbol's series (charts). The default reads date by date; SQL stores ask once.
    async fn read_symbols(
        &self,
        symbols: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let mut out = Vec::new();
        for date in crate::calendar::sessions_between(from, to) {
            out.extend(
                self.read(date)
                    .await?
                    .into_iter()
                    .filter(|r| symbols.contains(&r.symbol)),
            );
        }
        sort_by_date_and_symbol(&mut out);
        Ok(out)
    }

    /// Which of `dates` already have rows (a backfill resumes after them). The default asks
    /// date by date; stores with a cheaper way override it.
    async fn dates_with_rows(&self, dates: &[NaiveDate]) -> Result<Vec<NaiveDate>, StoreError> {
        let mut found = Vec::new();
        for &date in dates {
            if !self
                .discover_symbols(date, Discovery::All)
                .await?
                .is_empty()
            {
                found.push(date);
            }
        }
        Ok(found)
    }

    /// Writes one week's `ats_weekly` rows, upserting by `(symbol, week_start)`: every column of
    /// a row sent is replaced, rows not sent are left as they are. One transaction where the
    /// store has them (over Supabase REST, one per batch). Refuses, writing nothing, a row of
    /// another week or a symbol twice. Returns the rows written.
    async fn upsert_ats_weekly(
        &self,
        week_start: NaiveDate,
        rows: &[AtsWeeklyRow],
    ) -> Result<usize, StoreError>;

    /// The `finra_files` ledger rows of these `(dataset, name)` sources, every version of each.
    async fn ledger(&self, sources: &[(String, String)]) -> Result<Vec<LedgerRow>, StoreError>;

    /// The feature versions of `trade_date` sorted by (symbol, part, available_at); with `as_of`,
    /// only those available at or before it.
    async fn feature_versions(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<FeatureVersion>, StoreError>;

    /// The stored `ats_weekly` rows of `week_start`, sorted by symbol (byte order).
    async fn read_ats_weekly(&self, week_start: NaiveDate)
        -> Result<Vec<AtsWeeklyRow>, StoreError>;

    /// The `regsho_daily` volumes of `trade_date`: per symbol its latest version (with `as_of`,
    /// the latest available at or before it), sorted by symbol (byte order).
    async fn regsho_daily(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredVolumes>, StoreError>;

    /// Writes one version of a settlement into `short_interest`, with its `finra_files` ledger
    /// row, in one transaction (over Supabase REST: the ledger row, then the rows). Rows of a
    /// version already stored are left as they are; another version is stored beside it, never
    /// over it. Refuses, writing nothing, rows of another settlement or version, or a symbol
    /// twice. Returns the rows written.
    async fn commit_short_interest(
        &self,
        settlement_date: NaiveDate,
        version: &SourceVersion,
        rows: &[ShortInterestRow],
    ) -> Result<usize, StoreError>;

    /// The stored versions of the settlements from `from` to `to`: the ledger's rows of dataset
    /// `short_interest`, sorted by (settlement date, publication time).
    async fn short_interest_versions(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<SettlementVersion>, StoreError> {
        let settlements = crate::datasets::short_interest::settlement_dates(from, to);
        let mut keys = Vec::with_capacity(settlements.len() * 2);
        for s in &settlements {
            for name in short_interest::ledger_names(*s) {
                keys.push((crate::datasets::short_interest::INFO.name.to_string(), name));
            }
        }
        let ledger = self.ledger(&keys).await?;
        let mut out: Vec<SettlementVersion> = ledger
            .into_iter()
            .filter_map(|row| {
                let settlement = settlements
                    .iter()
                    .copied()
                    .find(|s| short_interest::ledger_names(*s).contains(&row.version.name))?;
                Some(SettlementVersion {
                    settlement_date: settlement,
                    version: row.version,
                })
            })
            .collect();
        out.sort_by_key(|v| (v.settlement_date, v.version.published_at));
        Ok(out)
    }

    /// The rows of one settlement version (`sha256`), only `symbols` when given, sorted by
    /// symbol (byte order).
    async fn read_short_interest(
        &self,
        settlement_date: NaiveDate,
        sha256: &str,
        symbols: Option<&[String]>,
    ) -> Result<Vec<ShortInterestRow>, StoreError>;

    /// For each of `weeks` that has `ats_weekly` rows: the latest stored `last_update_date`
    /// (`None` when every row's is null). Weeks without rows are absent from the map. The default
    /// reads each week whole; stores with a cheaper way override it.
    async fn ats_weekly_last_update(
        &self,
        weeks: &[NaiveDate],
    ) -> Result<BTreeMap<NaiveDate, Option<NaiveDate>>, StoreError> {
        let mut found = BTreeMap::new();
        for &week in weeks {
            let rows = self.read_ats_weekly(week).await?;
            if !rows.is_empty() {
                found.insert(week, rows.iter().filter_map(|r| r.last_update).max());
            }
        }
        Ok(found)
    }
}

/// Opens the store a URL names (see the module doc for the grammar) and makes sure its table
/// exists. Supabase URLs read their key from the process environment.
///
/// ```no_run
/// # async fn demo() -> Result<(), offexchange::StoreError> {
/// let store = offexchange::store::open("sqlite:/tmp/offx.sqlite").await?;
/// println!("writing to {}", store.describe());
/// # Ok(()) }
/// ```
pub async fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    open_with(url, |name| std::env::var(name).ok()).await
}

/// [`open`], with the environment given as a lookup function (for tests and embedding fronts).
pub async fn open_with(
    url: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Box<dyn Store>, StoreError> {
    let trimmed = url.trim();
    let lower = trimmed.to_ascii_lowercase();
    let store: Box<dyn Store> = if lower == "memory:" || lower == "memory" {
        Box::new(MemoryStore::new())
    } else if let Some(path) = trimmed
        .strip_prefix("sqlite://")
        .or_else(|| trimmed.strip_prefix("sqlite:"))
    {
        Box::new(SqliteStore::open(path)?)
    } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Box::new(PostgresStore::connect(trimmed).await?)
    } else if lower.starts_with("supabase:")
        || lower.starts_with("https://")
        || lower.starts_with("http://")
    {
        Box::new(SupabaseStore::from_url(trimmed, lookup)?)
    } else {
        return Err(StoreError::new(
            redact_url(trimmed),
            "unknown store URL; expected memory:, sqlite:PATH, postgres://..., supabase: or \
             https://<ref>.supabase.co",
        ));
    };
    store.init().await?;
    Ok(store)
}

/// Refuses, before anything is written, what can only be a caller bug: a row of another date, a
/// symbol twice (which of the two would win?), a value that is not a ratio in [0, 1] (the
/// table's CHECK constraints would refuse it anyway; saying which row is kinder).
pub(crate) fn check_rows(
    store: &str,
    trade_date: NaiveDate,
    rows: &[FeatureRow],
) -> Result<(), StoreError> {
    let refuse = |m: String| Err(StoreError::new(store, m));
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    for r in rows {
        if r.trade_date != trade_date {
            return refuse(format!(
                "row {} is dated {}, not {trade_date}",
                r.symbol, r.trade_date
            ));
        }
        if !seen.insert(r.symbol.as_str()) {
            return refuse(format!(
                "symbol {} appears twice for {trade_date}",
                r.symbol
            ));
        }
        let cells = [
            ("short_vol_share", r.short_vol_share),
            ("short_exempt_share", r.short_exempt_share),
            ("ats_share_of_total", r.ats_share_of_total),
        ];
        for (column, cell) in cells {
            if let Feature::Value(v) = cell {
                if !(0.0..=1.0).contains(&v) {
                    return refuse(format!(
                        "{column} of {} on {trade_date} is {v}, outside [0, 1]; nothing written",
                        r.symbol
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Refuses, before anything is written, `ats_weekly` rows that can only be a caller bug: a row of
/// another week, a symbol twice.
pub(crate) fn check_ats_rows(
    store: &str,
    week_start: NaiveDate,
    rows: &[AtsWeeklyRow],
) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    for r in rows {
        if r.week_start != week_start {
            return Err(StoreError::new(
                store,
                format!(
                    "ats_weekly row {} is of the week of {}, not {week_start}; nothing written",
                    r.symbol, r.week_start
                ),
            ));
        }
        if !seen.insert(r.symbol.as_str()) {
            return Err(StoreError::new(
                store,
                format!(
                    "ats_weekly symbol {} appears twice for the week of {week_start}; nothing \
                     written",
                    r.symbol
                ),
            ));
        }
    }
    Ok(())
}

/// Per symbol, the latest of `versions` (sorted by symbol, then available_at) available by `as_of`.
pub(crate) fn latest_volumes(
    versions: impl IntoIterator<Item = StoredVolumes>,
    as_of: Option<DateTime<Utc>>,
) -> Vec<StoredVolumes> {
    let mut out: Vec<StoredVolumes> = Vec::new();
    for v in versions {
        if as_of.is_some_and(|at| v.available_at > at) {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.row.symbol == v.row.symbol => {
                if v.available_at >= last.available_at {
                    *last = v;
                }
            }
            _ => out.push(v),
        }
    }
    out
}

/// Rows in (trade_date, symbol bytes) order.
pub(crate) fn sort_by_date_and_symbol(rows: &mut [StoredRow]) {
    rows.sort_by(|a, b| {
        (a.trade_date, a.symbol.as_bytes()).cmp(&(b.trade_date, b.symbol.as_bytes()))
    });
}

/// The value a cell writes, or `None` to keep what is stored (a pending cell).
pub(crate) fn merged(new: Feature, stored: Option<f64>) -> Option<f64> {
    match new {
        Feature::Pending => stored,
        other => other.value(),
    }
}

#[cfg(test)]
mod tests;
