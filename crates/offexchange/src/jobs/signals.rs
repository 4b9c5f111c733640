//! Rolling signals and rankings, computed from the store (no network).
//!
//! Per symbol, on a trade date D:
//!
//! - `short_vol_mean20`: the mean of `short_vol_share` over the 20 NYSE sessions ending with D
//!   (D included), over the sessions that have a value: a null is missing data, never a zero.
//! - `short_vol_z`: (`short_vol_share` on D - that mean) / the sample standard deviation of the
//!   same values.
//! - `ats_mean_12w`: the mean of `ats_share_of_total` over the 12 weeks ending with D's week (one
//!   value a week: the week's ratio is the same on each of its sessions), and `ats_vs_mean` = D's
//!   value - that mean.
//!
//! A signal needs [`MIN_HISTORY`] observations in its window (sessions for the short signals,
//! weeks for ATS); with fewer it is null, as it is when D's own value is null or the deviation
//! is zero.
//!
//! [`top`] ranks a day's symbols by a feature or signal, optionally only those whose Reg SHO
//! total volume (`regsho_daily`) reaches a floor.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::calendar;
use crate::store::{Store, StoreError};

/// Observations a rolling signal needs.
pub const MIN_HISTORY: usize = 10;
/// Sessions in the short volume window.
pub const SHORT_WINDOW: usize = 20;
/// Weeks in the ATS window.
pub const ATS_WEEKS: usize = 12;

/// One symbol's features and signals on one date.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SymbolSignals {
    /// The symbol, byte for byte.
    pub symbol: String,
    /// The session.
    pub trade_date: Option<NaiveDate>,
    /// As stored.
    pub short_vol_share: Option<f64>,
    /// The 20-session mean of `short_vol_share`.
    pub short_vol_mean20: Option<f64>,
    /// `short_vol_share`'s z-score against its 20-session window.
    pub short_vol_z: Option<f64>,
    /// As stored.
    pub ats_share_of_total: Option<f64>,
    /// The 12-week mean of `ats_share_of_total`.
    pub ats_mean_12w: Option<f64>,
    /// `ats_share_of_total` - its 12-week mean.
    pub ats_vs_mean: Option<f64>,
    /// The day's Reg SHO total volume (`regsho_daily`), shares.
    pub total_volume: Option<f64>,
}

/// What a ranking is by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// `short_vol_share`.
    ShortVolShare,
    /// `short_vol_z`.
    ShortVolZ,
    /// `ats_share_of_total`.
    AtsShareOfTotal,
}

impl RankBy {
    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            RankBy::ShortVolShare => "short_vol_share",
            RankBy::ShortVolZ => "short_vol_z",
            RankBy::AtsShareOfTotal => "ats_share_of_total",
        }
    }

    fn value(self, s: &SymbolSignals) -> Option<f64> {
        match self {
            RankBy::ShortVolShare => s.short_vol_share,
            RankBy::ShortVolZ => s.short_vol_z,
            RankBy::AtsShareOfTotal => s.ats_share_of_total,
        }
    }
}

/// A day's ranking.
#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    /// The session.
    pub trade_date: NaiveDate,
    /// What it is ranked by.
    pub by: RankBy,
    /// Lowest first instead of highest.
    pub bottom: bool,
    /// The volume floor applied.
    pub min_total_volume: Option<f64>,
    /// The rows shown, best first.
    pub rows: Vec<SymbolSignals>,
    /// Symbols with a value that passed the floor (rows shown + rows left out).
    pub ranked: usize,
    /// Ranked rows not shown (beyond the limit).
    pub left_out: usize,
    /// Symbols stored that day without a value to rank by.
    pub without_value: usize,
    /// Symbols below the volume floor, or with no recorded volume when a floor is set.
    pub below_floor: usize,
}

/// Every stored symbol's features and signals on `date`, sorted by symbol.
pub async fn signals(store: &dyn Store, date: NaiveDate) -> Result<Vec<SymbolSignals>, StoreError> {
    let sessions: Vec<NaiveDate> =
        calendar::sessions_between(date - Duration::days(45), date).collect();
    let window = &sessions[sessions.len().saturating_sub(SHORT_WINDOW)..];
    let mut short: HashMap<String, Vec<f64>> = HashMap::new();
    let mut weekly: HashMap<String, HashMap<NaiveDate, f64>> = HashMap::new();
    let mut today = Vec::new();
    for &d in window {
        let rows = store.read(d).await?;
        for r in &rows {
            if let Some(v) = r.short_vol_share {
                short.entry(r.symbol.clone()).or_default().push(v);
            }
            if let Some(v) = r.ats_share_of_total {
                weekly
                    .entry(r.symbol.clone())
                    .or_default()
                    .insert(calendar::week_start(d), v);
            }
        }
        if d == date {
            today = rows;
        }
    }
    // Older weeks of the ATS window: one stored session each is enough.
    let this_week = calendar::week_start(date);
    for k in 0..ATS_WEEKS as i64 {
        let monday = this_week - Duration::weeks(k);
        if window.iter().any(|d| calendar::week_start(*d) == monday) {
            continue;
        }
        let week: Vec<NaiveDate> = calendar::sessions_of_week(monday);
        let Some(&stored) = store.dates_with_rows(&week).await?.iter().min() else {
            continue;
        };
        for r in store.read(stored).await? {
            if let Some(v) = r.ats_share_of_total {
                weekly.entry(r.symbol).or_default().insert(monday, v);
            }
        }
    }
    let volumes: HashMap<String, f64> = store
        .regsho_daily(date, None)
        .await?
        .into_iter()
        .map(|v| (v.row.symbol, v.row.total_volume.shares()))
        .collect();
    let mut out: Vec<SymbolSignals> = today
        .into_iter()
        .map(|r| {
            let (mean, sd) = mean_sd(short.get(&r.symbol).map(Vec::as_slice).unwrap_or(&[]));
            let z = match (r.short_vol_share, mean, sd) {
                (Some(x), Some(m), Some(s)) if s > 0.0 => Some((x - m) / s),
                _ => None,
            };
            let weeks: Vec<f64> = weekly
                .get(&r.symbol)
                .map(|w| w.values().copied().collect())
                .unwrap_or_default();
            let (ats_mean, _) = mean_sd(&weeks);
            SymbolSignals {
                trade_date: Some(date),
                short_vol_share: r.short_vol_share,
                short_vol_mean20: mean,
                short_vol_z: z,
                ats_share_of_total: r.ats_share_of_total,
                ats_mean_12w: ats_mean,
                ats_vs_mean: r.ats_share_of_total.zip(ats_mean).map(|(x, m)| x - m),
                total_volume: volumes.get(&r.symbol).copied(),
                symbol: r.symbol,
            }
        })
        .collect();
    out.sort_by(|a, b| a.symbol.as_bytes().cmp(b.symbol.as_bytes()));
    Ok(out)
}

/// Mean and sample standard deviation, each `None` below [`MIN_HISTORY`] values.
fn mean_sd(values: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = values.len();
    if n < MIN_HISTORY {
        return (None, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    (Some(mean), Some(var.sqrt()))
}

/// **The ranking job**: `date`'s symbols by `by`, highest first (lowest with `bottom`), only
/// those whose Reg SHO total volume reaches `min_total_volume` when given, at most `limit`.
pub async fn top(
    store: &dyn Store,
    date: NaiveDate,
    by: RankBy,
    min_total_volume: Option<f64>,
    limit: usize,
    bottom: bool,
) -> Result<Ranking, StoreError> {
    let all = signals(store, date).await?;
    Ok(rank(date, all, by, min_total_volume, limit, bottom))
}

/// Ranks a day's computed [`signals`] (no I/O): what [`top`] returns, for callers that rank
/// the same day several ways (the report).
pub fn rank(
    trade_date: NaiveDate,
    all: impl IntoIterator<Item = SymbolSignals>,
    by: RankBy,
    min_total_volume: Option<f64>,
    limit: usize,
    bottom: bool,
) -> Ranking {
    let mut ranking = Ranking {
        trade_date,
        by,
        bottom,
        min_total_volume,
        rows: Vec::new(),
        ranked: 0,
        left_out: 0,
        without_value: 0,
        below_floor: 0,
    };
    let mut ranked: Vec<(f64, SymbolSignals)> = Vec::new();
    for s in all {
        let Some(value) = by.value(&s) else {
            ranking.without_value += 1;
            continue;
        };
        if let Some(floor) = min_total_volume {
            if s.total_volume.is_none_or(|v| v < floor) {
                ranking.below_floor += 1;
                continue;
            }
        }
        ranked.push((value, s));
    }
    // Ties keep symbol order (the sort is stable).
    ranked.sort_by(|a, b| {
        let order = b.0.total_cmp(&a.0);
        if bottom {
            order.reverse()
        } else {
            order
        }
    });
    ranking.ranked = ranked.len();
    ranking.left_out = ranked.len().saturating_sub(limit);
    ranking.rows = ranked.into_iter().take(limit).map(|(_, s)| s).collect();
    ranking
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_than_ten_observations_is_no_signal() {
        assert_eq!(mean_sd(&[0.5; 9]), (None, None));
        let (mean, sd) = mean_sd(&[0.4, 0.6, 0.4, 0.6, 0.4, 0.6, 0.4, 0.6, 0.4, 0.6]);
        assert!((mean.unwrap() - 0.5).abs() < 1e-12);
        // Sample deviation of five 0.4 and five 0.6: sqrt(10 * 0.01 / 9).
        assert!((sd.unwrap() - (0.1f64 / 9.0).sqrt()).abs() < 1e-12);
    }
}
