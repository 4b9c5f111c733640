//! The short interest parsers (`parse::short_interest`): FINRA's CDN file `shrtYYYYMMDD.csv`
//! (pipe-delimited) and a `consolidatedShortInterest` Query API page.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offexchange::parse::short_interest::{parse_api_page, parse_csv};

fuzz_target!(|data: &[u8]| {
    let Some(settlement) = chrono::NaiveDate::from_ymd_opt(2026, 5, 29) else {
        return;
    };
    let _ = parse_csv("shrt20260529.csv", settlement, data);
    let _ = parse_api_page("page", data, settlement, 5000);
});
