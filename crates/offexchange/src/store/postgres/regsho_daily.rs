//! `regsho_daily` in PostgreSQL (migration 006): written inside a session's transaction with its
//! provenance, volumes sent as exact decimal text (cast to `numeric`, never through a float).

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::types::Type;

use super::PostgresStore;
use crate::store::{latest_volumes, Provenance, RegShoDailyRow, StoreError, StoredVolumes};
use crate::volume::Volume;

/// A session's volumes; `ON CONFLICT DO NOTHING` (a version stored before stays as it is) only when
/// the table holds rows of the date already (see the store's `NEW_DATE`).
macro_rules! insert {
    ($conflict:literal) => {
        concat!(
            "INSERT INTO regsho_daily (trade_date, symbol, available_at, short_volume,
                          short_exempt_volume, total_volume, facilities)
SELECT $1, s, $2, sv::numeric, ev::numeric, tv::numeric, $3
FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) AS t(s, sv, ev, tv)",
            $conflict
        )
    };
}
const INSERT: &str = insert!(" ON CONFLICT DO NOTHING");
const INSERT_NEW_DATE: &str = insert!("");

const SELECT: &str = "
SELECT symbol, available_at, short_volume::text, short_exempt_volume::text, total_volume::text,
       facilities
FROM regsho_daily
WHERE trade_date = $1 AND available_at <= $2
ORDER BY symbol COLLATE \"C\", available_at
";

/// Records a session's volumes inside the caller's transaction (a known version stays as is).
pub(super) async fn write(
    tx: &tokio_postgres::Transaction<'_>,
    trade_date: NaiveDate,
    provenance: &Provenance<'_>,
    new_date: bool,
) -> Result<(), tokio_postgres::Error> {
    let (Some(at), false) = (provenance.short_available_at, provenance.volumes.is_empty()) else {
        return Ok(());
    };
    let rows = provenance.volumes;
    let symbols: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
    let short: Vec<String> = rows.iter().map(|r| r.short_volume.to_string()).collect();
    let exempt: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.short_exempt_volume.map(|v| v.to_string()))
        .collect();
    let total: Vec<String> = rows.iter().map(|r| r.total_volume.to_string()).collect();
    tx.execute_typed(
        if new_date { INSERT_NEW_DATE } else { INSERT },
        &[
            (&trade_date, Type::DATE),
            (&at, Type::TIMESTAMPTZ),
            (&provenance.facilities, Type::TEXT),
            (&symbols, Type::TEXT_ARRAY),
            (&short, Type::TEXT_ARRAY),
            (&exempt, Type::TEXT_ARRAY),
            (&total, Type::TEXT_ARRAY),
        ],
    )
    .await?;
    Ok(())
}

impl PostgresStore {
    pub(super) async fn read_volumes(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredVolumes>, StoreError> {
        let doing = format!("reading regsho_daily of {trade_date}");
        let until = as_of.unwrap_or(DateTime::<Utc>::MAX_UTC);
        let rows = self
            .client()
            .await?
            .query_typed(
                SELECT,
                &[(&trade_date, Type::DATE), (&until, Type::TIMESTAMPTZ)],
            )
            .await
            .map_err(|e| self.error(&doing, &e))?;
        let bad = |what: String| StoreError::new(&self.described, format!("{doing}: {what}"));
        let volume = |text: &str| {
            Volume::parse(text.as_bytes())
                .map_err(|e| bad(format!("{text:?} is not a volume ({e})")))
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let get = |e: tokio_postgres::Error| self.error(&doing, &e);
            let exempt: Option<String> = r.try_get(3).map_err(get)?;
            out.push(StoredVolumes {
                trade_date,
                row: RegShoDailyRow {
                    symbol: r.try_get(0).map_err(get)?,
                    short_volume: volume(r.try_get::<_, &str>(2).map_err(get)?)?,
                    short_exempt_volume: exempt.as_deref().map(volume).transpose()?,
                    total_volume: volume(r.try_get::<_, &str>(4).map_err(get)?)?,
                },
                facilities: r.try_get(5).map_err(get)?,
                available_at: r.try_get(1).map_err(get)?,
            });
        }
        Ok(latest_volumes(out, None))
    }
}
