//! A symbol's stored features over a date range.

use chrono::{Duration, NaiveDate};
use offexchange::calendar;
use std::collections::HashMap;

use offexchange::store::{Store, StoredRow};
use serde::Serialize;

use crate::ViewError;

// The engine's rolling-signal window and minimum history (`short_vol_mean20`), so a chart's
// mean line is the mean `offx top` ranks by.
use offexchange::{MIN_HISTORY, SHORT_WINDOW as MEAN_WINDOW};

/// One session of a symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// The session.
    pub date: NaiveDate,
    /// Whether the store has a row for the symbol that day.
    pub stored: bool,
    /// As stored (null: missing, or not yet published).
    pub short_vol_share: Option<f64>,
    /// The mean of `short_vol_share` over the 20 sessions ending that day (10 values at least).
    pub short_vol_mean20: Option<f64>,
    /// As stored.
    pub ats_share_of_total: Option<f64>,
}

/// A symbol's points, one per NYSE session of the range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// The symbol, byte for byte.
    pub symbol: String,
    /// First session asked for.
    pub from: NaiveDate,
    /// Last session asked for.
    pub to: NaiveDate,
    /// One point per session.
    pub points: Vec<Point>,
}

impl Series {
    /// Sessions with a stored `short_vol_share`.
    pub fn with_short(&self) -> usize {
        self.points
            .iter()
            .filter(|p| p.short_vol_share.is_some())
            .count()
    }
}

/// `symbol`'s series over `from..=to` (and the 19 sessions before, for the mean).
pub async fn series(
    store: &dyn Store,
    symbol: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Series, ViewError> {
    let mut all = series_many(store, &[symbol.to_string()], from, to).await?;
    Ok(all.pop().unwrap_or(Series {
        symbol: symbol.to_string(),
        from,
        to,
        points: Vec::new(),
    }))
}

/// The series of each of `symbols` (in that order), from one read of the store.
pub async fn series_many(
    store: &dyn Store,
    symbols: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Series>, ViewError> {
    let sessions: Vec<NaiveDate> = calendar::sessions_between(from, to).collect();
    let before: Vec<NaiveDate> =
        calendar::sessions_between(from - Duration::days(40), from - Duration::days(1)).collect();
    let lead = &before[before.len().saturating_sub(MEAN_WINDOW - 1)..];
    let first = lead.first().copied().unwrap_or(from);
    let rows = store.read_symbols(symbols, first, to).await?;
    let mut by_key: HashMap<(&str, NaiveDate), &StoredRow> = HashMap::with_capacity(rows.len());
    for r in &rows {
        by_key.insert((r.symbol.as_str(), r.trade_date), r);
    }
    Ok(symbols
        .iter()
        .map(|symbol| {
            let row = |d: NaiveDate| by_key.get(&(symbol.as_str(), d)).copied();
            let mut history: Vec<Option<f64>> = lead
                .iter()
                .map(|d| row(*d).and_then(|r| r.short_vol_share))
                .collect();
            let points = sessions
                .iter()
                .map(|&d| {
                    let stored = row(d);
                    let short = stored.and_then(|r| r.short_vol_share);
                    history.push(short);
                    let window = &history[history.len().saturating_sub(MEAN_WINDOW)..];
                    let values: Vec<f64> = window.iter().flatten().copied().collect();
                    let mean = (values.len() >= MIN_HISTORY)
                        .then(|| values.iter().sum::<f64>() / values.len() as f64);
                    Point {
                        date: d,
                        stored: stored.is_some(),
                        short_vol_share: short,
                        short_vol_mean20: mean,
                        ats_share_of_total: stored.and_then(|r| r.ats_share_of_total),
                    }
                })
                .collect();
            Series {
                symbol: symbol.clone(),
                from,
                to,
                points,
            }
        })
        .collect())
}
