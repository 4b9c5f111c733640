//! The backfill job: many sessions, streamed, resumable, each weekly file fetched once.
//!
//! Sessions are computed `concurrency` at a time but committed in date order, one store
//! transaction per session, so an interruption (Ctrl-C, a failed session, a killed process)
//! leaves whole sessions behind and nothing half-written. A re-run skips the sessions the store
//! already holds (unless forced). The ATS week is fetched once and shared by the sessions of that
//! week; it is dropped when the range moves past it, so memory stays flat however long the range.
//!
//! Every committed session has its week's `ats_weekly` record: the first session of a week this
//! run commits carries the record (written unless the store has one, see
//! [`WeekWrite::IfAbsent`]), and when the run computed every session of the week, the last one
//! rewrites it ([`WeekWrite::Replace`]): all stored values of the week then reflect it.
//! That rewrite is skipped when the record is the very rows this run's first session of the
//! week wrote.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::session::{assemble, sources_of, Stamped};
use super::short_interest::SettlementCounts;
use crate::calendar;
use crate::datasets::otc_weekly::{self, AtsLoad};
use crate::engine::{Engine, EngineError};
use crate::features::{FeatureRow, RegShoDay};
use crate::report::{SessionReport, SummaryLine};
use crate::store::{
    daily_volumes, AtsWeeklyRow, Discovery, RegShoDailyRow, SessionCommit, Store, UpsertSummary,
    WeekWrite,
};

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
        /// Sessions this run computes.
        to_run: usize,
        /// Sessions skipped because the store holds them.
        already_stored: usize,
    },
    /// One session committed.
    Stored {
        /// The session.
        trade_date: NaiveDate,
        /// What the store did.
        stored: &'a UpsertSummary,
        /// What was fetched and noticed.
        report: &'a SessionReport,
    },
}

/// What a backfill did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackfillSummary {
    /// First date of the range.
    pub from: Option<NaiveDate>,
    /// Last date of the range.
    pub to: Option<NaiveDate>,
    /// NYSE sessions in the range.
    pub sessions_in_range: usize,
    /// Sessions committed by this run.
    pub sessions_stored: usize,
    /// Sessions skipped because the store held them.
    pub sessions_already_stored: usize,
    /// Rows written.
    pub rows_written: usize,
    /// Rows that were new (0 with both counts 0: the store cannot tell, as over REST).
    pub rows_inserted: usize,
    /// Rows that replaced stored ones.
    pub rows_updated: usize,
    /// Files (or API partitions) read.
    pub files_fetched: usize,
    /// Files FINRA has not published.
    pub files_missing: usize,
    /// Stopped by an interrupt after the last whole session.
    pub interrupted: bool,
    /// The short interest settlements the range sees (after the sessions).
    #[serde(default)]
    pub short_interest: SettlementCounts,
    /// Wall time.
    #[serde(rename = "elapsed_seconds", with = "seconds")]
    pub elapsed: Duration,
}

impl BackfillSummary {
    /// The summary for people, one `label | value` line each.
    pub fn lines(&self) -> Vec<SummaryLine> {
        let day = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        let split = if self.rows_inserted + self.rows_updated == self.rows_written {
            format!(
                "{} ({} inserted, {} updated)",
                self.rows_written, self.rows_inserted, self.rows_updated
            )
        } else {
            format!(
                "{} (the store does not report inserts and updates apart)",
                self.rows_written
            )
        };
        let mut lines = vec![
            SummaryLine::new("range", format!("{} .. {}", day(self.from), day(self.to))),
            SummaryLine::new("sessions in range", self.sessions_in_range),
            SummaryLine::new("sessions stored", self.sessions_stored),
            SummaryLine::new(
                "sessions already stored (skipped)",
                self.sessions_already_stored,
            ),
            SummaryLine::new("rows written", split),
            SummaryLine::new("files fetched", self.files_fetched),
            SummaryLine::new("files not published", self.files_missing),
        ];
        if !self.elapsed.is_zero() {
            let secs = self.elapsed.as_secs_f64();
            lines.push(SummaryLine::new("elapsed", format!("{secs:.2} s")));
            lines.push(SummaryLine::new(
                "throughput",
                format!(
                    "{:.1} sessions/s, {:.0} rows/s",
                    self.sessions_stored as f64 / secs,
                    self.rows_written as f64 / secs
                ),
            ));
        }
        lines.push(self.short_interest.line());
        lines.push(SummaryLine::new(
            "interrupted",
            if self.interrupted {
                "yes: whole sessions kept, re-run to resume"
            } else {
                "no"
            },
        ));
        lines
    }
}

/// A backfill that stopped on a failed session; `summary` says what was committed before it.
#[derive(Debug, thiserror::Error)]
#[error("session {trade_date} failed (nothing of it was written); {} earlier sessions stay committed, re-run to resume: {error}", summary.sessions_stored)]
pub struct BackfillError {
    /// The session that failed.
    pub trade_date: NaiveDate,
    /// Why.
    pub error: EngineError,
    /// What the run committed before it.
    pub summary: BackfillSummary,
}

/// One week's ATS data and its report lines, shared by the week's sessions.
type AtsShared = Arc<(AtsLoad, SessionReport)>;
type WeekCell = Arc<OnceCell<AtsShared>>;
type Weeks = Arc<Mutex<HashMap<NaiveDate, WeekCell>>>;

/// A session fetched and parsed on its own task, and computed there too when no stored symbols
/// need adding, with the rest of what its commit writes: the loop that commits, one session at a
/// time, then only writes (that loop is a backfill's critical path; building 12,000 volume rows
/// or a week's record there held up every commit behind it).
struct Prepared {
    date: NaiveDate,
    regsho: RegShoDay,
    ats: AtsShared,
    report: SessionReport,
    computed: Option<Computed>,
    /// How this session writes its week's `ats_weekly` record, if it carries it.
    week_write: Option<WeekWrite>,
    /// That record: empty when this session does not carry it or the week is not published.
    week_rows: Vec<AtsWeeklyRow>,
}

/// A session's rows and the Reg SHO volumes behind them (`regsho_daily`) with their file set.
struct Computed {
    rows: Vec<FeatureRow>,
    volumes: Vec<RegShoDailyRow>,
    facilities: String,
}

impl Computed {
    fn of(regsho: &RegShoDay, rows: Vec<FeatureRow>) -> Computed {
        let (volumes, facilities) = daily_volumes(regsho, &rows);
        Computed {
            rows,
            volumes,
            facilities,
        }
    }
}

/// Which sessions of `to_run` (date order) carry their week's record: the first of each week
/// (written unless the store has one) and, when the run holds every session of a week, the last
/// (rewritten, so all the week's stored values reflect it). Decided from the plan: sessions commit
/// in date order and a failure ends the run, so the n-th planned session of a week is the n-th
/// this run commits.
fn week_writes(to_run: &[NaiveDate]) -> Vec<Option<WeekWrite>> {
    let mut out = Vec::with_capacity(to_run.len());
    let mut open_week: Option<(NaiveDate, usize)> = None;
    for &date in to_run {
        let monday = calendar::week_start(date);
        let before = match open_week {
            Some((week, n)) if week == monday => n,
            _ => 0,
        };
        out.push(if before + 1 == calendar::sessions_of_week(monday).len() {
            Some(WeekWrite::Replace)
        } else if before == 0 {
            Some(WeekWrite::IfAbsent)
        } else {
            None
        });
        open_week = Some((monday, before + 1));
    }
    out
}

/// The week write a session still needs: none for a `Replace` of the very rows this run
/// already recorded for the week (its first session found the week unrecorded and wrote them),
/// which would rewrite an identical record; a week's two writes were an eighth of a 20-session
/// backfill's SQLite time. Rows that differ (the day's Reg SHO spellings map an ATS symbol
/// otherwise) are written.
fn needed(
    write: Option<WeekWrite>,
    monday: NaiveDate,
    rows: &[AtsWeeklyRow],
    recorded: Option<&(NaiveDate, Vec<AtsWeeklyRow>)>,
) -> Option<WeekWrite> {
    match (write, recorded) {
        (Some(WeekWrite::Replace), Some((week, same))) if *week == monday && same == rows => None,
        _ => write,
    }
}

impl Engine {
    /// **The backfill job**: every NYSE session in `from..=to` into `store`, each committed with
    /// its week's record, stopping cleanly when `interrupt` completes (after the session being
    /// committed).
    pub async fn backfill(
        &self,
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
        let failed = |date: NaiveDate, error: EngineError, mut summary: BackfillSummary| {
            summary.elapsed = started.elapsed();
            BackfillError {
                trade_date: date,
                error,
                summary,
            }
        };
        let done = if options.force {
            Vec::new()
        } else {
            match store.dates_with_rows(&sessions).await {
                Ok(done) => done,
                Err(e) => return Err(failed(from, e.into(), summary)),
            }
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

        // Sessions are prepared (fetched and parsed) on spawned tasks so downloads keep going
        // while the store commits; the store itself is only touched here, one session at a time.
        let weeks: Weeks = Arc::new(Mutex::new(HashMap::new()));
        let writes = week_writes(&to_run);
        // The week record this run wrote last, and its rows (see `needed`).
        let mut recorded: Option<(NaiveDate, Vec<AtsWeeklyRow>)> = None;
        let prepared = futures::stream::iter(to_run.into_iter().zip(writes))
            .map(|(date, write)| {
                let (engine, weeks) = (self.clone(), Arc::clone(&weeks));
                tokio::spawn(
                    async move { prepare(&engine, date, &weeks, !options.force, write).await },
                )
            })
            .buffered(options.concurrency.max(1));
        futures::pin_mut!(prepared);
        futures::pin_mut!(interrupt);
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
            let Prepared {
                date,
                regsho,
                ats,
                mut report,
                computed,
                week_write,
                week_rows,
            } = match joined {
                Ok(Ok(prepared)) => prepared,
                Ok(Err((date, error))) => return Err(failed(date, error, summary)),
                Err(panic) => std::panic::resume_unwind(panic.into_panic()),
            };
            // A forced run over stored sessions adds the symbols the store holds; otherwise the
            // session was computed on its task, off this loop.
            let computed = match computed {
                Some(computed) => computed,
                None => match store.discover_symbols(date, Discovery::All).await {
                    Ok(stored) => Computed::of(
                        &regsho,
                        assemble(date, &regsho, &ats.0, None, &stored, &mut report),
                    ),
                    Err(e) => return Err(failed(date, e.into(), summary)),
                },
            };
            let monday = calendar::week_start(date);
            let stamped = match Stamped::new(store, &sources_of(&regsho, &ats.0)).await {
                Ok(stamped) => stamped,
                Err(e) => return Err(failed(date, e.into(), summary)),
            };
            let Computed {
                rows,
                volumes,
                facilities,
            } = &computed;
            let week_write = needed(week_write, monday, &week_rows, recorded.as_ref());
            let commit = SessionCommit::with_week(date, rows, monday, &week_rows, week_write)
                .with_provenance(stamped.provenance().with_volumes(volumes, facilities));
            let stored = match store.commit(&commit).await {
                Ok(stored) => stored,
                Err(e) => return Err(failed(date, e.into(), summary)),
            };
            if stored.week_recorded {
                recorded = Some((monday, week_rows));
            }
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
            // Weeks before this one are finished: let their ATS data go.
            if let Ok(mut weeks) = weeks.lock() {
                weeks.retain(|week, _| *week >= monday);
            }
        }
        if !summary.interrupted {
            let covered = self
                .cover_short_interest(store, from, to, false, chrono::Utc::now())
                .await;
            summary.short_interest = SettlementCounts::of(covered);
        }
        summary.elapsed = started.elapsed();
        Ok(summary)
    }
}

/// Fetches and parses one session's files (the ATS week from, or into, the memo); with
/// `compute`, also computes its rows (a session the plan found empty in the store).
async fn prepare(
    engine: &Engine,
    date: NaiveDate,
    weeks: &Weeks,
    compute: bool,
    week_write: Option<WeekWrite>,
) -> Result<Prepared, (NaiveDate, EngineError)> {
    let monday = calendar::week_start(date);
    let cell = match weeks.lock() {
        Ok(mut weeks) => Arc::clone(weeks.entry(monday).or_default()),
        Err(_) => Arc::new(OnceCell::new()),
    };
    let mut report = engine.session_report(date, None);
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
    let computed = compute.then(|| {
        Computed::of(
            &regsho,
            assemble(date, &regsho, &ats.0, None, &[], &mut report),
        )
    });
    let week_rows = match week_write {
        Some(_) => otc_weekly::week_record(&ats.0, &regsho),
        None => Vec::new(),
    };
    Ok(Prepared {
        date,
        regsho,
        ats: Arc::clone(ats),
        report,
        computed,
        week_write,
        week_rows,
    })
}

/// A duration as fractional seconds in JSON (`elapsed_seconds`).
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Ok(Duration::try_from_secs_f64(secs).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    #[test]
    fn the_first_planned_session_of_a_week_carries_its_record_and_a_whole_week_rewrites_it() {
        // 2024-01-01 is New Year's Day: that week has four sessions, all planned; the next week
        // is planned from its Wednesday (Monday and Tuesday already stored), so it is not whole.
        let plan: Vec<NaiveDate> = calendar::sessions_between(d("2024-01-02"), d("2024-01-12"))
            .filter(|day| ![d("2024-01-08"), d("2024-01-09")].contains(day))
            .collect();
        let writes: Vec<(String, Option<WeekWrite>)> = plan
            .iter()
            .map(|day| day.to_string())
            .zip(week_writes(&plan))
            .collect();
        use WeekWrite::{IfAbsent, Replace};
        let expected = [
            ("2024-01-02", Some(IfAbsent)),
            ("2024-01-03", None),
            ("2024-01-04", None),
            ("2024-01-05", Some(Replace)),
            ("2024-01-10", Some(IfAbsent)),
            ("2024-01-11", None),
            ("2024-01-12", None),
        ];
        let expected: Vec<(String, Option<WeekWrite>)> = expected
            .iter()
            .map(|(day, w)| (day.to_string(), *w))
            .collect();
        assert_eq!(writes, expected);
        // One planned session of a four-session week carries the record, and does not rewrite it.
        assert_eq!(week_writes(&[d("2024-01-02")]), [Some(IfAbsent)]);
    }

    #[test]
    fn a_whole_week_is_not_rewritten_with_the_rows_this_run_recorded() {
        use crate::parse::ats::Carrier;
        use WeekWrite::{IfAbsent, Replace};
        let monday = d("2024-01-08");
        let row = |symbol: &str| AtsWeeklyRow {
            symbol: symbol.into(),
            week_start: monday,
            tier: "T1".into(),
            ats_shares: Some(crate::volume::Volume::ZERO),
            otc_shares: None,
            last_update: None,
            initial_published: None,
            source: Carrier::Zip,
        };
        let ours = (monday, vec![row("BRK.B")]);
        let same = [row("BRK.B")];
        // The day's Reg SHO spelling mapped the ATS symbol otherwise: the record changes.
        let respelled = [row("BRK/B")];
        let earlier = (d("2024-01-01"), vec![row("BRK.B")]);
        assert_eq!(needed(Some(Replace), monday, &same, Some(&ours)), None);
        assert_eq!(
            needed(Some(Replace), monday, &respelled, Some(&ours)),
            Some(Replace)
        );
        assert_eq!(
            needed(Some(Replace), monday, &same, Some(&earlier)),
            Some(Replace)
        );
        assert_eq!(needed(Some(Replace), monday, &same, None), Some(Replace));
        assert_eq!(
            needed(Some(IfAbsent), monday, &same, Some(&ours)),
            Some(IfAbsent)
        );
        assert_eq!(needed(None, monday, &same, Some(&ours)), None);
    }
}
