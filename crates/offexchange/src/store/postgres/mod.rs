//! PostgreSQL store (`postgres://...`): a direct or pooled connection, Supabase's included.
//!
//! An upsert is one transaction per trading date: the rows go to a temporary table by binary
//! `COPY` (one round trip for thousands of rows), then one `INSERT ... SELECT ... ON CONFLICT DO
//! UPDATE` merges them. A crash, a killed connection or a refused row rolls the whole date back:
//! the table holds either the old rows or the new ones, never half.
//!
//! Pending cells keep the stored value: the staging table carries one "keep" flag per feature, and
//! the merge reads the stored value for flagged cells (`LEFT JOIN` on the table inside the same
//! transaction). Two offx writers of the same date take turns (a transaction-level advisory lock),
//! so neither merges against a row the other is rewriting.
//!
//! Works through Supabase's transaction pooler too: every statement with parameters uses the
//! unnamed statement (`query_typed`), and the one prepared statement (the `COPY`) lives and dies
//! inside its transaction.

mod connect;
mod history;
mod regsho_daily;
mod short_interest;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use futures::pin_mut;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::Client;

use self::connect::Target;
use self::history::write_provenance;
use super::{
    check_ats_rows, check_rows, redact_url, AtsWeeklyRow, Discovery, FeatureVersion, LedgerRow,
    SessionCommit, ShortInterestRow, SourceVersion, Store, StoreError, StoreErrorKind, StoredRow,
    StoredVolumes, UpsertSummary, WeekWrite,
};
use crate::parse::ats::Carrier;
use crate::volume::Volume;

/// The schema, in order. Each file is idempotent; `init` runs them all every time. (The paths
/// climb out of the crate to the workspace's `migrations/`, the one copy `psql` users apply too.)
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001_daily_features",
        include_str!("../../../../../migrations/001_daily_features.sql"),
    ),
    (
        "002_ats_weekly",
        include_str!("../../../../../migrations/002_ats_weekly.sql"),
    ),
    (
        "003_provenance",
        include_str!("../../../../../migrations/003_provenance.sql"),
    ),
    (
        "004_upsert_function",
        include_str!("../../../../../migrations/004_upsert_function.sql"),
    ),
    (
        "005_short_interest",
        include_str!("../../../../../migrations/005_short_interest.sql"),
    ),
    (
        "006_regsho_daily",
        include_str!("../../../../../migrations/006_regsho_daily.sql"),
    ),
];

/// First key of offx's advisory locks (`pg_advisory_xact_lock(int, int)`): "offx" in ASCII. The
/// second key is 0 for `init`, the trade date's day number for an upsert, and minus the Monday's
/// day number for an `ats_weekly` upsert.
const LOCK_SPACE: i32 = 0x6f66_6678;

/// First key of the advisory locks on short interest settlements ("offy"); the second is the
/// settlement date's day number. A space of its own: settlement dates are trading days too.
const SETTLEMENT_LOCK_SPACE: i32 = 0x6f66_6679;

/// One week's `ats_weekly` rows in one statement: the columns as arrays (`unnest` turns them
/// back into rows), shares as text cast to `numeric` so no float is ever involved.
macro_rules! insert_ats_weekly {
    ($conflict:literal) => {
        concat!(
            "INSERT INTO ats_weekly AS a
    (symbol, week_start, tier, ats_shares, otc_shares, last_update_date, initial_published_date,
     source)
SELECT s.symbol, $1, s.tier, s.ats_shares::numeric, s.otc_shares::numeric, s.last_update_date,
       s.initial_published_date, s.source
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::date[], $8::text[])
     AS s(symbol, tier, ats_shares, otc_shares, last_update_date, initial_published_date, source)",
            $conflict
        )
    };
}

/// A week the table holds nothing of (checked under the week's advisory lock): a plain insert,
/// half the cost of `ON CONFLICT`'s speculative insertion per row (see `INSERT_NEW_DATE`).
const INSERT_NEW_WEEK: &str = insert_ats_weekly!("");

/// Any other week: an upsert; unchanged rows are not rewritten.
const UPSERT_ATS_WEEKLY: &str = insert_ats_weekly!(
    "
ON CONFLICT (symbol, week_start) DO UPDATE SET
    tier                   = EXCLUDED.tier,
    ats_shares             = EXCLUDED.ats_shares,
    otc_shares             = EXCLUDED.otc_shares,
    last_update_date       = EXCLUDED.last_update_date,
    initial_published_date = EXCLUDED.initial_published_date,
    source                 = EXCLUDED.source
WHERE (a.tier, a.ats_shares, a.otc_shares, a.last_update_date, a.initial_published_date, a.source)
      IS DISTINCT FROM
      (EXCLUDED.tier, EXCLUDED.ats_shares, EXCLUDED.otc_shares, EXCLUDED.last_update_date,
       EXCLUDED.initial_published_date, EXCLUDED.source)"
);

const READ_ATS_WEEKLY: &str = "
SELECT symbol, tier, ats_shares::text, otc_shares::text, last_update_date, initial_published_date,
       source
FROM ats_weekly WHERE week_start = $1 ORDER BY symbol COLLATE \"C\"";

const ATS_WEEKLY_LAST_UPDATE: &str = "
SELECT week_start, max(last_update_date) FROM ats_weekly
WHERE week_start = ANY($1) GROUP BY week_start";

const STAGING: &str = "
CREATE TEMPORARY TABLE offx_staging (
    symbol                  text NOT NULL,
    short_vol_share         double precision,
    short_exempt_share      double precision,
    ats_share_of_total      double precision,
    keep_short_vol_share    boolean NOT NULL,
    keep_short_exempt_share boolean NOT NULL,
    keep_ats_share_of_total boolean NOT NULL
) ON COMMIT DROP";

const COPY: &str = "COPY offx_staging FROM STDIN (FORMAT binary)";

const COPY_TYPES: [Type; 7] = [
    Type::TEXT,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::BOOL,
    Type::BOOL,
    Type::BOOL,
];

/// The merge, around the `SELECT` that feeds it. Only the key and the three features are named:
/// other columns keep their values (or their defaults on insert). A row whose values would not
/// change is not rewritten (no dead tuple, no trigger), and `RETURNING` then says nothing for
/// it; `xmax = 0` marks a fresh insert.
macro_rules! merge_from {
    ($select:literal) => {
        concat!(
            "INSERT INTO daily_features AS d
    (symbol, trade_date, short_vol_share, short_exempt_share, ats_share_of_total) ",
            $select,
            "
ON CONFLICT (symbol, trade_date) DO UPDATE SET
    short_vol_share    = EXCLUDED.short_vol_share,
    short_exempt_share = EXCLUDED.short_exempt_share,
    ats_share_of_total = EXCLUDED.ats_share_of_total
WHERE (d.short_vol_share, d.short_exempt_share, d.ats_share_of_total)
      IS DISTINCT FROM
      (EXCLUDED.short_vol_share, EXCLUDED.short_exempt_share, EXCLUDED.ats_share_of_total)
RETURNING (d.xmax = 0) AS inserted"
        )
    };
}

/// A pending cell (flag set) takes the stored value, read back through the join.
const MERGE: &str = merge_from!(
    "SELECT s.symbol, $1,
       CASE WHEN s.keep_short_vol_share    THEN cur.short_vol_share    ELSE s.short_vol_share    END,
       CASE WHEN s.keep_short_exempt_share THEN cur.short_exempt_share ELSE s.short_exempt_share END,
       CASE WHEN s.keep_ats_share_of_total THEN cur.ats_share_of_total ELSE s.ats_share_of_total END
FROM offx_staging s
LEFT JOIN daily_features cur ON cur.symbol = s.symbol AND cur.trade_date = $1"
);

/// When no cell of the batch is pending (the usual case) nothing stored needs reading back, so
/// the join, and its index probe per row, is left out.
const MERGE_NO_PENDING: &str = merge_from!(
    "SELECT s.symbol, $1, s.short_vol_share, s.short_exempt_share, s.ats_share_of_total
FROM offx_staging s"
);

/// A session's first write (a backfill's usual case) inserts plainly: `ON CONFLICT` costs a
/// speculative insertion per row (about twice the time of a plain insert here), and a table that
/// holds nothing of the date cannot conflict. Plain insert of the staged rows.
const INSERT_NEW_DATE: &str = "
INSERT INTO daily_features (symbol, trade_date, short_vol_share, short_exempt_share, ats_share_of_total)
SELECT s.symbol, $1, s.short_vol_share, s.short_exempt_share, s.ats_share_of_total
FROM offx_staging s";

/// Which tables hold nothing of the date yet. Asked under the date's advisory lock, so no other
/// offx writer adds rows of it before this transaction ends.
const NEW_DATE: &str = "
SELECT NOT EXISTS (SELECT 1 FROM daily_features WHERE trade_date = $1),
       NOT EXISTS (SELECT 1 FROM feature_versions WHERE trade_date = $1),
       NOT EXISTS (SELECT 1 FROM regsho_daily WHERE trade_date = $1)";

/// Which of a session's tables hold nothing of its date (see [`NEW_DATE`]).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NewDate {
    pub features: bool,
    pub versions: bool,
    pub volumes: bool,
}

/// Is there a unique index on exactly `(symbol, trade_date)`? `ON CONFLICT` needs one.
const HAS_KEY: &str = "
SELECT EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = 'daily_features'::regclass
      AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = 2
      AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
           FROM pg_attribute a
           WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey))
          = ARRAY['symbol', 'trade_date'])";

// `COLLATE "C"`: byte order, the order every store returns, whatever the database's collation.
const DISCOVER_ALL: &str = "
SELECT symbol FROM daily_features WHERE trade_date = $1 ORDER BY symbol COLLATE \"C\"";
const DISCOVER_MISSING: &str = "
SELECT symbol FROM daily_features
WHERE trade_date = $1
  AND (short_vol_share IS NULL OR short_exempt_share IS NULL OR ats_share_of_total IS NULL)
ORDER BY symbol COLLATE \"C\"";
// One probe of the date's index per date asked, instead of reading its 12,000 symbols back.
const DATES_WITH_ROWS: &str = "
SELECT d FROM unnest($1::date[]) WITH ORDINALITY AS asked(d, i)
WHERE EXISTS (SELECT 1 FROM daily_features WHERE trade_date = d)
ORDER BY i";
// The casts let a table whose feature columns are `numeric` or `real` (a seed's) be read too.
const READ: &str = "
SELECT symbol, short_vol_share::float8, short_exempt_share::float8, ats_share_of_total::float8
FROM daily_features WHERE trade_date = $1 ORDER BY symbol COLLATE \"C\"";

/// A PostgreSQL database holding `daily_features`. One connection, reopened when it is lost.
pub struct PostgresStore {
    target: Target,
    described: String,
    client: Mutex<Option<Client>>,
    /// Set by an error that leaves the connection unusable; the next call reconnects. (The
    /// client notices a dead connection a moment after the error, too late for that next call.)
    broken: AtomicBool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PostgresStore")
            .field(&self.described)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to a `postgres://` URL (see [`crate::store`] for `sslmode` and friends). The table
    /// is not created here: [`Store::init`] (which [`crate::store::open`] calls) does that.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let described = redact_url(url);
        let target = Target::parse(url).map_err(|m| StoreError::new(&described, m))?;
        let store = PostgresStore {
            target,
            described,
            client: Mutex::new(None),
            broken: AtomicBool::new(false),
        };
        drop(store.client().await?);
        Ok(store)
    }

    /// The connection, opened again if the last one was lost (a restart, a killed backend).
    /// Holding it serialises this store's operations, which share one session.
    async fn client(&self) -> Result<MappedMutexGuard<'_, Client>, StoreError> {
        let mut guard = self.client.lock().await;
        let broken = self.broken.swap(false, Ordering::SeqCst);
        let usable = !broken && matches!(guard.as_ref(), Some(c) if !c.is_closed());
        if !usable {
            let client = self
                .target
                .connect()
                .await
                .map_err(|e| self.error("cannot connect", &e))?;
            *guard = Some(client);
        }
        MutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| StoreError::new(&self.described, "no connection"))
    }

    /// The first column of every row `sql` returns.
    async fn first_column<T: for<'r> FromSql<'r>>(
        &self,
        doing: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<T>, StoreError> {
        let rows = self
            .client()
            .await?
            .query_typed(sql, params)
            .await
            .map_err(|e| self.error(doing, &e))?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(|e| self.error(doing, &e)))
            .collect()
    }

    fn error(&self, doing: &str, e: &tokio_postgres::Error) -> StoreError {
        // An ERROR (a constraint, a type) leaves the session usable, its transaction rolled
        // back; anything else (FATAL, a closed socket, a timeout) may not.
        let recoverable = e.as_db_error().is_some_and(|db| db.severity() == "ERROR");
        if !recoverable {
            self.broken.store(true, Ordering::SeqCst);
        }
        StoreError::new(&self.described, format!("{doing}: {}", explain(e))).with_kind(kind_of(e))
    }
}

/// Transient: the connection (closed, I/O, timeout, SQLSTATE class 08), a serialization failure
/// or deadlock (class 40), too many connections or out of resources (class 53), an operator
/// intervention such as a restart or a terminated backend (class 57P). Everything else (a missing
/// table, refused credentials, a constraint, bad data) is permanent.
fn kind_of(e: &tokio_postgres::Error) -> StoreErrorKind {
    let Some(db) = e.as_db_error() else {
        // No server answer: the socket, TLS or a timeout.
        return StoreErrorKind::Transient;
    };
    let code = db.code().code();
    if ["08", "40", "53", "57P"]
        .iter()
        .any(|c| code.starts_with(c))
    {
        StoreErrorKind::Transient
    } else {
        StoreErrorKind::Permanent
    }
}

/// Takes the advisory lock `(space, key)` for the rest of the transaction: writers of one date,
/// week or settlement take turns.
pub(super) async fn advisory_lock(
    tx: &tokio_postgres::Transaction<'_>,
    space: i32,
    key: i32,
) -> Result<(), tokio_postgres::Error> {
    tx.query_typed(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[(&space, Type::INT4), (&key, Type::INT4)],
    )
    .await?;
    Ok(())
}

/// The week's lock (see [`LOCK_SPACE`]).
async fn lock_week(
    tx: &tokio_postgres::Transaction<'_>,
    week_start: NaiveDate,
) -> Result<(), tokio_postgres::Error> {
    advisory_lock(tx, LOCK_SPACE, -week_start.num_days_from_ce()).await
}

/// Writes one week's `ats_weekly` rows inside the caller's transaction, which holds the week's
/// lock ([`lock_week`], so two writers of one week queue instead of deadlocking); `absent`: the
/// caller found the week unrecorded under that lock.
async fn write_ats_weekly(
    tx: &tokio_postgres::Transaction<'_>,
    week_start: NaiveDate,
    rows: &[AtsWeeklyRow],
    absent: bool,
) -> Result<(), tokio_postgres::Error> {
    // Byte order, so two writers of one week lock its rows in the same order.
    let mut sorted: Vec<&AtsWeeklyRow> = rows.iter().collect();
    sorted.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    let column = |f: fn(&AtsWeeklyRow) -> Option<String>| -> Vec<Option<String>> {
        sorted.iter().map(|r| f(r)).collect()
    };
    let symbols = column(|r| Some(r.symbol.clone()));
    let tiers = column(|r| Some(r.tier.clone()));
    let ats = column(|r| r.ats_shares.map(|v| v.to_string()));
    let otc = column(|r| r.otc_shares.map(|v| v.to_string()));
    let sources = column(|r| Some(r.source.as_str().to_string()));
    let updated: Vec<Option<NaiveDate>> = sorted.iter().map(|r| r.last_update).collect();
    let published: Vec<Option<NaiveDate>> = sorted.iter().map(|r| r.initial_published).collect();
    tx.query_typed(
        if absent {
            INSERT_NEW_WEEK
        } else {
            UPSERT_ATS_WEEKLY
        },
        &[
            (&week_start, Type::DATE),
            (&symbols, Type::TEXT_ARRAY),
            (&tiers, Type::TEXT_ARRAY),
            (&ats, Type::TEXT_ARRAY),
            (&otc, Type::TEXT_ARRAY),
            (&updated, Type::DATE_ARRAY),
            (&published, Type::DATE_ARRAY),
            (&sources, Type::TEXT_ARRAY),
        ],
    )
    .await?;
    Ok(())
}

/// Why a stored row could not be read: the driver's error, or a value offx cannot use.
enum RowError {
    Sql(tokio_postgres::Error),
    Value(String),
}

impl From<tokio_postgres::Error> for RowError {
    fn from(e: tokio_postgres::Error) -> Self {
        RowError::Sql(e)
    }
}

/// One row of [`READ_ATS_WEEKLY`].
fn ats_weekly_row(
    r: &tokio_postgres::Row,
    week_start: NaiveDate,
) -> Result<AtsWeeklyRow, RowError> {
    let volume = |i: usize| -> Result<Option<Volume>, RowError> {
        let text: Option<String> = r.try_get(i)?;
        text.map(|t| {
            Volume::parse(t.as_bytes())
                .map_err(|e| RowError::Value(format!("a share volume {t:?} is {e}")))
        })
        .transpose()
    };
    let source: String = r.try_get(6)?;
    Ok(AtsWeeklyRow {
        symbol: r.try_get(0)?,
        week_start,
        tier: r.try_get(1)?,
        ats_shares: volume(2)?,
        otc_shares: volume(3)?,
        last_update: r.try_get(4)?,
        initial_published: r.try_get(5)?,
        source: Carrier::parse(&source)
            .ok_or_else(|| RowError::Value(format!("source {source:?} is not api or zip")))?,
    })
}

/// A PostgreSQL error in one line: severity, SQLSTATE, message, detail, hint; or what happened to
/// the connection.
fn explain(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!(" hint: {hint}"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(&format!(": {more}"));
        }
        source = s.source();
    }
    if e.is_closed() {
        text.push_str(" (the connection was lost)");
    }
    text
}

#[async_trait]
impl Store for PostgresStore {
    fn describe(&self) -> String {
        self.described.clone()
    }

    async fn init(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let fail = |doing: &str, e: tokio_postgres::Error| self.error(doing, &e);
        let tx = client
            .transaction()
            .await
            .map_err(|e| fail("cannot begin", e))?;
        // Two processes starting at once would race on CREATE TABLE IF NOT EXISTS.
        tx.query_typed(
            "SELECT pg_advisory_xact_lock($1, 0)",
            &[(&LOCK_SPACE, Type::INT4)],
        )
        .await
        .map_err(|e| fail("cannot lock the schema", e))?;
        tx.batch_execute("SET LOCAL client_min_messages = warning")
            .await
            .map_err(|e| fail("cannot set client_min_messages", e))?;
        for (name, sql) in MIGRATIONS {
            tx.batch_execute(sql)
                .await
                .map_err(|e| fail(&format!("migration {name} failed"), e))?;
        }
        let keyed: bool = tx
            .query_one(HAS_KEY, &[])
            .await
            .map_err(|e| fail("cannot inspect daily_features", e))?
            .get(0);
        if !keyed {
            return Err(StoreError::new(
                &self.described,
                "daily_features has no primary key or unique constraint on (symbol, trade_date); \
                 upserts need one: ALTER TABLE daily_features ADD PRIMARY KEY (symbol, trade_date)",
            ));
        }
        tx.commit()
            .await
            .map_err(|e| fail("cannot commit the schema", e))
    }

    async fn discover_symbols(
        &self,
        trade_date: NaiveDate,
        which: Discovery,
    ) -> Result<Vec<String>, StoreError> {
        let sql = match which {
            Discovery::All => DISCOVER_ALL,
            Discovery::MissingFeatures => DISCOVER_MISSING,
        };
        let doing = format!("discovering symbols of {trade_date}");
        self.first_column(&doing, sql, &[(&trade_date, Type::DATE)])
            .await
    }

    async fn dates_with_rows(&self, dates: &[NaiveDate]) -> Result<Vec<NaiveDate>, StoreError> {
        let doing = format!("looking up which of {} date(s) are stored", dates.len());
        self.first_column(&doing, DATES_WITH_ROWS, &[(&dates, Type::DATE_ARRAY)])
            .await
    }

    async fn commit(&self, commit: &SessionCommit<'_>) -> Result<UpsertSummary, StoreError> {
        let started = Instant::now();
        let (trade_date, rows) = (commit.trade_date, commit.rows);
        check_rows(&self.described, trade_date, rows)?;
        if let Some(week) = &commit.week {
            check_ats_rows(&self.described, week.week_start, week.rows)?;
        }
        let mut client = self.client().await?;
        let fail = |doing: &str, e: tokio_postgres::Error| {
            self.error(
                &format!("upsert of {trade_date} rolled back, nothing written ({doing})"),
                &e,
            )
        };
        let tx = client.transaction().await.map_err(|e| fail("begin", e))?;
        tx.batch_execute(STAGING)
            .await
            .map_err(|e| fail("staging table", e))?;
        let sink = tx.copy_in(COPY).await.map_err(|e| fail("copy", e))?;
        let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
        pin_mut!(writer);
        for r in rows {
            let values: [&(dyn ToSql + Sync); 7] = [
                &r.symbol,
                &r.short_vol_share.value(),
                &r.short_exempt_share.value(),
                &r.ats_share_of_total.value(),
                &r.short_vol_share.is_pending(),
                &r.short_exempt_share.is_pending(),
                &r.ats_share_of_total.is_pending(),
            ];
            writer
                .as_mut()
                .write(&values)
                .await
                .map_err(|e| fail("copy", e))?;
        }
        writer
            .as_mut()
            .finish()
            .await
            .map_err(|e| fail("copy", e))?;
        advisory_lock(&tx, LOCK_SPACE, trade_date.num_days_from_ce())
            .await
            .map_err(|e| fail("lock", e))?;
        let new = tx
            .query_typed(NEW_DATE, &[(&trade_date, Type::DATE)])
            .await
            .map_err(|e| fail("lookup", e))
            .and_then(|rows| {
                let r = rows
                    .first()
                    .ok_or_else(|| StoreError::new(&self.described, "lookup returned no row"))?;
                Ok(NewDate {
                    features: r.try_get(0).map_err(|e| fail("lookup", e))?,
                    versions: r.try_get(1).map_err(|e| fail("lookup", e))?,
                    volumes: r.try_get(2).map_err(|e| fail("lookup", e))?,
                })
            })?;
        let any_pending = rows.iter().any(|r| {
            r.short_vol_share.is_pending()
                || r.short_exempt_share.is_pending()
                || r.ats_share_of_total.is_pending()
        });
        let inserted = if new.features {
            let n = tx
                .execute_typed(INSERT_NEW_DATE, &[(&trade_date, Type::DATE)])
                .await
                .map_err(|e| fail("insert", e))?;
            usize::try_from(n).unwrap_or(usize::MAX)
        } else {
            let merge = if any_pending { MERGE } else { MERGE_NO_PENDING };
            let changed = tx
                .query_typed(merge, &[(&trade_date, Type::DATE)])
                .await
                .map_err(|e| fail("merge", e))?;
            changed
                .iter()
                .filter(|r| r.try_get::<_, bool>(0).unwrap_or(false))
                .count()
        };
        if let Some(provenance) = &commit.provenance {
            write_provenance(&tx, trade_date, rows, provenance, new)
                .await
                .map_err(|e| fail("provenance", e))?;
        }
        let mut week_recorded = false;
        if let Some(week) = &commit.week {
            lock_week(&tx, week.week_start)
                .await
                .map_err(|e| fail("ats_weekly lock", e))?;
            let recorded: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM ats_weekly WHERE week_start = $1)",
                    &[&week.week_start],
                )
                .await
                .map_err(|e| fail("ats_weekly lookup", e))?
                .get(0);
            if week.write == WeekWrite::Replace || !recorded {
                write_ats_weekly(&tx, week.week_start, week.rows, !recorded)
                    .await
                    .map_err(|e| fail("ats_weekly merge", e))?;
                week_recorded = true;
            }
        }
        tx.commit().await.map_err(|e| fail("commit", e))?;
        Ok(UpsertSummary {
            rows: rows.len(),
            inserted,
            updated: rows.len() - inserted,
            batches: 1,
            elapsed: started.elapsed(),
            week_recorded,
        })
    }

    async fn read_symbols(
        &self,
        symbols: &[String],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let doing = format!("reading {} symbol(s) over {from} .. {to}", symbols.len());
        let rows = self
            .client()
            .await?
            .query_typed(
                "SELECT symbol, trade_date, short_vol_share::float8, short_exempt_share::float8,
                        ats_share_of_total::float8
                 FROM daily_features
                 WHERE trade_date BETWEEN $1 AND $2 AND symbol = ANY($3)",
                &[
                    (&from, Type::DATE),
                    (&to, Type::DATE),
                    (&symbols, Type::TEXT_ARRAY),
                ],
            )
            .await
            .map_err(|e| self.error(&doing, &e))?;
        let mut out = rows
            .iter()
            .map(|r| -> Result<StoredRow, tokio_postgres::Error> {
                Ok(StoredRow {
                    symbol: r.try_get(0)?,
                    trade_date: r.try_get(1)?,
                    short_vol_share: r.try_get(2)?,
                    short_exempt_share: r.try_get(3)?,
                    ats_share_of_total: r.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(&doing, &e))?;
        super::sort_by_date_and_symbol(&mut out);
        Ok(out)
    }

    async fn read(&self, trade_date: NaiveDate) -> Result<Vec<StoredRow>, StoreError> {
        let doing = format!("reading {trade_date}");
        let rows = self
            .client()
            .await?
            .query_typed(READ, &[(&trade_date, Type::DATE)])
            .await
            .map_err(|e| self.error(&doing, &e))?;
        let stored = |r: &tokio_postgres::Row| -> Result<StoredRow, tokio_postgres::Error> {
            Ok(StoredRow {
                symbol: r.try_get(0)?,
                trade_date,
                short_vol_share: r.try_get(1)?,
                short_exempt_share: r.try_get(2)?,
                ats_share_of_total: r.try_get(3)?,
            })
        };
        rows.iter()
            .map(|r| stored(r).map_err(|e| self.error(&doing, &e)))
            .collect()
    }

    async fn upsert_ats_weekly(
        &self,
        week_start: NaiveDate,
        rows: &[AtsWeeklyRow],
    ) -> Result<usize, StoreError> {
        check_ats_rows(&self.described, week_start, rows)?;
        let mut client = self.client().await?;
        let fail = |doing: &str, e: tokio_postgres::Error| {
            self.error(
                &format!(
                    "ats_weekly upsert of the week of {week_start} rolled back, nothing written \
                     ({doing})"
                ),
                &e,
            )
        };
        let tx = client.transaction().await.map_err(|e| fail("begin", e))?;
        lock_week(&tx, week_start)
            .await
            .map_err(|e| fail("lock", e))?;
        write_ats_weekly(&tx, week_start, rows, false)
            .await
            .map_err(|e| fail("merge", e))?;
        tx.commit().await.map_err(|e| fail("commit", e))?;
        Ok(rows.len())
    }

    async fn ledger(&self, sources: &[(String, String)]) -> Result<Vec<LedgerRow>, StoreError> {
        self.read_ledger(sources).await
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

    async fn feature_versions(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<FeatureVersion>, StoreError> {
        self.read_versions(trade_date, as_of).await
    }

    async fn read_ats_weekly(
        &self,
        week_start: NaiveDate,
    ) -> Result<Vec<AtsWeeklyRow>, StoreError> {
        let doing = format!("reading ats_weekly of the week of {week_start}");
        let rows = self
            .client()
            .await?
            .query_typed(READ_ATS_WEEKLY, &[(&week_start, Type::DATE)])
            .await
            .map_err(|e| self.error(&doing, &e))?;
        rows.iter()
            .map(|r| {
                ats_weekly_row(r, week_start).map_err(|e| match e {
                    RowError::Sql(e) => self.error(&doing, &e),
                    RowError::Value(m) => StoreError::new(&self.described, format!("{doing}: {m}")),
                })
            })
            .collect()
    }

    async fn ats_weekly_last_update(
        &self,
        weeks: &[NaiveDate],
    ) -> Result<BTreeMap<NaiveDate, Option<NaiveDate>>, StoreError> {
        let doing = "reading ats_weekly's last update dates";
        let weeks = weeks.to_vec();
        let rows = self
            .client()
            .await?
            .query_typed(ATS_WEEKLY_LAST_UPDATE, &[(&weeks, Type::DATE_ARRAY)])
            .await
            .map_err(|e| self.error(doing, &e))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.error(doing, &e))
    }
}
