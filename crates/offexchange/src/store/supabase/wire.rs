//! PostgREST's wire format for our two tables: the rows we send, the rows we read back.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::features::{Feature, FeatureRow};
use crate::volume::Volume;

use super::FEATURES;

/// One `ats_weekly` row on the wire. Shares go as JSON strings holding the exact decimal
/// (`"431668.624869"`): PostgreSQL reads them into `numeric` exactly, where a JSON number might
/// pass through a float on the way.
#[derive(Serialize)]
pub(super) struct AtsWire<'a> {
    pub(super) symbol: &'a str,
    pub(super) week_start: NaiveDate,
    pub(super) tier: &'a str,
    pub(super) ats_shares: Option<String>,
    pub(super) otc_shares: Option<String>,
    pub(super) last_update_date: Option<NaiveDate>,
    pub(super) initial_published_date: Option<NaiveDate>,
    pub(super) source: &'static str,
}

/// One `ats_weekly` row as PostgREST returns it: `numeric` comes back as a JSON number (kept as
/// its raw text here, never a float) or, from some servers, a string.
#[derive(Deserialize)]
pub(super) struct AtsStored {
    pub(super) symbol: String,
    pub(super) tier: String,
    pub(super) ats_shares: Option<Box<serde_json::value::RawValue>>,
    pub(super) otc_shares: Option<Box<serde_json::value::RawValue>>,
    pub(super) last_update_date: Option<NaiveDate>,
    pub(super) initial_published_date: Option<NaiveDate>,
    pub(super) source: String,
}

#[derive(Deserialize)]
pub(super) struct LastUpdate {
    pub(super) last_update_date: Option<NaiveDate>,
}

/// An exact decimal from a JSON number or string.
pub(super) fn raw_volume(
    raw: Option<&serde_json::value::RawValue>,
) -> Result<Option<Volume>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get();
    let text = match serde_json::from_str::<Option<String>>(text) {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(None),
        Err(_) => text.to_string(),
    };
    Volume::parse(text.as_bytes())
        .map(Some)
        .map_err(|e| format!("a share volume {text:?} is {e}"))
}

/// One row on the wire: a pending cell is left out, so the upsert does not touch it.
#[derive(Serialize)]
pub(super) struct Wire<'a> {
    pub(super) symbol: &'a str,
    pub(super) trade_date: NaiveDate,
    #[serde(skip_serializing_if = "pending")]
    pub(super) short_vol_share: Feature,
    #[serde(skip_serializing_if = "pending")]
    pub(super) short_exempt_share: Feature,
    #[serde(skip_serializing_if = "pending")]
    pub(super) ats_share_of_total: Feature,
}

impl<'a> Wire<'a> {
    /// A row of `trade_date` as sent.
    pub(super) fn of(row: &'a FeatureRow, trade_date: NaiveDate) -> Wire<'a> {
        Wire {
            symbol: &row.symbol,
            trade_date,
            short_vol_share: row.short_vol_share,
            short_exempt_share: row.short_exempt_share,
            ats_share_of_total: row.ats_share_of_total,
        }
    }
}

pub(super) fn pending(cell: &Feature) -> bool {
    cell.is_pending()
}

/// Rows grouped by which cells are pending (the same keys in every object of a POST), then cut
/// into batches. Groups come in a fixed order, rows in their given order.
pub(super) fn batches(rows: &[FeatureRow], batch_size: usize) -> Vec<(String, Vec<&FeatureRow>)> {
    let mut groups: BTreeMap<[bool; 3], Vec<&FeatureRow>> = BTreeMap::new();
    for r in rows {
        let mask = [
            r.short_vol_share.is_pending(),
            r.short_exempt_share.is_pending(),
            r.ats_share_of_total.is_pending(),
        ];
        groups.entry(mask).or_default().push(r);
    }
    let mut out = Vec::new();
    for (mask, group) in groups {
        let mut columns = vec!["symbol", "trade_date"];
        columns.extend(
            FEATURES
                .iter()
                .zip(mask)
                .filter(|(_, p)| !p)
                .map(|(c, _)| *c),
        );
        let columns = columns.join(",");
        for chunk in group.chunks(batch_size.max(1)) {
            out.push((columns.clone(), chunk.to_vec()));
        }
    }
    out
}

#[derive(Deserialize)]
pub(super) struct SymbolOnly {
    pub(super) symbol: String,
}

#[derive(Deserialize)]
pub(super) struct Stored {
    pub(super) symbol: String,
    pub(super) short_vol_share: Option<f64>,
    pub(super) short_exempt_share: Option<f64>,
    pub(super) ats_share_of_total: Option<f64>,
}
