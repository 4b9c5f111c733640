//! FINRA OTC Transparency weekly summary: ATS and non-ATS (OTC) share volume per symbol.
//!
//! Two carriers hold the same rows with FINRA's field names (`weekStartDate`, `tierIdentifier`,
//! `issueSymbolIdentifier`, `summaryTypeCode`, `totalWeeklyShareQuantity`, ...): the mirror's
//! `ATS_W_Summary_YYYYMMDD.zip` (one pipe- or comma-delimited member, read here) and FINRA's Query
//! API (JSON). Both become [`AtsRecord`]s and then one [`AtsWeek`].
//!
//! Only the per-symbol aggregates count: `ATS_W_SMBL` (ATS shares) and `OTC_W_SMBL` (non-ATS OTC
//! shares). The firm-level rows (`ATS_W_SMBL_FIRM`, `ATS_W_FIRM`, `OTC_W_FIRM`, ...) break the
//! same shares down by participant; adding them in would count every share twice.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use chrono::NaiveDate;
use csv::{ReaderBuilder, StringRecord};

use super::{first_line_excerpt, ParseError};
use crate::quality::FileQuality;
use crate::volume::Volume;

/// Largest uncompressed member accepted: 16 MiB. A real week is far smaller (FINRA's own
/// weekly download is ~0.5 MB per tier), and a member this size of distinct symbols (the worst
/// case for the per-symbol map, ~400 bytes of memory per 36-byte row) still parses within the
/// 256 MB budget, beside a body at the HTTP cap. Anything larger is a zip bomb, refused after inflating at most this much (the
/// member's declared size is not trusted).
pub const MAX_MEMBER_BYTES: u64 = 16 << 20;

/// Which weekly aggregate a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryType {
    /// `ATS_W_SMBL`: a symbol's shares traded on ATSs.
    AtsSymbol,
    /// `OTC_W_SMBL`: a symbol's shares traded OTC outside ATSs.
    OtcSymbol,
    /// A firm-level breakdown of the same shares: ignored.
    Breakdown,
}

impl SummaryType {
    /// Classifies FINRA's `summaryTypeCode`: every code but the two per-symbol aggregates is a
    /// breakdown.
    pub fn from_code(code: &str) -> SummaryType {
        match code {
            "ATS_W_SMBL" => SummaryType::AtsSymbol,
            "OTC_W_SMBL" => SummaryType::OtcSymbol,
            _ => SummaryType::Breakdown,
        }
    }
}

/// Where a week's rows came from: FINRA's Query API or the mirror's weekly ZIP. Stored beside the
/// shares (`ats_weekly.source`), so a value can be traced to what was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Carrier {
    /// `POST {api}/data/group/otcMarket/name/weeklySummary`.
    Api,
    /// `ATS/ATS_W_Summary_YYYYMMDD.zip` under `FINRA_BASE_URL`.
    Zip,
}

impl Carrier {
    /// `api` or `zip`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::Api => "api",
            Carrier::Zip => "zip",
        }
    }

    /// The stored spelling back; `None` for anything else.
    pub fn parse(text: &str) -> Option<Carrier> {
        match text {
            "api" => Some(Carrier::Api),
            "zip" => Some(Carrier::Zip),
            _ => None,
        }
    }
}

impl std::fmt::Display for Carrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One weekly summary row, from either carrier.
#[derive(Debug, Clone, PartialEq)]
pub struct AtsRecord {
    /// FINRA's `weekStartDate`: the Monday of the week.
    pub week_start: NaiveDate,
    /// `T1`, `T2` or `OTCE`.
    pub tier: String,
    /// FINRA OTC Transparency spelling (`BRK.B`).
    pub symbol: String,
    /// FINRA's `summaryTypeCode`, classified.
    pub summary_type: SummaryType,
    /// FINRA's `totalWeeklyShareQuantity`.
    pub shares: Volume,
    /// FINRA's `lastUpdateDate` (`YYYY-MM-DD`), when the carrier has it: later than
    /// `initial_published` when FINRA revised the week.
    pub last_update: Option<NaiveDate>,
    /// FINRA's `initialPublishedDate`, when the carrier has it.
    pub initial_published: Option<NaiveDate>,
}

/// One symbol's week.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AtsSymbolWeek {
    /// FINRA's `tierIdentifier` of the symbol's rows (`T1`, `T2` or `OTCE`).
    pub tier: String,
    /// `None`: no `ATS_W_SMBL` row (no ATS trading that week).
    pub ats: Option<Volume>,
    /// `None`: no `OTC_W_SMBL` row.
    pub otc: Option<Volume>,
    /// The latest `lastUpdateDate` of the symbol's rows.
    pub last_update: Option<NaiveDate>,
    /// The earliest `initialPublishedDate` of the symbol's rows.
    pub initial_published: Option<NaiveDate>,
}

/// A week of per-symbol ATS / non-ATS volumes, keyed by FINRA's ATS spelling.
#[derive(Debug, Clone, PartialEq)]
pub struct AtsWeek {
    /// FINRA's `weekStartDate`: the Monday of the week.
    pub week_start: NaiveDate,
    /// The per-symbol volumes, keyed by FINRA's OTC Transparency spelling (`BRK.B`).
    pub symbols: HashMap<String, AtsSymbolWeek>,
    /// `OTC_W_SMBL` rows seen: zero means the week has no totals at all.
    pub otc_rows: u64,
    /// Rows read, lines skipped and anomalies found in the week.
    pub quality: FileQuality,
}

impl AtsWeek {
    /// Aggregates records of one week. Rows of another week are a file-level error.
    pub fn from_records(
        week_start: NaiveDate,
        records: impl IntoIterator<Item = AtsRecord>,
        mut quality: FileQuality,
    ) -> Result<AtsWeek, ParseError> {
        let mut symbols: HashMap<String, AtsSymbolWeek> = HashMap::new();
        let (mut otc_rows, mut breakdown_rows, mut rows) = (0u64, 0u64, 0u64);
        for record in records {
            rows += 1;
            if record.week_start != week_start {
                return Err(ParseError::DateMismatch {
                    file: quality.file.clone(),
                    line: rows,
                    found: record.week_start.to_string(),
                    expected: week_start.to_string(),
                });
            }
            let slot = match record.summary_type {
                SummaryType::Breakdown => {
                    breakdown_rows += 1;
                    continue;
                }
                SummaryType::AtsSymbol => 0,
                SummaryType::OtcSymbol => {
                    otc_rows += 1;
                    1
                }
            };
            let entry = symbols.entry(record.symbol.clone()).or_default();
            let target = if slot == 0 {
                &mut entry.ats
            } else {
                &mut entry.otc
            };
            if target.is_some() {
                quality.violation(
                    &record.symbol,
                    format!(
                        "more than one {:?} row in the week; the first is used",
                        record.summary_type
                    ),
                );
                continue;
            }
            *target = Some(record.shares);
            entry.tier = record.tier;
            entry.last_update = entry.last_update.max(record.last_update);
            entry.initial_published = match (entry.initial_published, record.initial_published) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        // Firm-level rows are expected in every full week: worth a debug line, not a warning.
        if breakdown_rows > 0 {
            tracing::debug!(
                file = %quality.file,
                "{breakdown_rows} firm-level rows ignored (breakdowns of the per-symbol totals)"
            );
        }
        if otc_rows == 0 && !symbols.is_empty() {
            quality.note("no OTC_W_SMBL rows: the week has no totals, ats_share_of_total is null");
        }
        quality.rows_read = rows - breakdown_rows;
        Ok(AtsWeek {
            week_start,
            symbols,
            otc_rows,
            quality,
        })
    }

    /// FINRA's latest `lastUpdateDate` in the week: later than the one seen before when FINRA
    /// revised the week (or published another tier of it) since. `None` when the carrier has no
    /// such column.
    pub fn last_update(&self) -> Option<NaiveDate> {
        self.symbols.values().filter_map(|s| s.last_update).max()
    }
}

/// Reads the mirror's weekly ZIP (`ATS_W_Summary_YYYYMMDD.zip`) in memory.
pub fn parse_zip(file: &str, week_start: NaiveDate, bytes: &[u8]) -> Result<AtsWeek, ParseError> {
    parse_zip_bounded(file, week_start, bytes, MAX_MEMBER_BYTES)
}

fn parse_zip_bounded(
    file: &str,
    week_start: NaiveDate,
    bytes: &[u8],
    limit: u64,
) -> Result<AtsWeek, ParseError> {
    let archive_error = |reason: String| ParseError::Archive {
        file: file.into(),
        reason,
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| archive_error(format!("not a readable ZIP archive ({e})")))?;
    let members: Vec<usize> = (0..archive.len())
        .filter(|&i| {
            archive
                .by_index_raw(i)
                .map(|m| m.is_file())
                .unwrap_or(false)
        })
        .collect();
    let index = match members.as_slice() {
        [] => return Err(archive_error("the archive holds no file".into())),
        [one] => *one,
        _ => {
            return Err(archive_error(format!(
                "expected one member, found {}",
                members.len()
            )))
        }
    };
    let mut member = archive
        .by_index(index)
        .map_err(|e| archive_error(format!("cannot open member: {e}")))?;
    let name = member.name().to_string();
    if member.size() > limit {
        return Err(archive_error(format!(
            "member {name} claims {} bytes uncompressed, over the {limit}-byte limit",
            member.size()
        )));
    }
    // The declared size can lie: never read more than the bound, whatever the header says.
    let mut text = Vec::new();
    (&mut member)
        .take(limit + 1)
        .read_to_end(&mut text)
        .map_err(|e| archive_error(format!("member {name} is corrupt: {e}")))?;
    if text.len() as u64 > limit {
        return Err(archive_error(format!(
            "member {name} inflates past {limit} bytes"
        )));
    }
    parse_delimited(file, week_start, &text)
}

/// Reads the delimited weekly summary (pipe or comma, columns by FINRA's names).
pub fn parse_delimited(
    file: &str,
    week_start: NaiveDate,
    text: &[u8],
) -> Result<AtsWeek, ParseError> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty { file: file.into() });
    }
    let first = first_line_excerpt(text);
    let delimiter = if first.contains('|') { b'|' } else { b',' };
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text);
    let header = reader
        .headers()
        .cloned()
        .map_err(|_| ParseError::WrongFormat {
            file: file.into(),
            expected: "OTC Transparency weekly summary",
            first_line: first.clone(),
        })?;
    let find = |name: &'static str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| ParseError::MissingColumn {
                file: file.into(),
                column: name,
                header: first.clone(),
            })
    };
    let columns = [
        find("weekStartDate")?,
        find("tierIdentifier")?,
        find("issueSymbolIdentifier")?,
        find("summaryTypeCode")?,
        find("totalWeeklyShareQuantity")?,
    ];
    let dates = [
        header.iter().position(|h| h.trim() == "lastUpdateDate"),
        header
            .iter()
            .position(|h| h.trim() == "initialPublishedDate"),
    ];

    // Records stream straight into the week's per-symbol map: no vector of every row (a week
    // has several rows per symbol, firm breakdowns included) is ever held.
    let mut skipped = FileQuality::new(file);
    let mut data_lines = 0u64;
    let mut record = StringRecord::new();
    let records = std::iter::from_fn(|| loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                data_lines += 1;
                skipped.skip(data_lines + 1, format!("unreadable record: {e}"));
                continue;
            }
        }
        data_lines += 1;
        // Record number + 1 for the header: the line number in files without quoted newlines.
        let line = data_lines + 1;
        match read_record(&record, &columns, dates) {
            Ok(r) => return Some(r),
            Err(reason) => skipped.skip(line, reason),
        }
    });
    let week = AtsWeek::from_records(week_start, records, FileQuality::new(file));
    if skipped.lines_skipped * 2 > data_lines {
        let (first_line, first_reason) = skipped
            .skipped
            .first()
            .map(|s| (s.line, s.reason.clone()))
            .unwrap_or_default();
        return Err(ParseError::MostlyGarbage {
            file: file.into(),
            bad: skipped.lines_skipped,
            total: data_lines,
            first_line,
            first_reason,
        });
    }
    let mut week = week?;
    week.quality.lines_skipped = skipped.lines_skipped;
    week.quality.skipped = skipped.skipped;
    Ok(week)
}

fn read_record(
    record: &StringRecord,
    c: &[usize; 5],
    [last_update, initial_published]: [Option<usize>; 2],
) -> Result<AtsRecord, String> {
    let field = |i: usize| record.get(i).map(str::trim).ok_or("too few fields");
    let week = field(c[0])?;
    let symbol = field(c[2])?;
    if symbol.is_empty() {
        return Err("issueSymbolIdentifier is empty".into());
    }
    let shares = field(c[4])?;
    Ok(AtsRecord {
        week_start: parse_week_date(week)
            .ok_or_else(|| format!("weekStartDate {week:?} is not a date"))?,
        tier: field(c[1])?.to_string(),
        symbol: symbol.to_string(),
        summary_type: SummaryType::from_code(field(c[3])?),
        shares: Volume::parse(shares.as_bytes())
            .map_err(|e| format!("totalWeeklyShareQuantity {shares:?} is {e}"))?,
        last_update: last_update
            .and_then(|i| record.get(i))
            .and_then(parse_week_date),
        initial_published: initial_published
            .and_then(|i| record.get(i))
            .and_then(parse_week_date),
    })
}

/// FINRA writes `2024-04-01`; some downloads use `20240401`.
pub fn parse_week_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    // Fast path for FINRA's own `YYYY-MM-DD` (two dates on every row of a week).
    if let [y @ .., b'-', m1, m2, b'-', d1, d2] = text.as_bytes() {
        let number = |digits: &[u8]| -> Option<u32> {
            digits.iter().try_fold(0u32, |n, &b| {
                b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
            })
        };
        if y.len() == 4 {
            let year = i32::try_from(number(y)?).ok()?;
            return NaiveDate::from_ymd_opt(year, number(&[*m1, *m2])?, number(&[*d1, *d2])?);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y%m%d"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const HEADER: &str = "weekStartDate|tierIdentifier|issueSymbolIdentifier|issueName|summaryTypeCode|totalWeeklyShareQuantity|totalWeeklyTradeCount|MPID";

    fn monday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
    }

    fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut out);
            for (name, body) in members {
                w.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                w.write_all(body).unwrap();
            }
            w.finish().unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn only_symbol_aggregates_count() {
        let text = format!(
            "{HEADER}\n2024-04-01|T1|AAPL|Apple|ATS_W_SMBL|300|10|\n\
             2024-04-01|T1|AAPL|Apple|ATS_W_SMBL_FIRM|200|5|UBSA\n\
             2024-04-01|T1|AAPL|Apple|ATS_W_SMBL_FIRM|100|5|JPMS\n\
             2024-04-01|T1|AAPL|Apple|OTC_W_SMBL|700|50|\n\
             2024-04-01|T1|AAPL|Apple|OTC_W_FIRM|700|50|CDRG\n\
             2024-04-01|T2|XYZ|Xyz|OTC_W_SMBL|50|2|\n"
        );
        let week = parse_zip(
            "ATS_W_Summary_20240401.zip",
            monday(),
            &zip_of(&[("w.txt", text.as_bytes())]),
        )
        .unwrap();
        let aapl = &week.symbols["AAPL"];
        assert_eq!(aapl.ats, Some(Volume::from_shares(300)));
        assert_eq!(aapl.otc, Some(Volume::from_shares(700)));
        assert_eq!(week.symbols["XYZ"].ats, None);
        assert_eq!(week.otc_rows, 2);
        assert_eq!(
            week.quality.rows_read, 3,
            "firm rows are not counted as used"
        );
    }

    #[test]
    fn comma_delimited_with_extra_columns() {
        let text = "totalNotionalSum,weekStartDate,tierIdentifier,issueSymbolIdentifier,summaryTypeCode,totalWeeklyShareQuantity\n\
                    1.0439495945685266E10,2024-04-01,T1,BRK.B,ATS_W_SMBL,12.5\n";
        let week = parse_delimited("w.csv", monday(), text.as_bytes()).unwrap();
        assert_eq!(
            week.symbols["BRK.B"].ats,
            Some(Volume::from_micros(12_500_000))
        );
        assert!(week
            .quality
            .notes
            .iter()
            .any(|n| n.contains("no OTC_W_SMBL")));
    }

    #[test]
    fn hostile_archives_are_refused() {
        let err = |bytes: &[u8]| parse_zip("a.zip", monday(), bytes).unwrap_err().to_string();
        assert!(err(b"PK\x03\x04garbage").contains("not a readable ZIP"));
        assert!(err(b"").contains("not a readable ZIP"));
        assert!(err(&zip_of(&[])).contains("no file"));
        assert!(err(&zip_of(&[("a.txt", b"x"), ("b.txt", b"y")])).contains("expected one member"));
    }

    #[test]
    fn zip_bomb_is_refused_without_inflating_it_all() {
        let mut out = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut out);
            w.start_file("bomb.txt", zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(&vec![0u8; 4 << 20]).unwrap();
            w.finish().unwrap();
        }
        let bytes = out.into_inner();
        assert!(
            bytes.len() < 64 << 10,
            "the bomb compresses well: {}",
            bytes.len()
        );
        let e = parse_zip_bounded("bomb.zip", monday(), &bytes, 1 << 20).unwrap_err();
        assert!(
            e.to_string().contains("limit") || e.to_string().contains("inflates"),
            "{e}"
        );
    }

    #[test]
    fn other_week_and_garbage() {
        let text = format!("{HEADER}\n2024-03-25|T1|AAPL|Apple|ATS_W_SMBL|300|10|\n");
        assert!(matches!(
            parse_delimited("w", monday(), text.as_bytes()),
            Err(ParseError::DateMismatch { .. })
        ));
        let html = "<html><body>nope</body></html>\n";
        assert!(parse_delimited("w", monday(), html.as_bytes()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_zip("x.zip", monday(), &bytes);
            let _ = parse_delimited("x.txt", monday(), &bytes);
        }
    }
}
