//! OTC Transparency weekly summary: ATS and non-ATS OTC share volume per symbol and week.
//!
//! FINRA serves it through its Query API (`otcMarket/weeklySummary`, tier by tier as it publishes
//! them); a mirror may carry it as `ATS/ATS_W_Summary_YYYYMMDD.zip` (this project's seed layout,
//! not a FINRA URL). Which one is read: [`crate::Settings::effective_ats_source`].
//!
//! A session uses the week that holds it: `ats_share_of_total` = ATS / (ATS + non-ATS OTC), on
//! every session of the week, and the week's per-symbol shares are recorded in `ats_weekly`
//! ([`week_record`]) with the session that uses them.

use async_trait::async_trait;
use chrono::{Duration, NaiveDate};

use super::starts::{ATS_WEEKLY_START, OTC_WEEKLY_START};
use super::{Dataset, DatasetInfo};
use crate::calendar;
use crate::engine::{Engine, EngineError, Freshness};
use crate::features::{self, AtsWeeklyRow, RegShoDay};
use crate::parse::ats::{self, AtsRecord, AtsWeek, Carrier};
use crate::provenance::{end_of_new_york_day, Fingerprint, PublishedFrom, SourceVersion};
use crate::quality::FileQuality;
use crate::report::{FileStatus, SessionReport};
use crate::source::finra_api::{self, FinraApi, TierRows};
use crate::source::{self, Fetched, SourceError};

/// What the dataset declares.
pub(crate) const INFO: DatasetInfo = DatasetInfo {
    name: "otc_weekly",
    description: "OTC Transparency weekly ATS and non-ATS share volume per symbol",
    carriers: &[
        "Query API otcMarket/weeklySummary (tiers T1, T2, OTCE)",
        "{FINRA_BASE_URL}/ATS/ATS_W_Summary_YYYYMMDD.zip (a mirror)",
    ],
    publication: "Tier 1 about two weeks after the week (the Monday three weeks after \
                  weekStartDate), T2 and OTCE about four; revised now and then (lastUpdateDate)",
    // Non-ATS OTC volume (the denominator) only from OTC_WEEKLY_START: [`super::starts`].
    first_date: ATS_WEEKLY_START,
    columns: &["ats_share_of_total"],
    tables: &["ats_weekly"],
    migration: "migrations/002_ats_weekly.sql",
};

/// A session's ATS week, as loaded (mapping onto symbols happens when the session is computed).
#[derive(Debug, Clone)]
pub struct AtsLoad {
    /// `None`: not published.
    pub week: Option<AtsWeek>,
    /// Every part (tier) of the week is published.
    pub complete: bool,
    /// Where the week was read from (recorded in `ats_weekly.source`).
    pub carrier: Carrier,
    /// The versions read: the ZIP, or each published API tier.
    pub sources: Vec<SourceVersion>,
    /// Which of FINRA's data existed for the week at all.
    pub era: WeekEra,
}

/// Which of the week's data FINRA ever published, by [`super::starts`]: a week before the data
/// began is never coming (null, not pending), and before non-ATS OTC volume began the
/// denominator of `ats_share_of_total` does not exist (ATS / (ATS + unknown) is not 1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekEra {
    /// Before FINRA's first ATS week: nothing fetched, every ATS cell null.
    BeforeDataset,
    /// ATS volume only (before the first non-ATS OTC week): `ats_share_of_total` null.
    AtsOnly,
    /// ATS and non-ATS OTC volume.
    Full,
}

impl WeekEra {
    /// The era of the week that starts on `monday`.
    pub fn of(monday: NaiveDate) -> WeekEra {
        if monday < ATS_WEEKLY_START {
            WeekEra::BeforeDataset
        } else if monday < OTC_WEEKLY_START {
            WeekEra::AtsOnly
        } else {
            WeekEra::Full
        }
    }
}

impl AtsLoad {
    /// The Monday of the week, when published.
    pub fn week_start(&self) -> Option<NaiveDate> {
        self.week.as_ref().map(|w| w.week_start)
    }
}

/// The `ats_weekly` record of a session's ATS week: every symbol of the week under the day's Reg
/// SHO spelling, as the features map it. Empty when the week is not published.
pub(crate) fn week_record(ats: &AtsLoad, regsho: &RegShoDay) -> Vec<AtsWeeklyRow> {
    match &ats.week {
        Some(week) => features::ats_weekly_rows(week, regsho, ats.carrier),
        None => Vec::new(),
    }
}

/// The weekly dataset.
pub(crate) struct OtcWeekly;

#[async_trait]
impl Dataset for OtcWeekly {
    type Period = NaiveDate;
    type Loaded = AtsLoad;

    fn period(&self, trade_date: NaiveDate) -> NaiveDate {
        calendar::week_start(trade_date)
    }

    /// Tier 1's usual day: the Monday three weeks after the week starts.
    fn due(&self, monday: NaiveDate) -> NaiveDate {
        monday + Duration::weeks(3)
    }

    async fn load(
        &self,
        engine: &Engine,
        monday: NaiveDate,
        freshness: Freshness,
        report: &mut SessionReport,
    ) -> Result<AtsLoad, EngineError> {
        let era = WeekEra::of(monday);
        if era == WeekEra::BeforeDataset {
            // No request: the week cannot exist.
            report.coverage.push(format!(
                "ATS week {monday}: before FINRA published it (weekly ATS data begins with the \
                 week of {ATS_WEEKLY_START}); ats_share_of_total is null"
            ));
            return Ok(AtsLoad {
                week: None,
                complete: true,
                carrier: Carrier::Zip,
                sources: Vec::new(),
                era,
            });
        }
        if era == WeekEra::AtsOnly {
            report.coverage.push(format!(
                "ATS week {monday}: before FINRA published non-ATS OTC volume (from the week of \
                 {OTC_WEEKLY_START}), so there is no total: ats_share_of_total is null"
            ));
        }
        if let Some(api) = engine.ats_api() {
            return from_api(engine, api, monday, freshness, report).await;
        }
        let path = source::ats_zip_path(monday);
        let name = source::ats_zip_file_name(monday);
        let fetched = engine
            .fetch_file(&path, freshness, |bytes| {
                ats::parse_zip(&name, monday, bytes)
            })
            .await?;
        let location = engine.locate(&path);
        Ok(match fetched {
            Fetched::Published((week, print)) => {
                let rows = week.quality.rows_read;
                let version = SourceVersion::new(INFO.name, &name, &location, rows, &print);
                report.published(name, location, &week.quality);
                AtsLoad {
                    week: Some(week),
                    complete: true,
                    carrier: Carrier::Zip,
                    sources: vec![version],
                    era,
                }
            }
            Fetched::NotPublished => {
                let remark = format!(
                    "{name} is not published (ATS data for the week of {monday} appears 2-4 \
                     weeks late; Tier 1 is due about {})",
                    self.due(monday)
                );
                report.not_published(name, location, remark);
                AtsLoad {
                    week: None,
                    complete: false,
                    carrier: Carrier::Zip,
                    sources: Vec::new(),
                    era,
                }
            }
        })
    }
}

/// The ATS week from FINRA's Query API, tier by tier.
///
/// FINRA publishes a week's tiers separately (Tier 1 about two weeks after the week, T2 and OTCE
/// about four), and lists what it has in the partitions endpoint. Only published tiers are read
/// (one paged query each, concurrently, once per week per engine: see [`FinraApi::week`]); the
/// week is `complete` once T1, T2 and OTCE all are. Until then a symbol absent from the rows read
/// is `Pending` (its tier may be the one still awaited), never null, and the coverage names the
/// awaited tiers. No tier published: no week at all (every ATS cell pending).
async fn from_api(
    engine: &Engine,
    api: &FinraApi,
    monday: NaiveDate,
    freshness: Freshness,
    report: &mut SessionReport,
) -> Result<AtsLoad, EngineError> {
    let week = {
        // One download slot for the week's read (its tiers are read concurrently).
        let _slot = engine.download_slot().await;
        match freshness {
            Freshness::Fresh => api.refresh_week(monday).await?,
            Freshness::Cached => api.week(monday).await?,
        }
    };
    let location = api.dataset_url(week.dataset).to_string();
    let dataset = week.dataset.name();
    let mut awaited: Vec<&str> = Vec::new();
    let mut records = Vec::new();
    let mut sources = Vec::new();
    for (tier, rows) in &week.tiers {
        let file = format!("{dataset} {monday} {tier}");
        let rows = match rows {
            TierRows::Rows(rows) => rows,
            TierRows::Unlisted => {
                awaited.push(tier);
                continue;
            }
            TierRows::Empty => {
                // Listed but empty: FINRA is loading it, or withdrew it. Waiting is safe
                // (pending cells never overwrite); nulls would not be.
                report.coverage.push(format!(
                    "{file}: FINRA lists the partition but answered 204 (no rows); \
                     treated as not yet published"
                ));
                awaited.push(tier);
                continue;
            }
            // A historic tier without rows: final, nothing to wait for.
            TierRows::NoRows if !week.is_gone() => continue,
            TierRows::NoRows => {
                awaited.push(tier);
                continue;
            }
        };
        sources.push(tier_version(&file, &location, &rows.records));
        report.files.push(FileStatus {
            file,
            location: location.clone(),
            published: true,
            rows: Some(rows.records.len() as u64),
        });
        records.extend(rows.records.iter().cloned());
    }
    for tier in &awaited {
        report.files.push(FileStatus {
            file: format!("{dataset} {monday} {tier}"),
            location: location.clone(),
            published: false,
            rows: None,
        });
    }
    if week.is_gone() {
        // Kept pending, not null: a value stored while FINRA still served the week stays.
        report.coverage.push(format!(
            "ATS week {monday}: outside weeklySummary's window, and weeklySummaryHistoric has no \
             rows for it either (FINRA keeps a rolling four years there)"
        ));
    } else if !awaited.is_empty() {
        report.coverage.push(format!(
            "ATS week {monday}: {} awaited (not yet published by FINRA: Tier 1 appears about \
             two weeks after the week, T2 and OTCE about four)",
            awaited.join(", ")
        ));
    }
    if awaited.len() == finra_api::TIERS.len() {
        return Ok(AtsLoad {
            week: None,
            complete: false,
            carrier: Carrier::Api,
            sources,
            era: WeekEra::of(monday),
        });
    }
    let quality = FileQuality::new(format!("{dataset} {monday}"));
    let week =
        AtsWeek::from_records(monday, records, quality).map_err(|error| SourceError::Parse {
            location: location.clone(),
            attempts: 1,
            error,
        })?;
    report.quality.push(week.quality.clone());
    Ok(AtsLoad {
        week: Some(week),
        complete: awaited.is_empty(),
        carrier: Carrier::Api,
        sources,
        era: WeekEra::of(monday),
    })
}

/// One API week x tier as a ledger version. Its bytes are the rows used, one canonical line each,
/// sorted (FINRA's pages come unsorted), so the same rows always hash alike; it was published at
/// the end of the New York day of its latest `lastUpdateDate` (else `initialPublishedDate`).
fn tier_version(name: &str, location: &str, records: &[AtsRecord]) -> SourceVersion {
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| {
            let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
            format!(
                "{}|{}|{}|{:?}|{}|{}|{}\n",
                r.week_start,
                r.tier,
                r.symbol,
                r.summary_type,
                r.shares,
                day(r.last_update),
                day(r.initial_published)
            )
        })
        .collect();
    lines.sort_unstable();
    let text = lines.concat();
    let published = records
        .iter()
        .filter_map(|r| r.last_update.or(r.initial_published))
        .max()
        .map(|d| (end_of_new_york_day(d), PublishedFrom::ApiDate));
    let print = Fingerprint::of(text.as_bytes(), published);
    SourceVersion::new(INFO.name, name, location, records.len() as u64, &print)
}
