//! Reg SHO daily short sale volume files (`{MARKET}shvolYYYYMMDD.txt`).
//!
//! FINRA's format, as served (see `../shared/FINRA-NOTES.md` and the real files in
//! `../shared/realdata/mirror`):
//!
//! ```text
//! Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n
//! 20200102|A|144654|0|278137|B,Q,N\r\n
//! ...
//! 8172\r\n                       <- bare record count; a day without rows is header + `0`
//! ```
//!
//! Columns are found by header name: files before 2011-02-28 lack `ShortExemptVolume`, and then
//! [`ShortVolumeRow::exempt`] is `None` (never 0). Line problems are skipped and reported in the
//! file's [`FileQuality`]; problems with the file as a whole are a [`ParseError`].

use chrono::NaiveDate;

use super::{first_line_excerpt, ParseError};
use crate::quality::FileQuality;
use crate::volume::Volume;

/// One row of a Reg SHO file.
#[derive(Debug, Clone, PartialEq)]
pub struct ShortVolumeRow {
    /// FINRA's spelling, byte for byte (`BRK/B`, `CpK`).
    pub symbol: String,
    /// FINRA's `ShortVolume`.
    pub short: Volume,
    /// `None` in files that have no `ShortExemptVolume` column (before 2011-02-28).
    pub exempt: Option<Volume>,
    /// FINRA's `TotalVolume`: volume reported to FINRA's facilities (off-exchange), not the
    /// consolidated tape.
    pub total: Volume,
}

/// A parsed file: its rows and what was wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegShoFile {
    /// The rows read, one per symbol (a repeated symbol keeps its first row).
    pub rows: Vec<ShortVolumeRow>,
    /// `true` when the header has `ShortExemptVolume` (files from 2011-02-28 on).
    pub has_exempt_column: bool,
    /// Skipped lines and invariant violations found in the file.
    pub quality: FileQuality,
    /// `true` when the file ended with FINRA's record-count line and it matched the data lines
    /// read: the file is provably complete. `false` for a file without that line (some trimmed
    /// excerpts): it was accepted, but a symbol absent from it may just be missing from the copy,
    /// so absence is no proof that the symbol did not trade.
    pub count_verified: bool,
}

struct Columns {
    date: usize,
    symbol: usize,
    short: usize,
    exempt: Option<usize>,
    total: usize,
    width: usize,
}

/// Parses one Reg SHO file whose rows must all carry `expected_date`.
///
/// ```
/// use chrono::NaiveDate;
/// use offexchange::parse::regsho::parse;
/// let text = b"Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n\
///              20240401|BRK/B|10|1|40|B,Q,N\r\n1\r\n";
/// let date = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
/// let file = parse("CNMSshvol20240401.txt", date, text).unwrap();
/// assert_eq!(file.rows[0].symbol, "BRK/B");
/// ```
pub fn parse(file: &str, expected_date: NaiveDate, bytes: &[u8]) -> Result<RegShoFile, ParseError> {
    // Lines are split here (memchr) rather than by the csv crate: FINRA's format has no quoting,
    // and the csv reader's line numbers drift on CRLF input, while every finding must name its line.
    let mut lines = split_lines(bytes)
        .map(trim_cr)
        .zip(1u64..)
        .filter(|(line, _)| !line.iter().all(u8::is_ascii_whitespace));
    let Some((header, _)) = lines.next() else {
        return Err(ParseError::Empty { file: file.into() });
    };
    let wrong_format = || ParseError::WrongFormat {
        file: file.into(),
        expected: "Reg SHO short sale volume",
        first_line: first_line_excerpt(bytes),
    };
    let columns = header_columns(file, header).ok_or_else(wrong_format)??;
    // FINRA ends every file with a line end (CRLF). Text after the last `\n` is a line cut in
    // half: `20240402|AB` or `2024040`, which could otherwise pass for a short row or a count.
    let tail = memchr::memrchr(b'\n', bytes).map_or(bytes, |i| &bytes[i + 1..]);
    if !tail.iter().all(u8::is_ascii_whitespace) {
        let line = memchr::memchr_iter(b'\n', bytes).count() as u64 + 1;
        return Err(ParseError::Truncated {
            file: file.into(),
            line,
            reason: format!(
                "the file ends inside a line ({:?} has no line end)",
                first_line_excerpt(tail)
            ),
        });
    }
    let expected = expected_date.format("%Y%m%d").to_string();

    let mut quality = FileQuality::new(file);
    // Sized once, exactly enough: no doubling past what the file holds (a 2.6-million-row body
    // would otherwise reserve room for 4 million). A row is at least 17 bytes, so a body of
    // blank lines cannot make this large.
    let newlines = memchr::memchr_iter(b'\n', bytes).count();
    let mut rows = Vec::with_capacity(newlines.min(bytes.len() / 17));
    let mut fields: Vec<&[u8]> = Vec::with_capacity(columns.width);
    let mut data_lines: u64 = 0;
    // A bare number is the record count only if it is the last line: remember it until then.
    let mut pending_count: Option<(u64, u64)> = None;
    // The latest data line, if it had fewer fields than the header: at the very end of a file
    // without a count line, that is a row cut short.
    let mut short_line: Option<(u64, usize)> = None;
    for (text, line) in lines {
        if let Some((count, count_line)) = pending_count.take() {
            quality.skip(
                count_line,
                format!("stray number {count} before the end of the file"),
            );
            data_lines += 1;
        }
        fields.clear();
        let mut start = 0;
        for bar in memchr::memchr_iter(b'|', text) {
            fields.push(&text[start..bar]);
            start = bar + 1;
        }
        fields.push(&text[start..]);
        if fields.len() == 1 {
            if let Some(count) = record_count(fields[0]) {
                pending_count = Some((count, line));
                continue;
            }
        }
        data_lines += 1;
        short_line = (fields.len() < columns.width).then_some((line, fields.len()));
        match read_row(&fields, &columns, expected.as_bytes()) {
            Ok(row) => rows.push(row),
            Err(RowError::Skip(reason)) => quality.skip(line, reason),
            Err(RowError::OtherDate(found)) => {
                return Err(ParseError::DateMismatch {
                    file: file.into(),
                    line,
                    found,
                    expected,
                })
            }
        }
    }

    let count_verified = match pending_count {
        Some((count, _)) if count != data_lines => {
            return Err(ParseError::CountMismatch {
                file: file.into(),
                expected: count,
                found: data_lines,
            })
        }
        Some(_) => true,
        None => {
            if let Some((line, found)) = short_line {
                return Err(ParseError::Truncated {
                    file: file.into(),
                    line,
                    reason: format!(
                        "the last line has {found} fields where the header has {} and no \
                         record-count line follows",
                        columns.width
                    ),
                });
            }
            quality.note("no record-count line (cannot prove the file is complete)");
            false
        }
    };
    if quality.lines_skipped * 2 > data_lines && quality.lines_skipped > 0 {
        let (first_line, first_reason) = quality
            .skipped
            .first()
            .map(|s| (s.line, s.reason.clone()))
            .unwrap_or_default();
        return Err(ParseError::MostlyGarbage {
            file: file.into(),
            bad: quality.lines_skipped,
            total: data_lines,
            first_line,
            first_reason,
        });
    }
    drop_duplicates(&mut rows, &mut quality);
    check_invariants(&rows, &mut quality);
    quality.rows_read = rows.len() as u64;
    Ok(RegShoFile {
        rows,
        has_exempt_column: columns.exempt.is_some(),
        quality,
        count_verified,
    })
}

/// Maps FINRA's header names to positions. `None`: this is not a Reg SHO header at all.
fn header_columns(file: &str, header: &[u8]) -> Option<Result<Columns, ParseError>> {
    let names: Vec<&[u8]> = header.split(|&b| b == b'|').collect();
    let find = |name: &str| names.iter().position(|h| *h == name.as_bytes());
    let (date, symbol) = (find("Date")?, find("Symbol")?);
    let missing = |column| {
        Some(Err(ParseError::MissingColumn {
            file: file.into(),
            column,
            header: String::from_utf8_lossy(header).into_owned(),
        }))
    };
    let Some(short) = find("ShortVolume") else {
        return missing("ShortVolume");
    };
    let Some(total) = find("TotalVolume") else {
        return missing("TotalVolume");
    };
    Some(Ok(Columns {
        date,
        symbol,
        short,
        exempt: find("ShortExemptVolume"),
        total,
        width: names.len(),
    }))
}

enum RowError {
    Skip(String),
    OtherDate(String),
}

fn read_row(record: &[&[u8]], c: &Columns, expected: &[u8]) -> Result<ShortVolumeRow, RowError> {
    if record.len() != c.width {
        return Err(RowError::Skip(format!(
            "{} fields where the header has {}",
            record.len(),
            c.width
        )));
    }
    let date = record[c.date];
    if date != expected {
        let text = String::from_utf8_lossy(date).into_owned();
        return Err(match NaiveDate::parse_from_str(&text, "%Y%m%d") {
            Ok(_) => RowError::OtherDate(text),
            Err(_) => RowError::Skip(format!("Date {text:?} is not YYYYMMDD")),
        });
    }
    let symbol = std::str::from_utf8(record[c.symbol])
        .map_err(|_| RowError::Skip("Symbol is not valid text".into()))?;
    if symbol.is_empty()
        || symbol
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(RowError::Skip(format!(
            "Symbol {symbol:?} is empty or has spaces"
        )));
    }
    let volume = |name: &str, i: usize| {
        let field = record[i];
        Volume::parse(field).map_err(|e| {
            RowError::Skip(format!(
                "{name} {:?} is {e}",
                String::from_utf8_lossy(field)
            ))
        })
    };
    Ok(ShortVolumeRow {
        symbol: symbol.to_string(),
        short: volume("ShortVolume", c.short)?,
        exempt: c
            .exempt
            .map(|i| volume("ShortExemptVolume", i))
            .transpose()?,
        total: volume("TotalVolume", c.total)?,
    })
}

/// One row per symbol per file: a second row for a symbol is skipped, naming both lines' symbol.
///
/// Linear in the rows: one hash lookup per row, then one `retain` pass. (Removing each duplicate
/// with `Vec::remove` was quadratic: 200,000 interleaved duplicates took seconds.)
fn drop_duplicates(rows: &mut Vec<ShortVolumeRow>, quality: &mut FileQuality) {
    // FINRA sorts its rows by symbol: strictly increasing symbols cannot repeat, and checking
    // that is far cheaper than hashing every symbol.
    if rows.windows(2).all(|w| w[0].symbol < w[1].symbol) {
        return;
    }
    let mut seen = rustc_hash::FxHashSet::default();
    seen.reserve(rows.len());
    let keep: Vec<bool> = rows
        .iter()
        .map(|row| seen.insert(row.symbol.as_str()))
        .collect();
    drop(seen);
    // Findings in the order they were always reported: the last duplicate first.
    for (row, _) in rows.iter().zip(&keep).rev().filter(|(_, kept)| !**kept) {
        quality.violation(
            &row.symbol,
            "more than one row for the symbol; the first is used",
        );
    }
    let mut flags = keep.into_iter();
    rows.retain(|_| flags.next().unwrap_or(true));
}

fn check_invariants(rows: &[ShortVolumeRow], quality: &mut FileQuality) {
    for row in rows {
        if let Some(exempt) = row.exempt {
            if exempt > row.short {
                quality.violation(
                    &row.symbol,
                    format!("ShortExemptVolume {exempt} > ShortVolume {}", row.short),
                );
            }
        }
        if row.short > row.total {
            quality.violation(
                &row.symbol,
                format!("ShortVolume {} > TotalVolume {}", row.short, row.total),
            );
        }
    }
}

/// The lines of `bytes` split on `\n` (the last one possibly without it), found with memchr.
fn split_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    ends.map(move |end| {
        let line = &bytes[start..end];
        start = end + 1;
        line
    })
}

fn record_count(field: &[u8]) -> Option<u64> {
    let field = trim_cr(field);
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

fn trim_cr(field: &[u8]) -> &[u8] {
    field.strip_suffix(b"\r").unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market";

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
    }

    fn parse_text(text: &str) -> Result<RegShoFile, ParseError> {
        parse("CNMSshvol20240401.txt", date(), text.as_bytes())
    }

    #[test]
    fn reads_crlf_file_with_count() {
        let text = format!("{HEADER}\r\n20240401|A|10|1|40|B,Q,N\r\n20240401|CpK|5|0|5|Q\r\n2\r\n");
        let file = parse_text(&text).unwrap();
        assert_eq!(file.rows.len(), 2);
        assert_eq!(file.rows[1].symbol, "CpK");
        assert_eq!(file.rows[0].exempt, Some(Volume::from_shares(1)));
        assert!(file.quality.is_clean(), "{:?}", file.quality);
    }

    #[test]
    fn lf_blank_lines_and_column_order_by_name() {
        let text = "Market|TotalVolume|Symbol|Date|ShortExemptVolume|ShortVolume\n\n\
                    Q|100|ZZ|20240401|0|25\n\n1\n";
        let file = parse_text(text).unwrap();
        assert_eq!(file.rows[0].total, Volume::from_shares(100));
        assert_eq!(file.rows[0].short, Volume::from_shares(25));
    }

    #[test]
    fn empty_facility_day_is_header_plus_zero() {
        let file = parse_text(&format!("{HEADER}\r\n0\r\n")).unwrap();
        assert!(file.rows.is_empty());
        assert!(file.quality.is_clean());
    }

    #[test]
    fn pre_2011_header_has_no_exempt_column() {
        let text = "Date|Symbol|ShortVolume|TotalVolume|Market\r\n20240401|A|10|40|Q\r\n1\r\n";
        let file = parse_text(text).unwrap();
        assert!(!file.has_exempt_column);
        assert_eq!(file.rows[0].exempt, None);
    }

    #[test]
    fn count_mismatch_is_a_transient_error() {
        let text = format!("{HEADER}\r\n20240401|A|10|1|40|Q\r\n3\r\n");
        let err = parse_text(&text).unwrap_err();
        assert!(err.is_transient());
        assert_eq!(
            err.to_string(),
            "CNMSshvol20240401.txt: the record-count line says 3 rows but 1 were read (truncated download?)"
        );
    }

    #[test]
    fn missing_count_line_is_a_note() {
        let file = parse_text(&format!("{HEADER}\r\n20240401|A|10|1|40|Q\r\n")).unwrap();
        assert_eq!(file.rows.len(), 1);
        assert!(file.quality.notes[0].contains("no record-count line"));
        assert!(!file.count_verified);
    }

    #[test]
    fn count_verified_only_with_a_matching_count_line() {
        let with = parse_text(&format!("{HEADER}\r\n20240401|A|10|1|40|Q\r\n1\r\n")).unwrap();
        assert!(with.count_verified);
        let empty = parse_text(&format!("{HEADER}\r\n0\r\n")).unwrap();
        assert!(empty.count_verified);
        let lf = parse_text(&format!("{HEADER}\n20240401|A|10|1|40|Q\n1\n")).unwrap();
        assert!(lf.count_verified);
    }

    #[test]
    fn a_body_cut_inside_a_line_is_a_transient_truncation() {
        let rows = "20240401|A|10|1|40|Q\r\n20240401|B|1|0|4|Q\r\n";
        // Cut inside a row that starts with the date: used to be a skipped line at worst.
        for cut in [
            format!("{HEADER}\r\n{rows}20240401|AB"),
            // Cut right after the date: a bare number that used to pass for a record count.
            format!("{HEADER}\r\n{rows}20240401"),
            format!("{HEADER}\r\n{rows}2"),
            // Cut between CR and LF of the count line.
            format!("{HEADER}\r\n{rows}2\r"),
            // Cut inside the header.
            "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Mar".to_string(),
        ] {
            let err = parse_text(&cut).expect_err(&cut);
            assert!(
                matches!(err, ParseError::Truncated { .. }),
                "{cut:?}: {err}"
            );
            assert!(err.is_transient(), "{err}");
            assert!(err.to_string().contains("truncated download"), "{err}");
        }
    }

    #[test]
    fn a_short_last_row_without_a_count_is_a_truncation() {
        let text = format!("{HEADER}\r\n20240401|A|10|1|40|Q\r\n20240401|AB\r\n");
        let err = parse_text(&text).unwrap_err();
        assert!(
            matches!(err, ParseError::Truncated { line: 3, .. }),
            "{err}"
        );
        // The same short row followed by a matching count is a malformed line, not a cut.
        let text = format!("{HEADER}\r\n20240401|A|10|1|40|Q\r\n20240401|AB\r\n2\r\n");
        let file = parse_text(&text).unwrap();
        assert_eq!(file.quality.lines_skipped, 1);
        assert!(file.count_verified);
        // Trailing blank lines (or a lone CR) after the last line end are harmless.
        let text = format!("{HEADER}\r\n20240401|A|10|1|40|Q\r\n1\r\n\r\n \r");
        assert!(parse_text(&text).unwrap().count_verified);
    }

    #[test]
    fn other_date_rejects_the_file() {
        let text = format!("{HEADER}\r\n20240402|A|10|1|40|Q\r\n1\r\n");
        let err = parse_text(&text).unwrap_err();
        assert!(
            matches!(err, ParseError::DateMismatch { line: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn malformed_lines_are_skipped_with_line_and_reason() {
        let text = format!(
            "{HEADER}\r\n20240401|A|10|1|40|Q\r\n20240401|B|x|1|40|Q\r\n20240401|C|1|40\r\n\
             20240401|D|1|0|4|Q\r\n20240401|E|1|0|4|Q\r\n5\r\n"
        );
        let file = parse_text(&text).unwrap();
        assert_eq!(file.rows.len(), 3);
        assert_eq!(file.quality.lines_skipped, 2);
        assert_eq!(file.quality.skipped[0].line, 3);
        assert_eq!(
            file.quality.skipped[0].reason,
            "ShortVolume \"x\" is not a number"
        );
        assert_eq!(
            file.quality.skipped[1].reason,
            "4 fields where the header has 6"
        );
    }

    #[test]
    fn invariant_violations_and_duplicates_are_named() {
        let text = format!(
            "{HEADER}\r\n20240401|OVER|50|0|40|Q\r\n20240401|EX|5|6|40|Q\r\n20240401|EX|1|0|2|Q\r\n3\r\n"
        );
        let file = parse_text(&text).unwrap();
        let issues: Vec<_> = file
            .quality
            .violations
            .iter()
            .map(|v| v.symbol.as_str())
            .collect();
        assert_eq!(file.rows.len(), 2);
        assert!(
            issues.contains(&"OVER") && issues.contains(&"EX"),
            "{issues:?}"
        );
        assert_eq!(file.quality.invariant_violations, 3);
    }

    #[test]
    fn html_error_page_is_an_error() {
        let err =
            parse_text("<!DOCTYPE html>\n<html><body>Access denied</body></html>\n").unwrap_err();
        assert!(matches!(err, ParseError::WrongFormat { .. }), "{err}");
        assert!(parse_text("").is_err());
        assert!(parse_text("\r\n\r\n").is_err());
    }

    #[test]
    fn mostly_garbage_is_an_error() {
        let text = format!("{HEADER}\r\nfoo\r\nbar|baz\r\n20240401|A|1|0|2|Q\r\n");
        assert!(matches!(
            parse_text(&text),
            Err(ParseError::MostlyGarbage { bad: 2, .. })
        ));
    }

    #[test]
    fn missing_required_column_is_named() {
        let err = parse_text("Date|Symbol|ShortVolume|Market\r\n0\r\n").unwrap_err();
        assert!(err.to_string().contains("TotalVolume"), "{err}");
    }

    /// The quadratic removal this module used before, kept as the reference for the result.
    fn drop_duplicates_reference(rows: &mut Vec<ShortVolumeRow>, quality: &mut FileQuality) {
        let mut seen = std::collections::HashSet::new();
        let mut duplicates = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            if !seen.insert(row.symbol.clone()) {
                duplicates.push(i);
            }
        }
        for &i in duplicates.iter().rev() {
            let row = rows.remove(i);
            quality.violation(
                &row.symbol,
                "more than one row for the symbol; the first is used",
            );
        }
    }

    fn interleaved(n: usize, symbols: usize) -> Vec<ShortVolumeRow> {
        (0..n)
            .map(|i| ShortVolumeRow {
                symbol: format!("S{}", i % symbols),
                short: Volume::from_shares(i as u64),
                exempt: None,
                total: Volume::from_shares(i as u64 + 1),
            })
            .collect()
    }

    #[test]
    fn duplicates_are_dropped_as_before() {
        for (n, symbols) in [(0, 1), (1, 1), (7, 3), (2_000, 37), (2_000, 1_999)] {
            let (mut fast, mut slow) = (interleaved(n, symbols), interleaved(n, symbols));
            let (mut qf, mut qs) = (FileQuality::new("f"), FileQuality::new("f"));
            drop_duplicates(&mut fast, &mut qf);
            drop_duplicates_reference(&mut slow, &mut qs);
            assert_eq!(fast, slow, "n={n} symbols={symbols}");
            assert_eq!(qf, qs, "n={n} symbols={symbols}");
        }
    }

    #[test]
    fn two_hundred_thousand_interleaved_duplicates() {
        // Quadratic removal took ~8 s on this (release); linear is milliseconds. Correctness
        // only here: the timing lives in the `parse` bench.
        let n = 200_000;
        let mut rows = interleaved(n, 1_000);
        let mut quality = FileQuality::new("f");
        drop_duplicates(&mut rows, &mut quality);
        assert_eq!(rows.len(), 1_000);
        assert!(rows
            .iter()
            .enumerate()
            .all(|(i, r)| r.symbol == format!("S{i}") && r.short == Volume::from_shares(i as u64)));
        assert_eq!(quality.invariant_violations, (n - 1_000) as u64);
        assert_eq!(
            quality.violations[0].symbol, "S999",
            "last duplicate first, as before"
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse("x.txt", date(), &bytes);
        }

        #[test]
        fn never_panics_on_mangled_files(lines in proptest::collection::vec("[0-9A-Za-z|,.\\-/ \r]{0,40}", 0..20)) {
            let text = format!("{HEADER}\r\n{}", lines.join("\n"));
            let _ = parse("x.txt", date(), text.as_bytes());
        }
    }
}
