//! Rust errors as the named exceptions of `offexchange.errors`.
//!
//! The exception classes are plain Python (so they pickle, and carry keyword attributes); this
//! module only builds instances of them. The mapping, by layer:
//!
//! | Rust                                   | Python                                          |
//! |----------------------------------------|-------------------------------------------------|
//! | `ConfigError`                          | `ConfigError` (also a `ValueError`): variable, value, reason |
//! | `SourceError::Http` (`FinraHttpError`) | `FinraHTTPError`: url, status, attempts, method |
//! | `SourceError::Parse` / `Io`            | `FinraDataError`: location, attempts            |
//! | `StoreError`                           | `StoreError`: store, kind, transient            |
//! | a panic                                | `OffexchangeError` ("internal error ...")       |

use std::panic::{catch_unwind, AssertUnwindSafe};

use offexchange::source::SourceError;
use offexchange::{BackfillError, ConfigError, EngineError, StoreError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::IntoPyObjectExt;

/// Runs an entry point's body; a panic inside it becomes an `OffexchangeError`.
pub fn guard<T>(py: Python<'_>, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(internal(
                py,
                format!("internal error in offexchange (a bug; please report it): {what}"),
            ))
        }
    }
}

/// An `OffexchangeError` with `message`.
pub fn internal(py: Python<'_>, message: impl Into<String>) -> PyErr {
    build(py, "OffexchangeError", message.into(), &[])
}

pub fn config_error(py: Python<'_>, e: &ConfigError) -> PyErr {
    let attrs = attrs(
        py,
        &[
            ("variable", e.variable.as_str().into_py_any(py)),
            ("value", e.value.as_str().into_py_any(py)),
            ("reason", e.reason.as_str().into_py_any(py)),
        ],
    );
    build(py, "ConfigError", e.to_string(), &attrs)
}

pub fn store_error(py: Python<'_>, e: &StoreError) -> PyErr {
    let kind = match e.kind {
        offexchange::StoreErrorKind::Transient => "transient",
        offexchange::StoreErrorKind::Permanent => "permanent",
    };
    let attrs = attrs(
        py,
        &[
            ("store", e.store.as_str().into_py_any(py)),
            ("kind", kind.into_py_any(py)),
            ("transient", e.is_transient().into_py_any(py)),
        ],
    );
    build(py, "StoreError", e.to_string(), &attrs)
}

pub fn engine_error(py: Python<'_>, e: &EngineError) -> PyErr {
    match e {
        EngineError::Store(e) => store_error(py, e),
        EngineError::Source(e) => source_error(py, e),
    }
}

/// A failed backfill: the class and attributes of the session's error, with the backfill's
/// message (which session failed, how many earlier ones stay committed).
pub fn backfill_error(py: Python<'_>, e: &BackfillError) -> PyErr {
    let error = engine_error(py, &e.error);
    let message = e.to_string();
    let value = error.value(py);
    // Plain attribute writes on our own exception classes; they cannot fail in practice.
    let _ = value.setattr("message", message.as_str());
    let _ = value.setattr("args", (message,));
    error
}

fn source_error(py: Python<'_>, e: &SourceError) -> PyErr {
    // if-let rather than an exhaustive match: a new variant falls back to the base class.
    if let SourceError::Http(h) = e {
        let attrs = attrs(
            py,
            &[
                ("url", h.url.as_str().into_py_any(py)),
                ("status", h.status.into_py_any(py)),
                ("attempts", h.attempts.into_py_any(py)),
                ("method", h.method.into_py_any(py)),
            ],
        );
        return build(py, "FinraHTTPError", e.to_string(), &attrs);
    }
    if let SourceError::Parse {
        location, attempts, ..
    } = e
    {
        let attrs = attrs(
            py,
            &[
                ("location", location.as_str().into_py_any(py)),
                ("attempts", (*attempts).into_py_any(py)),
            ],
        );
        return build(py, "FinraDataError", e.to_string(), &attrs);
    }
    if let SourceError::Io { path, .. } = e {
        let location = path.display().to_string();
        let attrs = attrs(py, &[("location", location.into_py_any(py))]);
        return build(py, "FinraDataError", e.to_string(), &attrs);
    }
    build(py, "OffexchangeError", e.to_string(), &[])
}

type Attr = (&'static str, Py<PyAny>);

fn attrs(py: Python<'_>, pairs: &[(&'static str, PyResult<Py<PyAny>>)]) -> Vec<Attr> {
    pairs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Ok(v) => v.clone_ref(py),
                Err(_) => py.None(),
            };
            (*k, v)
        })
        .collect()
}

/// `offexchange.errors.<class>(message, **attrs)`, as a `PyErr` to raise.
fn build(py: Python<'_>, class: &str, message: String, attrs: &[Attr]) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let cls = py.import("offexchange.errors")?.getattr(class)?;
        let kwargs = PyDict::new(py);
        for (k, v) in attrs {
            kwargs.set_item(*k, v)?;
        }
        let instance = cls.call((message.as_str(),), Some(&kwargs))?;
        Ok(PyErr::from_value(instance))
    })();
    // Only a broken installation (no offexchange.errors) lands here.
    made.unwrap_or_else(|import_error| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("{message} (and {import_error})"))
    })
}
