//! `regsho_daily` in SQLite: SQLite's version of `migrations/006_regsho_daily.sql`. Volumes are
//! TEXT holding the exact decimal (as `ats_weekly`'s shares), times microseconds since 1970 (as
//! `feature_versions.available_at`).

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;

use super::{bad_text, volume, MultiRow, SqliteStore, CHUNK};
use crate::store::{latest_volumes, RegShoDailyRow, StoreError, StoredVolumes};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS regsho_daily (
    trade_date          TEXT    NOT NULL,
    symbol              TEXT    NOT NULL,
    available_at        INTEGER NOT NULL,
    short_volume        TEXT    NOT NULL,
    short_exempt_volume TEXT,
    total_volume        TEXT    NOT NULL,
    facilities          TEXT    NOT NULL,
    PRIMARY KEY (trade_date, symbol, available_at)
) WITHOUT ROWID;
";

/// Records a session's volumes inside the caller's transaction (a known version stays as is).
pub(super) fn write(
    tx: &rusqlite::Transaction<'_>,
    trade_date: NaiveDate,
    available_at: DateTime<Utc>,
    facilities: &str,
    rows: &[RegShoDailyRow],
) -> rusqlite::Result<()> {
    use super::Slot::{Row, Shared};
    // The date, availability and file set are bound once per statement.
    static INSERT: MultiRow = MultiRow::new(
        "INSERT INTO regsho_daily (trade_date, symbol, available_at, short_volume,
             short_exempt_volume, total_volume, facilities)
         VALUES {values}
         ON CONFLICT DO NOTHING",
        3,
        &[Shared(1), Row, Shared(2), Row, Row, Row, Shared(3)],
    );
    let date = trade_date.to_string();
    let at = available_at.timestamp_micros();
    for chunk in rows.chunks(CHUNK) {
        let mut insert = INSERT.prepare(tx, chunk.len())?;
        let texts: Vec<(String, Option<String>, String)> = chunk
            .iter()
            .map(|r| {
                (
                    r.short_volume.to_string(),
                    r.short_exempt_volume.map(|v| v.to_string()),
                    r.total_volume.to_string(),
                )
            })
            .collect();
        let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(3 + chunk.len() * 4);
        params.push(&date);
        params.push(&at);
        params.push(&facilities);
        for (r, (short, exempt, total)) in chunk.iter().zip(&texts) {
            params.push(&r.symbol);
            params.push(short);
            params.push(exempt);
            params.push(total);
        }
        insert.execute(params.as_slice())?;
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn read_volumes(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredVolumes>, StoreError> {
        let versions = self
            .with_conn(move |c| {
                let until = as_of.map_or(i64::MAX, |t| t.timestamp_micros());
                let mut stmt = c.prepare_cached(
                    "SELECT symbol, available_at, short_volume, short_exempt_volume, total_volume,
                            facilities
                     FROM regsho_daily WHERE trade_date = ?1 AND available_at <= ?2
                     ORDER BY symbol, available_at",
                )?;
                let rows = stmt.query_map(params![trade_date.to_string(), until], |r| {
                    let micros: i64 = r.get(1)?;
                    let required = |i: usize| {
                        volume(r, i)?.ok_or_else(|| bad_text(i, "NULL", "a share volume"))
                    };
                    Ok(StoredVolumes {
                        trade_date,
                        row: RegShoDailyRow {
                            symbol: r.get(0)?,
                            short_volume: required(2)?,
                            short_exempt_volume: volume(r, 3)?,
                            total_volume: required(4)?,
                        },
                        facilities: r.get(5)?,
                        available_at: DateTime::from_timestamp_micros(micros)
                            .ok_or_else(|| bad_text(1, &micros.to_string(), "a time"))?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(latest_volumes(versions, None))
    }
}
