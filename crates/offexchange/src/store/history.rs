//! The point-in-time side of a commit: what a session was computed from, and the versions of its
//! values (`feature_versions`), each with when it became knowable.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::SourceVersion;
use crate::features::{FeatureRow, RegShoDay};
use crate::volume::Volume;

/// What a session's values were computed from, and when each part became knowable.
#[derive(Debug, Clone, Copy)]
pub struct Provenance<'a> {
    /// Every source version read (both datasets): rows of the `finra_files` ledger.
    pub sources: &'a [SourceVersion],
    /// When the short-volume columns became knowable: the latest publication time of the day's
    /// Reg SHO files. `None`: no Reg SHO file published.
    pub short_available_at: Option<DateTime<Utc>>,
    /// When `ats_share_of_total` became knowable: the latest publication time of the ATS week's
    /// versions read. `None`: the week is not published.
    pub ats_available_at: Option<DateTime<Utc>>,
    /// The Reg SHO volumes behind the short columns (`regsho_daily`), one row per symbol that has
    /// them, stamped `short_available_at`.
    pub volumes: &'a [RegShoDailyRow],
    /// The Reg SHO files they were summed from (`CNMS,FORF`).
    pub facilities: &'a str,
}

impl<'a> Provenance<'a> {
    /// The same provenance, with the session's Reg SHO volumes.
    pub fn with_volumes(mut self, volumes: &'a [RegShoDailyRow], facilities: &'a str) -> Self {
        self.volumes = volumes;
        self.facilities = facilities;
        self
    }
}

/// One symbol's Reg SHO volumes of one session, exact (`regsho_daily`, migration 006): what its
/// ratios were computed from, so they can be filtered by liquidity or re-weighted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegShoDailyRow {
    /// The symbol, byte for byte.
    pub symbol: String,
    /// `ShortVolume`, summed over the day's files.
    pub short_volume: Volume,
    /// `ShortExemptVolume` (`None` when a file had no such column).
    pub short_exempt_volume: Option<Volume>,
    /// `TotalVolume`, summed over the day's files.
    pub total_volume: Volume,
}

/// A stored `regsho_daily` row: the volumes and the version they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVolumes {
    /// The session.
    pub trade_date: NaiveDate,
    /// The volumes.
    pub row: RegShoDailyRow,
    /// The Reg SHO files they were summed from.
    pub facilities: String,
    /// When FINRA had published them.
    pub available_at: DateTime<Utc>,
}

/// The `regsho_daily` rows of `symbols` (every symbol of `rows` that the day has volumes for),
/// sorted by symbol, and the day's file set.
pub(crate) fn daily_volumes(
    regsho: &RegShoDay,
    rows: &[FeatureRow],
) -> (Vec<RegShoDailyRow>, String) {
    let mut out: Vec<RegShoDailyRow> = rows
        .iter()
        .filter_map(|r| {
            let v = regsho.volumes.get(&r.symbol)?;
            Some(RegShoDailyRow {
                symbol: r.symbol.clone(),
                short_volume: v.short,
                short_exempt_volume: v.exempt,
                total_volume: v.total,
            })
        })
        .collect();
    out.sort_by(|a, b| a.symbol.as_bytes().cmp(b.symbol.as_bytes()));
    let mut files: Vec<&str> = regsho
        .sources
        .iter()
        .map(|s| s.name.get(..4).unwrap_or(&s.name))
        .collect();
    files.sort_unstable();
    files.dedup();
    (out, files.join(","))
}

/// Which columns a feature version holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// `short_vol_share` and `short_exempt_share` (Reg SHO).
    Short,
    /// `ats_share_of_total` (the weekly ATS data).
    Ats,
}

impl Part {
    /// As stored: `short` or `ats`.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Short => "short",
            Part::Ats => "ats",
        }
    }

    /// As stored, borrowed for the life of the program (a SQL parameter).
    pub(crate) fn str_ref(self) -> &'static &'static str {
        match self {
            Part::Short => &"short",
            Part::Ats => &"ats",
        }
    }

    /// From its stored text.
    pub fn parse(text: &str) -> Option<Part> {
        match text {
            "short" => Some(Part::Short),
            "ats" => Some(Part::Ats),
            _ => None,
        }
    }
}

/// One version of one part of a stored row: the values a source version gave it, and when that
/// version became knowable. A revision adds a version; the old one stays.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureVersion {
    /// The symbol, byte for byte.
    pub symbol: String,
    /// The session.
    pub trade_date: NaiveDate,
    /// Which columns this version holds (the others are `None`).
    pub part: Part,
    /// When FINRA had published what these values were computed from.
    pub available_at: DateTime<Utc>,
    /// `Part::Short` only.
    pub short_vol_share: Option<f64>,
    /// `Part::Short` only.
    pub short_exempt_share: Option<f64>,
    /// `Part::Ats` only.
    pub ats_share_of_total: Option<f64>,
}

/// The feature versions a commit writes: for each row, a `Short` version unless the short cells
/// are pending, an `Ats` version unless the ATS cell is pending (each only when its availability
/// is known). In key order, `(symbol, part)` for the rows' symbol order: a store whose key is
/// `(trade_date, symbol, part, available_at)` then appends every version at the end of its index
/// instead of slotting each `Ats` version between two `Short` ones (a page split per page).
pub(crate) fn versions_of(
    trade_date: NaiveDate,
    rows: &[FeatureRow],
    provenance: &Provenance<'_>,
) -> Vec<FeatureVersion> {
    let mut out = Vec::with_capacity(rows.len() * 2);
    for r in rows {
        let short = !r.short_vol_share.is_pending() && !r.short_exempt_share.is_pending();
        if let Some(at) = provenance.short_available_at.filter(|_| short) {
            out.push(FeatureVersion {
                symbol: r.symbol.clone(),
                trade_date,
                part: Part::Short,
                available_at: at,
                short_vol_share: r.short_vol_share.value(),
                short_exempt_share: r.short_exempt_share.value(),
                ats_share_of_total: None,
            });
        }
        if let Some(at) = provenance
            .ats_available_at
            .filter(|_| !r.ats_share_of_total.is_pending())
        {
            out.push(FeatureVersion {
                symbol: r.symbol.clone(),
                trade_date,
                part: Part::Ats,
                available_at: at,
                short_vol_share: None,
                short_exempt_share: None,
                ats_share_of_total: r.ats_share_of_total.value(),
            });
        }
    }
    out
}
