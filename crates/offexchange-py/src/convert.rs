//! Values across the boundary: dates, feature rows, JSON-shaped reports.
//!
//! `datetime` is reached through the module rather than `PyDate`, which the stable ABI (abi3)
//! does not offer on every supported Python.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use offexchange::{Feature, FeatureRow, SessionReport, UpsertSummary};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyType};
use pyo3::{intern, IntoPyObjectExt};

static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn date_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    DATE.import(py, "datetime", "date")
}

fn datetime_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    DATETIME.import(py, "datetime", "datetime")
}

/// A `datetime.date`.
pub fn date_to_py(py: Python<'_>, date: NaiveDate) -> PyResult<Bound<'_, PyAny>> {
    date_type(py)?.call1((date.year(), date.month(), date.day()))
}

/// A trade date from a `datetime.date` or an ISO `YYYY-MM-DD` string. A `datetime` is refused:
/// which day it means depends on a time zone the caller should choose.
pub fn extract_date(obj: &Bound<'_, PyAny>) -> PyResult<NaiveDate> {
    let py = obj.py();
    if let Ok(text) = obj.cast::<PyString>() {
        let text = text.to_cow()?;
        return NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
            PyValueError::new_err(format!(
                "trade_date: expected an ISO date YYYY-MM-DD, got {text:?}"
            ))
        });
    }
    if obj.is_instance(datetime_type(py)?)? {
        return Err(PyTypeError::new_err(
            "trade_date: expected a datetime.date, not a datetime (call .date() in the time zone you mean)",
        ));
    }
    if obj.is_instance(date_type(py)?)? {
        let year: i32 = obj.getattr(intern!(py, "year"))?.extract()?;
        let month: u32 = obj.getattr(intern!(py, "month"))?.extract()?;
        let day: u32 = obj.getattr(intern!(py, "day"))?.extract()?;
        return NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
            PyValueError::new_err(format!("trade_date: no such date {year}-{month}-{day}"))
        });
    }
    Err(PyTypeError::new_err(format!(
        "trade_date: expected a datetime.date or a YYYY-MM-DD string, got {}",
        obj.get_type().name()?
    )))
}

/// Feature rows as a list of dicts. Keys are interned and the rows of one date share one date
/// object, so 12,000 rows cost 12,000 dicts and their floats, nothing more.
pub fn rows_to_dicts<'py>(py: Python<'py>, rows: &[FeatureRow]) -> PyResult<Bound<'py, PyList>> {
    let keys = [
        intern!(py, "symbol"),
        intern!(py, "trade_date"),
        intern!(py, "short_vol_share"),
        intern!(py, "short_exempt_share"),
        intern!(py, "ats_share_of_total"),
    ];
    let mut dates: BTreeMap<NaiveDate, Bound<'py, PyAny>> = BTreeMap::new();
    let list = PyList::empty(py);
    for row in rows {
        let date = match dates.get(&row.trade_date) {
            Some(d) => d.clone(),
            None => {
                let d = date_to_py(py, row.trade_date)?;
                dates.insert(row.trade_date, d.clone());
                d
            }
        };
        let dict = PyDict::new(py);
        dict.set_item(keys[0], row.symbol.as_str())?;
        dict.set_item(keys[1], date)?;
        dict.set_item(keys[2], row.short_vol_share.value())?;
        dict.set_item(keys[3], row.short_exempt_share.value())?;
        dict.set_item(keys[4], row.ats_share_of_total.value())?;
        list.append(dict)?;
    }
    Ok(list)
}

/// Feature dicts (as `rows_to_dicts` makes them) back into rows, grouped by date. A None or
/// missing feature is `Pending`: a dict that went through Python cannot tell "null" from "not
/// published yet", and only `Pending` is sure never to erase a stored value.
pub fn dicts_to_rows<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<(NaiveDate, Vec<FeatureRow>)>> {
    let py = obj.py();
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(
            "rows: expected a Features result or a list of feature dicts",
        ));
    }
    let mut by_date: BTreeMap<NaiveDate, Vec<FeatureRow>> = BTreeMap::new();
    for (i, item) in obj.try_iter()?.enumerate() {
        let item = item?;
        let dict = item
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err(format!("rows[{i}]: expected a dict")))?;
        let get = |key: &Bound<'py, PyString>| -> PyResult<Option<Bound<'py, PyAny>>> {
            Ok(dict.get_item(key)?.filter(|v| !v.is_none()))
        };
        let symbol: String = get(intern!(py, "symbol"))?
            .ok_or_else(|| PyValueError::new_err(format!("rows[{i}]: no symbol")))?
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("rows[{i}]: symbol must be a str")))?;
        let date = get(intern!(py, "trade_date"))?
            .ok_or_else(|| PyValueError::new_err(format!("rows[{i}]: no trade_date")))?;
        let trade_date = extract_date(&date)
            .map_err(|e| PyValueError::new_err(format!("rows[{i}] ({symbol}): {}", e.value(py))))?;
        let feature = |key: &Bound<'py, PyString>| -> PyResult<Feature> {
            match get(key)? {
                None => Ok(Feature::Pending),
                Some(v) => v.extract::<f64>().map(Feature::Value).map_err(|_| {
                    PyTypeError::new_err(format!(
                        "rows[{i}] ({symbol}): {key} must be a float or None"
                    ))
                }),
            }
        };
        let row = FeatureRow {
            short_vol_share: feature(intern!(py, "short_vol_share"))?,
            short_exempt_share: feature(intern!(py, "short_exempt_share"))?,
            ats_share_of_total: feature(intern!(py, "ats_share_of_total"))?,
            symbol,
            trade_date,
        };
        by_date.entry(trade_date).or_default().push(row);
    }
    Ok(by_date.into_iter().collect())
}

/// A JSON value as the equivalent Python object (dict, list, str, int, float, bool, None).
pub fn json_to_py<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_bound_py_any(py)?,
            (None, Some(u)) => u.into_bound_py_any(py)?,
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?,
        },
        Value::String(s) => s.as_str().into_bound_py_any(py)?,
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// The report as a dict, plus what the Python side would otherwise recompute: file counts and
/// each data-quality entry's one-line summary.
pub fn report_to_py<'py>(py: Python<'py>, report: &SessionReport) -> PyResult<Bound<'py, PyAny>> {
    let mut value = serde_json::to_value(report)
        .map_err(|e| crate::errors::internal(py, format!("cannot encode the report: {e}")))?;
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
pub fn serialized_to_py<'py>(
    py: Python<'py>,
    value: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyDict>> {
    let value = serde_json::to_value(value)
        .map_err(|e| crate::errors::internal(py, format!("cannot encode the summary: {e}")))?;
    Ok(json_to_py(py, &value)?.cast_into::<PyDict>()?)
}

/// What `backfill(on_session=...)` receives after each commit.
pub fn session_summary<'py>(
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

/// What a store did, as a dict.
pub fn summary_to_py<'py>(py: Python<'py>, s: &UpsertSummary) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("rows", s.rows)?;
    dict.set_item("inserted", s.inserted)?;
    dict.set_item("updated", s.updated)?;
    dict.set_item("batches", s.batches)?;
    dict.set_item("elapsed_ms", s.elapsed.as_secs_f64() * 1e3)?;
    Ok(dict)
}
