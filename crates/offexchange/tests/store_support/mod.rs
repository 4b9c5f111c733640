//! Shared by the store tests: a scratch PostgreSQL schema per test, and a fake PostgREST.
//!
//! Each test binary uses part of it only.
#![allow(dead_code)]

pub mod pg;
pub mod postgrest;

use chrono::NaiveDate;
use offexchange::{Feature, FeatureRow};

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid test date")
}

pub fn row(symbol: &str, trade_date: NaiveDate, cells: [Feature; 3]) -> FeatureRow {
    FeatureRow {
        symbol: symbol.to_string(),
        trade_date,
        short_vol_share: cells[0],
        short_exempt_share: cells[1],
        ats_share_of_total: cells[2],
    }
}

/// `n` rows with distinct symbols and values that depend on the symbol and `salt`.
pub fn rows(n: usize, trade_date: NaiveDate, salt: f64) -> Vec<FeatureRow> {
    (0..n)
        .map(|i| {
            let v = ((i as f64 * 0.618 + salt) % 1.0 * 1e6).round() / 1e6;
            row(
                &format!("S{i:05}"),
                trade_date,
                [
                    Feature::Value(v),
                    Feature::Value(v / 2.0),
                    if i % 7 == 0 {
                        Feature::Null
                    } else {
                        Feature::Value(1.0 - v)
                    },
                ],
            )
        })
        .collect()
}
