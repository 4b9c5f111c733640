//! # offexchange
//!
//! Turns FINRA's public off-exchange data into daily per-symbol features:
//!
//! | feature              | definition                                                         |
//! |----------------------|--------------------------------------------------------------------|
//! | `short_vol_share`    | Reg SHO `ShortVolume / TotalVolume` for the trading day            |
//! | `short_exempt_share` | Reg SHO `ShortExemptVolume / TotalVolume` for the trading day      |
//! | `ats_share_of_total` | weekly ATS shares / (ATS + non-ATS OTC shares), on every session of that week |
//!
//! The crate is laid out the way data flows through it:
//!
//! ```text
//!  config ──► source ──────────► datasets ─────────────► features ──► store
//!             CDN over HTTP,      regsho_daily,            ratios and    memory, SQLite,
//!             file:// mirror,     otc_weekly: where,       null rules    PostgreSQL,
//!             Query API, cache    when, how to parse                     Supabase REST
//!                          └──────────── jobs: session, backfill, catch-up ──────┘
//! ```
//!
//! [`Engine`] owns the jobs: [`Engine::session`] (one trading date, and its stages
//! `discover`, `load`, `compute`, `persist`), [`Engine::backfill`] and [`Engine::catch_up`]. Every
//! front (`offx`, the Python binding, the Prefect flows) calls those and shows the reports and
//! summaries they return ([`SessionReport::lines`], [`BackfillSummary::lines`],
//! [`CatchUpSummary::lines`]).

#![deny(missing_docs)]

pub mod calendar;
pub mod config;
mod datasets;
mod engine;
mod features;
mod jobs;
mod net;
pub mod overrides;
pub mod parse;
pub mod provenance;
mod quality;
mod report;
pub mod source;
pub mod store;
pub mod symbol;
pub mod volume;

pub use config::{AtsSource, ConfigError, Facility, HttpSettings, Market, Settings};
pub use datasets::otc_weekly::{AtsLoad, WeekEra};
pub use datasets::regsho::{CNMS_START, FNQC_START};
pub use datasets::short_interest::{
    cdn_path as short_interest_path, publication_date, settlement_dates,
};
pub use datasets::starts::{DatasetStart, STARTS as DATASET_STARTS};
pub use datasets::{DatasetInfo, REGISTRY as DATASETS};
pub use engine::{Engine, EngineError};
pub use features::{AtsWeeklyRow, DayVolumes, Feature, FeatureRow, RegShoDay};
pub use jobs::signals::{MIN_HISTORY, SHORT_WINDOW};
pub use jobs::{
    export, export_to, persist, BackfillError, BackfillEvent, BackfillOptions, BackfillSummary,
    CatchUpSummary, ComputedSession, CoverageDay, CoverageReport, CoverageState, DatasetCoverage,
    ExportError, ExportFormat, ExportRequest, ExportRow, ExportSummary, SessionInputs,
    SessionOutcome, EXPORT_COLUMNS, REVISION_WEEKS,
};
pub use jobs::{
    export_columns, read_short_interest, SettlementCounts, SettlementOutcome, SettlementState,
    ShortInterestCells, ShortInterestQuery, ShortInterestSummary, SHORT_INTEREST_COLUMNS,
};
pub use jobs::{rank, signals, top, RankBy, Ranking, SymbolSignals};
pub use quality::{FileQuality, SkippedLine, SymbolIssue};
pub use report::{FileStatus, Level, ReportLine, SessionReport, SummaryLine};
pub use source::FinraHttpError;
pub use store::{
    FeatureVersion, Part, Provenance, SessionCommit, SettlementVersion, ShortInterestRow, Store,
    StoreError, StoreErrorKind, UpsertSummary, WeekRecord, WeekWrite,
};
pub use symbol::ats_to_regsho;
