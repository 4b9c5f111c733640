//! Shared set-up for the benchmarks: full-size inputs.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// A full-size synthetic mirror (12,000 symbols) for `from..=to`, written under `dir`.
pub fn full_size_mirror(dir: &Path, from: NaiveDate, to: NaiveDate) -> PathBuf {
    let root = dir.join("mirror");
    let plan = offx_synth::Plan {
        seed: 7,
        symbols: offx_synth::symbols::universe(12_000, 7),
        missing: Vec::new(),
        short_over_total: Vec::new(),
    };
    if let Err(e) = offx_synth::mirror(&root, from, to, &plan) {
        panic!("cannot write the benchmark mirror: {e:#}");
    }
    root
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}
