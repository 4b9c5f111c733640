//! Whole jobs, each the only place its path is written: one session ([`Engine::session`] and its
//! stages), a backfill range ([`Engine::backfill`]), catch-up ([`Engine::catch_up`]), and the
//! point-in-time export ([`export`]), and short interest ([`short_interest`]: a settlement recorded
//! when FINRA publishes it, covered over a range, read back as a day saw it).
//!
//! A job owns order, concurrency, transactions and the report. Every session a job stores is one
//! [`crate::store::SessionCommit`]: its `daily_features` rows and its week's `ats_weekly` record in
//! one transaction. The fronts (`offx`, the Python binding, the Prefect flows) call these and show
//! what they return.
//!
//! [`Engine::session`]: crate::Engine::session
//! [`Engine::backfill`]: crate::Engine::backfill
//! [`Engine::catch_up`]: crate::Engine::catch_up

mod backfill;
mod catch_up;
mod coverage;
mod export;
mod session;
pub mod short_interest;
pub mod signals;
#[cfg(test)]
mod tests;

pub use backfill::{BackfillError, BackfillEvent, BackfillOptions, BackfillSummary};
pub use catch_up::{CatchUpSummary, REVISION_WEEKS};
pub use coverage::{CoverageDay, CoverageReport, CoverageState, DatasetCoverage};
pub use export::{
    columns as export_columns, export, export_to, ExportError, ExportFormat, ExportRequest,
    ExportRow, ExportSummary, ShortInterestCells, EXPORT_COLUMNS, SHORT_INTEREST_COLUMNS,
};
pub use session::{persist, ComputedSession, SessionInputs, SessionOutcome};
pub use short_interest::{
    read_short_interest, SettlementCounts, SettlementOutcome, SettlementState, ShortInterestQuery,
    ShortInterestSummary,
};
pub use signals::{rank, signals, top, RankBy, Ranking, SymbolSignals};
