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
//!  config ──► source ──────────────────────► parse ──────────────────► features ──► store
//!             CDN over HTTP (retries, 403      Reg SHO text,             ratios and    memory, SQLite,
//!             rules), file:// mirror, the      ATS ZIP / Query API       null rules    PostgreSQL,
//!             Query API, a raw-file cache      JSON                                    Supabase REST
//! ```
//!
//! [`session::Engine`] ties the pieces together for one trading date; [`backfill`] runs a range
//! of sessions, [`catch_up`] fills in ATS data FINRA published late. The `offx` command line and
//! the Python front are thin shells over them.

pub mod backfill;
pub mod calendar;
pub mod catch_up;
pub mod config;
pub mod features;
mod net;
pub mod parse;
pub mod quality;
pub mod session;
pub mod source;
pub mod store;
pub mod symbol;
pub mod volume;

pub use config::{ConfigError, Market, Settings};
pub use features::{Feature, FeatureRow};
pub use session::{Engine, EngineError, SessionOutcome, SessionReport};
pub use source::FinraHttpError;
pub use store::{Store, StoreError, UpsertSummary};
