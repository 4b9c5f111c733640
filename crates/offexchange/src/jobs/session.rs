//! The session job: one trading date fetched, parsed, computed and committed, and its stages.
//!
//! ```text
//!  discover ─┐
//!  load_regsho ─┐ (concurrently)
//!  load_ats ────┴─► compute ─► persist (one SessionCommit: rows + the week's ats_weekly record)
//! ```
//!
//! [`Engine::session`] runs them all; the Prefect flow runs each stage as a task and hands the
//! output of one to the next, so both write exactly the same things.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};

use crate::calendar;
use crate::datasets::otc_weekly::WeekEra;
use crate::datasets::otc_weekly::{self, AtsLoad, OtcWeekly};
use crate::datasets::regsho::{self, RegShoDaily};
use crate::datasets::Dataset;
use crate::engine::{Engine, EngineError, Freshness};
use crate::features::{self, AtsDay, AtsWeeklyRow, FeatureRow, RegShoDay, Universe};
use crate::provenance::SourceVersion;
use crate::quality::FileQuality;
use crate::report::SessionReport;
use crate::store::{
    daily_volumes, Discovery, Provenance, RegShoDailyRow, SessionCommit, Store, StoreError,
    UpsertSummary, WeekWrite,
};
use crate::symbol::case_insensitive_matches;

/// What each dataset contributes to one session, loaded.
#[derive(Debug, Clone)]
pub struct SessionInputs {
    /// The day's Reg SHO volumes (short volume columns).
    pub regsho: RegShoDay,
    /// The week's ATS data (`ats_share_of_total`, `ats_weekly`).
    pub ats: AtsLoad,
}

/// A computed session, ready to commit: its rows, its report, and the `ats_weekly` record of its
/// week (empty when the week is not published).
#[derive(Debug, Clone)]
pub struct ComputedSession {
    /// The session.
    pub trade_date: NaiveDate,
    /// One row per symbol, sorted by symbol.
    pub rows: Vec<FeatureRow>,
    /// What was fetched, missing, and noticed.
    pub report: SessionReport,
    /// The Monday of the session's week.
    pub week_start: NaiveDate,
    /// The week's `ats_weekly` rows, under the day's Reg SHO spelling.
    pub week: Vec<AtsWeeklyRow>,
    /// Every source version the values were computed from (Reg SHO files, ATS versions).
    pub sources: Vec<SourceVersion>,
    /// The Reg SHO volumes behind the rows (`regsho_daily`), and the files they came from.
    pub volumes: Vec<RegShoDailyRow>,
    /// The day's Reg SHO files (`CNMS,FORF`).
    pub facilities: String,
}

impl ComputedSession {
    /// What a store writes for this session: the rows, and the week's record as `write` says.
    pub fn commit(&self, write: WeekWrite) -> SessionCommit<'_> {
        SessionCommit::with_week(
            self.trade_date,
            &self.rows,
            self.week_start,
            &self.week,
            Some(write),
        )
    }
}

/// The result of asking for one date.
#[derive(Debug, Clone)]
pub enum SessionOutcome {
    /// Not an NYSE session: nothing fetched, nothing written.
    Closed {
        /// The date asked for.
        trade_date: NaiveDate,
        /// Why the exchange is closed.
        reason: &'static str,
    },
    /// Fetched and computed.
    Computed {
        /// The session.
        session: Box<ComputedSession>,
        /// Set when it was written to a store.
        stored: Option<UpsertSummary>,
    },
}

impl Engine {
    /// **The session job**: computes `trade_date`'s features and, with a store, commits the rows
    /// and the week's `ats_weekly` record in one transaction.
    ///
    /// `symbols`: exactly these symbols; `None` means every symbol in the data plus every symbol
    /// the store already holds for the date (so they are refreshed too).
    pub async fn session(
        &self,
        trade_date: NaiveDate,
        symbols: Option<&[String]>,
        store: Option<&dyn Store>,
    ) -> Result<SessionOutcome, EngineError> {
        if let Some(reason) = calendar::closure_reason(trade_date) {
            return Ok(SessionOutcome::Closed { trade_date, reason });
        }
        let stored_symbols = self.discover(trade_date, symbols, store).await?;
        let mut report = self.session_report(trade_date, symbols.map(<[String]>::len));
        let inputs = self.load(trade_date, &mut report).await?;
        let mut session = self.compute(
            trade_date,
            &inputs.regsho,
            &inputs.ats,
            symbols,
            &stored_symbols,
            report,
        );
        let stored = match store {
            Some(store) => {
                let stored = self.persist(store, &session).await?;
                self.record_due_short_interest(trade_date, store, &mut session.report)
                    .await;
                Some(stored)
            }
            None => None,
        };
        Ok(SessionOutcome::Computed {
            session: Box::new(session),
            stored,
        })
    }

    /// Stage 1: the symbols `store` already holds for `trade_date` when every symbol is wanted
    /// (`symbols` is `None`), so a re-run refreshes them too; otherwise none.
    pub async fn discover(
        &self,
        trade_date: NaiveDate,
        symbols: Option<&[String]>,
        store: Option<&dyn Store>,
    ) -> Result<Vec<String>, EngineError> {
        match (symbols, store) {
            (None, Some(store)) => Ok(store.discover_symbols(trade_date, Discovery::All).await?),
            _ => Ok(Vec::new()),
        }
    }

    /// Stage 2: every dataset's data for the session, fetched concurrently.
    pub async fn load(
        &self,
        trade_date: NaiveDate,
        report: &mut SessionReport,
    ) -> Result<SessionInputs, EngineError> {
        let (mut regsho_part, mut ats_part) = (SessionReport::default(), SessionReport::default());
        let (regsho, ats) = futures::try_join!(
            self.load_regsho(trade_date, &mut regsho_part),
            self.load_ats(trade_date, &mut ats_part)
        )?;
        report.absorb(regsho_part);
        report.absorb(ats_part);
        Ok(SessionInputs { regsho, ats })
    }

    /// Stage 2a: the day's Reg SHO data for the configured market.
    pub async fn load_regsho(
        &self,
        trade_date: NaiveDate,
        report: &mut SessionReport,
    ) -> Result<RegShoDay, EngineError> {
        let day = RegShoDaily.period(trade_date);
        RegShoDaily.load(self, day, Freshness::Cached, report).await
    }

    /// Stage 2b: the ATS week that holds the day (independent of stage 2a).
    pub async fn load_ats(
        &self,
        trade_date: NaiveDate,
        report: &mut SessionReport,
    ) -> Result<AtsLoad, EngineError> {
        let monday = OtcWeekly.period(trade_date);
        OtcWeekly
            .load(self, monday, Freshness::Cached, report)
            .await
    }

    /// Stage 2b as FINRA has the week now, bypassing every cache: the weekly ZIP is fetched again
    /// (its cached copy refreshed), and from the Query API the partitions and the week's tiers
    /// are asked for again. Catch-up sees FINRA's revisions so.
    pub async fn load_ats_fresh(
        &self,
        trade_date: NaiveDate,
        report: &mut SessionReport,
    ) -> Result<AtsLoad, EngineError> {
        let monday = OtcWeekly.period(trade_date);
        OtcWeekly.load(self, monday, Freshness::Fresh, report).await
    }

    /// Stage 3: the rows (ATS mapped onto the day's symbols) and the week's record.
    ///
    /// `symbols`: exactly these; `None`: every symbol in the data plus `stored_symbols`.
    pub fn compute(
        &self,
        trade_date: NaiveDate,
        regsho: &RegShoDay,
        ats: &AtsLoad,
        symbols: Option<&[String]>,
        stored_symbols: &[String],
        mut report: SessionReport,
    ) -> ComputedSession {
        let rows = assemble(
            trade_date,
            regsho,
            ats,
            symbols,
            stored_symbols,
            &mut report,
        );
        let (volumes, facilities) = daily_volumes(regsho, &rows);
        ComputedSession {
            volumes,
            facilities,
            trade_date,
            rows,
            report,
            week_start: calendar::week_start(trade_date),
            week: otc_weekly::week_record(ats, regsho),
            sources: sources_of(regsho, ats),
        }
    }

    /// Stage 4: commits a computed session (rows and, if the store has none yet, the week's
    /// record) in one transaction.
    ///
    /// A recorded week is left alone even when FINRA revised it since (see
    /// [`WeekWrite::IfAbsent`]); that is said in the log, since `offx catch-up` is what moves it.
    pub async fn persist(
        &self,
        store: &dyn Store,
        session: &ComputedSession,
    ) -> Result<UpsertSummary, EngineError> {
        persist(store, session).await
    }
}

/// [`Engine::persist`], for fronts that hold a computed session and a store but no engine.
pub async fn persist(
    store: &dyn Store,
    session: &ComputedSession,
) -> Result<UpsertSummary, EngineError> {
    let latest = session.week.iter().filter_map(|r| r.last_update).max();
    if latest.is_some() {
        let week = session.week_start;
        if let Some(recorded) = store.ats_weekly_last_update(&[week]).await?.get(&week) {
            if latest > *recorded {
                tracing::info!(
                    "FINRA revised the ATS week of {week} (or published more of it) since it \
                     was recorded (lastUpdateDate {}, recorded {}): `offx catch-up` \
                     recomputes the week's stored sessions",
                    latest.map(|d| d.to_string()).unwrap_or_default(),
                    recorded.map_or("none".to_string(), |d| d.to_string()),
                );
            }
        }
    }
    let stamped = Stamped::new(store, &session.sources).await?;
    let commit = session.commit(WeekWrite::IfAbsent).with_provenance(
        stamped
            .provenance()
            .with_volumes(&session.volumes, &session.facilities),
    );
    Ok(store.commit(&commit).await?)
}

/// Every source version a session's values come from: its Reg SHO files, then its ATS versions.
pub(crate) fn sources_of(regsho: &RegShoDay, ats: &AtsLoad) -> Vec<SourceVersion> {
    regsho.sources.iter().chain(&ats.sources).cloned().collect()
}

/// A session's source versions with their publication times settled against the ledger, and the
/// availability of each part.
pub(crate) struct Stamped {
    sources: Vec<SourceVersion>,
    short_available_at: Option<DateTime<Utc>>,
    ats_available_at: Option<DateTime<Utc>>,
}

impl Stamped {
    /// Bytes the ledger already holds keep the publication time first recorded for them (so a
    /// version known only by when offx first saw it does not move later on every fetch); each
    /// part is available at the latest publication time of its dataset's versions.
    pub(crate) async fn new(
        store: &dyn Store,
        sources: &[SourceVersion],
    ) -> Result<Stamped, StoreError> {
        let keys: Vec<(String, String)> = sources
            .iter()
            .map(|s| (s.dataset.clone(), s.name.clone()))
            .collect();
        let known = if keys.is_empty() {
            Vec::new()
        } else {
            store.ledger(&keys).await?
        };
        let sources: Vec<SourceVersion> = sources
            .iter()
            .map(|s| {
                let recorded = known.iter().find(|k| {
                    k.version.dataset == s.dataset
                        && k.version.name == s.name
                        && k.version.sha256 == s.sha256
                });
                match recorded {
                    Some(k) => SourceVersion {
                        published_at: k.version.published_at,
                        published_from: k.version.published_from,
                        ..s.clone()
                    },
                    None => s.clone(),
                }
            })
            .collect();
        let latest = |dataset: &str| {
            sources
                .iter()
                .filter(|s| s.dataset == dataset)
                .map(|s| s.published_at)
                .max()
        };
        Ok(Stamped {
            short_available_at: latest(regsho::INFO.name),
            ats_available_at: latest(otc_weekly::INFO.name),
            sources,
        })
    }

    /// What a commit records.
    pub(crate) fn provenance(&self) -> Provenance<'_> {
        Provenance {
            sources: &self.sources,
            short_available_at: self.short_available_at,
            ats_available_at: self.ats_available_at,
            volumes: &[],
            facilities: "",
        }
    }
}

/// Maps the ATS week onto the day's symbols and computes the rows.
pub(crate) fn assemble(
    trade_date: NaiveDate,
    regsho: &RegShoDay,
    ats: &AtsLoad,
    symbols: Option<&[String]>,
    extra_symbols: &[String],
    report: &mut SessionReport,
) -> Vec<FeatureRow> {
    let mut derived = FileQuality::new("computed features");
    let ats = match (&ats.week, ats.era) {
        (_, WeekEra::BeforeDataset) => AtsDay::never(),
        (Some(week), era) => {
            let mut day = AtsDay::map(week, regsho, ats.complete, &mut derived);
            // No non-ATS OTC volume yet: no denominator (see WeekEra).
            day.has_totals &= era == WeekEra::Full;
            day
        }
        (None, _) => AtsDay::not_published(),
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
