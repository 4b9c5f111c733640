//! Embedded SQLite store (`sqlite:PATH`): persistence on a machine with nothing configured.

mod checkpoint;
mod regsho_daily;
mod short_interest;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, TransactionBehavior};

use super::{
    check_ats_rows, check_rows, versions_of, AtsWeeklyRow, Discovery, FeatureVersion, LedgerRow,
    Part, SessionCommit, ShortInterestRow, SourceVersion, Store, StoreError, StoreErrorKind,
    StoredRow, StoredVolumes, UpsertSummary, WeekWrite,
};
use crate::features::FeatureRow;
use crate::parse::ats::Carrier;
use crate::provenance::{rfc3339_micros, PublishedFrom};
use crate::volume::Volume;
use checkpoint::{Checkpointer, BACKSTOP_PAGES};

/// SQLite's version of `migrations/001_daily_features.sql` and `002_ats_weekly.sql`. `symbol`
/// compares bytewise (BINARY collation), so `CPK` and `CpK` are distinct keys.
///
/// The key is the pair `(symbol, trade_date)`, stored date-major (`PRIMARY KEY (trade_date,
/// symbol)`, `WITHOUT ROWID`): a session's rows are written side by side at the end of the table
/// instead of into thousands of pages spread over a symbol-major index, which keeps a year-long
/// backfill fast as the table grows. `ON CONFLICT (symbol, trade_date)` matches it (SQLite, like
/// PostgreSQL, matches a conflict target to a unique key regardless of column order).
///
/// `ats_weekly` is keyed week-major the same way (`PRIMARY KEY (week_start, symbol)`, `WITHOUT
/// ROWID`): every read is by week, and a week's record lands in one b-tree, at its end, where a
/// rowid table with a symbol-major key and a `week_start` index kept three b-trees and scattered
/// each week over all of the key's pages. A file created before keeps its table (and its index);
/// `ON CONFLICT (symbol, week_start)` matches either key.
///
/// SQLite has no exact decimal type, so `ats_weekly`'s shares are TEXT holding the exact decimal
/// (`431668.624869`, as [`Volume`] prints it): TEXT affinity keeps the string as bound, where a
/// NUMERIC column would turn it into a float. Dates are `YYYY-MM-DD` text, so `MAX` is the latest.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS daily_features (
    symbol              TEXT NOT NULL,
    trade_date          TEXT NOT NULL,
    short_vol_share     REAL CHECK (short_vol_share BETWEEN 0 AND 1),
    short_exempt_share  REAL CHECK (short_exempt_share BETWEEN 0 AND 1),
    ats_share_of_total  REAL CHECK (ats_share_of_total BETWEEN 0 AND 1),
    PRIMARY KEY (trade_date, symbol)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS ats_weekly (
    symbol                 TEXT NOT NULL,
    week_start             TEXT NOT NULL,
    tier                   TEXT NOT NULL,
    ats_shares             TEXT,
    otc_shares             TEXT,
    last_update_date       TEXT,
    initial_published_date TEXT,
    source                 TEXT NOT NULL CHECK (source IN ('api', 'zip')),
    PRIMARY KEY (week_start, symbol)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS finra_files (
    dataset        TEXT NOT NULL,
    name           TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    url            TEXT NOT NULL,
    bytes          INTEGER NOT NULL,
    rows           INTEGER NOT NULL,
    published_at   TEXT NOT NULL,
    published_from TEXT NOT NULL,
    first_seen_at  TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    PRIMARY KEY (dataset, name, sha256)
);

CREATE TABLE IF NOT EXISTS feature_versions (
    symbol             TEXT NOT NULL,
    trade_date         TEXT NOT NULL,
    part               TEXT NOT NULL CHECK (part IN ('short', 'ats')),
    available_at       INTEGER NOT NULL,
    short_vol_share    REAL,
    short_exempt_share REAL,
    ats_share_of_total REAL,
    PRIMARY KEY (trade_date, symbol, part, available_at)
) WITHOUT ROWID;
";

// Ledger times are stored as fixed-width UTC text ([`rfc3339_micros`]), so text order is time
// order; `feature_versions.available_at`, read millions of times by a year's export, as whole
// microseconds since 1970 (UTC).

/// A ledger time read back.
fn time_of(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(column)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad_text(column, &text, "an RFC 3339 time"))
}

/// Whether `daily_features` holds any row of a date: one probe of the date-major key.
const DATE_STORED: &str = "SELECT EXISTS (SELECT 1 FROM daily_features WHERE trade_date = ?1)";

const UPSERT_LEDGER: &str = "
INSERT INTO finra_files (dataset, name, sha256, url, bytes, rows, published_at, published_from,
                         first_seen_at, last_seen_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
ON CONFLICT (dataset, name, sha256) DO UPDATE SET last_seen_at = excluded.last_seen_at
";

/// A pending cell (flag true) keeps the stored value; any other cell replaces it.
const UPSERT: &str = "
INSERT INTO daily_features (symbol, trade_date, short_vol_share, short_exempt_share, ats_share_of_total)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (symbol, trade_date) DO UPDATE SET
    short_vol_share    = CASE WHEN ?6 THEN daily_features.short_vol_share    ELSE excluded.short_vol_share    END,
    short_exempt_share = CASE WHEN ?7 THEN daily_features.short_exempt_share ELSE excluded.short_exempt_share END,
    ats_share_of_total = CASE WHEN ?8 THEN daily_features.ats_share_of_total ELSE excluded.ats_share_of_total END
";

/// The page size of a database this store creates (SQLite's default is 4 KB; an existing file
/// keeps its own). A backfill appends rows in key order: with 16 KB pages its b-trees split and
/// rebalance a quarter as often, about 10 % off a 20-session backfill, while a symbol's chart
/// still reads one modest page per session (64 KB pages measured no faster).
const PAGE_SIZE: i64 = 16_384;

/// Rows per multi-row statement: one statement per row spends most of its time in SQLite's
/// per-statement overhead; 200 rows x 15 values (`short_interest`, the widest) stays far below
/// its variable limit (32,766).
const CHUNK: usize = 200;

/// A column of a multi-row `VALUES` list: bound once per statement (`Shared(k)` is `?k`: the
/// session's date, its availability...) or from each row.
#[derive(Clone, Copy)]
enum Slot {
    Shared(usize),
    Row,
}

/// `(?4, ?1, ?5, ...), (...)`: `rows` tuples of numbered placeholders, the shared ones first
/// (`?1..`), then each row's own in order. Binding the session's date or availability once per
/// statement instead of once per row halves the values SQLite copies. Placeholders only: the SQL
/// never holds data.
fn values_list(rows: usize, shared: usize, slots: &[Slot]) -> String {
    use std::fmt::Write;
    let mut next = shared;
    let mut sql = String::with_capacity(rows * slots.len() * 6);
    for i in 0..rows {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for (j, slot) in slots.iter().enumerate() {
            let n = match *slot {
                Slot::Shared(k) => k,
                Slot::Row => {
                    next += 1;
                    next
                }
            };
            let _ = write!(sql, "{}?{n}", if j == 0 { "" } else { ", " });
        }
        sql.push(')');
    }
    sql
}

/// A multi-row statement: its SQL with `{values}` where the `VALUES` list goes, how many values
/// every row shares (`?1..`), and each row's slots.
struct MultiRow {
    template: &'static str,
    shared: usize,
    slots: &'static [Slot],
    /// The SQL of a full chunk, built once per process: every chunk but a run's last has `CHUNK`
    /// rows, and formatting a thousand placeholders for each statement took 8 % of a backfill's
    /// CPU (perf, 20 sessions x 12,000 symbols).
    full: OnceLock<String>,
}

impl MultiRow {
    const fn new(template: &'static str, shared: usize, slots: &'static [Slot]) -> MultiRow {
        MultiRow {
            template,
            shared,
            slots,
            full: OnceLock::new(),
        }
    }

    /// The statement for `rows` rows, from the connection's statement cache when it was
    /// prepared before.
    fn prepare<'c>(
        &self,
        conn: &'c Connection,
        rows: usize,
    ) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
        let build = || {
            let values = values_list(rows, self.shared, self.slots);
            self.template.replacen("{values}", &values, 1)
        };
        if rows == CHUNK {
            conn.prepare_cached(self.full.get_or_init(build))
        } else {
            conn.prepare_cached(&build())
        }
    }
}

static FEATURES_INSERT: MultiRow = MultiRow::new(
    "INSERT INTO daily_features (symbol, trade_date, short_vol_share, short_exempt_share, ats_share_of_total)
     VALUES {values}
     ON CONFLICT (symbol, trade_date) DO UPDATE SET
         short_vol_share = excluded.short_vol_share,
         short_exempt_share = excluded.short_exempt_share,
         ats_share_of_total = excluded.ats_share_of_total",
    1,
    &[Slot::Row, Slot::Shared(1), Slot::Row, Slot::Row, Slot::Row],
);

/// The usual case, no pending cell: multi-row upserts, prepared once per shape.
fn upsert_in_chunks(
    tx: &rusqlite::Transaction<'_>,
    date: &str,
    rows: &[FeatureRow],
) -> rusqlite::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let mut stmt = FEATURES_INSERT.prepare(tx, chunk.len())?;
        let cells: Vec<[Option<f64>; 3]> = chunk
            .iter()
            .map(|r| {
                [
                    r.short_vol_share.value(),
                    r.short_exempt_share.value(),
                    r.ats_share_of_total.value(),
                ]
            })
            .collect();
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(1 + chunk.len() * 4);
        params.push(&date);
        for (r, cell) in chunk.iter().zip(&cells) {
            params.push(&r.symbol);
            params.push(&cell[0]);
            params.push(&cell[1]);
            params.push(&cell[2]);
        }
        stmt.execute(params.as_slice())?;
    }
    Ok(())
}

/// One SQLite file (bundled SQLite, nothing to install): the CLI's default store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    checkpointer: Arc<Checkpointer>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and its parent directory.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let name = format!("sqlite:{}", path.display());
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::new(&name, format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let conn = Connection::open(&path).map_err(|e| StoreError::new(&name, e.to_string()))?;
        // WAL lets readers (a notebook, sqlite3) look while a backfill writes.
        // A 64 MB page cache: a year of sessions is millions of rows, and a symbol's series
        // (charts, signals) reads one page per session across the date-major key.
        // Checkpoints run on a thread of their own (see `checkpoint`).
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .and_then(|_| conn.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|_| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|_| conn.pragma_update(None, "cache_size", -65_536))
            .and_then(|_| conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES))
            .and_then(|_| conn.busy_timeout(std::time::Duration::from_secs(10)))
            .map_err(|e| StoreError::new(&name, e.to_string()))?;
        let checkpointer = Checkpointer::start(&path).map_err(|m| StoreError::new(&name, m))?;
        Ok(SqliteStore {
            path,
            conn: Arc::new(Mutex::new(conn)),
            checkpointer: Arc::new(checkpointer),
        })
    }

    /// Runs `work` on the connection off the async executor.
    async fn with_conn<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        let checkpointer = Arc::clone(&self.checkpointer);
        let name = self.describe();
        let failed =
            |(m, kind): (String, StoreErrorKind)| StoreError::new(&name, m).with_kind(kind);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| {
                (
                    "a previous writer panicked".to_string(),
                    StoreErrorKind::Permanent,
                )
            })?;
            let changes = guard.total_changes();
            let done = work(&mut guard).map_err(|e| (e.to_string(), kind_of(&e)));
            if guard.total_changes() != changes && guard.is_autocommit() {
                checkpointer.committed();
            }
            done
        })
        .await
        .map_err(|e| failed((e.to_string(), StoreErrorKind::Permanent)))?
        .map_err(failed)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    async fn init(&self) -> Result<(), StoreError> {
        self.with_conn(|c| {
            c.execute_batch(SCHEMA)?;
            c.execute_batch(regsho_daily::SCHEMA)?;
            c.execute_batch(short_interest::SCHEMA)
        })
        .await
    }

    async fn discover_symbols(
        &self,
        trade_date: NaiveDate,
        which: Discovery,
    ) -> Result<Vec<String>, StoreError> {
        let sql = match which {
            Discovery::All => "SELECT symbol FROM daily_features WHERE trade_date = ?1 ORDER BY symbol",
            Discovery::MissingFeatures => {
                "SELECT symbol FROM daily_features WHERE trade_date = ?1
                 AND (short_vol_share IS NULL OR short_exempt_share IS NULL OR ats_share_of_total IS NULL)
                 ORDER BY symbol"
            }
        };
        self.with_conn(move |c| {
            let mut stmt = c.prepare(sql)?;
            let rows = stmt.query_map([trade_date.to_string()], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    /// One probe of the date-major key per date, instead of reading each date's symbols back.
    async fn dates_with_rows(&self, dates: &[NaiveDate]) -> Result<Vec<NaiveDate>, StoreError> {
        let dates = dates.to_vec();
        self.with_conn(move |c| {
            let mut stmt = c.prepare_cached(DATE_STORED)?;
            let mut found = Vec::new();
            for date in dates {
                if stmt.query_row([date.to_string()], |r| r.get::<_, bool>(0))? {
                    found.push(date);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn commit(&self, commit: &SessionCommit<'_>) -> Result<UpsertSummary, StoreError> {
        let started = Instant::now();
        let trade_date = commit.trade_date;
        check_rows(&self.describe(), trade_date, commit.rows)?;
        let rows = commit.rows.to_vec();
        let provenance = commit
            .provenance
            .map(|p| (p.sources.to_vec(), versions_of(trade_date, commit.rows, &p)));
        let volumes = commit.provenance.and_then(|p| {
            let at = p.short_available_at?;
            Some((at, p.facilities.to_string(), p.volumes.to_vec()))
        });
        let week = match &commit.week {
            Some(week) => {
                check_ats_rows(&self.describe(), week.week_start, week.rows)?;
                Some((week.week_start, week.rows.to_vec(), week.write))
            }
            None => None,
        };
        let mut summary = self
            .with_conn(move |c| {
                let date = trade_date.to_string();
                // IMMEDIATE takes the write lock up front: a deferred transaction that reads and
                // then writes fails at once ("database is locked") when another process writes,
                // without waiting for busy_timeout.
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                // Which rows are updates: none for a new session (a backfill's usual case), so
                // the symbols are read only when the date has some.
                let stored: i64 = tx.query_row(DATE_STORED, [&date], |r| r.get(0))?;
                let existing: HashSet<String> = if stored == 0 {
                    HashSet::new()
                } else {
                    let mut stmt =
                        tx.prepare("SELECT symbol FROM daily_features WHERE trade_date = ?1")?;
                    let found = stmt.query_map([&date], |r| r.get(0))?;
                    found.collect::<rusqlite::Result<_>>()?
                };
                {
                    let any_pending = rows.iter().any(|r| {
                        r.short_vol_share.is_pending()
                            || r.short_exempt_share.is_pending()
                            || r.ats_share_of_total.is_pending()
                    });
                    if !any_pending {
                        upsert_in_chunks(&tx, &date, &rows)?;
                    }
                    let mut stmt = tx.prepare(UPSERT)?;
                    for r in rows.iter().filter(|_| any_pending) {
                        stmt.execute(params![
                            r.symbol,
                            date,
                            r.short_vol_share.value(),
                            r.short_exempt_share.value(),
                            r.ats_share_of_total.value(),
                            r.short_vol_share.is_pending(),
                            r.short_exempt_share.is_pending(),
                            r.ats_share_of_total.is_pending(),
                        ])?;
                    }
                }
                if let Some((sources, versions)) = &provenance {
                    write_provenance(&tx, sources, versions)?;
                }
                if let Some((at, facilities, volumes)) = &volumes {
                    regsho_daily::write(&tx, trade_date, *at, facilities, volumes)?;
                }
                let mut week_recorded = false;
                if let Some((week_start, week_rows, write)) = &week {
                    let recorded: bool = tx.query_row(
                        "SELECT EXISTS (SELECT 1 FROM ats_weekly WHERE week_start = ?1)",
                        [week_start.to_string()],
                        |r| r.get(0),
                    )?;
                    if *write == WeekWrite::Replace || !recorded {
                        write_ats_weekly(&tx, *week_start, week_rows)?;
                        week_recorded = true;
                    }
                }
                tx.commit()?;
                let updated = rows.iter().filter(|r| existing.contains(&r.symbol)).count();
                Ok(UpsertSummary {
                    rows: rows.len(),
                    inserted: rows.len() - updated,
                    updated,
                    batches: 1,
                    elapsed: Default::default(),
                    week_recorded,
                })
            })
            .await?;
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    async fn read_symbols(
        &self,
        symbols: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let symbols = symbols.to_vec();
        let mut rows = self
            .with_conn(move |c| {
                let mut out = Vec::new();
                // Bound placeholders only, in chunks below SQLite's variable limit.
                for chunk in symbols.chunks(500) {
                    let marks = vec!["?"; chunk.len()].join(", ");
                    let sql = format!(
                        "SELECT symbol, trade_date, short_vol_share, short_exempt_share,
                                ats_share_of_total
                         FROM daily_features
                         WHERE trade_date BETWEEN ? AND ? AND symbol IN ({marks})"
                    );
                    let mut stmt = c.prepare(&sql)?;
                    let mut values: Vec<String> = vec![from.to_string(), to.to_string()];
                    values.extend(chunk.iter().cloned());
                    let found = stmt.query_map(rusqlite::params_from_iter(values.iter()), |r| {
                        Ok(StoredRow {
                            symbol: r.get(0)?,
                            trade_date: date(r, 1)?.unwrap_or_default(),
                            short_vol_share: r.get(2)?,
                            short_exempt_share: r.get(3)?,
                            ats_share_of_total: r.get(4)?,
                        })
                    })?;
                    for row in found {
                        out.push(row?);
                    }
                }
                Ok(out)
            })
            .await?;
        super::sort_by_date_and_symbol(&mut rows);
        Ok(rows)
    }

    async fn read(&self, trade_date: NaiveDate) -> Result<Vec<StoredRow>, StoreError> {
        self.with_conn(move |c| {
            let mut stmt = c.prepare(
                "SELECT symbol, short_vol_share, short_exempt_share, ats_share_of_total
                 FROM daily_features WHERE trade_date = ?1 ORDER BY symbol",
            )?;
            let rows = stmt.query_map([trade_date.to_string()], |r| {
                Ok(StoredRow {
                    symbol: r.get(0)?,
                    trade_date,
                    short_vol_share: r.get(1)?,
                    short_exempt_share: r.get(2)?,
                    ats_share_of_total: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn upsert_ats_weekly(
        &self,
        week_start: NaiveDate,
        rows: &[AtsWeeklyRow],
    ) -> Result<usize, StoreError> {
        check_ats_rows(&self.describe(), week_start, rows)?;
        let rows = rows.to_vec();
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            write_ats_weekly(&tx, week_start, &rows)?;
            tx.commit()?;
            Ok(rows.len())
        })
        .await
    }

    async fn commit_short_interest(
        &self,
        settlement_date: NaiveDate,
        version: &SourceVersion,
        rows: &[ShortInterestRow],
    ) -> Result<usize, StoreError> {
        self.write_short_interest(settlement_date, version, rows)
            .await
    }

    async fn read_short_interest(
        &self,
        settlement_date: NaiveDate,
        sha256: &str,
        symbols: Option<&[String]>,
    ) -> Result<Vec<ShortInterestRow>, StoreError> {
        self.short_interest_rows(settlement_date, sha256, symbols)
            .await
    }

    async fn regsho_daily(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredVolumes>, StoreError> {
        self.read_volumes(trade_date, as_of).await
    }

    async fn ledger(&self, sources: &[(String, String)]) -> Result<Vec<LedgerRow>, StoreError> {
        let sources = sources.to_vec();
        self.with_conn(move |c| {
            let mut stmt = c.prepare(
                "SELECT dataset, name, sha256, url, bytes, rows, published_at, published_from,
                        first_seen_at, last_seen_at
                 FROM finra_files WHERE dataset = ?1 AND name = ?2 ORDER BY published_at",
            )?;
            let mut out = Vec::new();
            for (dataset, name) in &sources {
                let rows = stmt.query_map([dataset, name], |r| {
                    let from: String = r.get(7)?;
                    Ok(LedgerRow {
                        version: SourceVersion {
                            dataset: r.get(0)?,
                            name: r.get(1)?,
                            sha256: r.get(2)?,
                            url: r.get(3)?,
                            bytes: r.get::<_, i64>(4)?.max(0) as u64,
                            rows: r.get::<_, i64>(5)?.max(0) as u64,
                            published_at: time_of(r, 6)?,
                            published_from: PublishedFrom::parse(&from)
                                .ok_or_else(|| bad_text(7, &from, "a publication source"))?,
                        },
                        first_seen_at: time_of(r, 8)?,
                        last_seen_at: time_of(r, 9)?,
                    })
                })?;
                for row in rows {
                    out.push(row?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn feature_versions(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<FeatureVersion>, StoreError> {
        self.with_conn(move |c| {
            // Without a time, the end of all times: every version.
            let until = as_of.map_or(i64::MAX, |t| t.timestamp_micros());
            let mut stmt = c.prepare_cached(
                "SELECT symbol, part, available_at, short_vol_share, short_exempt_share,
                        ats_share_of_total
                 FROM feature_versions WHERE trade_date = ?1 AND available_at <= ?2
                 ORDER BY symbol, part, available_at",
            )?;
            let rows = stmt.query_map(params![trade_date.to_string(), until], |r| {
                let part: String = r.get(1)?;
                Ok(FeatureVersion {
                    symbol: r.get(0)?,
                    trade_date,
                    part: Part::parse(&part).ok_or_else(|| bad_text(1, &part, "a part"))?,
                    available_at: {
                        let micros: i64 = r.get(2)?;
                        DateTime::from_timestamp_micros(micros)
                            .ok_or_else(|| bad_text(2, &micros.to_string(), "a time"))?
                    },
                    short_vol_share: r.get(3)?,
                    short_exempt_share: r.get(4)?,
                    ats_share_of_total: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn read_ats_weekly(
        &self,
        week_start: NaiveDate,
    ) -> Result<Vec<AtsWeeklyRow>, StoreError> {
        self.with_conn(move |c| {
            let mut stmt = c.prepare(
                "SELECT symbol, tier, ats_shares, otc_shares, last_update_date,
                        initial_published_date, source
                 FROM ats_weekly WHERE week_start = ?1 ORDER BY symbol",
            )?;
            let rows = stmt.query_map([week_start.to_string()], |r| {
                Ok(AtsWeeklyRow {
                    symbol: r.get(0)?,
                    week_start,
                    tier: r.get(1)?,
                    ats_shares: volume(r, 2)?,
                    otc_shares: volume(r, 3)?,
                    last_update: date(r, 4)?,
                    initial_published: date(r, 5)?,
                    source: {
                        let text: String = r.get(6)?;
                        Carrier::parse(&text).ok_or_else(|| bad_text(6, &text, "a source"))?
                    },
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn ats_weekly_last_update(
        &self,
        weeks: &[NaiveDate],
    ) -> Result<BTreeMap<NaiveDate, Option<NaiveDate>>, StoreError> {
        let weeks = weeks.to_vec();
        self.with_conn(move |c| {
            let mut stmt = c.prepare(
                "SELECT COUNT(*), MAX(last_update_date) FROM ats_weekly WHERE week_start = ?1",
            )?;
            let mut found = BTreeMap::new();
            for week in weeks {
                let (count, latest) = stmt.query_row([week.to_string()], |r| {
                    Ok((r.get::<_, i64>(0)?, date(r, 1)?))
                })?;
                if count > 0 {
                    found.insert(week, latest);
                }
            }
            Ok(found)
        })
        .await
    }
}

/// Another writer holding the database (busy, locked) may let go; everything else (a missing table,
/// a constraint, a full disk, a corrupt file) needs someone to act.
fn kind_of(e: &rusqlite::Error) -> StoreErrorKind {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreErrorKind::Transient
        }
        _ => StoreErrorKind::Permanent,
    }
}

/// Records the ledger rows and feature versions of a session inside the caller's transaction.
fn write_provenance(
    tx: &rusqlite::Transaction<'_>,
    sources: &[SourceVersion],
    versions: &[FeatureVersion],
) -> rusqlite::Result<()> {
    let now = rfc3339_micros(Utc::now());
    let mut ledger = tx.prepare(UPSERT_LEDGER)?;
    for s in sources {
        ledger.execute(params![
            s.dataset,
            s.name,
            s.sha256,
            s.url,
            s.bytes as i64,
            s.rows as i64,
            rfc3339_micros(s.published_at),
            s.published_from.as_str(),
            now,
        ])?;
    }
    // Multi-row statements, as for daily_features, the date bound once. Versions come in key
    // order (see `versions_of`): each lands at the end of the table's b-tree.
    use Slot::{Row, Shared};
    static INSERT: MultiRow = MultiRow::new(
        "INSERT INTO feature_versions (symbol, trade_date, part, available_at,
             short_vol_share, short_exempt_share, ats_share_of_total)
         VALUES {values}
         ON CONFLICT DO NOTHING",
        1,
        &[Row, Shared(1), Row, Row, Row, Row, Row],
    );
    for run in versions.chunk_by(|a, b| a.trade_date == b.trade_date) {
        let Some(first) = run.first() else { continue };
        let date = first.trade_date.to_string();
        for chunk in run.chunks(CHUNK) {
            let times: Vec<i64> = chunk
                .iter()
                .map(|v| v.available_at.timestamp_micros())
                .collect();
            let mut insert = INSERT.prepare(tx, chunk.len())?;
            let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(1 + chunk.len() * 6);
            params.push(&date);
            for (v, at) in chunk.iter().zip(&times) {
                params.push(&v.symbol);
                params.push(v.part.str_ref());
                params.push(at);
                params.push(&v.short_vol_share);
                params.push(&v.short_exempt_share);
                params.push(&v.ats_share_of_total);
            }
            insert.execute(params.as_slice())?;
        }
    }
    Ok(())
}

/// Upserts one week's `ats_weekly` rows inside the caller's transaction, in multi-row statements
/// that bind the week once.
fn write_ats_weekly(
    tx: &rusqlite::Transaction<'_>,
    week_start: NaiveDate,
    rows: &[AtsWeeklyRow],
) -> rusqlite::Result<()> {
    use Slot::{Row, Shared};
    static UPSERT: MultiRow = MultiRow::new(
        "INSERT INTO ats_weekly (symbol, week_start, tier, ats_shares, otc_shares,
             last_update_date, initial_published_date, source)
         VALUES {values}
         ON CONFLICT (symbol, week_start) DO UPDATE SET
             tier                   = excluded.tier,
             ats_shares             = excluded.ats_shares,
             otc_shares             = excluded.otc_shares,
             last_update_date       = excluded.last_update_date,
             initial_published_date = excluded.initial_published_date,
             source                 = excluded.source",
        1,
        &[Row, Shared(1), Row, Row, Row, Row, Row, Row],
    );
    let week = week_start.to_string();
    let text = |d: Option<NaiveDate>| d.map(|d| d.to_string());
    for chunk in rows.chunks(CHUNK) {
        let mut stmt = UPSERT.prepare(tx, chunk.len())?;
        type Texts = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            &'static str,
        );
        let texts: Vec<Texts> = chunk
            .iter()
            .map(|r| {
                (
                    r.ats_shares.map(|v| v.to_string()),
                    r.otc_shares.map(|v| v.to_string()),
                    text(r.last_update),
                    text(r.initial_published),
                    r.source.as_str(),
                )
            })
            .collect();
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(1 + chunk.len() * 7);
        params.push(&week);
        for (r, (ats, otc, last, initial, source)) in chunk.iter().zip(&texts) {
            params.push(&r.symbol);
            params.push(&r.tier);
            params.push(ats);
            params.push(otc);
            params.push(last);
            params.push(initial);
            params.push(source);
        }
        stmt.execute(params.as_slice())?;
    }
    Ok(())
}

/// An exact decimal stored as text (see [`SCHEMA`]).
fn volume(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Option<Volume>> {
    let text: Option<String> = row.get(column)?;
    text.map(|t| Volume::parse(t.as_bytes()).map_err(|_| bad_text(column, &t, "a share volume")))
        .transpose()
}

/// A `YYYY-MM-DD` date stored as text.
fn date(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Option<NaiveDate>> {
    let text: Option<String> = row.get(column)?;
    text.map(|t| {
        NaiveDate::parse_from_str(&t, "%Y-%m-%d").map_err(|_| bad_text(column, &t, "a date"))
    })
    .transpose()
}

fn bad_text(column: usize, text: &str, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("{text:?} is not {what}").into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_database_is_transient_a_missing_table_permanent() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert_eq!(kind_of(&busy), StoreErrorKind::Transient);
        let conn = Connection::open_in_memory().expect("in-memory database");
        let missing = conn
            .execute("DELETE FROM no_such_table", [])
            .expect_err("no such table");
        assert_eq!(kind_of(&missing), StoreErrorKind::Permanent);
    }

    #[test]
    fn shared_placeholders_are_numbered_first_and_reused_by_every_row() {
        use Slot::{Row, Shared};
        assert_eq!(
            values_list(2, 1, &[Row, Shared(1), Row]),
            "(?2, ?1, ?3), (?4, ?1, ?5)"
        );
        assert_eq!(values_list(1, 0, &[Row, Row]), "(?1, ?2)");
        // Bound as numbered: the shared value once, then each row's own in order.
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch("CREATE TABLE t (a TEXT, d TEXT, b INTEGER)")
            .expect("table");
        let sql = format!(
            "INSERT INTO t VALUES {}",
            values_list(2, 1, &[Row, Shared(1), Row])
        );
        conn.execute(&sql, params!["2024-04-01", "A", 1, "B", 2])
            .expect("insert");
        let rows: Vec<(String, String, i64)> = conn
            .prepare("SELECT a, d, b FROM t ORDER BY a")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .expect("read");
        assert_eq!(
            rows,
            [
                ("A".into(), "2024-04-01".into(), 1),
                ("B".into(), "2024-04-01".into(), 2)
            ]
        );
    }
    #[test]
    fn a_multi_row_statement_builds_its_full_chunk_once_and_any_other_length_apart() {
        use Slot::{Row, Shared};
        static INSERT: MultiRow =
            MultiRow::new("INSERT INTO t VALUES {values}", 1, &[Row, Shared(1), Row]);
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch("CREATE TABLE t (a TEXT, d TEXT, b INTEGER)")
            .expect("table");
        assert!(INSERT.full.get().is_none());
        let full = INSERT.prepare(&conn, CHUNK).expect("full chunk");
        assert_eq!(full.parameter_count(), 1 + CHUNK * 2);
        drop(full);
        let built = INSERT.full.get().expect("kept").as_ptr();
        assert_eq!(
            INSERT
                .prepare(&conn, CHUNK)
                .expect("again")
                .parameter_count(),
            1 + CHUNK * 2
        );
        assert_eq!(
            INSERT.full.get().expect("kept").as_ptr(),
            built,
            "not rebuilt"
        );
        // The last, shorter chunk of a run.
        let mut last = INSERT.prepare(&conn, 2).expect("two rows");
        assert_eq!(last.parameter_count(), 5);
        last.execute(params!["2024-04-01", "A", 1, "B", 2])
            .expect("insert");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t WHERE d = '2024-04-01'", [], |r| {
                r.get(0)
            })
            .expect("count");
        assert_eq!(n, 2);
    }
    #[tokio::test]
    async fn a_commit_is_checkpointed_into_the_database_file_off_the_writer() {
        use crate::features::Feature;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite");
        let store = SqliteStore::open(&path).expect("open");
        store.init().await.expect("init");
        let date: NaiveDate = "2024-04-01".parse().expect("date");
        let rows: Vec<FeatureRow> = (0..20_000)
            .map(|i| FeatureRow {
                symbol: format!("S{i:05}"),
                trade_date: date,
                short_vol_share: Feature::Value(0.5),
                short_exempt_share: Feature::Null,
                ats_share_of_total: Feature::Pending,
            })
            .collect();
        store
            .commit(&SessionCommit::rows(date, &rows))
            .await
            .expect("commit");
        // Below the writer's own threshold (BACKSTOP_PAGES): only the checkpoint thread copies
        // the commit's pages into the file. It runs beside this test; give it time.
        let (pages, page) = store
            .with_conn(|c| {
                let pages: u64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                let page: u64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
                Ok((pages, page))
            })
            .await
            .expect("page count");
        assert!(
            pages > 10 && (pages as i64) < BACKSTOP_PAGES,
            "{pages} pages"
        );
        assert_eq!(page as i64, PAGE_SIZE, "a new database's page size");
        let file = || std::fs::metadata(&path).expect("database file").len();
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while file() < pages * page && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(file(), pages * page, "every page checkpointed");
    }

    /// A file made before `ats_weekly` was keyed week-major keeps its table: records are written,
    /// replaced and read back through its symbol-major key; a new file gets the week-major one.
    #[tokio::test]
    async fn ats_weekly_works_in_either_layout() {
        use crate::parse::ats::Carrier;
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("old.sqlite");
        rusqlite::Connection::open(&old)
            .and_then(|c| {
                c.execute_batch(
                    "CREATE TABLE ats_weekly (
                         symbol TEXT NOT NULL, week_start TEXT NOT NULL, tier TEXT NOT NULL,
                         ats_shares TEXT, otc_shares TEXT, last_update_date TEXT,
                         initial_published_date TEXT,
                         source TEXT NOT NULL CHECK (source IN ('api', 'zip')),
                         PRIMARY KEY (symbol, week_start));
                     CREATE INDEX ats_weekly_week_start ON ats_weekly (week_start);",
                )
            })
            .expect("an earlier file");
        let new = dir.path().join("new.sqlite");
        let week: NaiveDate = "2024-04-01".parse().expect("date");
        let row = |symbol: &str, ats: &[u8]| AtsWeeklyRow {
            symbol: symbol.into(),
            week_start: week,
            tier: "T1".into(),
            ats_shares: Volume::parse(ats).ok(),
            otc_shares: None,
            last_update: None,
            initial_published: None,
            source: Carrier::Api,
        };
        for (path, key) in [(&old, "symbol,week_start"), (&new, "week_start,symbol")] {
            let store = SqliteStore::open(path).expect("open");
            store.init().await.expect("init");
            let first = [row("B", b"2"), row("A", b"1")];
            store.upsert_ats_weekly(week, &first).await.expect("write");
            store
                .upsert_ats_weekly(week, &[row("B", b"2.5")])
                .await
                .expect("replace");
            let read = store.read_ats_weekly(week).await.expect("read");
            assert_eq!(
                read,
                [row("A", b"1"), row("B", b"2.5")],
                "{}",
                path.display()
            );
            let pk: String = store
                .with_conn(|c| {
                    c.query_row(
                        "SELECT group_concat(name, ',') FROM
                         (SELECT name FROM pragma_table_info('ats_weekly') WHERE pk > 0 ORDER BY pk)",
                        [],
                        |r| r.get(0),
                    )
                })
                .await
                .expect("key");
            assert_eq!(pk, key, "{}", path.display());
        }
    }
}
