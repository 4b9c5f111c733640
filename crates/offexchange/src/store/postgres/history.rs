//! `finra_files` and `feature_versions` in PostgreSQL (migration 003): written inside a session's
//! transaction, read by the export job.

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::types::Type;

use super::{NewDate, PostgresStore};
use crate::features::FeatureRow;
use crate::provenance::PublishedFrom;
use crate::store::{
    versions_of, FeatureVersion, LedgerRow, Part, Provenance, SourceVersion, StoreError,
};

/// The ledger rows and feature versions of one session, as column arrays (`unnest` turns them
/// back into rows): one statement each, whatever the number of symbols.
const UPSERT_LEDGER: &str = "
INSERT INTO finra_files (dataset, name, sha256, url, bytes, rows, published_at, published_from,
                         first_seen_at, last_seen_at)
SELECT d, n, s, u, b, r, p, f, now(), now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
            $7::timestamptz[], $8::text[]) AS t(d, n, s, u, b, r, p, f)
ON CONFLICT (dataset, name, sha256) DO UPDATE SET last_seen_at = excluded.last_seen_at
";

/// A session's versions; `ON CONFLICT DO NOTHING` (a version stored before stays as it is) only
/// when the table holds versions of the date already (see `NEW_DATE`).
macro_rules! insert_versions {
    ($conflict:literal) => {
        concat!(
            "INSERT INTO feature_versions (symbol, trade_date, part, available_at, short_vol_share,
                              short_exempt_share, ats_share_of_total)
SELECT s, $1, p, a, v1, v2, v3
FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::float8[], $6::float8[], $7::float8[])
     AS t(s, p, a, v1, v2, v3)",
            $conflict
        )
    };
}
const INSERT_VERSIONS: &str = insert_versions!(" ON CONFLICT DO NOTHING");
const INSERT_NEW_VERSIONS: &str = insert_versions!("");

pub(super) async fn write_provenance(
    tx: &tokio_postgres::Transaction<'_>,
    trade_date: NaiveDate,
    rows: &[FeatureRow],
    provenance: &Provenance<'_>,
    new: NewDate,
) -> Result<(), tokio_postgres::Error> {
    write_ledger(tx, provenance.sources).await?;
    super::regsho_daily::write(tx, trade_date, provenance, new.volumes).await?;
    let versions = versions_of(trade_date, rows, provenance);
    let symbols: Vec<&str> = versions.iter().map(|v| v.symbol.as_str()).collect();
    let parts: Vec<&str> = versions.iter().map(|v| v.part.as_str()).collect();
    let at: Vec<DateTime<Utc>> = versions.iter().map(|v| v.available_at).collect();
    let short: Vec<Option<f64>> = versions.iter().map(|v| v.short_vol_share).collect();
    let exempt: Vec<Option<f64>> = versions.iter().map(|v| v.short_exempt_share).collect();
    let ats: Vec<Option<f64>> = versions.iter().map(|v| v.ats_share_of_total).collect();
    let insert = if new.versions {
        INSERT_NEW_VERSIONS
    } else {
        INSERT_VERSIONS
    };
    tx.execute_typed(
        insert,
        &[
            (&trade_date, Type::DATE),
            (&symbols, Type::TEXT_ARRAY),
            (&parts, Type::TEXT_ARRAY),
            (&at, Type::TIMESTAMPTZ_ARRAY),
            (&short, Type::FLOAT8_ARRAY),
            (&exempt, Type::FLOAT8_ARRAY),
            (&ats, Type::FLOAT8_ARRAY),
        ],
    )
    .await?;
    Ok(())
}

/// Records ledger rows (a known version is marked seen again) inside the caller's transaction.
pub(super) async fn write_ledger(
    tx: &tokio_postgres::Transaction<'_>,
    s: &[SourceVersion],
) -> Result<(), tokio_postgres::Error> {
    let text = |f: fn(&SourceVersion) -> String| -> Vec<String> { s.iter().map(f).collect() };
    let count = |f: fn(&SourceVersion) -> u64| -> Vec<i64> {
        s.iter()
            .map(|v| i64::try_from(f(v)).unwrap_or(i64::MAX))
            .collect()
    };
    let published: Vec<DateTime<Utc>> = s.iter().map(|v| v.published_at).collect();
    let (datasets, names) = (text(|v| v.dataset.clone()), text(|v| v.name.clone()));
    let (shas, urls) = (text(|v| v.sha256.clone()), text(|v| v.url.clone()));
    let (bytes, counts) = (count(|v| v.bytes), count(|v| v.rows));
    let froms = text(|v| v.published_from.as_str().to_string());
    tx.query_typed(
        UPSERT_LEDGER,
        &[
            (&datasets, Type::TEXT_ARRAY),
            (&names, Type::TEXT_ARRAY),
            (&shas, Type::TEXT_ARRAY),
            (&urls, Type::TEXT_ARRAY),
            (&bytes, Type::INT8_ARRAY),
            (&counts, Type::INT8_ARRAY),
            (&published, Type::TIMESTAMPTZ_ARRAY),
            (&froms, Type::TEXT_ARRAY),
        ],
    )
    .await?;
    Ok(())
}

impl PostgresStore {
    pub(super) async fn read_ledger(
        &self,
        sources: &[(String, String)],
    ) -> Result<Vec<LedgerRow>, StoreError> {
        let doing = "reading the finra_files ledger";
        let datasets: Vec<&str> = sources.iter().map(|(d, _)| d.as_str()).collect();
        let names: Vec<&str> = sources.iter().map(|(_, n)| n.as_str()).collect();
        let rows = self
            .client()
            .await?
            .query_typed(
                "SELECT f.dataset, f.name, f.sha256, f.url, f.bytes, f.rows, f.published_at,
                        f.published_from, f.first_seen_at, f.last_seen_at
                 FROM finra_files f
                 JOIN unnest($1::text[], $2::text[]) AS k(d, n) ON f.dataset = k.d AND f.name = k.n
                 ORDER BY f.published_at",
                &[(&datasets, Type::TEXT_ARRAY), (&names, Type::TEXT_ARRAY)],
            )
            .await
            .map_err(|e| self.error(doing, &e))?;
        rows.iter()
            .map(|r| -> Result<LedgerRow, StoreError> {
                let get = |e: tokio_postgres::Error| self.error(doing, &e);
                let from: String = r.try_get(7).map_err(get)?;
                Ok(LedgerRow {
                    version: SourceVersion {
                        dataset: r.try_get(0).map_err(get)?,
                        name: r.try_get(1).map_err(get)?,
                        sha256: r.try_get(2).map_err(get)?,
                        url: r.try_get(3).map_err(get)?,
                        bytes: r.try_get::<_, i64>(4).map_err(get)?.max(0) as u64,
                        rows: r.try_get::<_, i64>(5).map_err(get)?.max(0) as u64,
                        published_at: r.try_get(6).map_err(get)?,
                        published_from: PublishedFrom::parse(&from).ok_or_else(|| {
                            StoreError::new(&self.described, format!("{doing}: {from:?}"))
                        })?,
                    },
                    first_seen_at: r.try_get(8).map_err(get)?,
                    last_seen_at: r.try_get(9).map_err(get)?,
                })
            })
            .collect()
    }

    pub(super) async fn read_versions(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<FeatureVersion>, StoreError> {
        let doing = format!("reading the feature versions of {trade_date}");
        let rows = self
            .client()
            .await?
            .query_typed(
                "SELECT symbol, part, available_at, short_vol_share, short_exempt_share,
                        ats_share_of_total
                 FROM feature_versions
                 WHERE trade_date = $1 AND ($2::timestamptz IS NULL OR available_at <= $2)
                 ORDER BY symbol COLLATE \"C\", part, available_at",
                &[(&trade_date, Type::DATE), (&as_of, Type::TIMESTAMPTZ)],
            )
            .await
            .map_err(|e| self.error(&doing, &e))?;
        rows.iter()
            .map(|r| -> Result<FeatureVersion, StoreError> {
                let get = |e: tokio_postgres::Error| self.error(&doing, &e);
                let part: String = r.try_get(1).map_err(get)?;
                Ok(FeatureVersion {
                    symbol: r.try_get(0).map_err(get)?,
                    trade_date,
                    part: Part::parse(&part).ok_or_else(|| {
                        StoreError::new(&self.described, format!("{doing}: part {part:?}"))
                    })?,
                    available_at: r.try_get(2).map_err(get)?,
                    short_vol_share: r.try_get(3).map_err(get)?,
                    short_exempt_share: r.try_get(4).map_err(get)?,
                    ats_share_of_total: r.try_get(5).map_err(get)?,
                })
            })
            .collect()
    }
}
