//! `short_interest` in SQLite: SQLite's version of `migrations/005_short_interest.sql` (dates and
//! times as text, as in the other tables; quantities as INTEGER, exact to 2^63).

use chrono::{NaiveDate, Utc};
use rusqlite::{params, params_from_iter, ToSql, TransactionBehavior};

use super::{time_of, MultiRow, Slot, SqliteStore, CHUNK, UPSERT_LEDGER};
use crate::provenance::rfc3339_micros;
use crate::store::short_interest::check_short_interest;
use crate::store::{ShortInterestRow, SourceVersion, Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS short_interest (
    settlement_date      TEXT    NOT NULL,
    symbol               TEXT    NOT NULL,
    sha256               TEXT    NOT NULL,
    finra_symbol         TEXT    NOT NULL,
    issue_name           TEXT    NOT NULL,
    market_class         TEXT    NOT NULL,
    current_short        INTEGER NOT NULL CHECK (current_short >= 0),
    previous_short       INTEGER,
    change_previous      INTEGER,
    change_percent       REAL,
    average_daily_volume INTEGER,
    days_to_cover        REAL,
    days_to_cover_capped INTEGER NOT NULL,
    stock_split          TEXT,
    revision             TEXT,
    published_at         TEXT    NOT NULL,
    source               TEXT    NOT NULL,
    PRIMARY KEY (settlement_date, sha256, symbol)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS short_interest_symbol ON short_interest (symbol, settlement_date);
";

/// Multi-row inserts, the settlement date (`?1`) and publication time (`?2`) bound once each.
static INSERT: MultiRow = MultiRow::new(
    "INSERT INTO short_interest (settlement_date, symbol, sha256, finra_symbol, issue_name,
         market_class, current_short, previous_short, change_previous, change_percent,
         average_daily_volume, days_to_cover, days_to_cover_capped, stock_split, revision,
         published_at, source)
     VALUES {values}
     ON CONFLICT DO NOTHING",
    2,
    &SLOTS,
);

/// The settlement date, the row's 14 columns, the publication time, the source.
const SLOTS: [Slot; 17] = {
    let mut slots = [Slot::Row; 17];
    slots[0] = Slot::Shared(1);
    slots[15] = Slot::Shared(2);
    slots
};

const COLUMNS: &str = "symbol, finra_symbol, issue_name, market_class, current_short,
    previous_short, change_previous, change_percent, average_daily_volume, days_to_cover,
    days_to_cover_capped, stock_split, revision, published_at, source";

impl SqliteStore {
    pub(super) async fn write_short_interest(
        &self,
        settlement_date: NaiveDate,
        version: &SourceVersion,
        rows: &[ShortInterestRow],
    ) -> Result<usize, StoreError> {
        check_short_interest(&self.describe(), settlement_date, version, rows)?;
        let (version, rows) = (version.clone(), rows.to_vec());
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = rfc3339_micros(Utc::now());
            tx.execute(
                UPSERT_LEDGER,
                params![
                    version.dataset,
                    version.name,
                    version.sha256,
                    version.url,
                    version.bytes as i64,
                    version.rows as i64,
                    rfc3339_micros(version.published_at),
                    version.published_from.as_str(),
                    now,
                ],
            )?;
            let date = settlement_date.to_string();
            let published = rfc3339_micros(version.published_at);
            let mut written = 0;
            for chunk in rows.chunks(CHUNK) {
                let mut insert = INSERT.prepare(&tx, chunk.len())?;
                let mut params: Vec<&dyn ToSql> = Vec::with_capacity(2 + chunk.len() * 15);
                params.push(&date);
                params.push(&published);
                for r in chunk {
                    params.extend([
                        &r.symbol as &dyn ToSql,
                        &r.sha256,
                        &r.finra_symbol,
                        &r.issue_name,
                        &r.market_class,
                        &r.current_short,
                        &r.previous_short,
                        &r.change_previous,
                        &r.change_percent,
                        &r.average_daily_volume,
                        &r.days_to_cover,
                        &r.days_to_cover_capped,
                        &r.stock_split,
                        &r.revision,
                        &r.source,
                    ]);
                }
                written += insert.execute(params.as_slice())?;
            }
            tx.commit()?;
            Ok(written)
        })
        .await
    }

    pub(super) async fn short_interest_rows(
        &self,
        settlement_date: NaiveDate,
        sha256: &str,
        symbols: Option<&[String]>,
    ) -> Result<Vec<ShortInterestRow>, StoreError> {
        let sha256 = sha256.to_string();
        let symbols = symbols.map(<[String]>::to_vec);
        self.with_conn(move |c| {
            let mut values: Vec<String> = vec![settlement_date.to_string(), sha256.clone()];
            let filter = match &symbols {
                Some(list) => {
                    values.extend(list.iter().cloned());
                    format!("AND symbol IN ({})", vec!["?"; list.len()].join(", "))
                }
                None => String::new(),
            };
            // Placeholders only: the symbols are bound, never spliced into the SQL.
            let sql = format!(
                "SELECT {COLUMNS} FROM short_interest
                 WHERE settlement_date = ? AND sha256 = ? {filter} ORDER BY symbol"
            );
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(values.iter()), |r| {
                Ok(ShortInterestRow {
                    symbol: r.get(0)?,
                    finra_symbol: r.get(1)?,
                    settlement_date,
                    issue_name: r.get(2)?,
                    market_class: r.get(3)?,
                    current_short: r.get(4)?,
                    previous_short: r.get(5)?,
                    change_previous: r.get(6)?,
                    change_percent: r.get(7)?,
                    average_daily_volume: r.get(8)?,
                    days_to_cover: r.get(9)?,
                    days_to_cover_capped: r.get(10)?,
                    stock_split: r.get(11)?,
                    revision: r.get(12)?,
                    sha256: sha256.clone(),
                    published_at: time_of(r, 13)?,
                    source: r.get(14)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
