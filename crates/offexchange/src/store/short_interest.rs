//! The `short_interest` table's rows (migration 005): every version FINRA published of every
//! settlement, each row stamped with the version it came from.
//!
//! A revision is a new version (other bytes, another sha256, a later publication time) stored
//! beside the earlier one, never over it; readers pick the version they may know
//! ([`crate::jobs::short_interest`]). The versions themselves are the `finra_files` ledger's rows
//! of dataset `short_interest`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::StoreError;
use crate::parse::short_interest::ShortInterestRecord;
use crate::provenance::SourceVersion;

/// One symbol's short interest at one settlement, in one version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShortInterestRow {
    /// The Reg SHO spelling (the `daily_features` key), mapped from FINRA's.
    pub symbol: String,
    /// `symbolCode` as FINRA wrote it (`BRKB`).
    pub finra_symbol: String,
    /// The settlement date.
    pub settlement_date: NaiveDate,
    /// `issueName`.
    pub issue_name: String,
    /// `marketClassCode`.
    pub market_class: String,
    /// Open short position, shares.
    pub current_short: i64,
    /// The position at the previous settlement, shares.
    pub previous_short: Option<i64>,
    /// current - previous, shares.
    pub change_previous: Option<i64>,
    /// The change in percent.
    pub change_percent: Option<f64>,
    /// Average daily share volume.
    pub average_daily_volume: Option<i64>,
    /// Days to cover, as FINRA wrote it (capped at 999.99).
    pub days_to_cover: Option<f64>,
    /// `days_to_cover` is FINRA's cap, not a measured value.
    pub days_to_cover_capped: bool,
    /// `stockSplitFlag`.
    pub stock_split: Option<String>,
    /// `revisionFlag`.
    pub revision: Option<String>,
    /// The version: the sha256 of its ledger row.
    pub sha256: String,
    /// The version's publication time (when it became knowable).
    #[serde(serialize_with = "crate::provenance::serialize_micros")]
    pub published_at: DateTime<Utc>,
    /// The version's name (`shrt20240112.csv`, `consolidatedShortInterest 2024-01-12`).
    pub source: String,
}

impl ShortInterestRow {
    /// FINRA's record under Reg SHO spelling `symbol`, in `version`.
    pub fn of(symbol: String, r: &ShortInterestRecord, version: &SourceVersion) -> Self {
        ShortInterestRow {
            symbol,
            finra_symbol: r.symbol.clone(),
            settlement_date: r.settlement_date,
            issue_name: r.issue_name.clone(),
            market_class: r.market_class.clone(),
            current_short: r.current_short,
            previous_short: r.previous_short,
            change_previous: r.change_previous,
            change_percent: r.change_percent,
            average_daily_volume: r.average_daily_volume,
            days_to_cover: r.days_to_cover,
            days_to_cover_capped: r.days_to_cover_capped(),
            stock_split: r.stock_split.clone(),
            revision: r.revision.clone(),
            sha256: version.sha256.clone(),
            published_at: version.published_at,
            source: version.name.clone(),
        }
    }
}

/// One stored version of a settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementVersion {
    /// The settlement date.
    pub settlement_date: NaiveDate,
    /// The version's ledger row.
    pub version: SourceVersion,
}

/// Refuses rows that can only be a caller bug: another settlement or version, a symbol twice.
pub(crate) fn check_short_interest(
    store: &str,
    settlement_date: NaiveDate,
    version: &SourceVersion,
    rows: &[ShortInterestRow],
) -> Result<(), StoreError> {
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    for r in rows {
        if r.settlement_date != settlement_date || r.sha256 != version.sha256 {
            return Err(StoreError::new(
                store,
                format!(
                    "short_interest row {} is of settlement {} version {}, not {settlement_date} \
                     {}; nothing written",
                    r.symbol, r.settlement_date, r.sha256, version.sha256
                ),
            ));
        }
        if !seen.insert(r.symbol.as_str()) {
            return Err(StoreError::new(
                store,
                format!(
                    "short_interest symbol {} appears twice in settlement {settlement_date}; \
                     nothing written",
                    r.symbol
                ),
            ));
        }
    }
    Ok(())
}

/// The ledger names a settlement may be stored under (one per carrier).
pub(crate) fn ledger_names(settlement: NaiveDate) -> [String; 2] {
    [
        crate::datasets::short_interest::file_name(settlement),
        crate::datasets::short_interest::api_name(settlement),
    ]
}
