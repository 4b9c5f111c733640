//! One trading session end to end: fetch, parse, compute, and (optionally) store.
//!
//! ## How `TOT` is composed
//!
//! FINRA publishes no `TOT` file. `TOT` means all FINRA-reported volume, built from the facility
//! files, which on FINRA's real files relate like this (checked on every row of 2020-01-02 and
//! 2020-01-03, see `../shared/realdata/check_regsho.log` and `tests/realdata.rs`):
//! CNMS = FNSQ + FNQC + FNYX + FNRA per symbol on all three volumes, and FORF (OTC, non-NMS)
//! shares no symbol with CNMS. So:
//!
//! - from 2018-08-01 (CNMS exists): **CNMS + FORF**;
//! - if CNMS is not published that day, or before 2018-08-01: **FNSQ + FNQC + FNYX + FNRA + FORF**
//!   (FNQC only from 2018-09-10, when it began), each file only if published.
//!
//! A symbol's values come only from published files; a missing component is named in the
//! report, and symbols absent from an incomplete day are `Pending`, not null.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::NaiveDate;
use futures::future::try_join_all;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::calendar;
use crate::config::{AtsSource, Facility, Market, Settings};
use crate::features::{self, AtsDay, AtsWeeklyRow, FeatureRow, RegShoDay, Universe};
use crate::parse::ats::Carrier;
use crate::parse::{ats, regsho};
use crate::quality::FileQuality;
use crate::source::cache::{fetch_through, CacheUse, RawCache};
use crate::source::finra_api::{self, FinraApi, TierRows};
use crate::source::{self, Fetched, HttpClient, Source, SourceError};
use crate::store::{Discovery, Store, StoreError, UpsertSummary};
use crate::symbol::case_insensitive_matches;

/// First day of the consolidated NMS file.
pub const CNMS_START: NaiveDate = match NaiveDate::from_ymd_opt(2018, 8, 1) {
    Some(d) => d,
    None => panic!("valid date"),
};
/// First day of the FINRA/Nasdaq TRF Chicago file.
pub const FNQC_START: NaiveDate = match NaiveDate::from_ymd_opt(2018, 9, 10) {
    Some(d) => d,
    None => panic!("valid date"),
};

/// A session that could not be computed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a source file was there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileStatus {
    pub file: String,
    pub location: String,
    pub published: bool,
    /// Rows used from the file.
    pub rows: Option<u64>,
}

/// What happened, for people and logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionReport {
    pub trade_date: Option<NaiveDate>,
    pub market: String,
    pub files: Vec<FileStatus>,
    /// Coverage remarks: which components of the day or week are missing.
    pub coverage: Vec<String>,
    pub quality: Vec<FileQuality>,
    pub symbols_requested: Option<usize>,
    pub symbols_found: usize,
    /// Remarks about requested symbols (no exact match; case-insensitive near misses).
    pub symbol_notes: Vec<String>,
    /// ATS symbols with no Reg SHO symbol of that spelling on the day.
    pub ats_unmatched: Vec<String>,
}

/// The ATS week of a session, as loaded (mapping onto symbols happens in [`assemble`]).
#[derive(Debug, Clone)]
pub struct AtsLoad {
    /// `None`: not published.
    pub week: Option<ats::AtsWeek>,
    /// Every part (tier) of the week is published.
    pub complete: bool,
    /// Where the week was read from (recorded in `ats_weekly.source`).
    pub carrier: Carrier,
}

impl SessionReport {
    /// Adds the files, coverage remarks and data quality of a step's partial report.
    pub fn absorb(&mut self, part: SessionReport) {
        self.files.extend(part.files);
        self.coverage.extend(part.coverage);
        self.quality.extend(part.quality);
    }

    /// Records a file that was published, and its data-quality summary.
    fn published(&mut self, file: String, location: String, quality: &FileQuality) {
        self.files.push(FileStatus {
            file,
            location,
            published: true,
            rows: Some(quality.rows_read),
        });
        self.quality.push(quality.clone());
    }

    /// Records a file FINRA has not published, with the coverage remark that says so.
    fn not_published(&mut self, file: String, location: String, remark: String) {
        self.coverage.push(remark);
        self.files.push(FileStatus {
            file,
            location,
            published: false,
            rows: None,
        });
    }

    pub fn files_fetched(&self) -> usize {
        self.files.iter().filter(|f| f.published).count()
    }

    pub fn files_missing(&self) -> usize {
        self.files.iter().filter(|f| !f.published).count()
    }
}

/// The result of asking for one date.
#[derive(Debug, Clone)]
pub enum SessionOutcome {
    /// Not an NYSE session: nothing fetched, nothing written.
    Closed {
        trade_date: NaiveDate,
        reason: &'static str,
    },
    Computed {
        rows: Vec<FeatureRow>,
        report: Box<SessionReport>,
        /// Set when the rows were written.
        stored: Option<UpsertSummary>,
    },
}

/// The engine: settings plus one source, reused for every file and session.
#[derive(Debug, Clone)]
pub struct Engine {
    settings: Settings,
    source: Source,
    cache: Option<CacheUse>,
    /// Bounds concurrent downloads across everything this engine (and its clones) does.
    downloads: Option<Arc<Semaphore>>,
    /// FINRA's Query API, when it is the ATS source ([`Settings::effective_ats_source`]).
    ats_api: Option<FinraApi>,
}

impl Engine {
    pub fn new(settings: Settings) -> Result<Engine, EngineError> {
        let source = Source::new(&settings)?;
        let ats_api = match settings.effective_ats_source() {
            AtsSource::Api => Some(FinraApi::new(HttpClient::new(
                &settings.api_base_url,
                &settings.http,
            )?)),
            AtsSource::Zip | AtsSource::Auto => None,
        };
        Ok(Engine {
            settings,
            source,
            cache: None,
            downloads: None,
            ats_api,
        })
    }

    /// At most `limit` files downloading at once (a polite backfill).
    pub fn with_download_limit(mut self, limit: usize) -> Engine {
        self.downloads = Some(Arc::new(Semaphore::new(limit.max(1))));
        self
    }

    /// Keeps FINRA's raw files in `cache`; `read`: serve from it too (bulk work), see
    /// [`crate::source::cache`].
    pub fn with_cache(mut self, cache: Option<RawCache>, read: bool) -> Engine {
        self.cache = cache.map(|cache| CacheUse { cache, read });
        self
    }

    /// Fetches a file under `FINRA_BASE_URL` through the raw-file cache (if any).
    async fn fetch_file<T>(
        &self,
        path: &str,
        parse: impl Fn(&[u8]) -> Result<T, crate::parse::ParseError>,
    ) -> Result<Fetched<T>, SourceError> {
        self.fetch_file_via(self.cache.as_ref(), path, parse).await
    }

    /// [`Engine::fetch_file`] with the cache use given: `read: false` fetches afresh (and
    /// refreshes the cached copy).
    async fn fetch_file_via<T>(
        &self,
        cache: Option<&CacheUse>,
        path: &str,
        parse: impl Fn(&[u8]) -> Result<T, crate::parse::ParseError>,
    ) -> Result<Fetched<T>, SourceError> {
        // A closed semaphore cannot happen (it is never closed); treat it as "no limit".
        let _permit = match &self.downloads {
            Some(limit) => limit.acquire().await.ok(),
            None => None,
        };
        fetch_through(cache, &self.source, path, parse).await
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Computes `trade_date`'s features; writes them to `store` if given.
    ///
    /// `symbols`: exactly these symbols; `None` means every symbol in the data plus every symbol
    /// the store already holds for the date.
    pub async fn run(
        &self,
        trade_date: NaiveDate,
        symbols: Option<&[String]>,
        store: Option<&dyn Store>,
    ) -> Result<SessionOutcome, EngineError> {
        if let Some(reason) = calendar::closure_reason(trade_date) {
            return Ok(SessionOutcome::Closed { trade_date, reason });
        }
        let discovered = match (symbols, store) {
            (None, Some(store)) => store.discover_symbols(trade_date, Discovery::All).await?,
            _ => Vec::new(),
        };
        let (rows, report, regsho, ats) =
            self.compute_parts(trade_date, symbols, &discovered).await?;
        let stored = match store {
            Some(store) => {
                let stored = store.upsert(trade_date, &rows).await?;
                // After the rows: the record says what the stored values were computed from.
                record_new_ats_week(store, &ats_weekly_rows(&ats, &regsho)).await?;
                Some(stored)
            }
            None => None,
        };
        Ok(SessionOutcome::Computed {
            rows,
            report: Box::new(report),
            stored,
        })
    }

    /// Fetches and computes one session (no store involved). The Reg SHO files and the ATS week
    /// are fetched concurrently.
    pub async fn compute(
        &self,
        trade_date: NaiveDate,
        symbols: Option<&[String]>,
        extra_symbols: &[String],
    ) -> Result<(Vec<FeatureRow>, SessionReport), EngineError> {
        let (rows, report, _, _) = self
            .compute_parts(trade_date, symbols, extra_symbols)
            .await?;
        Ok((rows, report))
    }

    /// [`Engine::compute`], also handing back the day's Reg SHO data and the ATS week used.
    async fn compute_parts(
        &self,
        trade_date: NaiveDate,
        symbols: Option<&[String]>,
        extra_symbols: &[String],
    ) -> Result<(Vec<FeatureRow>, SessionReport, RegShoDay, AtsLoad), EngineError> {
        let mut report = self.new_report(trade_date, symbols);
        let (mut regsho_part, mut ats_part) = (SessionReport::default(), SessionReport::default());
        let (regsho, ats) = futures::try_join!(
            self.load_regsho(trade_date, &mut regsho_part),
            self.load_ats(trade_date, &mut ats_part)
        )?;
        report.absorb(regsho_part);
        report.absorb(ats_part);
        let rows = assemble(
            trade_date,
            &regsho,
            &ats,
            symbols,
            extra_symbols,
            &mut report,
        );
        Ok((rows, report, regsho, ats))
    }

    /// An empty report for `trade_date`, to be filled by the steps below.
    pub fn new_report(&self, trade_date: NaiveDate, symbols: Option<&[String]>) -> SessionReport {
        SessionReport {
            trade_date: Some(trade_date),
            market: self.settings.market.to_string(),
            symbols_requested: symbols.map(<[String]>::len),
            ..SessionReport::default()
        }
    }

    /// Step 1 of a session: the day's Reg SHO data for the configured market.
    pub async fn load_regsho(
        &self,
        date: NaiveDate,
        report: &mut SessionReport,
    ) -> Result<RegShoDay, EngineError> {
        match self.settings.market {
            Market::Facility(facility) => {
                let files = self.fetch_regsho(date, &[facility], report).await?;
                let published: Vec<_> = files.iter().flatten().collect();
                let complete = published.len() == files.len();
                Ok(RegShoDay::combine(published, complete))
            }
            Market::Tot => self.load_tot(date, report).await,
        }
    }

    async fn load_tot(
        &self,
        date: NaiveDate,
        report: &mut SessionReport,
    ) -> Result<RegShoDay, EngineError> {
        let nms_parts: Vec<Facility> = Facility::NMS_PARTS
            .into_iter()
            .filter(|f| *f != Facility::Fnqc || date >= FNQC_START)
            .collect();
        if date >= CNMS_START {
            let first = self
                .fetch_regsho(date, &[Facility::Cnms, Facility::Forf], report)
                .await?;
            if let [Some(cnms), forf] = first.as_slice() {
                let complete = forf.is_some();
                return Ok(RegShoDay::combine(
                    std::iter::once(cnms).chain(forf.as_ref()),
                    complete,
                ));
            }
            let forf = first.into_iter().nth(1).flatten();
            let parts = self.fetch_regsho(date, &nms_parts, report).await?;
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
        let files = self.fetch_regsho(date, &wanted, report).await?;
        let complete = files.iter().all(Option::is_some);
        Ok(RegShoDay::combine(files.iter().flatten(), complete))
    }

    /// Fetches several facility files at once; `None` for each one not published.
    async fn fetch_regsho(
        &self,
        date: NaiveDate,
        facilities: &[Facility],
        report: &mut SessionReport,
    ) -> Result<Vec<Option<regsho::RegShoFile>>, EngineError> {
        let fetches = facilities.iter().map(|&facility| {
            let path = source::regsho_path(facility, date);
            let name = source::regsho_file_name(facility, date);
            async move {
                let fetched = self
                    .fetch_file(&path, |bytes| regsho::parse(&name, date, bytes))
                    .await?;
                Ok::<_, SourceError>((name, self.source.locate(&path), fetched))
            }
        });
        let mut out = Vec::with_capacity(facilities.len());
        for (file, location, fetched) in try_join_all(fetches).await? {
            match fetched {
                Fetched::Published(parsed) => {
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

    /// Step 2 of a session (independent of step 1): the ATS week that contains the day, from
    /// FINRA's Query API or the mirror's weekly ZIP ([`Settings::effective_ats_source`]).
    pub async fn load_ats(
        &self,
        date: NaiveDate,
        report: &mut SessionReport,
    ) -> Result<AtsLoad, EngineError> {
        self.load_ats_via(date, report, false).await
    }

    /// [`Engine::load_ats`] as FINRA has the week now, bypassing every cache: the weekly ZIP is
    /// fetched again (never served from the raw-file cache, whose copy it refreshes), and from
    /// the Query API the partitions list and the week's tiers are asked for again. Catch-up uses
    /// it to see FINRA's revisions of recent weeks.
    pub async fn load_ats_fresh(
        &self,
        date: NaiveDate,
        report: &mut SessionReport,
    ) -> Result<AtsLoad, EngineError> {
        self.load_ats_via(date, report, true).await
    }

    async fn load_ats_via(
        &self,
        date: NaiveDate,
        report: &mut SessionReport,
        fresh: bool,
    ) -> Result<AtsLoad, EngineError> {
        let monday = calendar::week_start(date);
        if let Some(api) = &self.ats_api {
            return self.load_ats_api(api, monday, report, fresh).await;
        }
        let path = source::ats_zip_path(monday);
        let name = source::ats_zip_file_name(monday);
        let refresh = self.cache.as_ref().map(|using| CacheUse {
            cache: using.cache.clone(),
            read: false,
        });
        let cache = if fresh {
            refresh.as_ref()
        } else {
            self.cache.as_ref()
        };
        let fetched = self
            .fetch_file_via(cache, &path, |bytes| ats::parse_zip(&name, monday, bytes))
            .await?;
        let location = self.source.locate(&path);
        Ok(match fetched {
            Fetched::Published(week) => {
                report.published(name, location, &week.quality);
                AtsLoad {
                    week: Some(week),
                    complete: true,
                    carrier: Carrier::Zip,
                }
            }
            Fetched::NotPublished => {
                let remark = format!(
                    "{name} is not published (ATS data for the week of {monday} appears 2-4 weeks late)"
                );
                report.not_published(name, location, remark);
                AtsLoad {
                    week: None,
                    complete: false,
                    carrier: Carrier::Zip,
                }
            }
        })
    }
}

impl Engine {
    /// The ATS week from FINRA's Query API, tier by tier.
    ///
    /// FINRA publishes a week's tiers separately (Tier 1 about two weeks after the week, T2 and
    /// OTCE about four), and lists what it has in the partitions endpoint. Only published tiers
    /// are read (one paged query each, concurrently, once per week per engine: see
    /// [`FinraApi::week`]); the week is `complete` once T1, T2 and OTCE all are. Until then a symbol absent from the rows read is `Pending` (its tier may be
    /// the one still awaited), never null, and the coverage names the awaited tiers. No tier
    /// published: no week at all (every ATS cell pending).
    async fn load_ats_api(
        &self,
        api: &FinraApi,
        monday: NaiveDate,
        report: &mut SessionReport,
        fresh: bool,
    ) -> Result<AtsLoad, EngineError> {
        let week = {
            // One permit for the week's read (its tiers are read concurrently). A closed
            // semaphore cannot happen (it is never closed); treat it as "no limit".
            let _permit = match &self.downloads {
                Some(limit) => limit.acquire().await.ok(),
                None => None,
            };
            if fresh {
                api.refresh_week(monday).await?
            } else {
                api.week(monday).await?
            }
        };
        let location = api.weekly_summary_url().to_string();
        let mut awaited: Vec<&str> = Vec::new();
        let mut records = Vec::new();
        for (tier, rows) in &week.tiers {
            let file = format!("weeklySummary {monday} {tier}");
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
            };
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
                file: format!("weeklySummary {monday} {tier}"),
                location: location.clone(),
                published: false,
                rows: None,
            });
        }
        if !awaited.is_empty() {
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
            });
        }
        let quality = FileQuality::new(format!("weeklySummary {monday}"));
        let week = ats::AtsWeek::from_records(monday, records, quality).map_err(|error| {
            SourceError::Parse {
                location: location.clone(),
                attempts: 1,
                error,
            }
        })?;
        report.quality.push(week.quality.clone());
        Ok(AtsLoad {
            week: Some(week),
            complete: awaited.is_empty(),
            carrier: Carrier::Api,
        })
    }
}

/// Step 3 of a session: maps the ATS week onto the day's symbols and computes the rows.
///
/// `symbols`: exactly these; `None`: every symbol in the data plus `extra_symbols` (the ones a
/// store already holds for the date).
pub fn assemble(
    trade_date: NaiveDate,
    regsho: &RegShoDay,
    ats: &AtsLoad,
    symbols: Option<&[String]>,
    extra_symbols: &[String],
    report: &mut SessionReport,
) -> Vec<FeatureRow> {
    let mut derived = FileQuality::new("computed features");
    let ats = match &ats.week {
        Some(week) => AtsDay::map(week, regsho, ats.complete, &mut derived),
        None => AtsDay::not_published(),
    };
    let all: Vec<String>;
    let universe = match symbols {
        Some(list) => Universe::Only(list),
        None if extra_symbols.is_empty() => Universe::All,
        None => {
            let mut union: HashSet<&str> = regsho.volumes.keys().map(String::as_str).collect();
            union.extend(ats.volumes.keys().map(String::as_str));
            union.extend(extra_symbols.iter().map(String::as_str));
            all = union.into_iter().map(str::to_string).collect();
            Universe::Only(&all)
        }
    };
    let rows = features::compute(trade_date, regsho, &ats, universe, &mut derived);
    derived.rows_read = rows.len() as u64;
    report.symbols_found = rows
        .iter()
        .filter(|r| regsho.volumes.contains_key(&r.symbol) || ats.volumes.contains_key(&r.symbol))
        .count();
    if let Some(list) = symbols {
        report.symbol_notes = symbol_notes(list, regsho, &ats);
    }
    report.ats_unmatched = ats.unmatched;
    if !derived.is_clean() {
        report.quality.push(derived);
    }
    rows
}

/// The `ats_weekly` record of a session's ATS week: every symbol of the week under the day's Reg
/// SHO spelling, as [`assemble`] maps it. Empty when the week is not published.
pub fn ats_weekly_rows(ats: &AtsLoad, regsho: &RegShoDay) -> Vec<AtsWeeklyRow> {
    match &ats.week {
        Some(week) => features::ats_weekly_rows(week, regsho, ats.carrier),
        None => Vec::new(),
    }
}

/// Records a week in `ats_weekly` once a session computed from it is stored, unless the store
/// already holds a record of that week. Call it after the session's rows are written. Returns
/// the rows written (0: nothing to record, or already recorded).
///
/// A recorded week is left alone even when these rows are newer (FINRA revised the week since):
/// the other stored sessions of the week were computed from the recorded version, and only
/// catch-up, which recomputes all of them, moves the record forward
/// ([`crate::catch_up`]). So the record never claims a version that stored values do not
/// reflect, and a revision is never hidden from catch-up.
pub async fn record_new_ats_week(
    store: &dyn Store,
    rows: &[AtsWeeklyRow],
) -> Result<usize, StoreError> {
    let Some(week_start) = rows.first().map(|r| r.week_start) else {
        return Ok(0);
    };
    let recorded = store.ats_weekly_last_update(&[week_start]).await?;
    if let Some(stored) = recorded.get(&week_start) {
        let latest = rows.iter().filter_map(|r| r.last_update).max();
        if latest > *stored {
            tracing::info!(
                "FINRA revised the ATS week of {week_start} (or published more of it) since it \
                 was recorded (lastUpdateDate {}, recorded {}): `offx catch-up` recomputes the \
                 week's stored sessions",
                latest.map(|d| d.to_string()).unwrap_or_default(),
                stored.map_or("none".to_string(), |d| d.to_string()),
            );
        }
        return Ok(0);
    }
    let written = store.upsert_ats_weekly(week_start, rows).await?;
    tracing::debug!(
        "recorded the ATS week of {week_start} in ats_weekly ({written} symbols) in {}",
        store.describe()
    );
    Ok(written)
}

/// For requested symbols with no exact match: say so, and name case-insensitive near misses.
fn symbol_notes(requested: &[String], regsho: &RegShoDay, ats: &AtsDay) -> Vec<String> {
    let known = || {
        regsho
            .volumes
            .keys()
            .chain(ats.volumes.keys())
            .map(String::as_str)
    };
    requested
        .iter()
        .filter(|s| !regsho.volumes.contains_key(*s) && !ats.volumes.contains_key(*s))
        .map(|s| {
            let near = case_insensitive_matches(s, known());
            if near.is_empty() {
                format!("{s}: not in the day's data (a row of nulls)")
            } else {
                format!(
                    "{s}: no exact match (symbols are case-sensitive); did you mean {}?",
                    near.join(" or ")
                )
            }
        })
        .collect()
}
