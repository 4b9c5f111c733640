//! FINRA Query API answers for the OTC Transparency weekly summary, into [`AtsRecord`]s.
//!
//! A `weeklySummary` page is a compact JSON array of flat objects, keys in FINRA's own order,
//! rows unsorted:
//!
//! ```text
//! [{"totalWeeklyShareQuantity":21127391,"issueSymbolIdentifier":"AAPL","lastUpdateDate":"2023-10-16",...},...]
//! ```
//!
//! Each row becomes the same [`AtsRecord`] the mirror's ZIP gives, so [`AtsWeek::from_records`]
//! (and everything after it) does not know which carrier the week came from.
//!
//! - `totalWeeklyShareQuantity` is read from the raw JSON number text with [`Volume::parse`]:
//!   FINRA writes integers in some years and Java doubles (`1.0439495945685266E10`) in others, and
//!   going through `f64` would round large volumes.
//! - A field the request fixed ([`Pinned`], from its EQUAL filters) may be absent from the rows;
//!   FINRA returns only the `fields` asked for. Present, it must agree with the filter: a row of
//!   another week, tier or summary type means the server ignored the filter.
//! - Strict: malformed JSON, a core field missing, or a bad value refuses the whole page, naming
//!   the row and field. An API answer is machine-made, so an anomaly is systematic, not a stray
//!   line.
//!
//! [`AtsWeek::from_records`]: super::ats::AtsWeek::from_records

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::ats::{parse_week_date, AtsRecord, SummaryType};
use super::ParseError;
use crate::volume::Volume;

/// Field values fixed by the request's filters: rows may omit these fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pinned {
    /// `weekStartDate` (an EQUAL filter, or a date range of one day).
    pub week_start: Option<NaiveDate>,
    /// `tierIdentifier`.
    pub tier: Option<String>,
    /// `summaryTypeCode`.
    pub summary_type: Option<String>,
    /// `issueSymbolIdentifier`.
    pub symbol: Option<String>,
    /// `summaryTypeCode` values allowed by a domain filter (empty: any).
    pub summary_types: Vec<String>,
    /// The server could not filter `summaryTypeCode` (`weeklySummaryHistoric`): rows of other
    /// types are expected and skipped, not an error.
    pub filter_locally: bool,
}

/// The fields read from a row; FINRA's other fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
    #[serde(borrow, default)]
    week_start_date: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tier_identifier: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    issue_symbol_identifier: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    summary_type_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    total_weekly_share_quantity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    last_update_date: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    initial_published_date: Option<Cow<'a, str>>,
}

/// Parses one `weeklySummary` page. `page` names it in errors; `first_row` is the page's offset,
/// so that rows are numbered across the whole query (1-based).
///
/// ```
/// use offexchange::parse::ats_json::{parse_page, Pinned};
/// use offexchange::volume::Volume;
/// let body = br#"[{"weekStartDate":"2024-04-01","tierIdentifier":"T1","issueSymbolIdentifier":"BRK.B","summaryTypeCode":"ATS_W_SMBL","totalWeeklyShareQuantity":1.2E3}]"#;
/// let rows = parse_page("page", body, &Pinned::default(), 0).unwrap();
/// assert_eq!(rows[0].symbol, "BRK.B");
/// assert_eq!(rows[0].shares, Volume::from_shares(1200));
/// ```
pub fn parse_page(
    page: &str,
    body: &[u8],
    pinned: &Pinned,
    first_row: u64,
) -> Result<Vec<AtsRecord>, ParseError> {
    parse_page_counted(page, body, pinned, first_row).map(|(records, _)| records)
}

/// [`parse_page`], also counting the page's rows (with [`Pinned::filter_locally`], rows of
/// other summary types are counted and skipped, so the count can exceed the records).
pub fn parse_page_counted(
    page: &str,
    body: &[u8],
    pinned: &Pinned,
    first_row: u64,
) -> Result<(Vec<AtsRecord>, u64), ParseError> {
    let error = |reason: String| ParseError::Json {
        file: page.to_string(),
        reason,
    };
    let rows: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| {
        error(format!(
            "not a JSON array of rows ({e}); body starts {:?}",
            start_of(body)
        ))
    })?;
    let count = rows.len() as u64;
    let mut records = Vec::with_capacity(rows.len());
    for (i, raw) in rows.into_iter().enumerate() {
        let number = first_row + i as u64 + 1;
        let row: Row<'_> = serde_json::from_str(raw.get())
            .map_err(|e| error(format!("row {number}: not a weeklySummary row ({e})")))?;
        if pinned.filter_locally && !kept_locally(&row, pinned) {
            continue;
        }
        let record = read_row(&row, pinned).map_err(|why| {
            let symbol = row
                .issue_symbol_identifier
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            error(format!("row {number}{symbol}: {why}"))
        })?;
        records.push(record);
    }
    Ok((records, count))
}

/// With local filtering, a row is kept when its `summaryTypeCode` is one asked for (a row
/// without one is kept, and refused by [`read_row`] as usual).
fn kept_locally(row: &Row<'_>, pinned: &Pinned) -> bool {
    match row.summary_type_code.as_deref() {
        Some(code) => pinned.summary_types.iter().any(|t| t == code.trim()),
        None => true,
    }
}

/// Records as a `weeklySummary`-shaped JSON array (the fields of [`AtsRecord`], FINRA's names),
/// which [`parse_page`] reads back to the same records: the form a static historic week is kept
/// in the raw-file cache.
pub fn to_json(records: &[AtsRecord]) -> String {
    let rows: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            let code = match r.summary_type {
                SummaryType::AtsSymbol => "ATS_W_SMBL",
                SummaryType::OtcSymbol => "OTC_W_SMBL",
                SummaryType::Breakdown => "BREAKDOWN",
            };
            let day = |d: Option<NaiveDate>| d.map(|d| d.to_string());
            serde_json::json!({
                "weekStartDate": r.week_start.to_string(),
                "tierIdentifier": r.tier,
                "issueSymbolIdentifier": r.symbol,
                "summaryTypeCode": code,
                // A quoted exact decimal: read back by `shares` without a float.
                "totalWeeklyShareQuantity": r.shares.to_string(),
                "initialPublishedDate": day(r.initial_published),
                "lastUpdateDate": day(r.last_update),
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

fn read_row(row: &Row<'_>, pinned: &Pinned) -> Result<AtsRecord, String> {
    let week_text = required(
        "weekStartDate",
        row.week_start_date.as_deref(),
        pinned.week_start.map(|d| d.to_string()).as_deref(),
    )?;
    let week_start = parse_week_date(&week_text)
        .ok_or_else(|| format!("weekStartDate {week_text:?} is not a date"))?;
    let tier = required(
        "tierIdentifier",
        row.tier_identifier.as_deref(),
        pinned.tier.as_deref(),
    )?;
    let symbol = required(
        "issueSymbolIdentifier",
        row.issue_symbol_identifier.as_deref(),
        pinned.symbol.as_deref(),
    )?;
    if symbol.trim().is_empty() {
        return Err("issueSymbolIdentifier is empty".into());
    }
    let code = required(
        "summaryTypeCode",
        row.summary_type_code.as_deref(),
        pinned.summary_type.as_deref(),
    )?;
    if !pinned.summary_types.is_empty() && !pinned.summary_types.contains(&code) {
        return Err(format!(
            "summaryTypeCode {code:?} is outside the requested {:?}",
            pinned.summary_types
        ));
    }
    let raw = row
        .total_weekly_share_quantity
        .ok_or("no totalWeeklyShareQuantity (missing or null)")?;
    Ok(AtsRecord {
        week_start,
        tier,
        symbol,
        summary_type: SummaryType::from_code(&code),
        shares: shares(raw)?,
        last_update: optional_date("lastUpdateDate", row.last_update_date.as_deref())?,
        initial_published: optional_date(
            "initialPublishedDate",
            row.initial_published_date.as_deref(),
        )?,
    })
}

/// A core field: from the row, else from the request's filter; both present must agree.
fn required(name: &str, found: Option<&str>, pinned: Option<&str>) -> Result<String, String> {
    match (found, pinned) {
        (Some(found), Some(pinned)) if found.trim() != pinned => Err(format!(
            "{name} {found:?} disagrees with the request's filter {pinned:?}"
        )),
        (Some(found), _) => Ok(found.trim().to_string()),
        (None, Some(pinned)) => Ok(pinned.to_string()),
        (None, None) => Err(format!("no {name} (missing or null)")),
    }
}

/// `lastUpdateDate` / `initialPublishedDate`: absent or null is `None`; anything else must be a date.
fn optional_date(name: &str, text: Option<&str>) -> Result<Option<NaiveDate>, String> {
    match text {
        None => Ok(None),
        Some(t) => parse_week_date(t)
            .map(Some)
            .ok_or_else(|| format!("{name} {t:?} is not a date")),
    }
}

/// The share count from the raw JSON text: a number (`123`, `1.0439495945685266E10`) or, should
/// FINRA ever quote it, a string holding one.
fn shares(raw: &RawValue) -> Result<Volume, String> {
    let text = raw.get();
    let unquoted: Cow<'_, str> = if text.starts_with('"') {
        Cow::Owned(
            serde_json::from_str::<String>(text)
                .map_err(|e| format!("totalWeeklyShareQuantity {text} is not a string: {e}"))?,
        )
    } else {
        Cow::Borrowed(text)
    };
    Volume::parse(unquoted.as_bytes())
        .map_err(|e| format!("totalWeeklyShareQuantity {text} is {e}"))
}

/// Which (week, tier) partitions FINRA has published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partitions {
    by_week: BTreeMap<NaiveDate, Vec<String>>,
}

impl Partitions {
    /// Builds the list from `(weekStartDate, tierIdentifier)` pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (NaiveDate, String)>) -> Partitions {
        let mut by_week: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
        for (week, tier) in pairs {
            let tiers = by_week.entry(week).or_default();
            if !tiers.contains(&tier) {
                tiers.push(tier);
                tiers.sort();
            }
        }
        Partitions { by_week }
    }

    /// The tiers of `week_start` that are published (sorted), possibly none.
    pub fn tiers(&self, week_start: NaiveDate) -> &[String] {
        self.by_week.get(&week_start).map_or(&[], Vec::as_slice)
    }

    /// `true` when FINRA lists the (`week_start`, `tier`) partition as published.
    pub fn is_published(&self, week_start: NaiveDate, tier: &str) -> bool {
        self.tiers(week_start).iter().any(|t| t == tier)
    }

    /// The oldest week listed: where `weeklySummary`'s rolling window begins.
    pub fn earliest_week(&self) -> Option<NaiveDate> {
        self.by_week.keys().next().copied()
    }

    /// The newest week with at least one published tier.
    pub fn latest_week(&self) -> Option<NaiveDate> {
        self.by_week.keys().next_back().copied()
    }

    /// Weeks listed.
    pub fn weeks(&self) -> usize {
        self.by_week.len()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartitionsBody {
    available_partitions: Vec<PartitionEntry>,
}

#[derive(Deserialize)]
struct PartitionEntry {
    partitions: Vec<String>,
}

/// Parses the `partitions` answer: `{"availablePartitions": [{"partitions": ["2026-08-31", "T1"]},
/// ...]}`. Each entry must be a (date, tier) pair; the order of the two is not relied on.
///
/// ```
/// use chrono::NaiveDate;
/// use offexchange::parse::ats_json::parse_partitions;
/// let body = br#"{"availablePartitions":[{"partitions":["2024-04-01","T1"]}]}"#;
/// let p = parse_partitions("partitions", body).unwrap();
/// assert!(p.is_published(NaiveDate::from_ymd_opt(2024, 4, 1).unwrap(), "T1"));
/// ```
pub fn parse_partitions(name: &str, body: &[u8]) -> Result<Partitions, ParseError> {
    let error = |reason: String| ParseError::Json {
        file: name.to_string(),
        reason,
    };
    let parsed: PartitionsBody = serde_json::from_slice(body).map_err(|e| {
        error(format!(
            "not a partitions list ({e}); body starts {:?}",
            start_of(body)
        ))
    })?;
    let mut pairs = Vec::with_capacity(parsed.available_partitions.len());
    for (i, entry) in parsed.available_partitions.iter().enumerate() {
        let pair = match entry.partitions.as_slice() {
            [a, b] => match (parse_week_date(a), parse_week_date(b)) {
                (Some(week), None) => Some((week, b.trim().to_string())),
                (None, Some(week)) => Some((week, a.trim().to_string())),
                _ => None,
            },
            _ => None,
        };
        let pair = pair.filter(|(_, tier)| !tier.is_empty()).ok_or_else(|| {
            error(format!(
                "entry {}: expected a (weekStartDate, tierIdentifier) pair, found {:?}",
                i + 1,
                entry.partitions
            ))
        })?;
        pairs.push(pair);
    }
    Ok(Partitions::from_pairs(pairs))
}

fn start_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(80)]);
    if body.len() > 80 {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
    }

    fn page(body: &str, pinned: &Pinned) -> Result<Vec<AtsRecord>, ParseError> {
        parse_page("weeklySummary 2024-04-01 T1", body.as_bytes(), pinned, 0)
    }

    #[test]
    fn full_rows_in_any_key_order() {
        let body = r#"[{"totalWeeklyShareQuantity":300,"summaryTypeCode":"ATS_W_SMBL","issueSymbolIdentifier":"AAPL","tierIdentifier":"T1","weekStartDate":"2024-04-01","initialPublishedDate":"2024-04-22","lastUpdateDate":"2024-04-29","totalWeeklyTradeCount":7},{"weekStartDate":"2024-04-01","tierIdentifier":"T1","issueSymbolIdentifier":"AAPL","summaryTypeCode":"OTC_W_SMBL","totalWeeklyShareQuantity":1.0439495945685266E10,"lastUpdateDate":null}]"#;
        let rows = page(body, &Pinned::default()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].summary_type, SummaryType::AtsSymbol);
        assert_eq!(rows[0].shares, Volume::from_shares(300));
        assert_eq!(rows[0].last_update, NaiveDate::from_ymd_opt(2024, 4, 29));
        assert_eq!(
            rows[0].initial_published,
            NaiveDate::from_ymd_opt(2024, 4, 22)
        );
        assert_eq!(rows[1].summary_type, SummaryType::OtcSymbol);
        assert_eq!(rows[1].shares, Volume::from_micros(10_439_495_945_685_266));
        assert_eq!(rows[1].last_update, None);
        assert_eq!(rows[1].week_start, monday());
    }

    #[test]
    fn pinned_fields_fill_in_and_must_agree() {
        let pinned = Pinned {
            week_start: Some(monday()),
            tier: Some("T1".into()),
            summary_type: Some("ATS_W_SMBL".into()),
            ..Pinned::default()
        };
        let rows = page(
            r#"[{"totalWeeklyShareQuantity":5,"issueSymbolIdentifier":"A"}]"#,
            &pinned,
        )
        .unwrap();
        assert_eq!(
            (rows[0].week_start, rows[0].tier.as_str()),
            (monday(), "T1")
        );
        let err = page(
            r#"[{"totalWeeklyShareQuantity":5,"issueSymbolIdentifier":"A","tierIdentifier":"T2"}]"#,
            &pinned,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("row 1 (A): tierIdentifier \"T2\" disagrees"),
            "{err}"
        );
        let domain = Pinned {
            summary_types: vec!["ATS_W_SMBL".into(), "OTC_W_SMBL".into()],
            ..pinned
        };
        let err = page(
            r#"[{"totalWeeklyShareQuantity":5,"issueSymbolIdentifier":"A","summaryTypeCode":"ATS_W_FIRM"}]"#,
            &Pinned { summary_type: None, ..domain },
        )
        .unwrap_err();
        assert!(err.to_string().contains("outside the requested"), "{err}");
    }

    #[test]
    fn refusals_name_row_field_and_value() {
        let cases = [
            ("[", "not a JSON array of rows"),
            ("{\"message\":\"x\"}", "not a JSON array of rows"),
            ("<html></html>", "not a JSON array of rows"),
            ("[1]", "row 1: not a weeklySummary row"),
            (
                r#"[{"issueSymbolIdentifier":"A","totalWeeklyShareQuantity":1}]"#,
                "row 1 (A): no weekStartDate",
            ),
            (
                r#"[{"weekStartDate":"2024-04-01","tierIdentifier":"T1","summaryTypeCode":"ATS_W_SMBL","issueSymbolIdentifier":"A"}]"#,
                "row 1 (A): no totalWeeklyShareQuantity",
            ),
            (
                r#"[{"weekStartDate":"2024-04-01","tierIdentifier":"T1","summaryTypeCode":"ATS_W_SMBL","issueSymbolIdentifier":"A","totalWeeklyShareQuantity":-4}]"#,
                "totalWeeklyShareQuantity -4 is negative",
            ),
            (
                r#"[{"weekStartDate":"2024-04-01","tierIdentifier":"T1","summaryTypeCode":"ATS_W_SMBL","issueSymbolIdentifier":"A","totalWeeklyShareQuantity":1.0000001}]"#,
                "totalWeeklyShareQuantity 1.0000001 is more than 6 decimals",
            ),
            (
                r#"[{"weekStartDate":"April","tierIdentifier":"T1","summaryTypeCode":"ATS_W_SMBL","issueSymbolIdentifier":"A","totalWeeklyShareQuantity":1}]"#,
                "weekStartDate \"April\" is not a date",
            ),
            (
                r#"[{"weekStartDate":"2024-04-01","tierIdentifier":"T1","summaryTypeCode":"ATS_W_SMBL","issueSymbolIdentifier":"A","totalWeeklyShareQuantity":1,"lastUpdateDate":"soon"}]"#,
                "lastUpdateDate \"soon\" is not a date",
            ),
        ];
        for (body, expected) in cases {
            let err = page(body, &Pinned::default()).unwrap_err().to_string();
            assert!(err.starts_with("weeklySummary 2024-04-01 T1: "), "{err}");
            assert!(err.contains(expected), "{body}: {err}");
        }
        let ok = page(r#"[{"weekStartDate":"2024-04-01","tierIdentifier":"T1","summaryTypeCode":"ATS_W_SMBL","issueSymbolIdentifier":"A","totalWeeklyShareQuantity":"12.5"}]"#, &Pinned::default()).unwrap();
        assert_eq!(ok[0].shares, Volume::from_micros(12_500_000));
        assert!(page("[]", &Pinned::default()).unwrap().is_empty());
    }

    #[test]
    fn rows_are_numbered_across_pages() {
        let body = r#"[{"weekStartDate":"2024-04-01","tierIdentifier":"T1","summaryTypeCode":"ATS_W_SMBL","issueSymbolIdentifier":"A","totalWeeklyShareQuantity":1},{"issueSymbolIdentifier":"B"}]"#;
        let err = parse_page("p", body.as_bytes(), &Pinned::default(), 5000).unwrap_err();
        assert!(err.to_string().contains("row 5002 (B)"), "{err}");
    }

    #[test]
    fn partitions() {
        let body = br#"{"availablePartitions":[{"partitions":["2024-04-01","T1"]},{"partitions":["T2","2024-03-25"]},{"partitions":["2024-03-25","T1"]},{"partitions":["2024-03-25","OTCE"]}]}"#;
        let p = parse_partitions("partitions", body).unwrap();
        assert_eq!(p.tiers(monday()), ["T1".to_string()]);
        let earlier = NaiveDate::from_ymd_opt(2024, 3, 25).unwrap();
        assert_eq!(p.tiers(earlier), ["OTCE", "T1", "T2"].map(String::from));
        assert!(p
            .tiers(NaiveDate::from_ymd_opt(2024, 4, 8).unwrap())
            .is_empty());
        assert_eq!(p.latest_week(), Some(monday()));
        for bad in [
            &br#"{"availablePartitions":[{"partitions":["2024-04-01"]}]}"#[..],
            br#"{"availablePartitions":[{"partitions":["T1","T2"]}]}"#,
            br#"{"partitions":[]}"#,
            b"<html/>",
        ] {
            assert!(parse_partitions("partitions", bad).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_page("p", &bytes, &Pinned::default(), 0);
            let _ = parse_partitions("p", &bytes);
        }
    }
}
