//! The store handle, and the one store-selection rule.

use std::sync::Arc;

use chrono::NaiveDate;
use offexchange::store::{self, Discovery, Store};
use offexchange::{config, Feature, FeatureRow, SessionCommit, UpsertSummary};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::{self, date_to_py, extract_date, summary_to_py};
use crate::errors::{engine_error, guard, store_error};
use crate::handles::{Features, Symbols};
use crate::runtime::block_on;

/// A `daily_features` store (memory, SQLite, PostgreSQL, Supabase), opened once and reused.
#[pyclass(module = "offexchange._core", name = "Store", frozen)]
pub struct PyStore {
    pub(crate) store: Arc<dyn Store>,
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

    /// Upserts rows: a `Features` result (committed as `Engine.persist` does: its rows and its
    /// week's `ats_weekly` record; pending cells never overwrite stored values), or feature
    /// dicts, where None likewise keeps a stored value. One transaction per date.
    fn upsert<'py>(
        &self,
        py: Python<'py>,
        rows: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        if let Ok(features) = rows.cast::<Features>() {
            return self.commit_features(py, features.get());
        }
        guard(py, || {
            let batches: Vec<(NaiveDate, Vec<FeatureRow>)> = convert::dicts_to_rows(rows)?;
            let store = self.store.clone();
            let total = block_on(py, async move {
                let mut total = UpsertSummary::default();
                for (date, rows) in batches {
                    let s = store.commit(&SessionCommit::rows(date, &rows)).await?;
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

impl PyStore {
    /// Commits a computed session as the engine's persist stage does: its rows, the week's
    /// `ats_weekly` record (when the store has none yet), its ledger rows and feature versions,
    /// in one transaction.
    pub fn commit_features<'py>(
        &self,
        py: Python<'py>,
        features: &Features,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let Some(session) = features.session.clone() else {
                return summary_to_py(py, &UpsertSummary::default());
            };
            let store = self.store.clone();
            let summary = block_on(py, async move {
                offexchange::persist(store.as_ref(), &session).await
            })?
            .map_err(|e| engine_error(py, &e))?;
            summary_to_py(py, &summary)
        })
    }
}

/// Opens the store the one selection rule names (`offexchange::store::choose`): `url` first,
/// then `OFFX_STORE`, `DATABASE_URL`, `SUPABASE_DB_URL`, Supabase REST credentials; None when
/// nothing is configured (the caller computes in memory).
#[pyfunction]
#[pyo3(signature = (url=None))]
pub fn open_store(py: Python<'_>, url: Option<String>) -> PyResult<Option<PyStore>> {
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
pub fn store_choice(py: Python<'_>, url: Option<String>) -> PyResult<Option<(String, String)>> {
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
