//! Many sessions at once: a date range, streamed, resumable, each weekly file fetched once.
//!
//! Sessions are computed `concurrency` at a time but committed in date order, one store
//! transaction per session, so an interruption (Ctrl-C, a failed session) leaves whole sessions
//! behind and nothing half-written. A re-run skips the sessions the store already holds (unless
//! forced). The ATS week is fetched once and shared by the sessions of that week; it is dropped
//! when the range moves past it, so memory stays flat however long the range. Each week is
//! recorded in `ats_weekly` once, after its last session's rows: always when the run computed
//! every session of the week, else only if the store has no record of the week yet (see
//! [`record_new_ats_week`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::calendar;
use crate::features::{AtsWeeklyRow, FeatureRow, RegShoDay};
use crate::session::{
    assemble, ats_weekly_rows, record_new_ats_week, AtsLoad, Engine, EngineError, SessionReport,
};
use crate::store::{Discovery, Store, StoreError, UpsertSummary};

/// How to run a backfill.
#[derive(Debug, Clone, Copy)]
pub struct BackfillOptions {
    /// Sessions prepared at once (each fetches its day's files concurrently).
    pub concurrency: usize,
    /// Redo sessions the store already holds.
    pub force: bool,
}

/// Progress, reported as it happens.
#[derive(Debug)]
pub enum BackfillEvent<'a> {
    /// The plan: sessions to run, and those skipped because the store has them.
    Planned {
        to_run: usize,
        already_stored: usize,
    },
    /// One session committed.
    Stored {
        trade_date: NaiveDate,
        stored: &'a UpsertSummary,
        report: &'a SessionReport,
    },
}

/// What a backfill did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackfillSummary {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub sessions_in_range: usize,
    pub sessions_stored: usize,
    pub sessions_already_stored: usize,
    pub rows_written: usize,
    pub rows_inserted: usize,
    pub rows_updated: usize,
    pub files_fetched: usize,
    pub files_missing: usize,
    pub interrupted: bool,
    #[serde(skip)]
    pub elapsed: Duration,
}

/// A backfill that stopped on a failed session; `summary` says what was committed before it.
#[derive(Debug, thiserror::Error)]
#[error("session {trade_date} failed ({}); {} earlier sessions stay committed, re-run to resume: {error}", if *rows_committed { "its rows were committed, its week's ats_weekly record was not" } else { "nothing of it was written" }, summary.sessions_stored)]
pub struct BackfillError {
    pub trade_date: NaiveDate,
    pub error: EngineError,
    pub summary: BackfillSummary,
    /// The session's rows were committed; what failed was recording its week in `ats_weekly`
    /// after the last session (catch-up records it later).
    pub rows_committed: bool,
}

/// One week's ATS data and its report lines, shared by the week's sessions.
type AtsShared = Arc<(AtsLoad, SessionReport)>;
type WeekCell = Arc<OnceCell<AtsShared>>;
type Weeks = Arc<Mutex<HashMap<NaiveDate, WeekCell>>>;

/// Runs every NYSE session in `from..=to` into `store`, stopping cleanly when `interrupt`
/// completes (after the session being committed).
pub async fn backfill(
    engine: &Engine,
    store: &dyn Store,
    from: NaiveDate,
    to: NaiveDate,
    options: BackfillOptions,
    interrupt: impl Future<Output = ()>,
    on_event: &mut (dyn FnMut(BackfillEvent<'_>) + Send),
) -> Result<BackfillSummary, BackfillError> {
    let started = Instant::now();
    let sessions: Vec<NaiveDate> = calendar::sessions_between(from, to).collect();
    let mut summary = BackfillSummary {
        from: Some(from),
        to: Some(to),
        sessions_in_range: sessions.len(),
        ..BackfillSummary::default()
    };
    let done = if options.force {
        Vec::new()
    } else {
        store
            .dates_with_rows(&sessions)
            .await
            .map_err(|e| BackfillError {
                trade_date: from,
                error: e.into(),
                summary: summary.clone(),
                rows_committed: false,
            })?
    };
    let to_run: Vec<NaiveDate> = sessions
        .iter()
        .copied()
        .filter(|d| !done.contains(d))
        .collect();
    summary.sessions_already_stored = sessions.len() - to_run.len();
    on_event(BackfillEvent::Planned {
        to_run: to_run.len(),
        already_stored: summary.sessions_already_stored,
    });

    // Sessions are prepared (fetched and parsed) on spawned tasks so downloads keep going while
    // the store commits; the store itself is only touched here, one session at a time.
    let weeks: Weeks = Arc::new(Mutex::new(HashMap::new()));
    let prepared = futures::stream::iter(to_run)
        .map(|date| {
            let (engine, weeks) = (engine.clone(), Arc::clone(&weeks));
            tokio::spawn(async move { prepare(&engine, date, &weeks, !options.force).await })
        })
        .buffered(options.concurrency.max(1));
    futures::pin_mut!(prepared);
    futures::pin_mut!(interrupt);
    let mut open: Option<OpenWeek> = None;
    loop {
        let next = tokio::select! {
            biased;
            () = &mut interrupt => {
                summary.interrupted = true;
                break;
            }
            next = prepared.next() => next,
        };
        let Some(joined) = next else { break };
        let (date, regsho, ats, mut report, computed) = match joined {
            Ok(Ok(prepared)) => prepared,
            Ok(Err((date, error))) => return Err(failed(date, error, summary, started)),
            Err(panic) => std::panic::resume_unwind(panic.into_panic()),
        };
        let monday = calendar::week_start(date);
        if let Some(done) = open.take_if(|w| w.monday != monday) {
            if let Err(e) = done.record(store).await {
                return Err(failed(date, e.into(), summary, started));
            }
        }
        // A forced run over stored sessions adds the symbols the store holds; otherwise the
        // session was computed on its task, off this loop.
        let rows = match computed {
            Some(rows) => rows,
            None => {
                let stored_symbols = match store.discover_symbols(date, Discovery::All).await {
                    Ok(symbols) => symbols,
                    Err(e) => return Err(failed(date, e.into(), summary, started)),
                };
                assemble(date, &regsho, &ats.0, None, &stored_symbols, &mut report)
            }
        };
        let stored = match store.upsert(date, &rows).await {
            Ok(stored) => stored,
            Err(e) => return Err(failed(date, e.into(), summary, started)),
        };
        summary.sessions_stored += 1;
        summary.rows_written += stored.rows;
        summary.rows_inserted += stored.inserted;
        summary.rows_updated += stored.updated;
        summary.files_fetched += report.files_fetched();
        summary.files_missing += report.files_missing();
        on_event(BackfillEvent::Stored {
            trade_date: date,
            stored: &stored,
            report: &report,
        });
        let week = open.get_or_insert_with(|| OpenWeek {
            monday,
            rows: ats_weekly_rows(&ats.0, &regsho),
            committed: 0,
            last_date: date,
        });
        week.committed += 1;
        week.last_date = date;
        // Weeks before this one are finished: let their ATS data go.
        if let Ok(mut weeks) = weeks.lock() {
            weeks.retain(|week, _| *week >= monday);
        }
    }
    if let Some(week) = open {
        let last_date = week.last_date;
        if let Err(e) = week.record(store).await {
            let mut error = failed(last_date, e.into(), summary, started);
            error.rows_committed = true;
            return Err(error);
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn failed(
    date: NaiveDate,
    error: EngineError,
    mut summary: BackfillSummary,
    started: Instant,
) -> BackfillError {
    summary.elapsed = started.elapsed();
    BackfillError {
        trade_date: date,
        error,
        summary,
        rows_committed: false,
    }
}

/// The week whose sessions are being committed, recorded in `ats_weekly` once the run moves
/// past it (one write per week, after its sessions' rows).
struct OpenWeek {
    monday: NaiveDate,
    /// Mapped with the Reg SHO day of the week's first committed session.
    rows: Vec<AtsWeeklyRow>,
    /// Sessions of the week committed by this run.
    committed: usize,
    last_date: NaiveDate,
}

impl OpenWeek {
    /// When this run computed every session of the week, the stored values all reflect these
    /// rows: the record is (re)written. Otherwise only a week with no record yet is recorded
    /// ([`record_new_ats_week`]): other stored sessions may reflect an older version.
    async fn record(self, store: &dyn Store) -> Result<(), StoreError> {
        if self.committed == calendar::sessions_of_week(self.monday).len() && !self.rows.is_empty()
        {
            store.upsert_ats_weekly(self.monday, &self.rows).await?;
        } else {
            record_new_ats_week(store, &self.rows).await?;
        }
        Ok(())
    }
}

/// A session fetched and parsed, and computed too when no stored symbols need adding.
type Prepared = (
    NaiveDate,
    RegShoDay,
    AtsShared,
    SessionReport,
    Option<Vec<FeatureRow>>,
);

/// Fetches and parses one session's files (the ATS week from, or into, the memo); with
/// `compute`, also computes its rows (a session the plan found empty in the store).
async fn prepare(
    engine: &Engine,
    date: NaiveDate,
    weeks: &Weeks,
    compute: bool,
) -> Result<Prepared, (NaiveDate, EngineError)> {
    let monday = calendar::week_start(date);
    let cell = match weeks.lock() {
        Ok(mut weeks) => Arc::clone(weeks.entry(monday).or_default()),
        Err(_) => Arc::new(OnceCell::new()),
    };
    let mut report = engine.new_report(date, None);
    let mut regsho_part = SessionReport::default();
    let ats_week = cell.get_or_try_init(|| async {
        let mut part = SessionReport::default();
        let load = engine.load_ats(date, &mut part).await?;
        Ok::<_, EngineError>(Arc::new((load, part)))
    });
    let (regsho, ats) = futures::try_join!(engine.load_regsho(date, &mut regsho_part), ats_week)
        .map_err(|e| (date, e))?;
    report.absorb(regsho_part);
    report.absorb(ats.1.clone());
    let rows = compute.then(|| assemble(date, &regsho, &ats.0, None, &[], &mut report));
    Ok((date, regsho, Arc::clone(ats), report, rows))
}
