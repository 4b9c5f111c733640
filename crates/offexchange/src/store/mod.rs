//! Where features land: a `daily_features` table keyed by `(symbol, trade_date)`.
//!
//! Every store implements [`Store`] with the same contract (one test suite checks them all):
//! upserts touch only the three feature columns, commit a trading date all-or-nothing, and never
//! let a [`Feature::Pending`] cell overwrite a stored value. Symbols are stored byte for byte.

mod memory;
mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Serialize;

use crate::features::{Feature, FeatureRow};

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// A store operation that failed. Messages never contain credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{store}: {message}")]
pub struct StoreError {
    /// The store's redacted description (`sqlite:/data/offx.sqlite`).
    pub store: String,
    pub message: String,
}

impl StoreError {
    pub fn new(store: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError {
            store: store.into(),
            message: message.into(),
        }
    }
}

/// Which stored symbols discovery returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// Every symbol with a row on the date.
    All,
    /// Only rows with at least one feature column still null.
    MissingFeatures,
}

/// What an upsert did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpsertSummary {
    pub rows: usize,
    pub inserted: usize,
    pub updated: usize,
    pub batches: usize,
    #[serde(skip)]
    pub elapsed: Duration,
}

/// A row as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRow {
    pub symbol: String,
    pub trade_date: NaiveDate,
    pub short_vol_share: Option<f64>,
    pub short_exempt_share: Option<f64>,
    pub ats_share_of_total: Option<f64>,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// A description safe to log (no passwords or keys).
    fn describe(&self) -> String;

    /// Creates `daily_features` if it does not exist (idempotent).
    async fn init(&self) -> Result<(), StoreError>;

    /// The stored symbols of `trade_date`, sorted.
    async fn discover_symbols(
        &self,
        trade_date: NaiveDate,
        which: Discovery,
    ) -> Result<Vec<String>, StoreError>;

    /// Writes one trading date's rows in one transaction: all of them or none.
    async fn upsert(
        &self,
        trade_date: NaiveDate,
        rows: &[FeatureRow],
    ) -> Result<UpsertSummary, StoreError>;

    /// The stored rows of `trade_date`, sorted by symbol.
    async fn read(&self, trade_date: NaiveDate) -> Result<Vec<StoredRow>, StoreError>;
}

/// Opens the store a URL names: `memory:`, `sqlite:PATH` (or `sqlite://PATH`).
pub async fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    let store: Box<dyn Store> = if url == "memory:" || url == "memory" {
        Box::new(MemoryStore::new())
    } else if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Box::new(SqliteStore::open(path)?)
    } else {
        return Err(StoreError::new(
            redact_url(url),
            "unknown store URL; expected memory: or sqlite:PATH",
        ));
    };
    store.init().await?;
    Ok(store)
}

/// Hides the password of a `scheme://user:password@host/...` URL.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Rows must all carry the date being written: a mixed batch is a caller bug, refused up front.
pub(crate) fn check_dates(
    store: &str,
    trade_date: NaiveDate,
    rows: &[FeatureRow],
) -> Result<(), StoreError> {
    match rows.iter().find(|r| r.trade_date != trade_date) {
        Some(r) => Err(StoreError::new(
            store,
            format!(
                "row {} is dated {}, not {trade_date}",
                r.symbol, r.trade_date
            ),
        )),
        None => Ok(()),
    }
}

/// The value a cell writes, or `None` to keep what is stored (a pending cell).
pub(crate) fn merged(new: Feature, stored: Option<f64>) -> Option<f64> {
    match new {
        Feature::Pending => stored,
        other => other.value(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redaction() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact_url("sqlite:x.db"), "sqlite:x.db");
    }
}

/// Where the store choice came from, for the log line that announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreChoice {
    /// What to pass to [`open`]; `None` means in-memory only.
    pub url: Option<String>,
    /// `--store`, `OFFX_STORE`, or the fallback, in words.
    pub origin: String,
}

/// The one store-selection rule every front uses: an explicit URL (`--store` / argument) first,
/// then `OFFX_STORE`, else the front's fallback (`None`: in memory, with a warning).
pub fn choose(
    explicit: Option<&str>,
    lookup: impl Fn(&str) -> Option<String>,
    fallback: Option<String>,
) -> StoreChoice {
    let non_empty = |v: &str| !v.trim().is_empty();
    if let Some(url) = explicit.filter(|v| non_empty(v)) {
        return StoreChoice {
            url: Some(url.to_string()),
            origin: "--store".into(),
        };
    }
    if let Some(url) = lookup("OFFX_STORE").filter(|v| non_empty(v)) {
        return StoreChoice {
            url: Some(url),
            origin: "OFFX_STORE".into(),
        };
    }
    match fallback {
        Some(url) => StoreChoice {
            url: Some(url),
            origin: "default (nothing configured)".into(),
        },
        None => StoreChoice {
            url: None,
            origin: "nothing configured".into(),
        },
    }
}
