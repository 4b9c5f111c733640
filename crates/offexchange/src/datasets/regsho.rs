//! Reg SHO daily short-sale volume: one text file per facility per session.
//!
//! ## How `TOT` is composed
//!
//! FINRA publishes no `TOT` file. `TOT` means all FINRA-reported volume, built from the facility
//! files, which on FINRA's real files relate like this (checked on every row of 2020-01-02 and
//! 2020-01-03, see `../shared/realdata/check_regsho.log` and `crates/offx/tests/realdata.rs`):
//! CNMS = FNSQ + FNQC + FNYX + FNRA per symbol on all three volumes, and FORF (OTC, non-NMS)
//! shares no symbol with CNMS. So:
//!
//! - from 2018-08-01 (CNMS exists): **CNMS + FORF**;
//! - if CNMS is not published that day, or before 2018-08-01: **FNSQ + FNQC + FNYX + FNRA + FORF**
//!   (FNQC only from 2018-09-10, when it began), each file only if published.
//!
//! A symbol's values come only from published files; a missing component is named in the
//! report, and symbols absent from an incomplete day are `Pending`, not null.

use async_trait::async_trait;
use chrono::NaiveDate;
use futures::future::try_join_all;

use super::{Dataset, DatasetInfo};
use crate::config::{Facility, Market};
use crate::engine::{Engine, EngineError, Freshness};
use crate::features::RegShoDay;
use crate::parse::regsho::{self, RegShoFile};
use crate::provenance::SourceVersion;
use crate::report::SessionReport;
use crate::source::{self, Fetched, SourceError};

use super::starts::{facility_start, REGSHO_FILES_START};
pub use super::starts::{CNMS_START, FNQC_START};

/// What the dataset declares.
pub(crate) const INFO: DatasetInfo = DatasetInfo {
    name: "regsho_daily",
    description: "Reg SHO daily short-sale volume per symbol and facility",
    carriers: &["{FINRA_BASE_URL}/regsho/daily/{FACILITY}shvolYYYYMMDD.txt"],
    publication: "each session's files by about 6 pm New York time; occasionally re-posted",
    // Each facility's own first day: [`super::starts`].
    first_date: REGSHO_FILES_START,
    columns: &["short_vol_share", "short_exempt_share"],
    tables: &[],
    migration: "migrations/001_daily_features.sql",
};

/// The Reg SHO daily dataset, for the market the settings name.
pub(crate) struct RegShoDaily;

#[async_trait]
impl Dataset for RegShoDaily {
    type Period = NaiveDate;
    type Loaded = RegShoDay;

    fn period(&self, trade_date: NaiveDate) -> NaiveDate {
        trade_date
    }

    fn due(&self, period: NaiveDate) -> NaiveDate {
        period
    }

    async fn load(
        &self,
        engine: &Engine,
        date: NaiveDate,
        freshness: Freshness,
        report: &mut SessionReport,
    ) -> Result<RegShoDay, EngineError> {
        let load = Load {
            engine,
            date,
            freshness,
        };
        let market = engine.settings().market;
        let first = match market {
            Market::Facility(facility) => facility_start(facility),
            Market::Tot => REGSHO_FILES_START,
        };
        if date < first {
            // No request: no such file can exist. An empty, complete day: no rows, no pending.
            report.coverage.push(format!(
                "Reg SHO {market} {date}: before FINRA published it (its first file is {first})"
            ));
            return Ok(RegShoDay::combine(std::iter::empty(), true));
        }
        let mut sources = Vec::new();
        let mut day = match market {
            Market::Facility(facility) => {
                let files = load.files(&[facility], report, &mut sources).await?;
                let published: Vec<_> = files.iter().flatten().collect();
                let complete = published.len() == files.len();
                RegShoDay::combine(published, complete)
            }
            Market::Tot => load.tot(report, &mut sources).await?,
        };
        // Every published file fetched is one the day was summed from (an unpublished one has
        // no version).
        day.sources = sources;
        Ok(day)
    }
}

/// One session's load.
struct Load<'a> {
    engine: &'a Engine,
    date: NaiveDate,
    freshness: Freshness,
}

impl Load<'_> {
    async fn tot(
        &self,
        report: &mut SessionReport,
        sources: &mut Vec<SourceVersion>,
    ) -> Result<RegShoDay, EngineError> {
        let date = self.date;
        let nms_parts: Vec<Facility> = Facility::NMS_PARTS
            .into_iter()
            .filter(|f| *f != Facility::Fnqc || date >= FNQC_START)
            .collect();
        if date >= CNMS_START {
            let first = self
                .files(&[Facility::Cnms, Facility::Forf], report, sources)
                .await?;
            if let [Some(cnms), forf] = first.as_slice() {
                let complete = forf.is_some();
                return Ok(RegShoDay::combine(
                    std::iter::once(cnms).chain(forf.as_ref()),
                    complete,
                ));
            }
            let forf = first.into_iter().nth(1).flatten();
            let parts = self.files(&nms_parts, report, sources).await?;
            let complete = forf.is_some() && parts.iter().all(Option::is_some);
            let published: Vec<&str> = parts
                .iter()
                .zip(&nms_parts)
                .filter(|(p, _)| p.is_some())
                .map(|(_, f)| f.code())
                .collect();
            report.coverage.push(format!(
                "CNMS not published: TOT summed from the facility files published ({})",
                if published.is_empty() {
                    "none".to_string()
                } else {
                    published.join(", ")
                }
            ));
            let files = parts.iter().flatten().chain(forf.as_ref());
            return Ok(RegShoDay::combine(files, complete));
        }
        let mut wanted = nms_parts;
        wanted.push(Facility::Forf);
        let files = self.files(&wanted, report, sources).await?;
        let complete = files.iter().all(Option::is_some);
        Ok(RegShoDay::combine(files.iter().flatten(), complete))
    }

    /// Fetches several facility files at once; `None` for each one not published.
    async fn files(
        &self,
        facilities: &[Facility],
        report: &mut SessionReport,
        sources: &mut Vec<SourceVersion>,
    ) -> Result<Vec<Option<RegShoFile>>, EngineError> {
        let date = self.date;
        let fetches = facilities.iter().map(|&facility| {
            let path = source::regsho_path(facility, date);
            let name = source::regsho_file_name(facility, date);
            async move {
                let fetched = self
                    .engine
                    .fetch_file(&path, self.freshness, |bytes| {
                        regsho::parse(&name, date, bytes)
                    })
                    .await?;
                Ok::<_, SourceError>((name, self.engine.locate(&path), fetched))
            }
        });
        let mut out = Vec::with_capacity(facilities.len());
        for (file, location, fetched) in try_join_all(fetches).await? {
            match fetched {
                Fetched::Published((parsed, print)) => {
                    let rows = parsed.rows.len() as u64;
                    sources.push(SourceVersion::new(
                        INFO.name, &file, &location, rows, &print,
                    ));
                    if !parsed.count_verified {
                        report.coverage.push(format!(
                            "{file} has no record-count line, so it cannot prove it is whole: \
                             symbols absent from it keep their stored values"
                        ));
                    }
                    report.published(file, location, &parsed.quality);
                    out.push(Some(parsed));
                }
                Fetched::NotPublished => {
                    let remark = format!("{file} is not published");
                    report.not_published(file, location, remark);
                    out.push(None);
                }
            }
        }
        Ok(out)
    }
}
