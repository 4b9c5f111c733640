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
//!    (bypassing every cache), and FINRA's latest `lastUpdateDate` is compared with the one
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
use serde::{Deserialize, Serialize};

use super::session::{assemble, sources_of, Stamped};
use super::short_interest::SettlementCounts;
use crate::calendar;
use crate::datasets::otc_weekly::{self, AtsLoad, WeekEra};
use crate::engine::{Engine, EngineError};
use crate::features::Feature;
use crate::report::{list, SessionReport, SummaryLine};
use crate::store::{merged, SessionCommit, Store, StoredRow, WeekWrite};

/// How many weeks back catch-up looks for revisions: the week of `until` and the seven before.
/// FINRA publishes a week two to four weeks after it; revisions come soon after publication.
pub const REVISION_WEEKS: i64 = 8;

/// What a catch-up did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CatchUpSummary {
    /// First day looked at for nulls.
    pub from: Option<NaiveDate>,
    /// Last day looked at.
    pub until: Option<NaiveDate>,
    /// Stored sessions in the window with at least one null `ats_share_of_total`.
    pub sessions_with_nulls: usize,
    /// Stored rows in the window with a null `ats_share_of_total`.
    pub rows_with_nulls: usize,
    /// Weeks whose ATS data was read (those with nulls, and the recent ones with stored rows).
    pub weeks_checked: usize,
    /// Weeks FINRA has still not published (they stay null).
    pub weeks_awaited: Vec<NaiveDate>,
    /// Weeks whose nulls are final: before FINRA published weekly ATS data, or before non-ATS
    /// OTC volume (no denominator). Not fetched, not waited for.
    #[serde(default)]
    pub weeks_never: Vec<NaiveDate>,
    /// Weeks whose FINRA `lastUpdateDate` is newer than the recorded one: recomputed whole.
    pub weeks_revised: usize,
    /// Those weeks.
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
    /// The short interest settlements the window sees; those published in the last 35 days read
    /// again for revisions.
    #[serde(default)]
    pub short_interest: SettlementCounts,
}

impl CatchUpSummary {
    /// The summary for people, one `label | value` line each. `rows_written` splits into filled,
    /// revised and rewritten-unchanged rows, so the three add up.
    pub fn lines(&self) -> Vec<SummaryLine> {
        let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        let revised = if self.revised_weeks.is_empty() {
            "0".to_string()
        } else {
            format!("{} ({})", self.weeks_revised, list(&self.revised_weeks, 8))
        };
        vec![
            SummaryLine::new(
                "window",
                format!("{} .. {}", day(self.from), day(self.until)),
            ),
            SummaryLine::new(
                "sessions with null ats_share_of_total",
                self.sessions_with_nulls,
            ),
            SummaryLine::new("rows with null ats_share_of_total", self.rows_with_nulls),
            SummaryLine::new("weeks checked", self.weeks_checked),
            SummaryLine::new("weeks revised by FINRA (recomputed)", revised),
            SummaryLine::new(
                "weeks recorded in ats_weekly for the first time",
                self.weeks_recorded,
            ),
            SummaryLine::new("rows written", self.rows_written),
            SummaryLine::new("  rows filled (null -> value)", self.rows_filled),
            SummaryLine::new("  rows changed by a revision", self.rows_revised),
            SummaryLine::new(
                "  rows rewritten unchanged (a null: not in the week's data)",
                self.rows_written
                    .saturating_sub(self.rows_filled + self.rows_revised),
            ),
            SummaryLine::new(
                "weeks still awaited from FINRA",
                list(&self.weeks_awaited, 4),
            ),
            SummaryLine::new(
                "weeks that will never have ATS shares (before FINRA's data)",
                list(&self.weeks_never, 4),
            ),
            self.short_interest.line(),
        ]
    }
}

impl Engine {
    /// **The catch-up job**: looks back `days` calendar days from `until` for nulls, and
    /// [`REVISION_WEEKS`] weeks for revisions (see the module doc).
    pub async fn catch_up(
        &self,
        store: &dyn Store,
        until: NaiveDate,
        days: u16,
    ) -> Result<CatchUpSummary, EngineError> {
        catch_up(self, store, until, days).await
    }
}

async fn catch_up(
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
        if WeekEra::of(monday) != WeekEra::Full {
            // Nothing will ever come for these weeks: their nulls are final.
            summary.weeks_never.push(monday);
            continue;
        }
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
                recompute(engine, store, date, &ats, &rows, None, &mut summary).await?;
            }
        }
    }
    let covered = engine
        .cover_short_interest(store, from, until, true, chrono::Utc::now())
        .await;
    summary.short_interest = SettlementCounts::of(covered);
    Ok(summary)
}

/// Recomputes every stored session of the week; the last one's commit rewrites the week's
/// `ats_weekly` record in the same transaction (a run that stops before it leaves the week
/// looking unrecorded or revised, so the next run does it again).
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
    let last = dates.last().copied();
    for date in dates {
        let stored = store.read(date).await?;
        let write = (Some(date) == last).then_some(WeekWrite::Replace);
        recompute(engine, store, date, ats, &stored, write, summary).await?;
    }
    Ok(())
}

/// Recomputes `ats_share_of_total` of the `stored` rows of `date` and upserts that column only,
/// with the week's record when `week` says so.
async fn recompute(
    engine: &Engine,
    store: &dyn Store,
    date: NaiveDate,
    ats: &AtsLoad,
    stored: &[StoredRow],
    week: Option<WeekWrite>,
    summary: &mut CatchUpSummary,
) -> Result<(), EngineError> {
    let symbols: Vec<String> = stored.iter().map(|r| r.symbol.clone()).collect();
    let mut report = engine.session_report(date, Some(symbols.len()));
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
    let week_rows = match week {
        Some(_) => otc_weekly::week_record(ats, &regsho),
        None => Vec::new(),
    };
    let monday = calendar::week_start(date);
    let stamped = Stamped::new(store, &sources_of(&regsho, ats)).await?;
    let (volumes, facilities) = crate::store::daily_volumes(&regsho, &rows);
    let commit = SessionCommit::with_week(date, &rows, monday, &week_rows, week)
        .with_provenance(stamped.provenance().with_volumes(&volumes, &facilities));
    let written = store.commit(&commit).await?;
    summary.rows_written += written.rows;
    Ok(())
}
