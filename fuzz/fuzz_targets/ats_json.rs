//! The Query API parsers (`parse::ats_json`): a `weeklySummary` page, with and without pinned
//! filters, and the partitions list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offexchange::parse::ats_json::{parse_page, parse_partitions, Pinned};

fuzz_target!(|data: &[u8]| {
    let _ = parse_page("page", data, &Pinned::default(), 0);
    let pinned = Pinned {
        week_start: chrono::NaiveDate::from_ymd_opt(2023, 9, 25),
        tier: Some("T1".into()),
        summary_types: vec!["ATS_W_SMBL".into(), "OTC_W_SMBL".into()],
        ..Pinned::default()
    };
    let _ = parse_page("page", data, &pinned, 5000);
    let _ = parse_partitions("partitions", data);
});
