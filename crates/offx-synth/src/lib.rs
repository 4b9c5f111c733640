//! Deterministic synthetic FINRA mirror, in FINRA's exact formats, for demos, tests and benches.
//!
//! Reg SHO files (`regsho/daily/{FACILITY}shvolYYYYMMDD.txt`, pipe-delimited, CRLF, record-count
//! trailer, CNMS = FNSQ + FNQC + FNYX + FNRA per symbol), weekly ATS ZIPs
//! (`ATS/ATS_W_Summary_YYYYMMDD.zip`, FINRA's OTC Transparency field names, firm breakdown rows
//! included so that double counting would show), and short interest files
//! (`otcmarket/biweekly/shrtYYYYMMDD.csv`, one per settlement the range can see, class shares in
//! FINRA's separator-less spelling). Values are synthetic; formats are FINRA's.

pub mod symbols;
pub mod write;

use chrono::NaiveDate;
use offexchange::config::Facility;

pub use write::{mirror, Plan, Stats};

/// The demo/test mirror: weeks of 2024-03-25 (Good Friday closed) and 2024-04-01, 300 symbols
/// plus `BADX`; CNMS and FNQC missing on 2024-03-27; `BADX` has ShortVolume > TotalVolume on
/// 2024-04-01. Returns the plan and its date range.
pub fn sample_plan(symbols: usize, seed: u64) -> (Plan, NaiveDate, NaiveDate) {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
    let mut plan = Plan {
        seed,
        symbols: symbols::universe(symbols, seed),
        missing: vec![
            (Facility::Cnms, d(2024, 3, 27)),
            (Facility::Fnqc, d(2024, 3, 27)),
        ],
        short_over_total: vec![("BADX".to_string(), d(2024, 4, 1))],
    };
    if !plan.symbols.iter().any(|s| s.regsho == "BADX") {
        plan.symbols.push(symbols::Symbol::nms("BADX", 1));
    }
    (plan, d(2024, 3, 25), d(2024, 4, 5))
}
