//! `regsho_daily` over PostgREST (migration 006): sent with a session's history (volumes as
//! exact decimal strings, PostgREST casts them to `numeric`), read back exactly
//! ([`raw_volume`]: `numeric` comes back as a JSON number, kept as its text).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::wire::raw_volume;
use super::SupabaseStore;
use crate::store::{latest_volumes, Provenance, RegShoDailyRow, StoreError, StoredVolumes};

/// The table, under the project URL.
pub(super) const PATH: &str = "/rest/v1/regsho_daily";

const COLUMNS: &str =
    "trade_date,symbol,available_at,short_volume,short_exempt_volume,total_volume,facilities";

#[derive(Serialize)]
struct Wire<'a> {
    trade_date: NaiveDate,
    symbol: &'a str,
    available_at: DateTime<Utc>,
    short_volume: String,
    short_exempt_volume: Option<String>,
    total_volume: String,
    facilities: &'a str,
}

#[derive(Deserialize)]
struct Stored {
    symbol: String,
    available_at: DateTime<Utc>,
    short_volume: Box<RawValue>,
    short_exempt_volume: Option<Box<RawValue>>,
    total_volume: Box<RawValue>,
    facilities: String,
}

impl SupabaseStore {
    /// Sends a session's volumes (after its ledger rows).
    pub(super) async fn send_volumes(
        &self,
        trade_date: NaiveDate,
        provenance: &Provenance<'_>,
    ) -> Result<(), StoreError> {
        let (Some(at), false) = (provenance.short_available_at, provenance.volumes.is_empty())
        else {
            return Ok(());
        };
        let wire: Vec<Wire<'_>> = provenance
            .volumes
            .iter()
            .map(|r| Wire {
                trade_date,
                symbol: &r.symbol,
                available_at: at,
                short_volume: r.short_volume.to_string(),
                short_exempt_volume: r.short_exempt_volume.map(|v| v.to_string()),
                total_volume: r.total_volume.to_string(),
                facilities: provenance.facilities,
            })
            .collect();
        let sent = self
            .send(
                &self.volumes_rest,
                "trade_date,symbol,available_at",
                COLUMNS,
                &wire,
                "regsho_daily",
            )
            .await;
        match sent {
            // A project that has not applied migration 006 yet: the session's features matter
            // more than the volumes beside them. Said once, not failed.
            Err(e) if e.message.contains("PGRST205") => {
                if !self
                    .volumes_missing
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::warn!(
                        "{}: table regsho_daily is missing, so the Reg SHO volumes behind the \
                         ratios are not stored (offx top --min-total-volume needs them): apply \
                         migrations/006_regsho_daily.sql in the SQL editor",
                        self.project
                    );
                }
                Ok(())
            }
            other => other,
        }
    }

    pub(super) async fn read_volumes(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredVolumes>, StoreError> {
        let mut filters = vec![
            ("select", COLUMNS.to_string()),
            ("trade_date", format!("eq.{trade_date}")),
        ];
        if let Some(at) = as_of {
            filters.push(("available_at", format!("lte.{}", at.to_rfc3339())));
        }
        let doing = format!("reading regsho_daily of {trade_date}");
        let rows: Vec<Stored> = self
            .fetch_all_ordered(
                &self.volumes_rest,
                &doing,
                &filters,
                "symbol.asc,available_at.asc",
            )
            .await?;
        let bad = |e: String| StoreError::new(&self.project, format!("{doing}: {e}"));
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let required = |raw: &RawValue| {
                raw_volume(Some(raw))
                    .map_err(bad)?
                    .ok_or_else(|| bad("a volume is null".into()))
            };
            out.push(StoredVolumes {
                trade_date,
                row: RegShoDailyRow {
                    short_volume: required(&r.short_volume)?,
                    short_exempt_volume: raw_volume(r.short_exempt_volume.as_deref())
                        .map_err(bad)?,
                    total_volume: required(&r.total_volume)?,
                    symbol: r.symbol,
                },
                facilities: r.facilities,
                available_at: r.available_at,
            });
        }
        // PostgREST orders text by the database's collation; offx's order is bytewise.
        out.sort_by(|a, b| {
            (a.row.symbol.as_bytes(), a.available_at)
                .cmp(&(b.row.symbol.as_bytes(), b.available_at))
        });
        Ok(latest_volumes(out, None))
    }
}
