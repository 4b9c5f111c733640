//! `finra_files` and `feature_versions` over PostgREST (the tables of migration 003).
//!
//! Like the rows, they are sent after the session's rows, one request per batch: REST has no
//! transaction across requests. Ledger rows merge on `(dataset, name, sha256)` without sending
//! `first_seen_at` (the column's default fills it once); feature versions merge on their key, so a
//! re-sent version changes nothing.

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::SupabaseStore;
use crate::features::FeatureRow;
use crate::provenance::PublishedFrom;
use crate::store::{
    versions_of, FeatureVersion, LedgerRow, Part, Provenance, SourceVersion, StoreError,
};

/// The ledger table, under the project URL.
pub(super) const FILES_PATH: &str = "/rest/v1/finra_files";
/// The feature versions table, under the project URL.
pub(super) const VERSIONS_PATH: &str = "/rest/v1/feature_versions";

const FILES_COLUMNS: &str =
    "dataset,name,sha256,url,bytes,rows,published_at,published_from,last_seen_at";
const VERSIONS_COLUMNS: &str = "symbol,trade_date,part,available_at,short_vol_share,\
                                short_exempt_share,ats_share_of_total";

#[derive(Serialize, Deserialize)]
struct FileWire {
    dataset: String,
    name: String,
    sha256: String,
    url: String,
    bytes: i64,
    rows: i64,
    published_at: DateTime<Utc>,
    published_from: String,
    #[serde(skip_serializing)]
    first_seen_at: Option<DateTime<Utc>>,
    last_seen_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct VersionWire {
    symbol: String,
    trade_date: NaiveDate,
    part: String,
    available_at: DateTime<Utc>,
    short_vol_share: Option<f64>,
    short_exempt_share: Option<f64>,
    ats_share_of_total: Option<f64>,
}

impl SupabaseStore {
    /// Sends a session's ledger rows, then its feature versions.
    pub(super) async fn write_history(
        &self,
        trade_date: NaiveDate,
        rows: &[FeatureRow],
        provenance: &Provenance<'_>,
    ) -> Result<(), StoreError> {
        self.send_ledger(provenance.sources).await?;
        self.send_volumes(trade_date, provenance).await?;
        let versions: Vec<VersionWire> = versions_of(trade_date, rows, provenance)
            .into_iter()
            .map(|v| VersionWire {
                symbol: v.symbol,
                trade_date: v.trade_date,
                part: v.part.as_str().to_string(),
                available_at: v.available_at,
                short_vol_share: v.short_vol_share,
                short_exempt_share: v.short_exempt_share,
                ats_share_of_total: v.ats_share_of_total,
            })
            .collect();
        self.send(
            &self.versions_rest,
            "trade_date,symbol,part,available_at",
            VERSIONS_COLUMNS,
            &versions,
            "feature_versions",
        )
        .await
    }

    /// Sends ledger rows (a known version only refreshes `last_seen_at`).
    pub(super) async fn send_ledger(&self, sources: &[SourceVersion]) -> Result<(), StoreError> {
        let now = Utc::now();
        let files: Vec<FileWire> = sources
            .iter()
            .map(|s| FileWire {
                dataset: s.dataset.clone(),
                name: s.name.clone(),
                sha256: s.sha256.clone(),
                url: s.url.clone(),
                bytes: i64::try_from(s.bytes).unwrap_or(i64::MAX),
                rows: i64::try_from(s.rows).unwrap_or(i64::MAX),
                published_at: s.published_at,
                published_from: s.published_from.as_str().to_string(),
                first_seen_at: None,
                last_seen_at: now,
            })
            .collect();
        self.send(
            &self.files_rest,
            "dataset,name,sha256",
            FILES_COLUMNS,
            &files,
            "finra_files",
        )
        .await
    }

    pub(super) async fn send<T: Serialize>(
        &self,
        rest: &super::Rest,
        key: &str,
        columns: &str,
        rows: &[T],
        table: &str,
    ) -> Result<(), StoreError> {
        for batch in rows.chunks(self.settings.batch_size.max(1)) {
            let body = serde_json::to_vec(batch).map_err(|e| {
                StoreError::new(&self.project, format!("cannot encode {table} as JSON: {e}"))
            })?;
            let query = [
                ("on_conflict", key.to_string()),
                ("columns", columns.to_string()),
            ];
            rest.upsert(&query, Bytes::from(body))
                .await
                .map_err(|f| self.error(&format!("writing {table}"), &f))?;
        }
        Ok(())
    }

    /// Every ledger row of these `(dataset, name)` sources.
    pub(super) async fn read_ledger(
        &self,
        sources: &[(String, String)],
    ) -> Result<Vec<LedgerRow>, StoreError> {
        let mut out = Vec::new();
        for (dataset, name) in sources {
            let filters = [
                ("select", format!("{FILES_COLUMNS},first_seen_at")),
                ("dataset", format!("eq.{dataset}")),
                ("name", format!("eq.{name}")),
            ];
            let rows: Vec<FileWire> = self
                .fetch_all_ordered(
                    &self.files_rest,
                    "reading finra_files",
                    &filters,
                    "sha256.asc",
                )
                .await?;
            for r in rows {
                out.push(LedgerRow {
                    first_seen_at: r.first_seen_at.unwrap_or(r.last_seen_at),
                    last_seen_at: r.last_seen_at,
                    version: SourceVersion {
                        dataset: r.dataset,
                        name: r.name,
                        sha256: r.sha256,
                        url: r.url,
                        bytes: r.bytes.max(0) as u64,
                        rows: r.rows.max(0) as u64,
                        published_at: r.published_at,
                        published_from: PublishedFrom::parse(&r.published_from)
                            .unwrap_or(PublishedFrom::FirstSeen),
                    },
                });
            }
        }
        Ok(out)
    }

    /// The feature versions of a date, sorted by (symbol, part, available_at).
    pub(super) async fn read_versions(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<FeatureVersion>, StoreError> {
        let mut filters = vec![
            ("select", VERSIONS_COLUMNS.to_string()),
            ("trade_date", format!("eq.{trade_date}")),
        ];
        if let Some(at) = as_of {
            filters.push(("available_at", format!("lte.{}", at.to_rfc3339())));
        }
        let doing = format!("reading the feature versions of {trade_date}");
        let rows: Vec<VersionWire> = self
            .fetch_all_ordered(
                &self.versions_rest,
                &doing,
                &filters,
                "symbol.asc,part.asc,available_at.asc",
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let part = Part::parse(&r.part).ok_or_else(|| {
                StoreError::new(&self.project, format!("{doing}: part {:?}", r.part))
            })?;
            out.push(FeatureVersion {
                symbol: r.symbol,
                trade_date: r.trade_date,
                part,
                available_at: r.available_at,
                short_vol_share: r.short_vol_share,
                short_exempt_share: r.short_exempt_share,
                ats_share_of_total: r.ats_share_of_total,
            });
        }
        // PostgREST orders text by the database's collation; offx's order is bytewise.
        out.sort_by(|a, b| {
            (a.symbol.as_bytes(), a.part, a.available_at).cmp(&(
                b.symbol.as_bytes(),
                b.part,
                b.available_at,
            ))
        });
        Ok(out)
    }
}
