//! Handles: Rust values kept on the Rust side, so a Prefect task can pass a day's 12,000 rows to
//! the next one as one small object.

use std::sync::Arc;

use chrono::NaiveDate;
use offexchange::{calendar, AtsLoad, ComputedSession, SessionReport, UpsertSummary};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::convert::{self, date_to_py, report_to_py, summary_to_py};
use crate::errors::guard;

/// A day's Reg SHO data (step 1), kept on the Rust side.
#[pyclass(module = "offexchange._core", frozen)]
pub struct RegShoDay {
    pub(crate) trade_date: NaiveDate,
    pub(crate) market: String,
    pub(crate) day: Arc<offexchange::RegShoDay>,
    pub(crate) report: SessionReport,
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
pub struct AtsWeek {
    pub(crate) trade_date: NaiveDate,
    pub(crate) load: Arc<AtsLoad>,
    pub(crate) report: SessionReport,
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

/// One session computed (stage 3), kept on the Rust side until `to_dicts()`: its rows, its
/// report and its week's `ats_weekly` record, which `Engine.persist` commits together.
#[pyclass(module = "offexchange._core", frozen)]
pub struct Features {
    trade_date: NaiveDate,
    closed: Option<&'static str>,
    /// `None` for a closed day.
    pub(crate) session: Option<Arc<ComputedSession>>,
    stored: Option<UpsertSummary>,
}

impl Features {
    pub fn computed(session: ComputedSession, stored: Option<UpsertSummary>) -> Features {
        Features {
            trade_date: session.trade_date,
            closed: None,
            session: Some(Arc::new(session)),
            stored,
        }
    }

    pub fn closed_day(trade_date: NaiveDate, reason: &'static str) -> Features {
        Features {
            trade_date,
            closed: Some(reason),
            session: None,
            stored: None,
        }
    }

    fn rows(&self) -> &[offexchange::FeatureRow] {
        self.session.as_ref().map_or(&[], |s| &s.rows)
    }
}

#[pymethods]
impl Features {
    /// The session.
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
        guard(py, || match &self.session {
            Some(session) => report_to_py(py, &session.report),
            None => report_to_py(
                py,
                &SessionReport {
                    trade_date: Some(self.trade_date),
                    ..SessionReport::default()
                },
            ),
        })
    }

    /// The session report as the lines people read: `(level, text)`, level one of "debug",
    /// "info", "warn" (the same lines `offx enrich` logs).
    fn report_lines(&self) -> Vec<(&'static str, String)> {
        self.session.as_ref().map_or_else(Vec::new, |s| {
            s.report
                .lines()
                .into_iter()
                .map(|l| (level_name(l.level), l.text))
                .collect()
        })
    }

    /// What the store did (`Engine.session` with a store), else None.
    #[getter]
    fn stored<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        guard(py, || {
            self.stored
                .as_ref()
                .map(|s| summary_to_py(py, s))
                .transpose()
        })
    }

    /// Symbols in the week's `ats_weekly` record (0: the week is not published).
    #[getter]
    fn week_symbols(&self) -> usize {
        self.session.as_ref().map_or(0, |s| s.week.len())
    }

    /// Rows whose three features are all null.
    #[getter]
    fn null_rows(&self) -> usize {
        self.rows()
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
        self.rows()
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
        guard(py, || convert::rows_to_dicts(py, self.rows()))
    }

    fn __len__(&self) -> usize {
        self.rows().len()
    }

    fn __repr__(&self) -> String {
        match self.closed {
            Some(reason) => format!("<Features {}: closed ({reason})>", self.trade_date),
            None => format!("<Features {}: {} rows>", self.trade_date, self.rows().len()),
        }
    }
}

/// A report line's level as Python sees it.
pub fn level_name(level: offexchange::Level) -> &'static str {
    match level {
        offexchange::Level::Debug => "debug",
        offexchange::Level::Info => "info",
        offexchange::Level::Warn => "warn",
    }
}

/// A list of symbols kept on the Rust side (a store's symbols for a day can be 12,000).
#[pyclass(module = "offexchange._core", frozen, sequence)]
pub struct Symbols {
    list: Arc<Vec<String>>,
}

impl Symbols {
    pub fn new(list: Vec<String>) -> Symbols {
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

/// `symbols` arguments: None, a `Symbols`, or any iterable of str (but not a str itself).
pub fn extract_symbols(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<String>>> {
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
