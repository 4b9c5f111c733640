//! The dataset seam: one module per FINRA dataset, each behind [`Dataset`].
//!
//! A dataset module answers four questions, and nothing else in the crate knows the answers:
//! where its data comes from (CDN path or Query API dataset), when FINRA publishes a period of
//! it, how to fetch and parse one period strictly, and what it contributes (columns of
//! `daily_features`, rows of its own side table). The jobs ([`crate::jobs`]) own everything
//! around that: order, concurrency, caching, transactions and reports.
//!
//! | dataset        | period     | carriers                                  | writes                                 |
//! |----------------|------------|-------------------------------------------|----------------------------------------|
//! | `regsho_daily` | a session  | `regsho/daily/{FACILITY}shvolYYYYMMDD.txt` | `short_vol_share`, `short_exempt_share` |
//! | `otc_weekly`   | a week     | Query API `weeklySummary`, mirror ZIP     | `ats_share_of_total`, table `ats_weekly` |
//! | `short_interest` | a settlement | Query API `consolidatedShortInterest`, CDN `shrt*.csv` | table `short_interest` (joined by exports) |
//!
//! Adding a dataset: its module here (a unit struct implementing [`Dataset`] and a `const INFO:
//! DatasetInfo`), its migration under `migrations/`, and one line in [`REGISTRY`]; a dataset
//! that feeds sessions also gets its field in [`crate::jobs::SessionInputs`].

pub(crate) mod otc_weekly;
pub(crate) mod regsho;
pub mod short_interest;
pub(crate) mod starts;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Serialize;

use crate::engine::{Engine, EngineError, Freshness};
use crate::report::SessionReport;

/// What a dataset declares about itself (shown by `offx datasets` and in the README).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DatasetInfo {
    /// The dataset's name in reports and ledgers (`regsho_daily`).
    pub name: &'static str,
    /// One line for people.
    pub description: &'static str,
    /// Where FINRA serves it.
    pub carriers: &'static [&'static str],
    /// When FINRA publishes a period.
    pub publication: &'static str,
    /// The first day FINRA has data for.
    pub first_date: NaiveDate,
    /// The `daily_features` columns it fills.
    pub columns: &'static [&'static str],
    /// Its own tables (besides `daily_features`).
    pub tables: &'static [&'static str],
    /// The migration file that creates its tables.
    pub migration: &'static str,
}

/// One FINRA dataset: its periods, publication schedule, and how to load one period.
#[async_trait]
pub(crate) trait Dataset: Send + Sync {
    /// The unit FINRA publishes: a session's date, a week's Monday.
    type Period: Copy + Send + Sync;
    /// One period, fetched and parsed.
    type Loaded: Send + Sync;

    /// The period that holds `trade_date`.
    fn period(&self, trade_date: NaiveDate) -> Self::Period;

    /// The first date FINRA's data for `period` is due (it may come later).
    fn due(&self, period: Self::Period) -> NaiveDate;

    /// Fetches and parses one period, writing what it found into `report`.
    async fn load(
        &self,
        engine: &Engine,
        period: Self::Period,
        freshness: Freshness,
        report: &mut SessionReport,
    ) -> Result<Self::Loaded, EngineError>;
}

/// Every dataset offx reads, in the order sessions load them.
pub const REGISTRY: &[DatasetInfo] = &[regsho::INFO, otc_weekly::INFO, short_interest::INFO];

/// A `const` date (the `expect` of a `const fn` context).
pub(crate) const fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => panic!("invalid date constant"),
    }
}
