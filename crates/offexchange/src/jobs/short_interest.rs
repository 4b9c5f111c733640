//! The short interest jobs: record a settlement when FINRA publishes it, cover a range of days,
//! and read it back as a day saw it.
//!
//! A settlement is stored once per version: fetched, mapped onto the settlement day's Reg SHO
//! spelling, and committed with its ledger row in one transaction. A version already in the
//! ledger is not fetched again unless asked (catch-up re-reads recent settlements, where FINRA's
//! revisions land).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::datasets::regsho::RegShoDaily;
use crate::datasets::short_interest::{
    self as dataset, publication_date, settlements_for, ShortInterest,
};
use crate::datasets::Dataset;
use crate::engine::{Engine, EngineError, Freshness};
use crate::provenance::PublishedFrom;
use crate::report::{SessionReport, SummaryLine};
use crate::store::{Discovery, SettlementVersion, ShortInterestRow, Store, StoreError};

/// What happened to one settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementState {
    /// A new version was stored.
    Stored,
    /// The version read (or, not re-read, the one in the ledger) was already stored.
    AlreadyStored,
    /// FINRA has not published it (yet).
    NotPublished,
}

/// One settlement's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SettlementOutcome {
    /// The settlement date.
    pub settlement: NaiveDate,
    /// What happened.
    pub state: SettlementState,
    /// Rows stored (0 unless [`SettlementState::Stored`]).
    pub rows: usize,
    /// Files read, coverage and findings.
    pub report: SessionReport,
}

/// What covering a range of days did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShortInterestSummary {
    /// Each settlement the range sees, in order.
    pub settlements: Vec<SettlementOutcome>,
}

impl ShortInterestSummary {
    /// Settlements in a state.
    pub fn count(&self, state: SettlementState) -> usize {
        self.settlements.iter().filter(|s| s.state == state).count()
    }

    /// The counts a backfill or catch-up summary carries.
    pub fn counts(&self) -> SettlementCounts {
        SettlementCounts {
            stored: self.count(SettlementState::Stored),
            already_stored: self.count(SettlementState::AlreadyStored),
            not_published: self
                .settlements
                .iter()
                .filter(|s| s.state == SettlementState::NotPublished)
                .map(|s| s.settlement)
                .collect(),
            error: None,
        }
    }
}

/// Short interest settlements a backfill or catch-up covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementCounts {
    /// Settlements (or revisions of them) stored by this run.
    pub stored: usize,
    /// Settlements the store already held.
    pub already_stored: usize,
    /// Settlements due that FINRA has not published.
    pub not_published: Vec<NaiveDate>,
    /// Why short interest could not be covered (the sessions are committed regardless; a re-run
    /// tries again).
    pub error: Option<String>,
}

impl SettlementCounts {
    /// The counts of `result`, or its error.
    pub fn of(result: Result<ShortInterestSummary, EngineError>) -> SettlementCounts {
        match result {
            Ok(summary) => summary.counts(),
            Err(e) => {
                tracing::warn!("short interest not covered: {e}");
                SettlementCounts {
                    error: Some(e.to_string()),
                    ..SettlementCounts::default()
                }
            }
        }
    }

    /// One line for people: `3 stored, 1 already stored, 1 not published (2024-02-29)`.
    pub fn line(&self) -> SummaryLine {
        let mut text = format!(
            "{} stored, {} already stored, {} not published",
            self.stored,
            self.already_stored,
            self.not_published.len()
        );
        if !self.not_published.is_empty() {
            let days: Vec<String> = self.not_published.iter().map(|d| d.to_string()).collect();
            text.push_str(&format!(" ({})", days.join(", ")));
        }
        if let Some(e) = &self.error {
            text = format!("failed: {e} (re-run to try again)");
        }
        SummaryLine::new("short interest settlements", text)
    }
}

impl Engine {
    /// **Records one settlement**: unless `refresh`, a settlement the ledger already holds is
    /// not fetched again (with it, FINRA is asked again and a revision stored as a new
    /// version). Without a store, loads and maps only.
    pub async fn record_settlement(
        &self,
        settlement: NaiveDate,
        store: Option<&dyn Store>,
        refresh: bool,
    ) -> Result<(SettlementOutcome, Vec<ShortInterestRow>), EngineError> {
        let freshness = if refresh {
            Freshness::Fresh
        } else {
            Freshness::Cached
        };
        let mut report = self.session_report(settlement, None);
        let outcome = |state, rows, report| SettlementOutcome {
            settlement,
            state,
            rows,
            report,
        };
        // The ledger's versions, read once: a settlement it holds is not fetched again unless
        // refreshing, and a version read again is not stored twice.
        let known = match store {
            Some(store) => {
                store
                    .short_interest_versions(settlement, settlement)
                    .await?
            }
            None => Vec::new(),
        };
        if freshness == Freshness::Cached && !known.is_empty() {
            return Ok((
                outcome(SettlementState::AlreadyStored, 0, report),
                Vec::new(),
            ));
        }
        let load = ShortInterest
            .load(self, settlement, freshness, &mut report)
            .await?;
        let Some((file, mut version)) = load.file else {
            return Ok((
                outcome(SettlementState::NotPublished, 0, report),
                Vec::new(),
            ));
        };
        if known.iter().any(|v| v.version.sha256 == version.sha256) {
            return Ok((
                outcome(SettlementState::AlreadyStored, 0, report),
                Vec::new(),
            ));
        }
        // The schedule dates only a settlement's first version: a revision found later was not
        // knowable on the scheduled day, so it is dated when first seen.
        if !known.is_empty() && version.published_from == PublishedFrom::Schedule {
            version.published_at = Utc::now();
            version.published_from = PublishedFrom::FirstSeen;
        }
        let regsho = self.regsho_symbols(settlement, store).await?;
        let symbols: HashSet<&str> = regsho.iter().map(String::as_str).collect();
        let rows = dataset::stored_rows(&file, &version, &symbols, &mut report);
        let Some(store) = store else {
            return Ok((outcome(SettlementState::Stored, 0, report), rows));
        };
        let written = store
            .commit_short_interest(settlement, &version, &rows)
            .await?;
        Ok((outcome(SettlementState::Stored, written, report), rows))
    }

    /// **Covers `from..=to`**: every settlement those days see ([`settlements_for`]) that is due
    /// by `now`, recorded unless stored. With `refresh_recent`, settlements published in the 35
    /// days before `now` are read again, so a revision is stored as a new version.
    pub async fn cover_short_interest(
        &self,
        store: &dyn Store,
        from: NaiveDate,
        to: NaiveDate,
        refresh_recent: bool,
        now: DateTime<Utc>,
    ) -> Result<ShortInterestSummary, EngineError> {
        let today = now.date_naive();
        let mut summary = ShortInterestSummary::default();
        for settlement in settlements_for(from, to.min(today)) {
            let published = publication_date(settlement);
            if published > today {
                continue;
            }
            let refresh = refresh_recent && published + Duration::days(35) >= today;
            let (outcome, _) = self
                .record_settlement(settlement, Some(store), refresh)
                .await?;
            summary.settlements.push(outcome);
        }
        Ok(summary)
    }

    /// **Stage 5 of a stored session**: the settlement due by `trade_date` (and the one before,
    /// in case a run was missed) recorded when the store lacks it. A failure is reported, not
    /// raised: the session is committed, and the next session or a catch-up tries again.
    ///
    /// Returns a line per settlement it acted on. Only what is missing (not published yet, or
    /// failed) also goes into the session's coverage, which fronts show as warnings; a stored
    /// settlement is logged at info level.
    pub async fn record_due_short_interest(
        &self,
        trade_date: NaiveDate,
        store: &dyn Store,
        report: &mut SessionReport,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        let mut due = settlements_for(trade_date - Duration::days(20), trade_date);
        let keep_from = due.len().saturating_sub(2);
        for settlement in due.drain(keep_from..) {
            match self.record_settlement(settlement, Some(store), false).await {
                Ok((outcome, _)) => match outcome.state {
                    SettlementState::Stored => {
                        let line = format!(
                            "short interest of settlement {settlement}: {} rows stored",
                            outcome.rows
                        );
                        tracing::info!("{line}");
                        lines.push(line);
                    }
                    SettlementState::NotPublished => {
                        let line = format!(
                            "short interest of settlement {settlement}: due {}, not published yet",
                            publication_date(settlement)
                        );
                        report.coverage.push(line.clone());
                        lines.push(line);
                    }
                    SettlementState::AlreadyStored => {}
                },
                Err(e) => {
                    tracing::warn!("short interest of settlement {settlement} not recorded: {e}");
                    let line = format!(
                        "short interest of settlement {settlement} not recorded ({e}); the next \
                         session or offx catch-up tries again"
                    );
                    report.coverage.push(line.clone());
                    lines.push(line);
                }
            }
        }
        lines
    }

    /// The Reg SHO symbols to map FINRA's short interest spelling onto, cheapest first: those
    /// the store holds for the settlement day, else for its first stored session within a month
    /// after it (the sessions the settlement will be joined to), else the settlement day's own
    /// Reg SHO files.
    async fn regsho_symbols(
        &self,
        date: NaiveDate,
        store: Option<&dyn Store>,
    ) -> Result<Vec<String>, EngineError> {
        if let Some(store) = store {
            let month: Vec<NaiveDate> =
                crate::calendar::sessions_between(date, date + Duration::days(31)).collect();
            if let Some(&stored) = store.dates_with_rows(&month).await?.iter().min() {
                return Ok(store.discover_symbols(stored, Discovery::All).await?);
            }
        }
        let mut scratch = SessionReport::default();
        let day = RegShoDaily
            .load(self, date, Freshness::Cached, &mut scratch)
            .await?;
        Ok(day.volumes.into_keys().collect())
    }
}

/// The version of each settlement in `versions` a reader at `at` may know: the latest published
/// at or before `at`. Sorted by settlement.
pub fn known_at(
    versions: &[SettlementVersion],
    at: Option<DateTime<Utc>>,
) -> Vec<&SettlementVersion> {
    let mut best: Vec<&SettlementVersion> = Vec::new();
    let mut sorted: Vec<&SettlementVersion> = versions
        .iter()
        .filter(|v| at.is_none_or(|at| v.version.published_at <= at))
        .collect();
    sorted.sort_by_key(|v| (v.settlement_date, v.version.published_at));
    for v in sorted {
        match best.last_mut() {
            Some(last) if last.settlement_date == v.settlement_date => *last = v,
            _ => best.push(v),
        }
    }
    best
}

/// What `offx short-interest` asks for.
#[derive(Debug, Clone)]
pub struct ShortInterestQuery {
    /// Only these symbols (Reg SHO spelling); `None`: all.
    pub symbols: Option<Vec<String>>,
    /// First settlement date.
    pub from: NaiveDate,
    /// Last settlement date.
    pub to: NaiveDate,
    /// As knowable at this time; `None`: the latest version of each settlement.
    pub as_of: Option<DateTime<Utc>>,
}

/// **Reads short interest back**: per settlement in the range, the version `query.as_of` allows,
/// its rows for the symbols asked; sorted by (symbol, settlement date).
pub async fn read_short_interest(
    store: &dyn Store,
    query: &ShortInterestQuery,
) -> Result<Vec<ShortInterestRow>, StoreError> {
    let versions = store.short_interest_versions(query.from, query.to).await?;
    let mut out = Vec::new();
    for v in known_at(&versions, query.as_of) {
        out.extend(
            store
                .read_short_interest(
                    v.settlement_date,
                    &v.version.sha256,
                    query.symbols.as_deref(),
                )
                .await?,
        );
    }
    out.sort_by(|a, b| {
        (a.symbol.as_bytes(), a.settlement_date).cmp(&(b.symbol.as_bytes(), b.settlement_date))
    });
    Ok(out)
}

/// The short interest a trade date sees in an export: per day, the latest settlement published
/// by that day's close (or by `as_of`, when earlier), in its latest version published by then.
/// Never a settlement published later, even one with an earlier settlement date. Rows of one
/// version at a time are held (one per symbol), so memory stays flat over any range.
pub(crate) struct SettlementJoin {
    /// Every stored version that may matter, by publication time.
    versions: Vec<SettlementVersion>,
    /// The version whose rows are held.
    held: Option<(NaiveDate, String)>,
    rows: HashMap<String, ShortInterestRow>,
}

/// How far before an export's first day a settlement may still be the one it sees: the previous
/// month's mid-month settlement, published by schedule before the day, is always within it.
const LOOKBACK_DAYS: i64 = 62;

impl SettlementJoin {
    /// The versions of every settlement an export over `from..=to` may see.
    pub(crate) async fn new(
        store: &dyn Store,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<SettlementJoin, StoreError> {
        let mut versions = store
            .short_interest_versions(from - Duration::days(LOOKBACK_DAYS), to)
            .await?;
        versions.sort_by_key(|v| v.version.published_at);
        Ok(SettlementJoin {
            versions,
            held: None,
            rows: HashMap::new(),
        })
    }

    /// The rows `trade_date` sees, by symbol (empty when no settlement was published by then).
    pub(crate) async fn at(
        &mut self,
        store: &dyn Store,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<&HashMap<String, ShortInterestRow>, StoreError> {
        let close = close_of_new_york_session(trade_date);
        let cutoff = as_of.map_or(close, |at| at.min(close));
        let known = self
            .versions
            .iter()
            .filter(|v| v.version.published_at <= cutoff);
        // The latest settlement, then its latest version (versions are by publication time).
        let latest = known.fold(None::<&SettlementVersion>, |best, v| match best {
            Some(b) if b.settlement_date > v.settlement_date => Some(b),
            _ => Some(v),
        });
        let wanted = latest.map(|v| (v.settlement_date, v.version.sha256.clone()));
        if wanted != self.held {
            self.rows = match &wanted {
                Some((settlement, sha)) => store
                    .read_short_interest(*settlement, sha, None)
                    .await?
                    .into_iter()
                    .map(|r| (r.symbol.clone(), r))
                    .collect(),
                None => HashMap::new(),
            };
            self.held = wanted;
        }
        Ok(&self.rows)
    }
}

/// 4 pm New York time on `date` (the close of a regular session), in UTC.
pub fn close_of_new_york_session(date: NaiveDate) -> DateTime<Utc> {
    crate::provenance::end_of_new_york_day(date) - Duration::hours(8)
}
