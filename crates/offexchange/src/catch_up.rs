//! Catch-up: fill `ats_share_of_total` once FINRA publishes a week, and follow FINRA's revisions.
//!
//! FINRA publishes the weekly ATS data two to four weeks after the week, so a daily run leaves
//! that column pending; and now and then it revises a published week (its `lastUpdateDate`
//! moves on). Catch-up does two things, writing only `ats_share_of_total` (the short-volume
//! columns are sent as pending, which every store leaves untouched):
//!
//! 1. **Nulls.** Stored rows of the last `days` days whose `ats_share_of_total` is null: when
//!    their week is now published, exactly those rows are recomputed and upserted.
//! 2. **Revisions.** Every week of the last [`REVISION_WEEKS`] (the week of `until` and the seven
//!    before it) that has stored rows is read again from FINRA, bypassing every cache
//!    ([`Engine::load_ats_fresh`]), and FINRA's latest `lastUpdateDate` is compared with the one
//!    recorded in `ats_weekly`. When FINRA's is newer (a revision, or a tier published since), or
//!    when the week has no record yet, `ats_share_of_total` is recomputed for every stored symbol
//!    of every stored session of the week, and then the week's `ats_weekly` rows are written.
//!
//! The record is written after the rows: a run that stops half-way leaves the week looking
//! revised (or unrecorded), so the next run does it again. Older weeks with nulls and no record
//! are recomputed whole too (from the cached data), so every recorded week describes what its
//! stored values were computed from.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::calendar;
use crate::features::{self, Feature, RegShoDay};
use crate::session::{assemble, AtsLoad, Engine, EngineError, SessionReport};
use crate::store::{merged, Store, StoredRow};

/// How many weeks back catch-up looks for revisions: the week of `until` and the seven before.
/// FINRA publishes a week two to four weeks after it; revisions come soon after publication.
pub const REVISION_WEEKS: i64 = 8;

/// What a catch-up did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CatchUpSummary {
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// Stored sessions in the window with at least one null `ats_share_of_total`.
    pub sessions_with_nulls: usize,
    pub rows_with_nulls: usize,
    /// Weeks whose ATS data was read (those with nulls, and the recent ones with stored rows).
    pub weeks_checked: usize,
    /// Weeks FINRA has still not published (they stay null).
    pub weeks_awaited: Vec<NaiveDate>,
    /// Weeks whose FINRA `lastUpdateDate` is newer than the recorded one: recomputed whole.
    pub weeks_revised: usize,
    pub revised_weeks: Vec<NaiveDate>,
    /// Published weeks with stored rows but no `ats_weekly` record yet: recomputed whole, then
    /// recorded.
    pub weeks_recorded: usize,
    /// Rows whose `ats_share_of_total` was null and got a value.
    pub rows_filled: usize,
    /// Rows whose stored `ats_share_of_total` was replaced by a different one (or by null).
    pub rows_revised: usize,
    /// Rows recomputed and written (a symbol absent from the published week stays null).
    pub rows_written: usize,
}

/// Looks back `days` calendar days from `until` for nulls, and [`REVISION_WEEKS`] weeks for
/// revisions.
pub async fn catch_up(
    engine: &Engine,
    store: &dyn Store,
    until: NaiveDate,
    days: u16,
) -> Result<CatchUpSummary, EngineError> {
    let from = until - Duration::days(i64::from(days));
    let revision_from = calendar::week_start(until) - Duration::weeks(REVISION_WEEKS - 1);
    let mut summary = CatchUpSummary {
        from: Some(from),
        until: Some(until),
        ..CatchUpSummary::default()
    };
    let sessions: Vec<NaiveDate> =
        calendar::sessions_between(from.min(revision_from), until).collect();
    // week -> (date -> stored rows with a null ats_share_of_total)
    let mut nulls: BTreeMap<NaiveDate, BTreeMap<NaiveDate, Vec<StoredRow>>> = BTreeMap::new();
    let mut weeks: BTreeSet<NaiveDate> = BTreeSet::new();
    for date in store.dates_with_rows(&sessions).await? {
        let monday = calendar::week_start(date);
        if monday >= revision_from {
            weeks.insert(monday);
        }
        if date < from {
            continue;
        }
        let null_rows: Vec<StoredRow> = store
            .read(date)
            .await?
            .into_iter()
            .filter(|r| r.ats_share_of_total.is_none())
            .collect();
        if !null_rows.is_empty() {
            summary.sessions_with_nulls += 1;
            summary.rows_with_nulls += null_rows.len();
            weeks.insert(monday);
            nulls.entry(monday).or_default().insert(date, null_rows);
        }
    }
    let weeks: Vec<NaiveDate> = weeks.into_iter().collect();
    let recorded = store.ats_weekly_last_update(&weeks).await?;
    for monday in weeks {
        summary.weeks_checked += 1;
        let fresh = monday >= revision_from;
        let mut week_report = SessionReport::default();
        let ats = if fresh {
            engine.load_ats_fresh(monday, &mut week_report).await?
        } else {
            engine.load_ats(monday, &mut week_report).await?
        };
        let Some(week) = &ats.week else {
            if nulls.contains_key(&monday) {
                summary.weeks_awaited.push(monday);
            }
            continue;
        };
        let latest = week.last_update();
        let whole = match recorded.get(&monday) {
            None => {
                summary.weeks_recorded += 1;
                true
            }
            Some(stored) if fresh && latest > *stored => {
                tracing::info!(
                    "FINRA revised the ATS week of {monday} (lastUpdateDate {}, recorded {}): \
                     recomputing its stored sessions",
                    latest.map(|d| d.to_string()).unwrap_or_default(),
                    stored.map_or("none".to_string(), |d| d.to_string()),
                );
                summary.weeks_revised += 1;
                summary.revised_weeks.push(monday);
                true
            }
            Some(_) => false,
        };
        if whole {
            recompute_week(engine, store, monday, &ats, &mut summary).await?;
        } else if let Some(dates) = nulls.remove(&monday) {
            for (date, rows) in dates {
                recompute(engine, store, date, &ats, &rows, &mut summary).await?;
            }
        }
    }
    Ok(summary)
}

/// Recomputes every stored session of the week, then records the week in `ats_weekly`.
async fn recompute_week(
    engine: &Engine,
    store: &dyn Store,
    monday: NaiveDate,
    ats: &AtsLoad,
    summary: &mut CatchUpSummary,
) -> Result<(), EngineError> {
    let dates = store
        .dates_with_rows(&calendar::sessions_of_week(monday))
        .await?;
    let mut first_day: Option<RegShoDay> = None;
    for date in dates {
        let stored = store.read(date).await?;
        let regsho = recompute(engine, store, date, ats, &stored, summary).await?;
        first_day.get_or_insert(regsho);
    }
    if let (Some(week), Some(regsho)) = (&ats.week, &first_day) {
        let rows = features::ats_weekly_rows(week, regsho, ats.carrier);
        store.upsert_ats_weekly(monday, &rows).await?;
    }
    Ok(())
}

/// Recomputes `ats_share_of_total` of the `stored` rows of `date` and upserts that column only.
/// Returns the day's Reg SHO data (which the ATS symbols are mapped onto).
async fn recompute(
    engine: &Engine,
    store: &dyn Store,
    date: NaiveDate,
    ats: &AtsLoad,
    stored: &[StoredRow],
    summary: &mut CatchUpSummary,
) -> Result<RegShoDay, EngineError> {
    let symbols: Vec<String> = stored.iter().map(|r| r.symbol.clone()).collect();
    let mut report = engine.new_report(date, Some(&symbols));
    let regsho = engine.load_regsho(date, &mut report).await?;
    let mut rows = assemble(date, &regsho, ats, Some(&symbols), &[], &mut report);
    for row in &mut rows {
        row.short_vol_share = Feature::Pending;
        row.short_exempt_share = Feature::Pending;
    }
    let before: HashMap<&str, Option<f64>> = stored
        .iter()
        .map(|r| (r.symbol.as_str(), r.ats_share_of_total))
        .collect();
    for row in &rows {
        let was = before.get(row.symbol.as_str()).copied().flatten();
        match (was, merged(row.ats_share_of_total, was)) {
            (None, Some(_)) => summary.rows_filled += 1,
            (Some(old), new) if new != Some(old) => summary.rows_revised += 1,
            _ => {}
        }
    }
    let written = store.upsert(date, &rows).await?;
    summary.rows_written += written.rows;
    Ok(regsho)
}
