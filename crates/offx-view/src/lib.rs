//! Looking at stored offexchange data, with nothing but the store (no network, no external
//! scripts or fonts):
//!
//! - [`series`]: a symbol's features over a date range, with the 20-session mean of
//!   `short_vol_share` and each day's state (stored, missing, pending);
//! - [`svg`]: that series as an SVG chart (plotters), ATS as weekly steps; [`png`] rasterizes it;
//! - [`terminal`]: the same, compact, for a terminal;
//! - [`report`]: one self-contained HTML page for a day: coverage, top and bottom lists with a
//!   volume floor, a searchable table of every symbol, a small chart per listed symbol.

pub mod png;
pub mod report;
pub mod series;
pub mod svg;
pub mod terminal;

pub use report::{report_html, ReportRequest};
pub use series::{series, series_many, Point, Series};

/// Reading the store failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The store refused a read.
    #[error(transparent)]
    Store(#[from] offexchange::StoreError),
    /// The chart could not be drawn.
    #[error("drawing the chart: {0}")]
    Draw(String),
}
