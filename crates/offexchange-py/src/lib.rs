//! # offexchange._core
//!
//! The compiled half of the `offexchange` Python package: the Rust engine behind a small, typed
//! surface. Python holds no logic of its own; it gets handles to Rust values and converts to
//! Python objects only where a caller asks for them.
//!
//! ```text
//!  Engine(**settings) ─► load_regsho(date) ─► RegShoDay ─┐
//!                     └► load_ats(date)    ─► AtsWeek   ─┴► assemble(...) ─► Features ─► to_dicts()
//!  open_store(url) ─► Store: discover_symbols(date) ─► Symbols,  upsert(Features) ─► summary
//!  Engine.backfill(start, end, store) / Engine.catch_up(store, until, days) ─► summary dict
//! ```
//!
//! Bulk work (`backfill`, `catch_up`) is the CLI's, run in Rust; their summaries reach Python
//! through serde, so fields the engine adds need no change here. `Engine(cache=...)` uses the
//! raw-file cache as the CLI's commands do (`read` for bulk work, `refresh` for daily runs).
//!
//! The handles (`RegShoDay`, `AtsWeek`, `Features`, `Symbols`) keep the data on the Rust side, so
//! a Prefect task can pass a day's 12,000 rows to the next one as one small object.
//!
//! Three rules hold for every entry point:
//! - the GIL is released while Rust works (network, parsing, stores), so Python threads (Prefect's
//!   task runner) run the Reg SHO and ATS steps side by side;
//! - all async work runs on one process-wide tokio runtime (a store's connection outlives a call);
//! - errors become the named exceptions of `offexchange.errors`, and a Rust panic becomes an
//!   `OffexchangeError`, never a `PanicException`.

mod convert;
mod errors;
mod runtime;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use offexchange::backfill::{self as bulk, BackfillEvent, BackfillOptions};
use offexchange::features::{Feature, FeatureRow};
use offexchange::session::{self, AtsLoad, SessionOutcome, SessionReport};
use offexchange::source::cache::RawCache;
use offexchange::store::{self, Discovery, Store, UpsertSummary};
use offexchange::{calendar, catch_up as late, config, features, Engine, Settings};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::convert::{date_to_py, extract_date, json_to_py};
use crate::errors::{backfill_error, config_error, engine_error, guard, store_error};
use crate::runtime::block_on;

/// How an engine uses the raw-file cache (`OFFX_CACHE_DIR`), as the CLI's commands do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CacheMode {
    /// Always fetch, refresh the cached copy (`offx enrich`).
    Refresh,
    /// Serve from the cache, fetch what it lacks (`offx backfill`, `offx catch-up`).
    Read,
}

impl CacheMode {
    fn as_str(self) -> &'static str {
        match self {
            CacheMode::Refresh => "refresh",
            CacheMode::Read => "read",
        }
    }
}

/// Engine settings: the CLI's environment variables, overridden by keyword arguments.
#[pyclass(module = "offexchange._core", name = "Engine", frozen)]
struct PyEngine {
    engine: Engine,
    /// The raw-file cache in use, if any: its mode and directory.
    cache: Option<(CacheMode, RawCache)>,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (*, base_url=None, market=None, timeout=None, retries=None, backoff=None, user_agent=None, api_base_url=None, ats_source=None, cache=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        base_url: Option<&Bound<'_, PyAny>>,
        market: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
        retries: Option<&Bound<'_, PyAny>>,
        backoff: Option<&Bound<'_, PyAny>>,
        user_agent: Option<&Bound<'_, PyAny>>,
        api_base_url: Option<&Bound<'_, PyAny>>,
        ats_source: Option<&Bound<'_, PyAny>>,
        cache: Option<&str>,
    ) -> PyResult<PyEngine> {
        guard(py, || {
            // Keyword arguments play the part of the CLI's flags: each one stands in for its
            // variable, and the same validation (and error naming the variable) applies.
            let mut overrides = BTreeMap::new();
            for (variable, value) in [
                (config::ENV_BASE_URL, base_url),
                (config::ENV_MARKET, market),
                (config::ENV_TIMEOUT, timeout),
                (config::ENV_RETRIES, retries),
                (config::ENV_BACKOFF, backoff),
                (config::ENV_USER_AGENT, user_agent),
                (config::ENV_API_BASE_URL, api_base_url),
                (config::ENV_ATS_SOURCE, ats_source),
            ] {
                if let Some(value) = value.filter(|v| !v.is_none()) {
                    overrides.insert(variable, value.str()?.to_string());
                }
            }
            config::load_dotenv();
            let settings = Settings::from_lookup(|name| {
                overrides
                    .get(name)
                    .cloned()
                    .or_else(|| std::env::var(name).ok())
            })
            .map_err(|e| config_error(py, &e))?;
            let mode = match cache.map(str::trim) {
                None | Some("off") => None,
                Some("read") => Some(CacheMode::Read),
                Some("refresh") => Some(CacheMode::Refresh),
                Some(other) => {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "cache: expected \"read\", \"refresh\", \"off\" or None, got {other:?}"
                    )))
                }
            };
            // The directory and TTL come from OFFX_CACHE_DIR / OFFX_CACHE_MISSING_TTL, as for
            // the CLI; OFFX_CACHE_DIR=off turns the cache off whatever the mode.
            let cache = match mode {
                Some(mode) => RawCache::from_lookup(|name| std::env::var(name).ok())
                    .map_err(|e| config_error(py, &e))?
                    .map(|dir| (mode, dir)),
                None => None,
            };
            // The HTTP client is built inside the runtime it will be used from.
            let engine = runtime::enter(|| Engine::new(settings))
                .map_err(|e| engine_error(py, &e))?
                .with_cache(
                    cache.as_ref().map(|(_, dir)| dir.clone()),
                    matches!(cache, Some((CacheMode::Read, _))),
                );
            Ok(PyEngine { engine, cache })
        })
    }

    /// The settings in force, as plain values (no secrets: FINRA needs none).
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let s = self.engine.settings();
            let dict = PyDict::new(py);
            dict.set_item("base_url", s.base_url.as_str())?;
            dict.set_item("market", s.market.to_string())?;
            dict.set_item("timeout", s.http.timeout.as_secs_f64())?;
            dict.set_item("retries", s.http.retries)?;
            dict.set_item("backoff", s.http.backoff.as_secs_f64())?;
            dict.set_item("user_agent", &s.http.user_agent)?;
            dict.set_item("api_base_url", s.api_base_url.as_str())?;
            dict.set_item("ats_source", s.ats_source.as_str())?;
            dict.set_item("effective_ats_source", s.effective_ats_source().as_str())?;
            match &self.cache {
                Some((mode, dir)) => {
                    dict.set_item("cache", mode.as_str())?;
                    dict.set_item("cache_dir", dir.root().to_string_lossy())?;
                }
                None => {
                    dict.set_item("cache", py.None())?;
                    dict.set_item("cache_dir", py.None())?;
                }
            }
            Ok(dict)
        })
    }

    /// Step 1: the day's Reg SHO files for the configured market, fetched and parsed.
    fn load_regsho(&self, py: Python<'_>, trade_date: &Bound<'_, PyAny>) -> PyResult<RegShoDay> {
        guard(py, || {
            let date = extract_date(trade_date)?;
            let engine = self.engine.clone();
            let (day, report) = block_on(py, async move {
                let mut report = SessionReport::default();
                let day = engine.load_regsho(date, &mut report).await?;
                Ok::<_, offexchange::EngineError>((day, report))
            })?
            .map_err(|e| engine_error(py, &e))?;
            Ok(RegShoDay {
                trade_date: date,
                market: self.engine.settings().market.to_string(),
                day: Arc::new(day),
                report,
            })
        })
    }

    /// Step 2 (independent of step 1): the ATS week containing the day, fetched and parsed.
    fn load_ats(&self, py: Python<'_>, trade_date: &Bound<'_, PyAny>) -> PyResult<AtsWeek> {
        guard(py, || {
            let date = extract_date(trade_date)?;
            let engine = self.engine.clone();
            let (load, report) = block_on(py, async move {
                let mut report = SessionReport::default();
                let load = engine.load_ats(date, &mut report).await?;
                Ok::<_, offexchange::EngineError>((load, report))
            })?
            .map_err(|e| engine_error(py, &e))?;
            Ok(AtsWeek {
                trade_date: date,
                load: Arc::new(load),
                report,
            })
        })
    }

    /// Step 3: the day's feature rows from steps 1 and 2 (no I/O).
    #[pyo3(signature = (regsho, ats, symbols=None, extra_symbols=None))]
    fn assemble(
        &self,
        py: Python<'_>,
        regsho: &RegShoDay,
        ats: &AtsWeek,
        symbols: Option<&Bound<'_, PyAny>>,
        extra_symbols: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Features> {
        guard(py, || {
            if regsho.trade_date != ats.trade_date {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "the Reg SHO day is {} but the ATS week was loaded for {}",
                    regsho.trade_date, ats.trade_date
                )));
            }
            let symbols = extract_symbols(symbols)?;
            let extra = extract_symbols(extra_symbols)?.unwrap_or_default();
            let date = regsho.trade_date;
            let mut report = self.engine.new_report(date, symbols.as_deref());
            report.absorb(regsho.report.clone());
            report.absorb(ats.report.clone());
            let (day, load) = (regsho.day.clone(), ats.load.clone());
            let (rows, report) = py.detach(move || {
                let rows =
                    session::assemble(date, &day, &load, symbols.as_deref(), &extra, &mut report);
                (rows, report)
            });
            Ok(Features::computed(date, rows, report, None))
        })
    }

    /// Steps 1 to 3 in one call, Reg SHO and ATS fetched concurrently. A day that is not an NYSE
    /// session gives an empty result with `closed` set, without fetching anything.
    #[pyo3(signature = (trade_date, symbols=None, extra_symbols=None))]
    fn compute(
        &self,
        py: Python<'_>,
        trade_date: &Bound<'_, PyAny>,
        symbols: Option<&Bound<'_, PyAny>>,
        extra_symbols: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Features> {
        guard(py, || {
            let date = extract_date(trade_date)?;
            let symbols = extract_symbols(symbols)?;
            let extra = extract_symbols(extra_symbols)?.unwrap_or_default();
            if let Some(reason) = calendar::closure_reason(date) {
                return Ok(Features::closed_day(date, reason));
            }
            let engine = self.engine.clone();
            let (rows, report) = block_on(py, async move {
                engine.compute(date, symbols.as_deref(), &extra).await
            })?
            .map_err(|e| engine_error(py, &e))?;
            Ok(Features::computed(date, rows, report, None))
        })
    }

    /// The whole session like `offx enrich`: compute, and write to `store` when given (its stored
    /// symbols join the computed ones when `symbols` is None).
    #[pyo3(signature = (trade_date, symbols=None, store=None))]
    fn run(
        &self,
        py: Python<'_>,
        trade_date: &Bound<'_, PyAny>,
        symbols: Option<&Bound<'_, PyAny>>,
        store: Option<&PyStore>,
    ) -> PyResult<Features> {
        guard(py, || {
            let date = extract_date(trade_date)?;
            let symbols = extract_symbols(symbols)?;
            let engine = self.engine.clone();
            let store = store.map(|s| s.store.clone());
            let outcome = block_on(py, async move {
                engine.run(date, symbols.as_deref(), store.as_deref()).await
            })?
            .map_err(|e| engine_error(py, &e))?;
            Ok(match outcome {
                SessionOutcome::Closed { trade_date, reason } => {
                    Features::closed_day(trade_date, reason)
                }
                SessionOutcome::Computed {
                    rows,
                    report,
                    stored,
                } => Features::computed(date, rows, *report, stored),
            })
        })
    }

    /// Like `offx catch-up`: fills `ats_share_of_total` (and whatever else the engine's catch-up
    /// refreshes) in the stored sessions of the `days` calendar days up to `until`, for the
    /// weeks FINRA has published since. Returns the engine's summary as a dict.
    #[pyo3(signature = (store, until, days=60))]
    fn catch_up<'py>(
        &self,
        py: Python<'py>,
        store: &PyStore,
        until: &Bound<'py, PyAny>,
        days: u16,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let until = extract_date(until)?;
            if !(1..=3660).contains(&days) {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "days: expected 1 to 3660, got {days}"
                )));
            }
            let engine = self.engine.clone();
            let store = store.store.clone();
            let summary = block_on(py, async move {
                late::catch_up(&engine, store.as_ref(), until, days).await
            })?
            .map_err(|e| engine_error(py, &e))?;
            serialized_to_py(py, &summary)
        })
    }

    /// Like `offx backfill`: every NYSE session of `start..=end` into `store`, `concurrency`
    /// sessions (and downloads) at once, committed in date order one session per transaction,
    /// each weekly ATS file fetched once; sessions the store already holds are skipped unless
    /// `force`. `on_session(dict)` is called after each commit. Ctrl-C (or an exception from
    /// `on_session`) stops after the session being committed, and is raised.
    #[pyo3(signature = (start, end, store, concurrency=4, force=false, on_session=None))]
    #[allow(clippy::too_many_arguments)]
    fn backfill<'py>(
        &self,
        py: Python<'py>,
        start: &Bound<'py, PyAny>,
        end: &Bound<'py, PyAny>,
        store: &PyStore,
        concurrency: usize,
        force: bool,
        on_session: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let (from, to) = (extract_date(start)?, extract_date(end)?);
            if from > to {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "start {from} is after end {to}"
                )));
            }
            if !(1..=64).contains(&concurrency) {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "concurrency: expected 1 to 64, got {concurrency}"
                )));
            }
            let engine = self.engine.clone().with_download_limit(concurrency);
            let store = store.store.clone();
            let callback: Option<Py<PyAny>> =
                on_session.filter(|c| !c.is_none()).map(Bound::unbind);
            // The first Python exception (Ctrl-C, or one raised by on_session) stops the run.
            let raised: Arc<Mutex<Option<PyErr>>> = Arc::new(Mutex::new(None));
            let stop = Arc::clone(&raised);
            let outcome = block_on(py, async move {
                let interrupt = async {
                    loop {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        // Signals are only delivered to the main thread; elsewhere this is a no-op.
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            remember(&stop, e);
                        }
                        if stop.lock().map_or(true, |e| e.is_some()) {
                            return;
                        }
                    }
                };
                let mut on_event = |event: BackfillEvent<'_>| {
                    let (
                        Some(callback),
                        BackfillEvent::Stored {
                            trade_date,
                            stored,
                            report,
                        },
                    ) = (&callback, event)
                    else {
                        return;
                    };
                    Python::attach(|py| {
                        let called = session_summary(py, trade_date, stored, report)
                            .and_then(|d| callback.call1(py, (d,)));
                        if let Err(e) = called {
                            remember(&stop, e);
                        }
                    });
                };
                let options = BackfillOptions { concurrency, force };
                bulk::backfill(
                    &engine,
                    store.as_ref(),
                    from,
                    to,
                    options,
                    interrupt,
                    &mut on_event,
                )
                .await
            })?;
            let pending = raised.lock().ok().and_then(|mut e| e.take());
            // What was committed stays committed, whatever is raised.
            match (outcome, pending) {
                (Err(failure), _) => Err(backfill_error(py, &failure)),
                (Ok(_), Some(raised)) => Err(raised),
                (Ok(summary), None) => {
                    let doc = serialized_to_py(py, &summary)?;
                    doc.set_item("elapsed_seconds", summary.elapsed.as_secs_f64())?;
                    Ok(doc)
                }
            }
        })
    }

    fn __repr__(&self) -> String {
        let s = self.engine.settings();
        format!(
            "Engine(base_url={:?}, market={:?})",
            s.base_url.as_str(),
            s.market.to_string()
        )
    }
}

/// A day's Reg SHO data (step 1), kept on the Rust side.
#[pyclass(module = "offexchange._core", frozen)]
struct RegShoDay {
    trade_date: NaiveDate,
    market: String,
    day: Arc<features::RegShoDay>,
    report: SessionReport,
}

#[pymethods]
impl RegShoDay {
    #[getter]
    fn trade_date<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        date_to_py(py, self.trade_date)
    }

    #[getter]
    fn market(&self) -> &str {
        &self.market
    }

    /// At least one of the market's files was published.
    #[getter]
    fn published(&self) -> bool {
        self.day.published
    }

    /// Every file of the market was published.
    #[getter]
    fn complete(&self) -> bool {
        self.day.complete
    }

    /// Number of symbols in the day's files.
    #[getter]
    fn symbol_count(&self) -> usize {
        self.day.volumes.len()
    }

    /// The symbols in the day's files, sorted.
    fn symbols(&self, py: Python<'_>) -> PyResult<Symbols> {
        guard(py, || {
            let mut list: Vec<String> = self.day.volumes.keys().cloned().collect();
            list.sort_unstable();
            Ok(Symbols::new(list))
        })
    }

    /// This step's part of the session report (files, coverage, data quality).
    #[getter]
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || report_to_py(py, &self.report))
    }

    fn __repr__(&self) -> String {
        format!(
            "<RegShoDay {} {}: {} symbols, {} of {} files>",
            self.trade_date,
            self.market,
            self.day.volumes.len(),
            self.report.files_fetched(),
            self.report.files.len()
        )
    }
}

/// The ATS week of a day (step 2), kept on the Rust side.
#[pyclass(module = "offexchange._core", frozen)]
struct AtsWeek {
    trade_date: NaiveDate,
    load: Arc<AtsLoad>,
    report: SessionReport,
}

#[pymethods]
impl AtsWeek {
    /// The session this week was loaded for.
    #[getter]
    fn trade_date<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        date_to_py(py, self.trade_date)
    }

    /// FINRA's `weekStartDate`: the Monday of the week.
    #[getter]
    fn week_start<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        date_to_py(py, calendar::week_start(self.trade_date))
    }

    #[getter]
    fn published(&self) -> bool {
        self.load.week.is_some()
    }

    #[getter]
    fn complete(&self) -> bool {
        self.load.complete
    }

    /// Number of ATS symbols in the week's file.
    #[getter]
    fn symbol_count(&self) -> usize {
        self.load.week.as_ref().map_or(0, |w| w.symbols.len())
    }

    #[getter]
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || report_to_py(py, &self.report))
    }

    fn __repr__(&self) -> String {
        format!(
            "<AtsWeek of {} (for {}): {}>",
            calendar::week_start(self.trade_date),
            self.trade_date,
            if self.load.week.is_some() {
                format!("{} symbols", self.symbol_count())
            } else {
                "not published".to_string()
            }
        )
    }
}

/// One session's feature rows (step 3), kept on the Rust side until `to_dicts()`.
#[pyclass(module = "offexchange._core", frozen)]
struct Features {
    trade_date: NaiveDate,
    closed: Option<&'static str>,
    rows: Arc<Vec<FeatureRow>>,
    report: SessionReport,
    stored: Option<UpsertSummary>,
}

impl Features {
    fn computed(
        trade_date: NaiveDate,
        rows: Vec<FeatureRow>,
        report: SessionReport,
        stored: Option<UpsertSummary>,
    ) -> Features {
        Features {
            trade_date,
            closed: None,
            rows: Arc::new(rows),
            report,
            stored,
        }
    }

    fn closed_day(trade_date: NaiveDate, reason: &'static str) -> Features {
        Features {
            trade_date,
            closed: Some(reason),
            rows: Arc::new(Vec::new()),
            report: SessionReport {
                trade_date: Some(trade_date),
                ..SessionReport::default()
            },
            stored: None,
        }
    }
}

#[pymethods]
impl Features {
    #[getter]
    fn trade_date<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        date_to_py(py, self.trade_date)
    }

    /// Why the day is not an NYSE session ("Saturday", "Good Friday", ...), else None.
    #[getter]
    fn closed(&self) -> Option<&'static str> {
        self.closed
    }

    /// The session report: files fetched and missing, coverage, data quality, symbol notes.
    #[getter]
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || report_to_py(py, &self.report))
    }

    /// What the store did (`Engine.run` with a store), else None.
    #[getter]
    fn stored<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        guard(py, || {
            self.stored
                .as_ref()
                .map(|s| summary_to_py(py, s))
                .transpose()
        })
    }

    /// Rows whose three features are all null.
    #[getter]
    fn null_rows(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| {
                r.short_vol_share.value().is_none()
                    && r.short_exempt_share.value().is_none()
                    && r.ats_share_of_total.value().is_none()
            })
            .count()
    }

    /// Rows with at least one feature pending (its FINRA file not published yet).
    #[getter]
    fn pending_rows(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| {
                r.short_vol_share.is_pending()
                    || r.short_exempt_share.is_pending()
                    || r.ats_share_of_total.is_pending()
            })
            .count()
    }

    /// The rows as `{"symbol", "trade_date", "short_vol_share", "short_exempt_share",
    /// "ats_share_of_total"}` dicts, sorted by symbol; a null or pending feature is None.
    fn to_dicts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        guard(py, || convert::rows_to_dicts(py, &self.rows))
    }

    fn __len__(&self) -> usize {
        self.rows.len()
    }

    fn __repr__(&self) -> String {
        match self.closed {
            Some(reason) => format!("<Features {}: closed ({reason})>", self.trade_date),
            None => format!("<Features {}: {} rows>", self.trade_date, self.rows.len()),
        }
    }
}

/// A list of symbols kept on the Rust side (a store's symbols for a day can be 12,000).
#[pyclass(module = "offexchange._core", frozen, sequence)]
struct Symbols {
    list: Arc<Vec<String>>,
}

impl Symbols {
    fn new(list: Vec<String>) -> Symbols {
        Symbols {
            list: Arc::new(list),
        }
    }
}

#[pymethods]
impl Symbols {
    #[new]
    fn py_new(symbols: &Bound<'_, PyAny>) -> PyResult<Symbols> {
        guard(symbols.py(), || {
            Ok(Symbols::new(
                extract_symbols(Some(symbols))?.unwrap_or_default(),
            ))
        })
    }

    fn to_list(&self) -> Vec<String> {
        self.list.as_ref().clone()
    }

    fn __len__(&self) -> usize {
        self.list.len()
    }

    fn __getitem__(&self, index: isize) -> PyResult<&str> {
        let len = self.list.len() as isize;
        let i = if index < 0 { index + len } else { index };
        if (0..len).contains(&i) {
            Ok(&self.list[i as usize])
        } else {
            Err(pyo3::exceptions::PyIndexError::new_err(
                "symbol index out of range",
            ))
        }
    }

    fn __contains__(&self, symbol: &str) -> bool {
        self.list.iter().any(|s| s == symbol)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.list.iter())?
            .try_iter()
            .map(Bound::into_any)
    }

    fn __repr__(&self) -> String {
        let head: Vec<&str> = self.list.iter().take(5).map(String::as_str).collect();
        let more = if self.list.len() > 5 { ", ..." } else { "" };
        format!("<Symbols {}: {}{more}>", self.list.len(), head.join(", "))
    }
}

/// A `daily_features` store (memory, SQLite, PostgreSQL, Supabase), opened once and reused.
#[pyclass(module = "offexchange._core", name = "Store", frozen)]
struct PyStore {
    store: Arc<dyn Store>,
    origin: String,
}

#[pymethods]
impl PyStore {
    /// The store, described without credentials (safe to log).
    #[getter]
    fn describe(&self) -> String {
        self.store.describe()
    }

    /// Where the choice came from: "argument" (an explicit URL), "OFFX_STORE", "DATABASE_URL", ...
    #[getter]
    fn origin(&self) -> &str {
        &self.origin
    }

    /// The symbols the store holds for `trade_date` (with `missing_only`: only rows with a null).
    #[pyo3(signature = (trade_date, missing_only=false))]
    fn discover_symbols(
        &self,
        py: Python<'_>,
        trade_date: &Bound<'_, PyAny>,
        missing_only: bool,
    ) -> PyResult<Symbols> {
        guard(py, || {
            let date = extract_date(trade_date)?;
            let which = if missing_only {
                Discovery::MissingFeatures
            } else {
                Discovery::All
            };
            let store = self.store.clone();
            let list = block_on(py, async move { store.discover_symbols(date, which).await })?
                .map_err(|e| store_error(py, &e))?;
            Ok(Symbols::new(list))
        })
    }

    /// Upserts rows: a `Features` result (pending cells never overwrite stored values), or
    /// feature dicts, where None likewise keeps a stored value. One transaction per date.
    fn upsert<'py>(
        &self,
        py: Python<'py>,
        rows: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let batches: Vec<(NaiveDate, Arc<Vec<FeatureRow>>)> =
                if let Ok(features) = rows.cast::<Features>() {
                    let f = features.get();
                    if f.rows.is_empty() {
                        Vec::new()
                    } else {
                        vec![(f.trade_date, f.rows.clone())]
                    }
                } else {
                    convert::dicts_to_rows(rows)?
                        .into_iter()
                        .map(|(date, rows)| (date, Arc::new(rows)))
                        .collect()
                };
            let store = self.store.clone();
            let total = block_on(py, async move {
                let mut total = UpsertSummary::default();
                for (date, rows) in batches {
                    let s = store.upsert(date, &rows).await?;
                    total.rows += s.rows;
                    total.inserted += s.inserted;
                    total.updated += s.updated;
                    total.batches += s.batches;
                    total.elapsed += s.elapsed;
                }
                Ok::<_, offexchange::StoreError>(total)
            })?
            .map_err(|e| store_error(py, &e))?;
            summary_to_py(py, &total)
        })
    }

    /// Which of `dates` the store already holds rows for (a backfill resumes after them).
    fn dates_with_rows<'py>(
        &self,
        py: Python<'py>,
        dates: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(py, || {
            let mut wanted = Vec::new();
            for item in dates.try_iter()? {
                wanted.push(extract_date(&item?)?);
            }
            let store = self.store.clone();
            let mut found = block_on(py, async move { store.dates_with_rows(&wanted).await })?
                .map_err(|e| store_error(py, &e))?;
            found.sort_unstable();
            found.dedup();
            let list = PyList::empty(py);
            for date in found {
                list.append(date_to_py(py, date)?)?;
            }
            Ok(list)
        })
    }

    /// The stored rows of `trade_date`, sorted by symbol, as feature dicts.
    fn read<'py>(
        &self,
        py: Python<'py>,
        trade_date: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(py, || {
            let date = extract_date(trade_date)?;
            let store = self.store.clone();
            let rows = block_on(py, async move { store.read(date).await })?
                .map_err(|e| store_error(py, &e))?;
            let rows: Vec<FeatureRow> = rows
                .into_iter()
                .map(|r| FeatureRow {
                    symbol: r.symbol,
                    trade_date: r.trade_date,
                    short_vol_share: r.short_vol_share.map_or(Feature::Null, Feature::Value),
                    short_exempt_share: r.short_exempt_share.map_or(Feature::Null, Feature::Value),
                    ats_share_of_total: r.ats_share_of_total.map_or(Feature::Null, Feature::Value),
                })
                .collect();
            convert::rows_to_dicts(py, &rows)
        })
    }

    fn __repr__(&self) -> String {
        format!("<Store {} (from {})>", self.store.describe(), self.origin)
    }
}

/// Opens the store the one selection rule names (`offexchange::store::choose`): `url` first,
/// then `OFFX_STORE`, `DATABASE_URL`, `SUPABASE_DB_URL`, Supabase REST credentials; None when
/// nothing is configured (the caller computes in memory).
#[pyfunction]
#[pyo3(signature = (url=None))]
fn open_store(py: Python<'_>, url: Option<String>) -> PyResult<Option<PyStore>> {
    guard(py, || {
        config::load_dotenv();
        let choice = store::choose(url.as_deref(), |k| std::env::var(k).ok(), None);
        let Some(url) = choice.url else {
            return Ok(None);
        };
        let opened = block_on(py, async move { store::open(&url).await })?
            .map_err(|e| store_error(py, &e))?;
        // The store layer speaks in the CLI's terms; for Python the explicit URL is an argument.
        let origin = match choice.origin.as_str() {
            "--store" => "argument".to_string(),
            _ => choice.origin,
        };
        Ok(Some(PyStore {
            store: Arc::from(opened),
            origin,
        }))
    })
}

/// The URL `open_store(url)` would open, and what chose it ("argument", "OFFX_STORE", ...);
/// None when nothing is configured. The URL may carry a password: pass it on, never log it.
#[pyfunction]
#[pyo3(signature = (url=None))]
fn store_choice(py: Python<'_>, url: Option<String>) -> PyResult<Option<(String, String)>> {
    guard(py, || {
        config::load_dotenv();
        let choice = store::choose(url.as_deref(), |k| std::env::var(k).ok(), None);
        let origin = match choice.origin.as_str() {
            "--store" => "argument".to_string(),
            _ => choice.origin,
        };
        Ok(choice.url.map(|url| (url, origin)))
    })
}

/// The NYSE sessions from `start` to `end`, both included, in order.
#[pyfunction]
fn trading_sessions<'py>(
    py: Python<'py>,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    guard(py, || {
        let (from, to) = (extract_date(start)?, extract_date(end)?);
        let list = PyList::empty(py);
        for date in calendar::sessions_between(from, to) {
            list.append(date_to_py(py, date)?)?;
        }
        Ok(list)
    })
}

/// Why `trade_date` is not an NYSE session ("Saturday", "Good Friday", ...), or None if it is one.
#[pyfunction]
fn closure_reason(py: Python<'_>, trade_date: &Bound<'_, PyAny>) -> PyResult<Option<&'static str>> {
    guard(py, || {
        Ok(calendar::closure_reason(extract_date(trade_date)?))
    })
}

/// A deliberate panic, so tests can check that it arrives as `OffexchangeError`.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>, message: &str) -> PyResult<()> {
    guard(py, || panic!("{message}"))
}

/// `symbols` arguments: None, a `Symbols`, or any iterable of str (but not a str itself).
fn extract_symbols(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if let Ok(symbols) = obj.cast::<Symbols>() {
        return Ok(Some(symbols.get().list.as_ref().clone()));
    }
    if obj.is_instance_of::<PyString>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "symbols: expected a list of symbols, not a single string",
        ));
    }
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        let item = item?;
        let symbol: String = item.extract().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "symbols: expected str items, got {}",
                item.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        out.push(symbol);
    }
    Ok(Some(out))
}

/// The report as a dict, plus what the Python side would otherwise recompute: file counts and
/// each data-quality entry's one-line summary.
fn report_to_py<'py>(py: Python<'py>, report: &SessionReport) -> PyResult<Bound<'py, PyAny>> {
    let mut value = serde_json::to_value(report)
        .map_err(|e| errors::internal(py, format!("cannot encode the report: {e}")))?;
    if let Some(map) = value.as_object_mut() {
        map.insert("files_fetched".into(), report.files_fetched().into());
        map.insert("files_missing".into(), report.files_missing().into());
        if let Some(serde_json::Value::Array(quality)) = map.get_mut("quality") {
            for (entry, q) in quality.iter_mut().zip(&report.quality) {
                if let Some(entry) = entry.as_object_mut() {
                    entry.insert("summary".into(), q.summary().into());
                    entry.insert("clean".into(), q.is_clean().into());
                    entry.insert("details".into(), q.details().into());
                }
            }
        }
    }
    json_to_py(py, &value)
}

/// A serializable engine value (a summary) as a dict, through its serde form: fields added to it
/// in Rust reach Python with no change here. Dates become ISO strings.
fn serialized_to_py<'py>(
    py: Python<'py>,
    value: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyDict>> {
    let value = serde_json::to_value(value)
        .map_err(|e| errors::internal(py, format!("cannot encode the summary: {e}")))?;
    Ok(json_to_py(py, &value)?.cast_into::<PyDict>()?)
}

/// What `backfill(on_session=...)` receives after each commit.
fn session_summary<'py>(
    py: Python<'py>,
    trade_date: NaiveDate,
    stored: &UpsertSummary,
    report: &SessionReport,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("trade_date", trade_date.to_string())?;
    dict.set_item("rows", stored.rows)?;
    dict.set_item("inserted", stored.inserted)?;
    dict.set_item("updated", stored.updated)?;
    dict.set_item("files_fetched", report.files_fetched())?;
    dict.set_item("files_missing", report.files_missing())?;
    dict.set_item("coverage", report.coverage.clone())?;
    Ok(dict)
}

/// Keeps the first Python exception raised during a backfill.
fn remember(slot: &Mutex<Option<PyErr>>, error: PyErr) {
    if let Ok(mut slot) = slot.lock() {
        slot.get_or_insert(error);
    }
}

fn summary_to_py<'py>(py: Python<'py>, s: &UpsertSummary) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("rows", s.rows)?;
    dict.set_item("inserted", s.inserted)?;
    dict.set_item("updated", s.updated)?;
    dict.set_item("batches", s.batches)?;
    dict.set_item("elapsed_ms", s.elapsed.as_secs_f64() * 1e3)?;
    Ok(dict)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyEngine>()?;
    m.add_class::<RegShoDay>()?;
    m.add_class::<AtsWeek>()?;
    m.add_class::<Features>()?;
    m.add_class::<Symbols>()?;
    m.add_class::<PyStore>()?;
    m.add_function(wrap_pyfunction!(open_store, m)?)?;
    m.add_function(wrap_pyfunction!(store_choice, m)?)?;
    m.add_function(wrap_pyfunction!(trading_sessions, m)?)?;
    m.add_function(wrap_pyfunction!(closure_reason, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    Ok(())
}
