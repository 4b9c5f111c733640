//! `parse::regsho::parse` on arbitrary bytes. The requested date is taken from the first data
//! row when it starts with eight digits, so that mutations of real files get past the date check.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use offexchange::parse::regsho;

fuzz_target!(|data: &[u8]| {
    let date = data
        .iter()
        .position(|&b| b == b'\n')
        .and_then(|i| data.get(i + 1..i + 9))
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
        .unwrap_or(NaiveDate::MIN);
    if let Ok(file) = regsho::parse("CNMSshvol.txt", date, data) {
        // What the parser promises: one row per symbol, counts that add up.
        assert_eq!(file.quality.rows_read, file.rows.len() as u64);
        let mut symbols: Vec<&str> = file.rows.iter().map(|r| r.symbol.as_str()).collect();
        symbols.sort_unstable();
        symbols.dedup();
        assert_eq!(symbols.len(), file.rows.len(), "duplicate symbols survived");
    }
});
