//! Coverage: for every calendar date of a range, what the store holds of each dataset, and why
//! the rest is missing.
//!
//! It reads the store (`daily_features`, `ats_weekly`) and the provenance ledger
//! (`finra_files`), and FINRA's publication schedule ([`crate::datasets`]); it asks FINRA only
//! with `check` (then a dataset not stored is fetched, through the cache, to tell "published but
//! not stored" from "awaited", and a fetch that fails is "failed" with its error).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar;
use crate::config::{AtsSource, Facility, Market};
use crate::datasets::otc_weekly::{self, WeekEra};
use crate::datasets::regsho;
use crate::datasets::short_interest;
use crate::datasets::starts::{
    facility_start, ATS_WEEKLY_START, OTC_WEEKLY_START, REGSHO_FILES_START,
};
use crate::datasets::Dataset as _;
use crate::engine::{Engine, EngineError};
use crate::provenance::end_of_new_york_day;
use crate::report::{SessionReport, SummaryLine};
use crate::source;
use crate::source::finra_api::{ApiDataset, FinraApi, TIERS};
use crate::store::Store;

/// What the store holds of one dataset for one date, or why it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageState {
    /// In the store (the ledger names the FINRA files or API partitions it came from).
    Stored,
    /// FINRA has it (asked with `check`) but the store does not: run the session or backfill.
    PublishedNotStored,
    /// Inside FINRA's publication delay: nothing is missing yet.
    NotYetDue,
    /// Past its due time and not in the store (with `check`: FINRA does not have it either).
    Awaited,
    /// An ATS week older than `weeklySummary`'s window: backfill reads `weeklySummaryHistoric`.
    Historic,
    /// Before FINRA published the dataset: it will never exist.
    BeforeDataset,
    /// Asking FINRA failed (with `check`); the detail holds the error.
    Failed,
}

impl CoverageState {
    /// Every state, in the order counts are shown.
    pub const ALL: [CoverageState; 7] = [
        CoverageState::Stored,
        CoverageState::PublishedNotStored,
        CoverageState::NotYetDue,
        CoverageState::Awaited,
        CoverageState::Historic,
        CoverageState::BeforeDataset,
        CoverageState::Failed,
    ];

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            CoverageState::Stored => "stored",
            CoverageState::PublishedNotStored => "published, not stored",
            CoverageState::NotYetDue => "not yet due",
            CoverageState::Awaited => "awaited past its due time",
            CoverageState::Historic => "outside the API window (historic)",
            CoverageState::BeforeDataset => "before FINRA published it",
            CoverageState::Failed => "failed",
        }
    }
}

/// One dataset's state on one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetCoverage {
    /// `regsho_daily` or `otc_weekly`.
    pub dataset: String,
    /// The period FINRA publishes: the date, or the week's Monday.
    pub period: NaiveDate,
    /// The state.
    pub state: CoverageState,
    /// Which files or partitions, due when, or the error.
    pub detail: String,
}

/// One calendar date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageDay {
    /// The date.
    pub date: NaiveDate,
    /// Why the NYSE is closed (`Saturday`, `Good Friday`), or `None` on a session.
    pub closed: Option<String>,
    /// Each dataset's state on a session (empty when closed).
    pub datasets: Vec<DatasetCoverage>,
}

/// The coverage of a date range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    /// First date.
    pub from: NaiveDate,
    /// Last date.
    pub to: NaiveDate,
    /// FINRA was asked about what the store lacks.
    pub checked: bool,
    /// Every calendar date, in order.
    pub days: Vec<CoverageDay>,
    /// Per dataset, how many sessions are in each state.
    pub counts: BTreeMap<String, BTreeMap<CoverageState, usize>>,
    /// Calendar dates that are not sessions.
    pub closed_days: usize,
}

impl CoverageReport {
    /// One line per date, for people: `2024-03-29  closed (Good Friday)` or
    /// `2024-04-01  regsho_daily: stored (CNMS, FORF) | otc_weekly: not yet due (...)`.
    pub fn lines(&self) -> Vec<String> {
        self.days
            .iter()
            .map(|day| match &day.closed {
                Some(why) => format!("{}  not a session ({why})", day.date),
                None => {
                    let parts: Vec<String> = day
                        .datasets
                        .iter()
                        .map(|d| {
                            let detail = if d.detail.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", d.detail)
                            };
                            format!("{}: {}{detail}", d.dataset, d.state.label())
                        })
                        .collect();
                    format!("{}  {}", day.date, parts.join(" | "))
                }
            })
            .collect()
    }

    /// The counts per state, for people (also what the catch-up flow logs).
    pub fn summary_lines(&self) -> Vec<SummaryLine> {
        let mut lines = vec![
            SummaryLine::new("range", format!("{} .. {}", self.from, self.to)),
            SummaryLine::new("dates that are not sessions", self.closed_days),
        ];
        for (dataset, counts) in &self.counts {
            for state in CoverageState::ALL {
                if let Some(n) = counts.get(&state).filter(|n| **n > 0) {
                    lines.push(SummaryLine::new(
                        &format!("{dataset}: {}", state.label()),
                        format!("{n} session(s)"),
                    ));
                }
            }
        }
        if !self.checked {
            lines.push(SummaryLine::new(
                "FINRA asked",
                "no (--check asks FINRA about what the store lacks)",
            ));
        }
        lines
    }

    /// How many sessions of `dataset` are in `state`.
    pub fn count(&self, dataset: &str, state: CoverageState) -> usize {
        self.counts
            .get(dataset)
            .and_then(|c| c.get(&state))
            .copied()
            .unwrap_or(0)
    }
}

impl Engine {
    /// **The coverage job**: every date of `from..=to` in its state per dataset, as of `now`
    /// (see the module doc). With `check`, FINRA is asked about what the store lacks.
    pub async fn coverage(
        &self,
        store: &dyn Store,
        from: NaiveDate,
        to: NaiveDate,
        check: bool,
        now: DateTime<Utc>,
    ) -> Result<CoverageReport, EngineError> {
        let sessions: Vec<NaiveDate> = calendar::sessions_between(from, to).collect();
        let regsho = self.regsho_coverage(store, &sessions, check, now).await?;
        let weeks: BTreeSet<NaiveDate> =
            sessions.iter().map(|d| calendar::week_start(*d)).collect();
        let ats = self.ats_coverage(store, &weeks, check, now).await?;
        let settlements = self
            .short_interest_coverage(store, &sessions, check)
            .await?;
        let mut report = CoverageReport {
            from,
            to,
            checked: check,
            days: Vec::new(),
            counts: BTreeMap::new(),
            closed_days: 0,
        };
        for date in from.iter_days().take_while(|d| *d <= to) {
            let Some(why) = calendar::closure_reason(date) else {
                let mut datasets = Vec::with_capacity(2);
                if let Some(r) = regsho.get(&date) {
                    datasets.push(r.clone());
                }
                if let Some(a) = ats.get(&calendar::week_start(date)) {
                    datasets.push(a.clone());
                }
                if let Some(s) = settlements.get(&date) {
                    datasets.push(s.clone());
                }
                for d in &datasets {
                    *report
                        .counts
                        .entry(d.dataset.clone())
                        .or_default()
                        .entry(d.state)
                        .or_default() += 1;
                }
                report.days.push(CoverageDay {
                    date,
                    closed: None,
                    datasets,
                });
                continue;
            };
            report.closed_days += 1;
            report.days.push(CoverageDay {
                date,
                closed: Some(why.to_string()),
                datasets: Vec::new(),
            });
        }
        Ok(report)
    }

    /// Per session, the short interest settlement it sees by FINRA's schedule (the latest
    /// published by then) and whether the store holds it.
    async fn short_interest_coverage(
        &self,
        store: &dyn Store,
        sessions: &[NaiveDate],
        check: bool,
    ) -> Result<BTreeMap<NaiveDate, DatasetCoverage>, EngineError> {
        let (Some(&first), Some(&last)) = (sessions.first(), sessions.last()) else {
            return Ok(BTreeMap::new());
        };
        let name = short_interest::INFO.name;
        let stored = store
            .short_interest_versions(first - chrono::Duration::days(62), last)
            .await?;
        let mut by_settlement: BTreeMap<NaiveDate, DatasetCoverage> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for &date in sessions {
            let Some(settlement) = short_interest::due_settlement(date) else {
                out.insert(
                    date,
                    DatasetCoverage {
                        dataset: name.to_string(),
                        period: date,
                        state: CoverageState::BeforeDataset,
                        detail: format!(
                            "FINRA's first short interest file is of settlement {}",
                            short_interest::INFO.first_date
                        ),
                    },
                );
                continue;
            };
            if let std::collections::btree_map::Entry::Vacant(slot) =
                by_settlement.entry(settlement)
            {
                let versions: Vec<String> = stored
                    .iter()
                    .filter(|v| v.settlement_date == settlement)
                    .map(|v| v.version.name.clone())
                    .collect();
                let entry = |state, detail: String| DatasetCoverage {
                    dataset: name.to_string(),
                    period: settlement,
                    state,
                    detail,
                };
                let due = short_interest::publication_date(settlement);
                let coverage = if !versions.is_empty() {
                    entry(CoverageState::Stored, versions.join(", "))
                } else if check {
                    let mut report = SessionReport::default();
                    let load = short_interest::ShortInterest
                        .load(
                            self,
                            settlement,
                            crate::engine::Freshness::Cached,
                            &mut report,
                        )
                        .await;
                    match load {
                        Ok(l) if l.file.is_some() => entry(
                            CoverageState::PublishedNotStored,
                            format!("published (due {due}); offx catch-up records it"),
                        ),
                        Ok(_) => entry(
                            CoverageState::Awaited,
                            format!("due {due}, FINRA has not published it"),
                        ),
                        Err(e) => entry(CoverageState::Failed, e.to_string()),
                    }
                } else {
                    entry(
                        CoverageState::Awaited,
                        format!(
                            "due {due}, not in the store; --check asks FINRA whether it is \
                             published"
                        ),
                    )
                };
                slot.insert(coverage);
            }
            if let Some(c) = by_settlement.get(&settlement) {
                out.insert(date, c.clone());
            }
        }
        Ok(out)
    }

    async fn regsho_coverage(
        &self,
        store: &dyn Store,
        sessions: &[NaiveDate],
        check: bool,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<NaiveDate, DatasetCoverage>, EngineError> {
        let name = regsho::INFO.name;
        let facilities: Vec<Facility> = match self.settings().market {
            Market::Facility(f) => vec![f],
            Market::Tot => Facility::ALL.to_vec(),
        };
        let wanted: Vec<(String, String)> = sessions
            .iter()
            .flat_map(|d| {
                facilities
                    .iter()
                    .map(|f| (name.to_string(), source::regsho_file_name(*f, *d)))
            })
            .collect();
        let ledger: BTreeSet<String> = store
            .ledger(&wanted)
            .await?
            .into_iter()
            .map(|row| row.version.name)
            .collect();
        // A store written before the ledger existed: rows are the only evidence.
        let with_rows: BTreeSet<NaiveDate> = if ledger.is_empty() {
            store.dates_with_rows(sessions).await?.into_iter().collect()
        } else {
            BTreeSet::new()
        };
        let first = match self.settings().market {
            Market::Facility(f) => facility_start(f),
            Market::Tot => REGSHO_FILES_START,
        };
        let mut out = BTreeMap::new();
        for &date in sessions {
            let entry = |state, detail: String| DatasetCoverage {
                dataset: name.to_string(),
                period: date,
                state,
                detail,
            };
            let stored: Vec<&str> = facilities
                .iter()
                .filter(|f| ledger.contains(&source::regsho_file_name(**f, date)))
                .map(|f| f.code())
                .collect();
            let coverage = if date < first {
                entry(
                    CoverageState::BeforeDataset,
                    format!("the first {} file is of {first}", self.settings().market),
                )
            } else if !stored.is_empty() {
                entry(CoverageState::Stored, stored.join(", "))
            } else if with_rows.contains(&date) {
                entry(
                    CoverageState::Stored,
                    "rows stored before provenance was recorded".into(),
                )
            } else if now < regsho_due(date) {
                entry(
                    CoverageState::NotYetDue,
                    format!("due by about 6 pm New York time on {date}"),
                )
            } else if check {
                let mut report = SessionReport::default();
                match self.load_regsho(date, &mut report).await {
                    Ok(day) if !day.sources.is_empty() => {
                        let files: Vec<String> =
                            day.sources.iter().map(|s| s.name.clone()).collect();
                        entry(CoverageState::PublishedNotStored, files.join(", "))
                    }
                    Ok(_) => entry(
                        CoverageState::Awaited,
                        "FINRA has not published the day's files".into(),
                    ),
                    Err(e) => entry(CoverageState::Failed, e.to_string()),
                }
            } else {
                entry(
                    CoverageState::Awaited,
                    "not in the store; --check asks FINRA whether it is published".into(),
                )
            };
            out.insert(date, coverage);
        }
        Ok(out)
    }

    async fn ats_coverage(
        &self,
        store: &dyn Store,
        weeks: &BTreeSet<NaiveDate>,
        check: bool,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<NaiveDate, DatasetCoverage>, EngineError> {
        let name = otc_weekly::INFO.name;
        let names = |monday: NaiveDate| {
            let mut names = vec![source::ats_zip_file_name(monday)];
            for dataset in [ApiDataset::Current, ApiDataset::Historic] {
                names.extend(
                    TIERS
                        .iter()
                        .map(|t| format!("{} {monday} {t}", dataset.name())),
                );
            }
            names
        };
        let wanted: Vec<(String, String)> = weeks
            .iter()
            .flat_map(|w| names(*w).into_iter().map(|n| (name.to_string(), n)))
            .collect();
        let ledger: BTreeSet<String> = store
            .ledger(&wanted)
            .await?
            .into_iter()
            .map(|row| row.version.name)
            .collect();
        let week_list: Vec<NaiveDate> = weeks.iter().copied().collect();
        let recorded = store.ats_weekly_last_update(&week_list).await?;
        let api = self.settings().effective_ats_source() == AtsSource::Api;
        let window = match self.ats_api() {
            Some(api) if check => match api.partitions().await {
                Ok(list) => FinraApi::window_start(&list).map(|w| (w, "listed by FINRA")),
                Err(e) => {
                    tracing::warn!("cannot read weeklySummary's partitions: {e}");
                    None
                }
            },
            _ => Some((estimated_window_start(now), "estimated")),
        };
        let today = now.date_naive();
        let mut out = BTreeMap::new();
        for &monday in weeks {
            let entry = |state, detail: String| DatasetCoverage {
                dataset: name.to_string(),
                period: monday,
                state,
                detail,
            };
            let era = WeekEra::of(monday);
            // The mirror's weekly ZIP carries the whole week; the API, one partition per tier.
            let zip = source::ats_zip_file_name(monday);
            let zip_stored = ledger.contains(&zip);
            let tiers_stored: Vec<String> = names(monday)
                .into_iter()
                .filter(|n| *n != zip && ledger.contains(n))
                .map(|n| n.rsplit(' ').next().unwrap_or_default().to_string())
                .collect();
            let (t1_due, all_due) = ats_due(monday);
            let coverage = if era == WeekEra::BeforeDataset {
                entry(
                    CoverageState::BeforeDataset,
                    format!("weekly ATS data begins with the week of {ATS_WEEKLY_START}"),
                )
            } else if zip_stored || !tiers_stored.is_empty() || recorded.contains_key(&monday) {
                let mut detail = format!("week of {monday}");
                if zip_stored {
                    detail.push_str(&format!(" from {zip}"));
                } else if api && !tiers_stored.is_empty() && tiers_stored.len() < TIERS.len() {
                    let missing: Vec<&str> = TIERS
                        .iter()
                        .filter(|t| !tiers_stored.iter().any(|s| s == *t))
                        .copied()
                        .collect();
                    let when = if today < all_due {
                        format!("not yet due (about {all_due})")
                    } else {
                        "awaited".to_string()
                    };
                    detail.push_str(&format!(
                        ": {} stored; {} {when}",
                        tiers_stored.join(", "),
                        missing.join(", ")
                    ));
                }
                if era == WeekEra::AtsOnly {
                    detail.push_str(&format!(
                        "; ATS only (non-ATS OTC volume begins {OTC_WEEKLY_START}): \
                         ats_share_of_total is null"
                    ));
                }
                entry(CoverageState::Stored, detail)
            } else if api && window.is_some_and(|(first, _)| monday < first) {
                let (first, how) = window.unwrap_or((monday, ""));
                let mut coverage = entry(
                    CoverageState::Historic,
                    format!(
                        "weeklySummary starts at {first} ({how}); backfill reads \
                         weeklySummaryHistoric"
                    ),
                );
                if check {
                    coverage = self.check_week(monday, coverage).await;
                }
                coverage
            } else if today < t1_due {
                entry(
                    CoverageState::NotYetDue,
                    format!(
                        "week of {monday}: Tier 1 due about {t1_due}, the rest about {all_due}"
                    ),
                )
            } else if check {
                let awaited = entry(
                    CoverageState::Awaited,
                    format!(
                        "week of {monday}: FINRA has not published it (Tier 1 was due {t1_due})"
                    ),
                );
                self.check_week(monday, awaited).await
            } else {
                entry(
                    CoverageState::Awaited,
                    format!(
                        "week of {monday}: Tier 1 was due {t1_due}; not in the store (--check \
                         asks FINRA)"
                    ),
                )
            };
            out.insert(monday, coverage);
        }
        Ok(out)
    }

    /// Asks FINRA for the week: published (not stored), or `unpublished` as it is, or failed.
    async fn check_week(&self, monday: NaiveDate, unpublished: DatasetCoverage) -> DatasetCoverage {
        let mut report = SessionReport::default();
        match self.load_ats(monday, &mut report).await {
            Ok(load) if load.week.is_some() => {
                let parts: Vec<String> = load.sources.iter().map(|s| s.name.clone()).collect();
                DatasetCoverage {
                    state: CoverageState::PublishedNotStored,
                    detail: parts.join(", "),
                    ..unpublished
                }
            }
            Ok(_) => unpublished,
            Err(e) => DatasetCoverage {
                state: CoverageState::Failed,
                detail: e.to_string(),
                ..unpublished
            },
        }
    }
}

/// When a session's Reg SHO files are due: about 6 pm New York time that day.
fn regsho_due(date: NaiveDate) -> DateTime<Utc> {
    end_of_new_york_day(date) - Duration::hours(6)
}

/// When a week's ATS data is due: Tier 1 on the Monday three weeks after the week starts (the
/// Tuesday when that Monday is a holiday), the other tiers two weeks later.
fn ats_due(monday: NaiveDate) -> (NaiveDate, NaiveDate) {
    let next_session = |d: NaiveDate| {
        d.iter_days()
            .find(|d| calendar::is_session(*d))
            .unwrap_or(d)
    };
    (
        next_session(monday + Duration::weeks(3)),
        next_session(monday + Duration::weeks(5)),
    )
}

/// Without asking FINRA: `weeklySummary` keeps about four calendar years (its listing began at
/// 2022-01-03 in 2026), so its window is taken to start with the first Monday of that year.
fn estimated_window_start(now: DateTime<Utc>) -> NaiveDate {
    let jan1 = NaiveDate::from_ymd_opt(now.year() - 4, 1, 1).unwrap_or(ATS_WEEKLY_START);
    let monday = calendar::week_start(jan1);
    if monday < jan1 {
        monday + Duration::weeks(1)
    } else {
        monday
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn due_dates() {
        // Tier 1 of the week of 2024-04-01 is due Monday 2024-04-22.
        assert_eq!(ats_due(d(2024, 4, 1)), (d(2024, 4, 22), d(2024, 5, 6)));
        // Three weeks after 2024-05-06 is Memorial Day: the Tuesday.
        assert_eq!(ats_due(d(2024, 5, 6)).0, d(2024, 5, 28));
        // 6 pm New York on 2024-04-01 (daylight time) is 22:00 UTC.
        assert_eq!(
            regsho_due(d(2024, 4, 1)).to_rfc3339(),
            "2024-04-01T22:00:00+00:00"
        );
    }

    #[test]
    fn the_estimated_window_matches_finras_2026_listing() {
        let now = DateTime::parse_from_rfc3339("2026-08-31T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(estimated_window_start(now), d(2022, 1, 3));
    }
}
