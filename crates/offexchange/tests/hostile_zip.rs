//! The parsers against hostile input as large as the caps allow. The weekly ZIP parser: a zip bomb (a small archive whose member
//! inflates to 256 MiB) and a member just under the cap made of distinct symbols, the worst case
//! for the per-symbol map. Peak memory is measured in a child process.

use std::fmt::Write as _;
use std::io::{Cursor, Write};

use chrono::NaiveDate;
use offexchange::config::DEFAULT_MAX_BODY_BYTES;
use offexchange::parse::ats::{self, MAX_MEMBER_BYTES};
use offexchange::parse::regsho;
use offx_testkit::hostile::peak_rss_bytes;

const HEADER: &str =
    "weekStartDate|tierIdentifier|issueSymbolIdentifier|summaryTypeCode|totalWeeklyShareQuantity\n";

fn monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
}

/// A one-member ZIP whose member is `header` then `fill` until `size` bytes, written in pieces so
/// the test never holds the inflated member.
fn zip_streamed(size: u64, mut fill: impl FnMut(u64, &mut Vec<u8>)) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        w.start_file(
            "week.txt",
            zip::write::SimpleFileOptions::default().large_file(size > u32::MAX as u64),
        )
        .unwrap();
        w.write_all(HEADER.as_bytes()).unwrap();
        let mut written = HEADER.len() as u64;
        let mut piece = Vec::with_capacity(1 << 20);
        let mut n = 0u64;
        while written < size {
            piece.clear();
            while piece.len() < (1 << 20) {
                fill(n, &mut piece);
                n += 1;
            }
            let take = piece.len().min((size - written) as usize);
            w.write_all(&piece[..take]).unwrap();
            written += take as u64;
        }
        w.finish().unwrap();
    }
    out.into_inner()
}

fn bomb() -> Vec<u8> {
    zip_streamed(256 << 20, |_, piece| {
        piece.extend_from_slice(b"2024-04-01|T1|AAPL|ATS_W_SMBL_FIRM|1\n")
    })
}

fn distinct_symbols_under_the_cap() -> Vec<u8> {
    // Whole lines only, ending just under the cap.
    let line_len = "2024-04-01|T1|S0000000|ATS_W_SMBL|1\n".len() as u64;
    let lines = (MAX_MEMBER_BYTES - HEADER.len() as u64) / line_len;
    zip_streamed(HEADER.len() as u64 + lines * line_len, |n, piece| {
        let _ = writeln!(piece, "2024-04-01|T1|S{n:07}|ATS_W_SMBL|1");
    })
}

const CHILD_ENV: &str = "OFFX_HOSTILE_ZIP_CHILD";

#[test]
fn child_parse_zip() {
    let Ok(case) = std::env::var(CHILD_ENV) else {
        return;
    };
    if case == "regsho" {
        // A Reg SHO body as large as the body cap, every row a distinct symbol, unsorted (so
        // that the duplicate check hashes them all).
        let mut text =
            String::from("Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n");
        let mut n = 0u64;
        while (text.len() as u64) < DEFAULT_MAX_BODY_BYTES - 64 {
            let _ = write!(text, "20240401|S{:07}|1|0|2|Q\r\n", (n * 7919) % 10_000_000);
            n += 1;
        }
        text.truncate(text.rfind("\r\n").unwrap_or(0) + 2);
        let lines = text.matches('\n').count() - 1;
        let _ = write!(text, "{lines}\r\n");
        let bytes = text.into_bytes();
        let before = peak_rss_bytes().unwrap_or(0);
        let file = regsho::parse("CNMSshvol20240401.txt", monday(), &bytes).unwrap();
        assert!(file.rows.len() > 1_000_000);
        println!(
            "PEAK_RSS={} BEFORE={before} ZIP={}",
            peak_rss_bytes().unwrap_or(0),
            bytes.len()
        );
        return;
    }
    let bytes = match case.as_str() {
        "bomb" => bomb(),
        _ => distinct_symbols_under_the_cap(),
    };
    let before = peak_rss_bytes().unwrap_or(0);
    let result = ats::parse_zip("ATS_W_Summary_20240401.zip", monday(), &bytes);
    match case.as_str() {
        "bomb" => {
            let e = result.unwrap_err().to_string();
            assert!(e.contains("inflates past") || e.contains("limit"), "{e}");
        }
        _ => {
            let week = result.unwrap();
            assert!(week.symbols.len() > 400_000, "{}", week.symbols.len());
        }
    }
    println!(
        "PEAK_RSS={} BEFORE={before} ZIP={}",
        peak_rss_bytes().unwrap_or(0),
        bytes.len()
    );
}

#[test]
fn hostile_zips_stay_under_256_mb() {
    if peak_rss_bytes().is_none() {
        eprintln!("SKIPPED: no /proc/self/status here");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for case in ["bomb", "distinct", "regsho"] {
        let out = std::process::Command::new(&exe)
            .args([
                "child_parse_zip",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, case)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{case}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let field = |name: &str| -> u64 {
            stdout
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{case}: no {name} in {stdout}"))
        };
        let (peak, before, zip) = (field("PEAK_RSS="), field("BEFORE="), field("ZIP="));
        eprintln!(
            "{case}: input {} KiB, peak RSS {} MiB (before parsing: {} MiB)",
            zip >> 10,
            peak >> 20,
            before >> 20
        );
        assert!(peak <= 256 << 20, "{case}: peak {peak} bytes");
    }
}
