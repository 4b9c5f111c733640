//! # offexchange._core
//!
//! The compiled half of the `offexchange` Python package: the Rust engine behind a small, typed
//! surface. Python holds no logic of its own; it gets handles to Rust values and converts to
//! Python objects only where a caller asks for them.
//!
//! ```text
//!  Engine(**settings) — the engine's jobs, each one call:
//!    session(date, symbols, store)  backfill(start, end, store)  catch_up(store, until, days)
//!  and the session job's stages, for the Prefect flow's tasks (output of one = input of the next):
//!    discover(date, symbols, store) ─► Symbols ───────────────┐
//!    load_regsho(date)              ─► RegShoDay ─┐           │
//!    load_ats(date)                 ─► AtsWeek   ─┴► assemble(regsho, ats, symbols, stored)
//!                                                     ─► Features ─► persist(store, Features)
//!  open_store(url) ─► Store;  summary_lines(summary) ─► the CLI's summary table lines
//! ```
//!
//! Python assembles nothing: `session` and the stages are the engine's own
//! ([`offexchange::Engine::session`] and friends), and `persist` commits exactly what the job
//! commits (rows and the week's `ats_weekly` record, one transaction). Summaries reach Python
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
mod engine;
mod errors;
mod export;
mod handles;
mod runtime;
mod store;
mod view;

use offexchange::{
    calendar, BackfillSummary, CatchUpSummary, CoverageReport, SummaryLine, DATASETS,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{date_to_py, extract_date, json_to_py};
use crate::engine::PyEngine;
use crate::errors::guard;
use crate::handles::{AtsWeek, Features, RegShoDay, Symbols};
use crate::store::{open_store, store_choice, PyStore};

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

/// A job summary (`Engine.backfill` or `Engine.catch_up`) as the `(label, value)` lines the CLI
/// prints, computed by the engine from the summary's fields, so the flow logs and `offx` agree.
#[pyfunction]
fn summary_lines(py: Python<'_>, summary: &Bound<'_, PyDict>) -> PyResult<Vec<(String, String)>> {
    guard(py, || {
        let json: String = py
            .import("json")?
            .call_method1("dumps", (summary,))?
            .extract()?;
        let is_backfill = summary.contains("sessions_in_range")?;
        let lines: Vec<SummaryLine> = if summary.contains("days")? {
            coverage_report(&json)?.summary_lines()
        } else if is_backfill {
            let parsed: BackfillSummary = serde_json::from_str(&json).map_err(|e| {
                pyo3::exceptions::PyValueError::new_err(format!("not a backfill summary: {e}"))
            })?;
            parsed.lines()
        } else {
            let parsed: CatchUpSummary = serde_json::from_str(&json).map_err(|e| {
                pyo3::exceptions::PyValueError::new_err(format!("not a catch-up summary: {e}"))
            })?;
            parsed.lines()
        };
        Ok(lines.into_iter().map(|l| (l.label, l.value)).collect())
    })
}

fn coverage_report(json: &str) -> PyResult<CoverageReport> {
    serde_json::from_str(json)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("not a coverage report: {e}")))
}

/// A coverage report (`Engine.coverage`) as the one line per date `offx coverage` prints.
#[pyfunction]
fn coverage_lines(py: Python<'_>, report: &Bound<'_, PyDict>) -> PyResult<Vec<String>> {
    guard(py, || {
        let json: String = py
            .import("json")?
            .call_method1("dumps", (report,))?
            .extract()?;
        Ok(coverage_report(&json)?.lines())
    })
}

/// The FINRA datasets the engine reads: name, carriers, publication, tables, ...
#[pyfunction]
fn datasets<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    guard(py, || {
        let value = serde_json::to_value(DATASETS)
            .map_err(|e| errors::internal(py, format!("cannot encode the datasets: {e}")))?;
        json_to_py(py, &value)
    })
}

/// A deliberate panic, so tests can check that it arrives as `OffexchangeError`.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>, message: &str) -> PyResult<()> {
    guard(py, || panic!("{message}"))
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
    m.add_function(wrap_pyfunction!(summary_lines, m)?)?;
    m.add_function(wrap_pyfunction!(datasets, m)?)?;
    m.add_function(wrap_pyfunction!(coverage_lines, m)?)?;
    m.add_function(wrap_pyfunction!(export::export_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(view::ranking, m)?)?;
    m.add_function(wrap_pyfunction!(view::series, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    Ok(())
}
