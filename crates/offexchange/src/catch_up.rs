//! Catch-up: fill `ats_share_of_total` once FINRA publishes the week.
//!
//! FINRA publishes the weekly ATS data two to four weeks after the week, so a daily run leaves
//! that column pending. Catch-up looks at recent stored rows whose `ats_share_of_total` is null,
//! fetches their week's ATS data, and when it is now published recomputes and upserts exactly
//! those rows, writing only that column (the short-volume columns are sent as pending, which
//! every store leaves untouched).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::calendar;
use crate::features::Feature;
use crate::session::{assemble, Engine, EngineError, SessionReport};
use crate::store::Store;

/// What a catch-up did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CatchUpSummary {
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// Stored sessions in the window with at least one null `ats_share_of_total`.
    pub sessions_with_nulls: usize,
    pub rows_with_nulls: usize,
    pub weeks_checked: usize,
    /// Weeks FINRA has still not published (they stay null).
    pub weeks_awaited: Vec<NaiveDate>,
    /// Rows whose `ats_share_of_total` got a value.
    pub rows_filled: usize,
    /// Rows recomputed and written (a symbol absent from the published week stays null).
    pub rows_written: usize,
}

/// Looks back `days` calendar days from `until`.
pub async fn catch_up(
    engine: &Engine,
    store: &dyn Store,
    until: NaiveDate,
    days: u16,
) -> Result<CatchUpSummary, EngineError> {
    let from = until - Duration::days(i64::from(days));
    let mut summary = CatchUpSummary {
        from: Some(from),
        until: Some(until),
        ..CatchUpSummary::default()
    };
    let sessions: Vec<NaiveDate> = calendar::sessions_between(from, until).collect();
    // week -> (date -> symbols with a null ats_share_of_total)
    let mut weeks: BTreeMap<NaiveDate, BTreeMap<NaiveDate, Vec<String>>> = BTreeMap::new();
    for date in store.dates_with_rows(&sessions).await? {
        let nulls: Vec<String> = store
            .read(date)
            .await?
            .into_iter()
            .filter(|r| r.ats_share_of_total.is_none())
            .map(|r| r.symbol)
            .collect();
        if !nulls.is_empty() {
            summary.sessions_with_nulls += 1;
            summary.rows_with_nulls += nulls.len();
            weeks
                .entry(calendar::week_start(date))
                .or_default()
                .insert(date, nulls);
        }
    }
    for (monday, dates) in weeks {
        summary.weeks_checked += 1;
        let Some(&first) = dates.keys().next() else {
            continue;
        };
        let mut week_report = SessionReport::default();
        let ats = engine.load_ats(first, &mut week_report).await?;
        if ats.week.is_none() {
            summary.weeks_awaited.push(monday);
            continue;
        }
        for (date, symbols) in dates {
            let mut report = engine.new_report(date, Some(&symbols));
            let regsho = engine.load_regsho(date, &mut report).await?;
            let mut rows = assemble(date, &regsho, &ats, Some(&symbols), &[], &mut report);
            for row in &mut rows {
                row.short_vol_share = Feature::Pending;
                row.short_exempt_share = Feature::Pending;
            }
            summary.rows_filled += rows
                .iter()
                .filter(|r| r.ats_share_of_total.value().is_some())
                .count();
            let stored = store.upsert(date, &rows).await?;
            summary.rows_written += stored.rows;
        }
    }
    Ok(summary)
}
