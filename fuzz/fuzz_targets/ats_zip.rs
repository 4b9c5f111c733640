//! `parse::ats::parse_zip` on arbitrary bytes (a ZIP holding a delimited weekly summary), and
//! `parse_delimited` on the same bytes, which reaches the row parser without a valid archive.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use offexchange::parse::ats;

fuzz_target!(|data: &[u8]| {
    let monday = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap_or_default();
    let _ = ats::parse_zip("ATS_W_Summary_20240401.zip", monday, data);
    if !data.starts_with(b"PK") {
        let _ = ats::parse_delimited("ATS_W_Summary_20240401.txt", monday, data);
    }
});
