//! Rankings and series for Python: the rows `offx top` and `offx chart` show, as lists of dicts
//! (`offexchange.top` / `offexchange.series` turn them into pyarrow Tables).

use offexchange::{top, RankBy};
use pyo3::prelude::*;

use crate::convert::{extract_date, json_to_py};
use crate::errors::{guard, internal, store_error};
use crate::runtime::block_on;
use crate::store::PyStore;

/// The ranking of `trade_date` by `by` (`short_vol_share`, `short_vol_z`, `ats_share_of_total`)
/// as `offx top` computes it: a dict with `rows` (best first) and the counts of what was left
/// out.
#[pyfunction]
#[pyo3(signature = (store, trade_date, by="short_vol_share", min_total_volume=None, limit=25, bottom=false))]
pub fn ranking<'py>(
    py: Python<'py>,
    store: &PyStore,
    trade_date: &Bound<'py, PyAny>,
    by: &str,
    min_total_volume: Option<f64>,
    limit: usize,
    bottom: bool,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, || {
        let date = extract_date(trade_date)?;
        let by = match by {
            "short_vol_share" => RankBy::ShortVolShare,
            "short_vol_z" => RankBy::ShortVolZ,
            "ats_share_of_total" => RankBy::AtsShareOfTotal,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "by: expected short_vol_share, short_vol_z or ats_share_of_total, got {other:?}"
                )))
            }
        };
        if min_total_volume.is_some_and(|v| v.is_nan() || v < 0.0) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "min_total_volume: a number of shares, 0 or more",
            ));
        }
        let store = store.store.clone();
        let ranking = block_on(py, async move {
            top(store.as_ref(), date, by, min_total_volume, limit, bottom).await
        })?
        .map_err(|e| store_error(py, &e))?;
        let value = serde_json::to_value(&ranking)
            .map_err(|e| internal(py, format!("cannot encode the ranking: {e}")))?;
        json_to_py(py, &value)
    })
}

/// `symbol`'s points over `start..=end` (one per session: `date`, `stored`, `short_vol_share`,
/// `short_vol_mean20`, `ats_share_of_total`), as `offx chart` draws them.
#[pyfunction]
pub fn series<'py>(
    py: Python<'py>,
    store: &PyStore,
    symbol: &str,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, || {
        let (from, to) = (extract_date(start)?, extract_date(end)?);
        if from > to {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "start {from} is after end {to}"
            )));
        }
        let store = store.store.clone();
        let symbol = symbol.to_string();
        let s = block_on(py, async move {
            offx_view::series(store.as_ref(), &symbol, from, to).await
        })?
        .map_err(|e| match e {
            offx_view::ViewError::Store(e) => store_error(py, &e),
            other => internal(py, other.to_string()),
        })?;
        let value = serde_json::to_value(&s.points)
            .map_err(|e| internal(py, format!("cannot encode the series: {e}")))?;
        json_to_py(py, &value)
    })
}
