//! `short_interest` in PostgreSQL (migration 005): a settlement version written in one
//! transaction with its ledger row, rows sent as column arrays (one statement whatever the count).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use tokio_postgres::types::Type;

use super::history::write_ledger;
use super::{advisory_lock, PostgresStore, SETTLEMENT_LOCK_SPACE};
use crate::store::short_interest::check_short_interest;
use crate::store::{ShortInterestRow, SourceVersion, StoreError};

/// A settlement version's rows, as column arrays; `ON CONFLICT DO NOTHING` only when the table
/// holds rows of that version already (see `write_short_interest`).
macro_rules! insert {
    ($conflict:literal) => {
        concat!(
            "INSERT INTO short_interest (settlement_date, symbol, sha256, finra_symbol, issue_name,
    market_class, current_short, previous_short, change_previous, change_percent,
    average_daily_volume, days_to_cover, days_to_cover_capped, stock_split, revision,
    published_at, source)
SELECT $1, s, $2, fs, n, mc, cs, ps, cp, pct, adv, dtc, cap, split, rev, $3, $4
FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::int8[], $10::int8[],
            $11::int8[], $12::float8[], $13::int8[], $14::float8[], $15::bool[], $16::text[],
            $17::text[])
     AS t(s, fs, n, mc, cs, ps, cp, pct, adv, dtc, cap, split, rev)",
            $conflict
        )
    };
}
const INSERT: &str = insert!(" ON CONFLICT DO NOTHING");
const INSERT_NEW_VERSION: &str = insert!("");

/// Whether the table holds rows of a settlement version. Asked under the settlement's advisory
/// lock, so no other offx writer adds some before this transaction ends.
const HAS_VERSION: &str = "
SELECT EXISTS (SELECT 1 FROM short_interest WHERE settlement_date = $1 AND sha256 = $2)";

const SELECT: &str = "
SELECT symbol, finra_symbol, issue_name, market_class, current_short, previous_short,
       change_previous, change_percent, average_daily_volume, days_to_cover,
       days_to_cover_capped, stock_split, revision, published_at, source
FROM short_interest
WHERE settlement_date = $1 AND sha256 = $2 AND ($3::text[] IS NULL OR symbol = ANY($3))
ORDER BY symbol COLLATE \"C\"
";

impl PostgresStore {
    pub(super) async fn write_short_interest(
        &self,
        settlement_date: NaiveDate,
        version: &SourceVersion,
        rows: &[ShortInterestRow],
    ) -> Result<usize, StoreError> {
        check_short_interest(&self.described, settlement_date, version, rows)?;
        let mut client = self.client().await?;
        let fail = |doing: &str, e: tokio_postgres::Error| {
            self.error(
                &format!(
                    "short interest of {settlement_date} rolled back, nothing written ({doing})"
                ),
                &e,
            )
        };
        let tx = client.transaction().await.map_err(|e| fail("begin", e))?;
        write_ledger(&tx, std::slice::from_ref(version))
            .await
            .map_err(|e| fail("finra_files", e))?;
        // A new version (the usual case) is inserted plainly: `ON CONFLICT` costs a speculative
        // insertion per row, 9.6 µs a row here with the sha256 in the key.
        advisory_lock(
            &tx,
            SETTLEMENT_LOCK_SPACE,
            settlement_date.num_days_from_ce(),
        )
        .await
        .map_err(|e| fail("lock", e))?;
        let known: bool = tx
            .query_one(HAS_VERSION, &[&settlement_date, &version.sha256])
            .await
            .map_err(|e| fail("lookup", e))?
            .get(0);
        let text = |f: fn(&ShortInterestRow) -> &str| -> Vec<&str> { rows.iter().map(f).collect() };
        let opt_text = |f: fn(&ShortInterestRow) -> Option<&str>| -> Vec<Option<&str>> {
            rows.iter().map(f).collect()
        };
        let int = |f: fn(&ShortInterestRow) -> Option<i64>| -> Vec<Option<i64>> {
            rows.iter().map(f).collect()
        };
        let float = |f: fn(&ShortInterestRow) -> Option<f64>| -> Vec<Option<f64>> {
            rows.iter().map(f).collect()
        };
        let current: Vec<i64> = rows.iter().map(|r| r.current_short).collect();
        let capped: Vec<bool> = rows.iter().map(|r| r.days_to_cover_capped).collect();
        let written = tx
            .execute_typed(
                if known { INSERT } else { INSERT_NEW_VERSION },
                &[
                    (&settlement_date, Type::DATE),
                    (&version.sha256, Type::TEXT),
                    (&version.published_at, Type::TIMESTAMPTZ),
                    (&version.name, Type::TEXT),
                    (&text(|r| &r.symbol), Type::TEXT_ARRAY),
                    (&text(|r| &r.finra_symbol), Type::TEXT_ARRAY),
                    (&text(|r| &r.issue_name), Type::TEXT_ARRAY),
                    (&text(|r| &r.market_class), Type::TEXT_ARRAY),
                    (&current, Type::INT8_ARRAY),
                    (&int(|r| r.previous_short), Type::INT8_ARRAY),
                    (&int(|r| r.change_previous), Type::INT8_ARRAY),
                    (&float(|r| r.change_percent), Type::FLOAT8_ARRAY),
                    (&int(|r| r.average_daily_volume), Type::INT8_ARRAY),
                    (&float(|r| r.days_to_cover), Type::FLOAT8_ARRAY),
                    (&capped, Type::BOOL_ARRAY),
                    (&opt_text(|r| r.stock_split.as_deref()), Type::TEXT_ARRAY),
                    (&opt_text(|r| r.revision.as_deref()), Type::TEXT_ARRAY),
                ],
            )
            .await
            .map_err(|e| fail("insert", e))?;
        tx.commit().await.map_err(|e| fail("commit", e))?;
        Ok(usize::try_from(written).unwrap_or(usize::MAX))
    }

    pub(super) async fn short_interest_rows(
        &self,
        settlement_date: NaiveDate,
        sha256: &str,
        symbols: Option<&[String]>,
    ) -> Result<Vec<ShortInterestRow>, StoreError> {
        let doing = format!("reading short_interest of {settlement_date}");
        let symbols: Option<Vec<&str>> = symbols.map(|s| s.iter().map(String::as_str).collect());
        let rows = self
            .client()
            .await?
            .query_typed(
                SELECT,
                &[
                    (&settlement_date, Type::DATE),
                    (&sha256, Type::TEXT),
                    (&symbols, Type::TEXT_ARRAY),
                ],
            )
            .await
            .map_err(|e| self.error(&doing, &e))?;
        rows.iter()
            .map(|r| -> Result<ShortInterestRow, tokio_postgres::Error> {
                Ok(ShortInterestRow {
                    symbol: r.try_get(0)?,
                    finra_symbol: r.try_get(1)?,
                    settlement_date,
                    issue_name: r.try_get(2)?,
                    market_class: r.try_get(3)?,
                    current_short: r.try_get(4)?,
                    previous_short: r.try_get(5)?,
                    change_previous: r.try_get(6)?,
                    change_percent: r.try_get(7)?,
                    average_daily_volume: r.try_get(8)?,
                    days_to_cover: r.try_get(9)?,
                    days_to_cover_capped: r.try_get(10)?,
                    stock_split: r.try_get(11)?,
                    revision: r.try_get(12)?,
                    sha256: sha256.to_string(),
                    published_at: r.try_get::<_, DateTime<Utc>>(13)?,
                    source: r.try_get(14)?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(&doing, &e))
    }
}
