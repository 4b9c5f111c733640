//! Where every value came from, and when it became knowable.
//!
//! Each distinct version of a FINRA source (a Reg SHO file, a weekly ZIP, one Query API week x
//! tier) is a [`SourceVersion`]: its bytes' sha256, size and rows, and FINRA's publication time,
//! taken in this order of preference ([`PublishedFrom`]):
//!
//! 1. the HTTP `Last-Modified` header of the file;
//! 2. the Query API's `lastUpdateDate` (else `initialPublishedDate`), a date: the end of that day
//!    in New York;
//! 3. a `file://` mirror file's modification time;
//! 4. for a source without any (short interest over the Query API) first read after FINRA's
//!    scheduled day: the end of that New York day;
//! 5. failing all, the moment offx first fetched it.
//!
//! Stores keep them in the `finra_files` ledger, and every stored feature value carries the
//! publication time of the versions it was computed from (its *availability*), so an as-of export
//! returns only what was knowable at that time.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How a version's publication time was learnt, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishedFrom {
    /// The HTTP `Last-Modified` header FINRA's CDN (or a mirror server) sent.
    LastModified,
    /// The Query API's `lastUpdateDate` / `initialPublishedDate`: the end of that New York day.
    ApiDate,
    /// A `file://` mirror file's modification time.
    FileModified,
    /// FINRA's publication calendar: the end of the New York day a period was due, for a source
    /// that carries no publication time and was first read after that day (short interest from
    /// the Query API during a backfill).
    Schedule,
    /// Nothing better known: when offx first fetched it.
    FirstSeen,
}

impl PublishedFrom {
    /// As stored: `last_modified`, `api_date`, `file_modified`, `first_seen`.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishedFrom::LastModified => "last_modified",
            PublishedFrom::ApiDate => "api_date",
            PublishedFrom::FileModified => "file_modified",
            PublishedFrom::Schedule => "schedule",
            PublishedFrom::FirstSeen => "first_seen",
        }
    }

    /// From its stored text.
    pub fn parse(text: &str) -> Option<PublishedFrom> {
        [
            PublishedFrom::LastModified,
            PublishedFrom::ApiDate,
            PublishedFrom::FileModified,
            PublishedFrom::Schedule,
            PublishedFrom::FirstSeen,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }
}

/// What the source layer learns about the bytes it fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// sha256 of the bytes, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// FINRA's publication time, and how it was learnt.
    pub published_at: DateTime<Utc>,
    /// How `published_at` was learnt.
    pub published_from: PublishedFrom,
}

impl Fingerprint {
    /// The fingerprint of `bytes`, published at `published` (or, unknown, first seen `now`).
    pub fn of(bytes: &[u8], published: Option<(DateTime<Utc>, PublishedFrom)>) -> Fingerprint {
        let (published_at, published_from) =
            published.unwrap_or_else(|| (Utc::now(), PublishedFrom::FirstSeen));
        Fingerprint {
            sha256: sha256_hex(bytes),
            bytes: bytes.len() as u64,
            published_at,
            published_from,
        }
    }
}

/// One distinct version of a FINRA source, as the `finra_files` ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceVersion {
    /// The dataset (`regsho_daily`, `otc_weekly`).
    pub dataset: String,
    /// FINRA's file name, or `weeklySummary {week} {tier}` for an API partition.
    pub name: String,
    /// Where it was read (credentials redacted).
    pub url: String,
    /// sha256 of the bytes (for the API: of the rows used), lower-case hex.
    pub sha256: String,
    /// Size in bytes (for the API: of the rows used, as canonical text).
    pub bytes: u64,
    /// Data rows used.
    pub rows: u64,
    /// FINRA's publication time.
    pub published_at: DateTime<Utc>,
    /// How `published_at` was learnt.
    pub published_from: PublishedFrom,
}

impl SourceVersion {
    /// A version of `name` in `dataset`, from its fingerprint.
    pub fn new(
        dataset: &str,
        name: impl Into<String>,
        url: impl Into<String>,
        rows: u64,
        print: &Fingerprint,
    ) -> SourceVersion {
        SourceVersion {
            dataset: dataset.to_string(),
            name: name.into(),
            url: crate::store::redact_url(&url.into()),
            sha256: print.sha256.clone(),
            bytes: print.bytes,
            rows,
            published_at: print.published_at,
            published_from: print.published_from,
        }
    }
}

/// A ledger row as stored: a version, and when offx first and last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerRow {
    /// The version.
    #[serde(flatten)]
    pub version: SourceVersion,
    /// When offx first fetched these bytes.
    pub first_seen_at: DateTime<Utc>,
    /// When offx last fetched these bytes.
    pub last_seen_at: DateTime<Utc>,
}

/// A time as fixed-width RFC 3339 UTC text with microseconds (`2024-04-02T22:05:13.000000Z`):
/// text order is time order.
pub fn rfc3339_micros(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The end of `date` in New York (midnight after it, local time), in UTC: when a day-granular
/// FINRA publication date is certainly past.
pub fn end_of_new_york_day(date: NaiveDate) -> DateTime<Utc> {
    let hours = if new_york_daylight_time_at_end_of(date) {
        4
    } else {
        5
    };
    let midnight = date
        .succ_opt()
        .unwrap_or(date)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    Utc.from_utc_datetime(&(midnight + chrono::Duration::hours(hours)))
}

/// US daylight saving time at the end of `date`: from 2007 the second Sunday of March to the first
/// Sunday of November, before that the first Sunday of April to the last Sunday of October (the
/// switches happen at 2 am, so the end of a switch day is already on the new time).
fn new_york_daylight_time_at_end_of(date: NaiveDate) -> bool {
    use chrono::{Datelike, Weekday};
    let year = date.year();
    let nth_sunday =
        |month: u32, n: u8| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n);
    let last_sunday_of_october = (1..=5).rev().find_map(|n| nth_sunday(10, n));
    let (start, end) = if year >= 2007 {
        (nth_sunday(3, 2), nth_sunday(11, 1))
    } else {
        (nth_sunday(4, 1), last_sunday_of_october)
    };
    match (start, end) {
        (Some(start), Some(end)) => date >= start && date < end,
        _ => false,
    }
}

/// Serializes a time as [`rfc3339_micros`] (serde's `serialize_with`).
pub fn serialize_micros<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_micros(*at))
}

/// Parses an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`), as `Last-Modified` carries it.
pub fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_the_empty_string() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn http_dates_and_new_york_day_ends() {
        let lm = parse_http_date("Tue, 02 Apr 2024 22:05:13 GMT").expect("an HTTP date");
        assert_eq!(lm.to_rfc3339(), "2024-04-02T22:05:13+00:00");
        assert_eq!(parse_http_date("yesterday"), None);
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        // EDT (UTC-4) in April, EST (UTC-5) in January; the switch days of 2024 (10 March,
        // 3 November) end on the new time.
        let end = |d| end_of_new_york_day(d).to_rfc3339();
        assert_eq!(end(day(2024, 4, 22)), "2024-04-23T04:00:00+00:00");
        assert_eq!(end(day(2024, 1, 5)), "2024-01-06T05:00:00+00:00");
        assert_eq!(end(day(2024, 3, 9)), "2024-03-10T05:00:00+00:00");
        assert_eq!(end(day(2024, 3, 10)), "2024-03-11T04:00:00+00:00");
        assert_eq!(end(day(2024, 11, 2)), "2024-11-03T04:00:00+00:00");
        assert_eq!(end(day(2024, 11, 3)), "2024-11-04T05:00:00+00:00");
        assert_eq!(end(day(2006, 4, 2)), "2006-04-03T04:00:00+00:00");
        assert_eq!(end(day(2006, 10, 29)), "2006-10-30T05:00:00+00:00");
    }
}
