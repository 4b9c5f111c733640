//! `Engine`: the Rust engine's jobs and session stages, for Python.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use offexchange::overrides::{self, Spelling, OVERRIDABLE};
use offexchange::source::cache::RawCache;
use offexchange::{BackfillEvent, BackfillOptions, Engine, SessionOutcome, SessionReport};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{extract_date, serialized_to_py, session_summary};
use crate::errors::{backfill_error, config_error, engine_error, guard};
use crate::handles::{extract_symbols, AtsWeek, Features, RegShoDay, Symbols};
use crate::runtime::{self, block_on};
use crate::store::PyStore;

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
pub struct PyEngine {
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
            let given = [
                base_url,
                market,
                timeout,
                retries,
                backoff,
                user_agent,
                api_base_url,
                ats_source,
            ];
            let mut values = BTreeMap::new();
            for (setting, value) in OVERRIDABLE.iter().zip(given) {
                if let Some(value) = value.filter(|v| !v.is_none()) {
                    values.insert(setting.variable, value.str()?.to_string());
                }
            }
            let settings = overrides::settings_with(&values, Spelling::Variable)
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

    /// The session job, like `offx enrich`: fetch, compute, and with `store` commit the rows and
    /// the week's `ats_weekly` record in one transaction (the store's symbols of the day join the
    /// computed ones when `symbols` is None). A day that is not an NYSE session gives an empty
    /// result with `closed` set, without fetching anything.
    #[pyo3(signature = (trade_date, symbols=None, store=None))]
    fn session(
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
                engine
                    .session(date, symbols.as_deref(), store.as_deref())
                    .await
            })?
            .map_err(|e| engine_error(py, &e))?;
            Ok(match outcome {
                SessionOutcome::Closed { trade_date, reason } => {
                    Features::closed_day(trade_date, reason)
                }
                SessionOutcome::Computed { session, stored } => {
                    Features::computed(*session, stored)
                }
            })
        })
    }

    /// The session job without a store: `session(trade_date, symbols)`.
    #[pyo3(signature = (trade_date, symbols=None))]
    fn compute(
        &self,
        py: Python<'_>,
        trade_date: &Bound<'_, PyAny>,
        symbols: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Features> {
        self.session(py, trade_date, symbols, None)
    }

    /// Stage 1: the symbols `store` already holds for the date when `symbols` is None (so a
    /// re-run refreshes them too); otherwise none.
    #[pyo3(signature = (trade_date, symbols=None, store=None))]
    fn discover(
        &self,
        py: Python<'_>,
        trade_date: &Bound<'_, PyAny>,
        symbols: Option<&Bound<'_, PyAny>>,
        store: Option<&PyStore>,
    ) -> PyResult<Symbols> {
        guard(py, || {
            let date = extract_date(trade_date)?;
            let symbols = extract_symbols(symbols)?;
            let engine = self.engine.clone();
            let store = store.map(|s| s.store.clone());
            let found = block_on(py, async move {
                engine
                    .discover(date, symbols.as_deref(), store.as_deref())
                    .await
            })?
            .map_err(|e| engine_error(py, &e))?;
            Ok(Symbols::new(found))
        })
    }

    /// Stage 2a: the day's Reg SHO files for the configured market, fetched and parsed.
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

    /// Stage 2b (independent of 2a): the ATS week containing the day, fetched and parsed.
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

    /// Stage 3: the day's feature rows and the week's `ats_weekly` record from stages 2a and 2b
    /// (no I/O). `stored_symbols`: stage 1's answer.
    #[pyo3(signature = (regsho, ats, symbols=None, stored_symbols=None))]
    fn assemble(
        &self,
        py: Python<'_>,
        regsho: &RegShoDay,
        ats: &AtsWeek,
        symbols: Option<&Bound<'_, PyAny>>,
        stored_symbols: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Features> {
        guard(py, || {
            if regsho.trade_date != ats.trade_date {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "the Reg SHO day is {} but the ATS week was loaded for {}",
                    regsho.trade_date, ats.trade_date
                )));
            }
            let symbols = extract_symbols(symbols)?;
            let stored = extract_symbols(stored_symbols)?.unwrap_or_default();
            let date = regsho.trade_date;
            let mut report = self
                .engine
                .session_report(date, symbols.as_ref().map(Vec::len));
            report.absorb(regsho.report.clone());
            report.absorb(ats.report.clone());
            let (engine, day, load) = (self.engine.clone(), regsho.day.clone(), ats.load.clone());
            let session = py.detach(move || {
                engine.compute(date, &day, &load, symbols.as_deref(), &stored, report)
            });
            Ok(Features::computed(session, None))
        })
    }

    /// Stage 4: commits a computed session to `store` (its rows and, when the store has no record
    /// of the week yet, the week's `ats_weekly` rows) in one transaction. Returns what the store
    /// did (`rows`, `inserted`, `updated`, `batches`, `elapsed_ms`).
    fn persist<'py>(
        &self,
        py: Python<'py>,
        store: &PyStore,
        features: &Features,
    ) -> PyResult<Bound<'py, PyDict>> {
        store.commit_features(py, features)
    }

    /// Stage 5 of a stored session: records FINRA's short interest settlement due by
    /// `trade_date` (and the one before) when the store lacks it, as `offx enrich` does after
    /// committing. Returns the report lines; a failure is a line, not an exception (the session
    /// is committed, and the next session or a catch-up tries again).
    fn record_short_interest(
        &self,
        py: Python<'_>,
        store: &PyStore,
        trade_date: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<String>> {
        guard(py, || {
            let date = extract_date(trade_date)?;
            let engine = self.engine.clone();
            let store = store.store.clone();
            let lines = block_on(py, async move {
                let mut report = SessionReport::default();
                engine
                    .record_due_short_interest(date, store.as_ref(), &mut report)
                    .await
            })?;
            Ok(lines)
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
                engine.catch_up(store.as_ref(), until, days).await
            })?
            .map_err(|e| engine_error(py, &e))?;
            serialized_to_py(py, &summary)
        })
    }

    /// Like `offx coverage`: every calendar date of `start..=end` with each dataset's state
    /// (stored, published_not_stored, not_yet_due, awaited, historic, before_dataset, failed),
    /// from the store and its provenance ledger; FINRA is asked only with `check`. Returns the
    /// engine's report as a dict (`days`, `counts`, ...).
    #[pyo3(signature = (store, start, end, check=false))]
    fn coverage<'py>(
        &self,
        py: Python<'py>,
        store: &PyStore,
        start: &Bound<'py, PyAny>,
        end: &Bound<'py, PyAny>,
        check: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let (from, to) = (extract_date(start)?, extract_date(end)?);
            if from > to {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "start {from} is after end {to}"
                )));
            }
            let engine = self.engine.clone();
            let store = store.store.clone();
            let report = block_on(py, async move {
                engine
                    .coverage(store.as_ref(), from, to, check, chrono::Utc::now())
                    .await
            })?
            .map_err(|e| engine_error(py, &e))?;
            serialized_to_py(py, &report)
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
                engine
                    .backfill(store.as_ref(), from, to, options, interrupt, &mut on_event)
                    .await
            })?;
            let pending = raised.lock().ok().and_then(|mut e| e.take());
            // What was committed stays committed, whatever is raised.
            match (outcome, pending) {
                (Err(failure), _) => Err(backfill_error(py, &failure)),
                (Ok(_), Some(raised)) => Err(raised),
                (Ok(summary), None) => serialized_to_py(py, &summary),
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

/// Keeps the first Python exception raised during a backfill.
fn remember(slot: &Mutex<Option<PyErr>>, error: PyErr) {
    if let Ok(mut slot) = slot.lock() {
        slot.get_or_insert(error);
    }
}
