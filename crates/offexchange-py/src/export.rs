//! The export job for Python: Parquet bytes, which `offexchange.export` hands to pyarrow (one
//! writer for the CLI and Python, and no row ever becomes a Python object).

use chrono::{DateTime, Utc};
use offexchange::{export_to, ExportError, ExportFormat, ExportRequest};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::convert::extract_date;
use crate::errors::{guard, internal, store_error};
use crate::handles::extract_symbols;
use crate::runtime::block_on;
use crate::store::PyStore;

/// The stored features of `start..=end` (as of `as_of`, an RFC 3339 time, when given) as the
/// bytes of a Parquet file with the columns of `offx export` (and, with `with_short_interest`,
/// those of `offx export --with short-interest`).
#[pyfunction]
#[pyo3(signature = (store, start, end, as_of=None, symbols=None, with_short_interest=false))]
pub fn export_parquet<'py>(
    py: Python<'py>,
    store: &PyStore,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    as_of: Option<&str>,
    symbols: Option<&Bound<'py, PyAny>>,
    with_short_interest: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    guard(py, || {
        let (from, to) = (extract_date(start)?, extract_date(end)?);
        if from > to {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "start {from} is after end {to}"
            )));
        }
        let as_of = as_of
            .map(|text| {
                DateTime::parse_from_rfc3339(text.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        pyo3::exceptions::PyValueError::new_err(format!(
                            "as_of: expected an RFC 3339 time with its offset, got {text:?} ({e})"
                        ))
                    })
            })
            .transpose()?;
        let request = ExportRequest {
            from,
            to,
            symbols: extract_symbols(symbols)?,
            as_of,
            with_short_interest,
        };
        let store = store.store.clone();
        let bytes = block_on(py, async move {
            let mut out = Vec::new();
            export_to(store.as_ref(), &request, ExportFormat::Parquet, &mut out).await?;
            Ok::<_, ExportError>(out)
        })?
        .map_err(|e| match e {
            ExportError::Store(e) => store_error(py, &e),
            other => internal(py, other.to_string()),
        })?;
        Ok(PyBytes::new(py, &bytes))
    })
}
