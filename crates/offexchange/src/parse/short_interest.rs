//! FINRA's consolidated short interest: open short positions per symbol at a settlement date.
//!
//! Two carriers, the same rows:
//!
//! - the CDN file `otcmarket/biweekly/shrt{YYYYMMDD}.csv`: **pipe**-delimited despite its name,
//!   one header line, one line per symbol, no record-count line:
//!
//!   ```text
//!   accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate
//!   20260430|A|Agilent Technologies Inc.|A|NYSE|4824122|4481687||2052152|2.35||7.64|342435|2026-04-30
//!   ```
//!
//! - the Query API dataset `otcMarket/consolidatedShortInterest`: JSON pages of flat objects
//!   with the same field names, numbers as JSON numbers (`"daysToCoverQuantity":1.11`).
//!
//! Quantities are share counts and kept as exact integers (a JSON `10624431.0` is accepted, a
//! fraction is not). `daysToCoverQuantity` is capped by FINRA at [`DAYS_TO_COVER_CAP`] (a thin
//! name's "effectively infinite"): kept as written, flagged by
//! [`ShortInterestRecord::days_to_cover_capped`] so no one averages it as a real value.
//!
//! The CDN file is a person-edited-looking export, so one bad line is a finding, not a refusal
//! (more than half bad refuses the file); an API page is machine-made, so any bad row refuses it.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{first_line_excerpt, ParseError};
use crate::quality::FileQuality;

/// FINRA's cap on `daysToCoverQuantity`: a value of 999.99 means "at least that", not a number
/// of days.
pub const DAYS_TO_COVER_CAP: f64 = 999.99;

/// One symbol's short interest at one settlement date, as FINRA reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShortInterestRecord {
    /// `symbolCode`, FINRA's spelling (`BRKB` for class shares, no separator).
    pub symbol: String,
    /// `issueName`.
    pub issue_name: String,
    /// `settlementDate`.
    pub settlement_date: NaiveDate,
    /// `marketClassCode` (`NYSE`, `NNM`, `OTC`, ...).
    pub market_class: String,
    /// `currentShortPositionQuantity`: shares sold short and not yet covered.
    pub current_short: i64,
    /// `previousShortPositionQuantity`: the same at the previous settlement.
    pub previous_short: Option<i64>,
    /// `changePreviousNumber`: current - previous.
    pub change_previous: Option<i64>,
    /// `changePercent`: the change in percent of the previous position.
    pub change_percent: Option<f64>,
    /// `averageDailyVolumeQuantity`: the average daily share volume behind days to cover.
    pub average_daily_volume: Option<i64>,
    /// `daysToCoverQuantity`: current position / average daily volume, capped at
    /// [`DAYS_TO_COVER_CAP`].
    pub days_to_cover: Option<f64>,
    /// `stockSplitFlag` as written (blank: none).
    pub stock_split: Option<String>,
    /// `revisionFlag` as written (blank: none).
    pub revision: Option<String>,
}

impl ShortInterestRecord {
    /// Whether days to cover is FINRA's cap rather than a measured value.
    pub fn days_to_cover_capped(&self) -> bool {
        self.days_to_cover.is_some_and(|d| d >= DAYS_TO_COVER_CAP)
    }
}

/// A settlement's rows, parsed, with what was noticed.
#[derive(Debug, Clone)]
pub struct ShortInterestFile {
    /// The settlement date asked for.
    pub settlement_date: NaiveDate,
    /// One record per symbol, in FINRA's order.
    pub records: Vec<ShortInterestRecord>,
    /// Lines skipped and symbols dropped.
    pub quality: FileQuality,
}

/// The columns read from the CDN file; the others are ignored.
const SYMBOL: &str = "symbolCode";
const SETTLEMENT: &str = "settlementDate";
const CURRENT: &str = "currentShortPositionQuantity";
const OPTIONAL_COLUMNS: [&str; 9] = [
    "issueName",
    "marketClassCode",
    "previousShortPositionQuantity",
    "changePreviousNumber",
    "changePercent",
    "averageDailyVolumeQuantity",
    "daysToCoverQuantity",
    "stockSplitFlag",
    "revisionFlag",
];

/// Parses the CDN file of `settlement_date`. `file` names it in errors and findings.
///
/// ```
/// use chrono::NaiveDate;
/// use offexchange::parse::short_interest::parse_csv;
/// let body = b"accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate\n20260430|A|Agilent Technologies Inc.|A|NYSE|4824122|4481687||2052152|2.35||7.64|342435|2026-04-30\n";
/// let day = NaiveDate::from_ymd_opt(2026, 4, 30).unwrap();
/// let file = parse_csv("shrt20260430.csv", day, body).unwrap();
/// assert_eq!(file.records[0].current_short, 4_824_122);
/// assert_eq!(file.records[0].days_to_cover, Some(2.35));
/// ```
pub fn parse_csv(
    file: &str,
    settlement_date: NaiveDate,
    bytes: &[u8],
) -> Result<ShortInterestFile, ParseError> {
    let text = String::from_utf8_lossy(bytes);
    if text.trim().is_empty() {
        return Err(ParseError::Empty { file: file.into() });
    }
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let header_line = lines.next().unwrap_or_default();
    let header: Vec<&str> = header_line.split('|').map(str::trim).collect();
    if !header.contains(&SYMBOL) || !header.contains(&CURRENT) {
        return Err(ParseError::WrongFormat {
            file: file.into(),
            expected: "FINRA short interest",
            first_line: first_line_excerpt(bytes),
        });
    }
    let column = |name: &'static str| header.iter().position(|h| *h == name);
    let required = |name: &'static str| {
        column(name).ok_or_else(|| ParseError::MissingColumn {
            file: file.into(),
            column: name,
            header: header_line.chars().take(80).collect(),
        })
    };
    let columns = Columns {
        symbol: required(SYMBOL)?,
        settlement: required(SETTLEMENT)?,
        current: required(CURRENT)?,
        optional: OPTIONAL_COLUMNS.map(column),
    };
    let mut quality = FileQuality::new(file);
    let mut records = Vec::new();
    let mut data_lines = 0u64;
    let mut bad = 0u64;
    let mut first_bad: Option<(u64, String)> = None;
    let all: Vec<&str> = lines.collect();
    let last_data = all.iter().rposition(|l| !l.trim().is_empty());
    for (i, line) in all.iter().enumerate() {
        let number = i as u64 + 2;
        if line.trim().is_empty() {
            continue;
        }
        data_lines += 1;
        let fields: Vec<&str> = line.split('|').collect();
        if fields.len() < header.len() && Some(i) == last_data {
            // The last line lacks fields: the download was cut inside it.
            return Err(ParseError::Truncated {
                file: file.into(),
                line: number,
                reason: format!(
                    "the last line has {} of the header's {} fields",
                    fields.len(),
                    header.len()
                ),
            });
        }
        match columns.record(&fields, header.len()) {
            Ok(record) if record.settlement_date != settlement_date => {
                return Err(ParseError::DateMismatch {
                    file: file.into(),
                    line: number,
                    found: record.settlement_date.to_string(),
                    expected: settlement_date.to_string(),
                })
            }
            Ok(record) => records.push(record),
            Err(reason) => {
                bad += 1;
                first_bad.get_or_insert((number, reason.clone()));
                quality.skip(number, reason);
            }
        }
    }
    if data_lines > 0 && bad * 2 > data_lines {
        let (first_line, first_reason) = first_bad.unwrap_or_default();
        return Err(ParseError::MostlyGarbage {
            file: file.into(),
            bad,
            total: data_lines,
            first_line,
            first_reason,
        });
    }
    quality.rows_read = records.len() as u64;
    Ok(ShortInterestFile {
        settlement_date,
        records: drop_duplicates(records, &mut quality),
        quality,
    })
}

/// Where the CDN file's columns are.
struct Columns {
    symbol: usize,
    settlement: usize,
    current: usize,
    /// [`OPTIONAL_COLUMNS`], in that order.
    optional: [Option<usize>; 9],
}

impl Columns {
    fn record(&self, fields: &[&str], width: usize) -> Result<ShortInterestRecord, String> {
        if fields.len() != width {
            return Err(format!("{} fields, the header has {width}", fields.len()));
        }
        let at = |i: usize| fields.get(i).map(|f| f.trim()).unwrap_or_default();
        let optional = |k: usize| self.optional[k].map(at).filter(|v| !v.is_empty());
        let symbol = at(self.symbol);
        if symbol.is_empty() {
            return Err("symbolCode is empty".into());
        }
        let settlement_date = parse_date(at(self.settlement))
            .ok_or_else(|| format!("settlementDate {:?} is not a date", at(self.settlement)))?;
        let current_short =
            whole(CURRENT, at(self.current))?.ok_or_else(|| format!("{CURRENT} is empty"))?;
        Ok(ShortInterestRecord {
            symbol: symbol.to_string(),
            issue_name: optional(0).unwrap_or_default().to_string(),
            settlement_date,
            market_class: optional(1).unwrap_or_default().to_string(),
            current_short,
            previous_short: whole(OPTIONAL_COLUMNS[2], optional(2).unwrap_or_default())?,
            change_previous: whole(OPTIONAL_COLUMNS[3], optional(3).unwrap_or_default())?,
            change_percent: decimal(OPTIONAL_COLUMNS[4], optional(4).unwrap_or_default())?,
            average_daily_volume: whole(OPTIONAL_COLUMNS[5], optional(5).unwrap_or_default())?,
            days_to_cover: decimal(OPTIONAL_COLUMNS[6], optional(6).unwrap_or_default())?,
            stock_split: optional(7).map(str::to_string),
            revision: optional(8).map(str::to_string),
        })
    }
}

/// A settlement date as FINRA writes it: `2026-04-30` (rows) or `20260430` (file names, some
/// clients).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y%m%d"))
        .ok()
}

/// A share count: digits with an optional sign, or a decimal whose fraction is zero
/// (`10624431.0`, as a JSON double may arrive). Empty is `None`.
fn whole(field: &str, text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let integral = match text.split_once('.') {
        Some((int, fraction)) if fraction.bytes().all(|b| b == b'0') => int,
        Some(_) => return Err(format!("{field} {text:?} is not a whole number of shares")),
        None => text,
    };
    integral
        .parse::<i64>()
        .map(Some)
        .map_err(|_| format!("{field} {text:?} is not a whole number of shares"))
}

/// A finite decimal (days to cover, percent). Empty is `None`.
fn decimal(field: &str, text: &str) -> Result<Option<f64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(format!("{field} {text:?} is not a number")),
    }
}

/// A symbol FINRA lists twice in one settlement cannot be told apart: both rows are dropped,
/// with a finding, rather than one picked.
fn drop_duplicates(
    records: Vec<ShortInterestRecord>,
    quality: &mut FileQuality,
) -> Vec<ShortInterestRecord> {
    let mut count: HashMap<&str, usize> = HashMap::with_capacity(records.len());
    for r in &records {
        *count.entry(r.symbol.as_str()).or_default() += 1;
    }
    let twice: Vec<String> = count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(s, _)| s.to_string())
        .collect();
    if twice.is_empty() {
        return records;
    }
    for symbol in &twice {
        quality.violation(
            symbol,
            "listed more than once in the settlement; every row of it dropped",
        );
    }
    records
        .into_iter()
        .filter(|r| !twice.contains(&r.symbol))
        .collect()
}

/// One API row: FINRA's fields, numbers read from their JSON text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiRow<'a> {
    #[serde(borrow, default)]
    symbol_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    issue_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    settlement_date: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    market_class_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    current_short_position_quantity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    previous_short_position_quantity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    change_previous_number: Option<&'a RawValue>,
    #[serde(borrow, default)]
    change_percent: Option<&'a RawValue>,
    #[serde(borrow, default)]
    average_daily_volume_quantity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    days_to_cover_quantity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stock_split_flag: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    revision_flag: Option<Cow<'a, str>>,
}

/// The text of a JSON number or numeric string (`null` is empty).
fn raw_number(raw: Option<&RawValue>) -> Cow<'_, str> {
    match raw.map(RawValue::get) {
        None | Some("null") => Cow::Borrowed(""),
        Some(text) if text.starts_with('"') => {
            Cow::Owned(serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string()))
        }
        Some(text) => Cow::Borrowed(text),
    }
}

/// Parses one `consolidatedShortInterest` page of `settlement_date` (the EQUAL filter). `page`
/// names it in errors; `first_row` is the page's offset (rows are numbered across the query).
/// Returns the records and the rows the page held.
pub fn parse_api_page(
    page: &str,
    body: &[u8],
    settlement_date: NaiveDate,
    first_row: u64,
) -> Result<(Vec<ShortInterestRecord>, u64), ParseError> {
    let fail = |reason: String| ParseError::Json {
        file: page.to_string(),
        reason,
    };
    let rows: Vec<ApiRow<'_>> = serde_json::from_slice(body).map_err(|e| {
        fail(format!(
            "not a JSON array of rows ({e}); body starts {:?}",
            first_line_excerpt(body)
        ))
    })?;
    let mut records = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let n = first_row + i as u64 + 1;
        let bad = |reason: String| fail(format!("row {n}: {reason}"));
        let symbol = row
            .symbol_code
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("symbolCode is missing".into()))?;
        let found = match row.settlement_date.as_deref() {
            // Pinned by the filter: a row may leave it out.
            None => settlement_date,
            Some(text) => parse_date(text.trim())
                .ok_or_else(|| bad(format!("settlementDate {text:?} is not a date")))?,
        };
        if found != settlement_date {
            return Err(bad(format!(
                "settlementDate {found} is not the {settlement_date} asked for (the filter was \
                 ignored?)"
            )));
        }
        let current_short = whole(CURRENT, &raw_number(row.current_short_position_quantity))
            .map_err(&bad)?
            .ok_or_else(|| bad(format!("{CURRENT} is missing")))?;
        let text = |v: &Option<Cow<'_, str>>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        records.push(ShortInterestRecord {
            symbol: symbol.to_string(),
            issue_name: text(&row.issue_name).unwrap_or_default(),
            settlement_date,
            market_class: text(&row.market_class_code).unwrap_or_default(),
            current_short,
            previous_short: whole(
                "previousShortPositionQuantity",
                &raw_number(row.previous_short_position_quantity),
            )
            .map_err(&bad)?,
            change_previous: whole(
                "changePreviousNumber",
                &raw_number(row.change_previous_number),
            )
            .map_err(&bad)?,
            change_percent: decimal("changePercent", &raw_number(row.change_percent))
                .map_err(&bad)?,
            average_daily_volume: whole(
                "averageDailyVolumeQuantity",
                &raw_number(row.average_daily_volume_quantity),
            )
            .map_err(&bad)?,
            days_to_cover: decimal(
                "daysToCoverQuantity",
                &raw_number(row.days_to_cover_quantity),
            )
            .map_err(&bad)?,
            stock_split: text(&row.stock_split_flag),
            revision: text(&row.revision_flag),
        });
    }
    Ok((records, rows.len() as u64))
}

/// The API's rows of a settlement (all pages), checked like the CDN file's: duplicates dropped.
pub fn api_file(
    name: &str,
    settlement_date: NaiveDate,
    records: Vec<ShortInterestRecord>,
) -> ShortInterestFile {
    let mut quality = FileQuality::new(name);
    quality.rows_read = records.len() as u64;
    ShortInterestFile {
        settlement_date,
        records: drop_duplicates(records, &mut quality),
        quality,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate";

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 4, 30).unwrap()
    }

    fn csv(lines: &[&str]) -> Vec<u8> {
        let mut text = format!("{HEADER}\n");
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        text.into_bytes()
    }

    #[test]
    fn cdn_rows_as_finra_writes_them() {
        // The first row is FINRA's own (shrt20260430.csv, Agilent); the second a capped,
        // revised OTC name shaped like it.
        let body = csv(&[
            "20260430|A|Agilent Technologies Inc.|A|NYSE|4824122|4481687||2052152|2.35||7.64|342435|2026-04-30",
            "20260430|AACAF|AAC Technologies Holdings Inc|U|OTC|4612254|4372254|S|33|999.99|R|5.49|240000|2026-04-30",
        ]);
        let file = parse_csv("shrt20260430.csv", day(), &body).unwrap();
        assert!(file.quality.is_clean(), "{:?}", file.quality);
        let a = &file.records[0];
        assert_eq!(
            (
                a.symbol.as_str(),
                a.issue_name.as_str(),
                a.market_class.as_str()
            ),
            ("A", "Agilent Technologies Inc.", "NYSE")
        );
        assert_eq!(
            (a.current_short, a.previous_short, a.change_previous),
            (4_824_122, Some(4_481_687), Some(342_435))
        );
        assert_eq!(
            (a.average_daily_volume, a.days_to_cover),
            (Some(2_052_152), Some(2.35))
        );
        assert_eq!(
            (a.change_percent, a.stock_split.as_deref()),
            (Some(7.64), None)
        );
        assert!(!a.days_to_cover_capped());
        let capped = &file.records[1];
        assert!(capped.days_to_cover_capped());
        assert_eq!(capped.revision.as_deref(), Some("R"));
        assert_eq!(capped.stock_split.as_deref(), Some("S"));
    }

    #[test]
    fn a_bad_line_is_a_finding_most_bad_lines_refuse_the_file() {
        let good = "20260430|A|Agilent|A|NYSE|10|9||5|2||1|1|2026-04-30";
        let bad = "20260430|B|Bad|A|NYSE|ten|9||5|2||1|1|2026-04-30";
        let file = parse_csv(
            "f",
            day(),
            &csv(&[good, bad, good.replace("|A|Agilent", "|C|C").as_str()]),
        )
        .unwrap();
        assert_eq!(file.records.len(), 2);
        assert_eq!(file.quality.skipped.len(), 1);
        assert!(file.quality.skipped[0].reason.contains("\"ten\""));
        let err = parse_csv("f", day(), &csv(&[bad, bad, good])).unwrap_err();
        assert!(
            matches!(
                err,
                ParseError::MostlyGarbage {
                    bad: 2,
                    total: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn refusals_name_the_file_and_line() {
        let html = b"<html><body>Access Denied</body></html>";
        assert!(matches!(
            parse_csv("shrt.csv", day(), html),
            Err(ParseError::WrongFormat { .. })
        ));
        assert!(matches!(
            parse_csv("shrt.csv", day(), b"  \n"),
            Err(ParseError::Empty { .. })
        ));
        let other_day = csv(&["20260415|A|A|A|NYSE|1|1||1|1||0|0|2026-04-15"]);
        let err = parse_csv("shrt.csv", day(), &other_day).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shrt.csv line 2: date 2026-04-15 disagrees with the requested date 2026-04-30"
        );
        let mut cut = csv(&["20260430|A|A|A|NYSE|1|1||1|1||0|0|2026-04-30"]);
        cut.extend_from_slice(b"20260430|B|B|A|NY");
        let err = parse_csv("shrt.csv", day(), &cut).unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn a_symbol_listed_twice_is_dropped_not_guessed() {
        let body = csv(&[
            "20260430|X|X one|A|NYSE|1|1||1|1||0|0|2026-04-30",
            "20260430|X|X two|A|OTC|2|2||1|2||0|0|2026-04-30",
            "20260430|Y|Y|A|NYSE|3|3||1|3||0|0|2026-04-30",
        ]);
        let file = parse_csv("f", day(), &body).unwrap();
        let symbols: Vec<&str> = file.records.iter().map(|r| r.symbol.as_str()).collect();
        assert_eq!(symbols, ["Y"]);
        assert_eq!(file.quality.violations.len(), 1);
    }

    #[test]
    fn api_rows_as_public_clients_recorded_them() {
        // Shaped exactly like rows a public client's test suite recorded from
        // api.finra.org (consolidatedShortInterest, settlement 2026-05-29).
        let body = br#"[{"symbolCode":"AA","issueName":"Alcoa Corporation","marketClassCode":"NYSE","settlementDate":"2026-05-29","currentShortPositionQuantity":10624431,"previousShortPositionQuantity":9476203,"averageDailyVolumeQuantity":9564290,"daysToCoverQuantity":1.11,"changePercent":12.12,"changePreviousNumber":1148228.0,"revisionFlag":null,"stockSplitFlag":null},
            {"symbolCode":"AACAF","issueName":"AAC Technologies Holdings Inc","marketClassCode":"OTC","settlementDate":"2026-05-29","currentShortPositionQuantity":4612254,"averageDailyVolumeQuantity":33,"daysToCoverQuantity":999.99,"changePercent":5.5}]"#;
        let settlement = NaiveDate::from_ymd_opt(2026, 5, 29).unwrap();
        let (records, rows) = parse_api_page("page", body, settlement, 0).unwrap();
        assert_eq!(rows, 2);
        assert_eq!(records[0].current_short, 10_624_431);
        assert_eq!(records[0].change_previous, Some(1_148_228));
        assert_eq!(records[0].revision, None);
        assert!(records[1].days_to_cover_capped());
        assert_eq!(records[1].previous_short, None);
    }

    #[test]
    fn a_bad_api_row_refuses_the_page_naming_row_and_field() {
        let settlement = NaiveDate::from_ymd_opt(2026, 5, 29).unwrap();
        let fraction = br#"[{"symbolCode":"AA","settlementDate":"2026-05-29","currentShortPositionQuantity":10.5}]"#;
        let err = parse_api_page("p", fraction, settlement, 5000).unwrap_err();
        assert!(err.to_string().contains("row 5001"), "{err}");
        assert!(
            err.to_string().contains("currentShortPositionQuantity"),
            "{err}"
        );
        let other = br#"[{"symbolCode":"AA","settlementDate":"2026-05-15","currentShortPositionQuantity":1}]"#;
        assert!(parse_api_page("p", other, settlement, 0).is_err());
        let truncated = br#"[{"symbolCode":"AA","settlementDate":"2026-05-29","currentSho"#;
        let err = parse_api_page("p", truncated, settlement, 0).unwrap_err();
        assert!(err.to_string().contains("not a JSON array"), "{err}");
    }
}
