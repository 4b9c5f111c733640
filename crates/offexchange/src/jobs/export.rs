//! The export job: stored features over a date range, as they are now or as they were knowable at
//! a moment (`as_of`), in CSV, JSON or Parquet.
//!
//! Each row carries, beside the five columns of `daily_features`, when its two parts became
//! knowable: `short_available_at` (the day's Reg SHO files) and `ats_available_at` (the ATS week).
//! With `as_of`, each part is the latest version available at or before that time, and null when
//! none was; a (symbol, trade_date) with neither is left out. Without it, the values are
//! `daily_features`' (the latest), with the availability of their latest versions.
//! Rows come ordered by (trade_date, symbol), one session at a time, so memory stays flat over any
//! range.
//!
//! With short interest ([`ExportRequest::with_short_interest`]), each row also carries
//! `short_interest`, `days_to_cover` and `short_interest_settlement_date`: the latest settlement
//! FINRA had *published* by that trade date's close (with `as_of`, by the earlier of the two),
//! never one published later, even if its settlement date is earlier. See
//! [`super::short_interest`].

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Serialize;

use super::short_interest::SettlementJoin;
use crate::calendar;
use crate::provenance::rfc3339_micros;
use crate::store::{FeatureVersion, Part, Store, StoreError};

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// First trade date.
    pub from: NaiveDate,
    /// Last trade date (included).
    pub to: NaiveDate,
    /// Only these symbols (FINRA's spelling, byte for byte); `None`: all.
    pub symbols: Option<Vec<String>>,
    /// As knowable at this time; `None`: the latest values.
    pub as_of: Option<DateTime<Utc>>,
    /// Adds the short interest each trade date saw ([`SHORT_INTEREST_COLUMNS`]).
    pub with_short_interest: bool,
}

/// The short interest columns of an export row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShortInterestCells {
    /// Open short position at the settlement, shares.
    pub short_interest: Option<i64>,
    /// Days to cover, as FINRA wrote it (999.99 is FINRA's cap, not a measurement).
    pub days_to_cover: Option<f64>,
    /// The settlement the values are of.
    pub short_interest_settlement_date: Option<NaiveDate>,
}

/// One exported row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportRow {
    /// The symbol, byte for byte.
    pub symbol: String,
    /// The session.
    pub trade_date: NaiveDate,
    /// Short volume / total volume.
    pub short_vol_share: Option<f64>,
    /// Short exempt volume / total volume.
    pub short_exempt_share: Option<f64>,
    /// Weekly ATS shares / (ATS + non-ATS OTC shares).
    pub ats_share_of_total: Option<f64>,
    /// When the short-volume values became knowable.
    #[serde(serialize_with = "rfc3339")]
    pub short_available_at: Option<DateTime<Utc>>,
    /// When the ATS value became knowable.
    #[serde(serialize_with = "rfc3339")]
    pub ats_available_at: Option<DateTime<Utc>>,
    /// With short interest: the settlement the day saw (`None` without).
    #[serde(flatten)]
    pub short_interest: Option<ShortInterestCells>,
}

/// The export's file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A header line, then one line per row; empty fields for nulls.
    Csv,
    /// One JSON array of objects.
    Json,
    /// Apache Parquet (Snappy pages): dates as `DATE`, times as UTC `TIMESTAMP(MICROS)`.
    Parquet,
}

/// What an export did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportSummary {
    /// NYSE sessions in the range.
    pub sessions: usize,
    /// Rows written.
    pub rows: usize,
    /// Wall time.
    #[serde(skip)]
    pub elapsed: Duration,
}

/// An export that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the output failed.
    #[error("writing the export: {0}")]
    Write(String),
}

impl From<std::io::Error> for ExportError {
    fn from(e: std::io::Error) -> Self {
        ExportError::Write(e.to_string())
    }
}

impl From<parquet::errors::ParquetError> for ExportError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        ExportError::Write(e.to_string())
    }
}

impl From<csv::Error> for ExportError {
    fn from(e: csv::Error) -> Self {
        ExportError::Write(e.to_string())
    }
}

/// The column names, in order.
pub const EXPORT_COLUMNS: [&str; 7] = [
    "symbol",
    "trade_date",
    "short_vol_share",
    "short_exempt_share",
    "ats_share_of_total",
    "short_available_at",
    "ats_available_at",
];

/// The columns [`ExportRequest::with_short_interest`] adds, in order.
pub const SHORT_INTEREST_COLUMNS: [&str; 3] = [
    "short_interest",
    "days_to_cover",
    "short_interest_settlement_date",
];

/// **The export job**: calls `on_session` with each session's rows (sorted by symbol), sessions in
/// date order.
pub async fn export(
    store: &dyn Store,
    request: &ExportRequest,
    mut on_session: impl FnMut(Vec<ExportRow>) -> Result<(), ExportError>,
) -> Result<ExportSummary, ExportError> {
    let started = Instant::now();
    let mut summary = ExportSummary::default();
    let mut join = match request.with_short_interest {
        true => Some(SettlementJoin::new(store, request.from, request.to).await?),
        false => None,
    };
    for date in calendar::sessions_between(request.from, request.to) {
        summary.sessions += 1;
        let mut rows = session_rows(store, date, request).await?;
        if let Some(join) = join.as_mut() {
            let seen = join.at(store, date, request.as_of).await?;
            for row in &mut rows {
                let found = seen.get(&row.symbol);
                row.short_interest = Some(ShortInterestCells {
                    short_interest: found.map(|r| r.current_short),
                    days_to_cover: found.and_then(|r| r.days_to_cover),
                    short_interest_settlement_date: found.map(|r| r.settlement_date),
                });
            }
        }
        summary.rows += rows.len();
        on_session(rows)?;
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// [`export`] into `out` in `format`.
pub async fn export_to<W: Write + Send>(
    store: &dyn Store,
    request: &ExportRequest,
    format: ExportFormat,
    out: W,
) -> Result<ExportSummary, ExportError> {
    match format {
        ExportFormat::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(columns(request))?;
            let summary = export(store, request, |rows| {
                for r in rows {
                    let number = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
                    let time = |t: Option<DateTime<Utc>>| t.map(rfc3339_micros).unwrap_or_default();
                    let mut record = vec![
                        r.symbol,
                        r.trade_date.to_string(),
                        number(r.short_vol_share),
                        number(r.short_exempt_share),
                        number(r.ats_share_of_total),
                        time(r.short_available_at),
                        time(r.ats_available_at),
                    ];
                    if let Some(si) = r.short_interest {
                        let text = |v: Option<String>| v.unwrap_or_default();
                        record.push(text(si.short_interest.map(|v| v.to_string())));
                        record.push(number(si.days_to_cover));
                        record.push(text(
                            si.short_interest_settlement_date.map(|d| d.to_string()),
                        ));
                    }
                    csv.write_record(record)?;
                }
                Ok(())
            })
            .await?;
            let mut out = csv
                .into_inner()
                .map_err(|e| ExportError::Write(e.error().to_string()))?;
            out.flush()?;
            Ok(summary)
        }
        ExportFormat::Json => {
            let mut out = std::io::BufWriter::new(out);
            out.write_all(b"[")?;
            let mut first = true;
            let summary = export(store, request, |rows| {
                for r in rows {
                    out.write_all(if first { b"\n  " } else { b",\n  " })?;
                    first = false;
                    serde_json::to_writer(&mut out, &r)
                        .map_err(|e| ExportError::Write(e.to_string()))?;
                }
                Ok(())
            })
            .await?;
            out.write_all(b"\n]\n")?;
            out.flush()?;
            Ok(summary)
        }
        ExportFormat::Parquet => {
            let mut parquet = ParquetSink::new(out, request.with_short_interest)?;
            let summary = export(store, request, |rows| parquet.push(rows)).await?;
            parquet.finish()?;
            Ok(summary)
        }
    }
}

/// The columns an export of `request` writes, in order.
pub fn columns(request: &ExportRequest) -> Vec<&'static str> {
    let mut out = EXPORT_COLUMNS.to_vec();
    if request.with_short_interest {
        out.extend(SHORT_INTEREST_COLUMNS);
    }
    out
}

/// One session's rows.
async fn session_rows(
    store: &dyn Store,
    date: NaiveDate,
    request: &ExportRequest,
) -> Result<Vec<ExportRow>, ExportError> {
    let wanted = |symbol: &str| {
        request
            .symbols
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == symbol))
    };
    let versions = store.feature_versions(date, request.as_of).await?;
    let latest = latest_per_symbol(&versions);
    let mut rows: Vec<ExportRow> = match request.as_of {
        Some(_) => latest
            .into_iter()
            .filter(|(symbol, _, _)| wanted(symbol))
            .map(|(symbol, short, ats)| ExportRow {
                symbol: symbol.to_string(),
                trade_date: date,
                short_vol_share: short.and_then(|v| v.short_vol_share),
                short_exempt_share: short.and_then(|v| v.short_exempt_share),
                ats_share_of_total: ats.and_then(|v| v.ats_share_of_total),
                short_available_at: short.map(|v| v.available_at),
                ats_available_at: ats.map(|v| v.available_at),
                short_interest: None,
            })
            .collect(),
        None => {
            let stored = store.read(date).await?;
            stored
                .into_iter()
                .filter(|r| wanted(&r.symbol))
                .map(|r| {
                    let found = latest
                        .binary_search_by(|(s, _, _)| s.as_bytes().cmp(r.symbol.as_bytes()))
                        .ok()
                        .map(|i| latest[i]);
                    let (short, ats) = found.map_or((None, None), |(_, s, a)| (s, a));
                    ExportRow {
                        short_available_at: short.map(|v| v.available_at),
                        ats_available_at: ats.map(|v| v.available_at),
                        symbol: r.symbol,
                        trade_date: date,
                        short_vol_share: r.short_vol_share,
                        short_exempt_share: r.short_exempt_share,
                        ats_share_of_total: r.ats_share_of_total,
                        short_interest: None,
                    }
                })
                .collect()
        }
    };
    rows.sort_by(|a, b| a.symbol.as_bytes().cmp(b.symbol.as_bytes()));
    Ok(rows)
}

/// Per symbol (byte order), its latest short and ATS versions among `versions` (sorted by symbol,
/// part, available_at).
fn latest_per_symbol(
    versions: &[FeatureVersion],
) -> Vec<(&str, Option<&FeatureVersion>, Option<&FeatureVersion>)> {
    let mut out: Vec<(&str, Option<&FeatureVersion>, Option<&FeatureVersion>)> = Vec::new();
    for v in versions {
        let entry = match out.last_mut() {
            Some(last) if last.0 == v.symbol => last,
            _ => {
                out.push((v.symbol.as_str(), None, None));
                let n = out.len() - 1;
                &mut out[n]
            }
        };
        // Sorted by available_at within a part: the last one seen is the latest.
        match v.part {
            Part::Short => entry.1 = Some(v),
            Part::Ats => entry.2 = Some(v),
        }
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out
}

fn rfc3339<S: serde::Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.serialize_str(&rfc3339_micros(*at)),
        None => s.serialize_none(),
    }
}

/// Rows buffered into Parquet row groups of about a million rows.
struct ParquetSink<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    buffered: Vec<ExportRow>,
}

const ROW_GROUP: usize = 1 << 20;

const PARQUET_SCHEMA: &str = "
message offexchange_export {
  REQUIRED BYTE_ARRAY symbol (UTF8);
  REQUIRED INT32 trade_date (DATE);
  OPTIONAL DOUBLE short_vol_share;
  OPTIONAL DOUBLE short_exempt_share;
  OPTIONAL DOUBLE ats_share_of_total;
  OPTIONAL INT64 short_available_at (TIMESTAMP(MICROS,true));
  OPTIONAL INT64 ats_available_at (TIMESTAMP(MICROS,true));
}";

/// [`PARQUET_SCHEMA`] with the short interest columns.
const PARQUET_SCHEMA_SHORT_INTEREST: &str = "
message offexchange_export {
  REQUIRED BYTE_ARRAY symbol (UTF8);
  REQUIRED INT32 trade_date (DATE);
  OPTIONAL DOUBLE short_vol_share;
  OPTIONAL DOUBLE short_exempt_share;
  OPTIONAL DOUBLE ats_share_of_total;
  OPTIONAL INT64 short_available_at (TIMESTAMP(MICROS,true));
  OPTIONAL INT64 ats_available_at (TIMESTAMP(MICROS,true));
  OPTIONAL INT64 short_interest;
  OPTIONAL DOUBLE days_to_cover;
  OPTIONAL INT32 short_interest_settlement_date (DATE);
}";

impl<W: Write + Send> ParquetSink<W> {
    fn new(out: W, with_short_interest: bool) -> Result<Self, ExportError> {
        let schema = Arc::new(parse_message_type(if with_short_interest {
            PARQUET_SCHEMA_SHORT_INTEREST
        } else {
            PARQUET_SCHEMA
        })?);
        let properties = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build(),
        );
        Ok(ParquetSink {
            writer: SerializedFileWriter::new(out, schema, properties)?,
            buffered: Vec::new(),
        })
    }

    fn push(&mut self, rows: Vec<ExportRow>) -> Result<(), ExportError> {
        self.buffered.extend(rows);
        if self.buffered.len() >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        if self.buffered.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.buffered);
        let mut group = self.writer.next_row_group()?;
        let mut index = 0;
        while let Some(mut column) = group.next_column()? {
            match index {
                0 => {
                    let values: Vec<ByteArray> = rows
                        .iter()
                        .map(|r| ByteArray::from(r.symbol.as_bytes().to_vec()))
                        .collect();
                    column
                        .typed::<ByteArrayType>()
                        .write_batch(&values, None, None)?;
                }
                1 => {
                    let values: Vec<i32> = rows.iter().map(|r| days(r.trade_date)).collect();
                    column
                        .typed::<Int32Type>()
                        .write_batch(&values, None, None)?;
                }
                2..=4 => {
                    let cell = |r: &ExportRow| match index {
                        2 => r.short_vol_share,
                        3 => r.short_exempt_share,
                        _ => r.ats_share_of_total,
                    };
                    let (values, levels) = optional(&rows, cell);
                    column
                        .typed::<DoubleType>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                7 => {
                    let si = |r: &ExportRow| r.short_interest.as_ref()?.short_interest;
                    let (values, levels) = optional(&rows, si);
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                8 => {
                    let dtc = |r: &ExportRow| r.short_interest.as_ref()?.days_to_cover;
                    let (values, levels) = optional(&rows, dtc);
                    column
                        .typed::<DoubleType>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                9 => {
                    let settled = |r: &ExportRow| {
                        let si = r.short_interest.as_ref()?;
                        si.short_interest_settlement_date.map(days)
                    };
                    let (values, levels) = optional(&rows, settled);
                    column
                        .typed::<Int32Type>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                _ => {
                    let cell = |r: &ExportRow| {
                        let at = if index == 5 {
                            r.short_available_at
                        } else {
                            r.ats_available_at
                        };
                        at.map(|t| t.timestamp_micros())
                    };
                    let (values, levels) = optional(&rows, cell);
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&levels), None)?;
                }
            }
            column.close()?;
            index += 1;
        }
        group.close()?;
        Ok(())
    }

    fn finish(mut self) -> Result<(), ExportError> {
        self.flush()?;
        // Writes the footer and hands back the output, which is flushed so an error shows here.
        let mut out = self.writer.into_inner()?;
        out.flush()?;
        Ok(())
    }
}

/// A date as Parquet's `DATE`: days since 1970-01-01.
fn days(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    i32::try_from((date - epoch).num_days()).unwrap_or(0)
}

/// The present values of an optional column and its definition levels (1 present, 0 null).
fn optional<T>(rows: &[ExportRow], cell: impl Fn(&ExportRow) -> Option<T>) -> (Vec<T>, Vec<i16>) {
    let mut values = Vec::with_capacity(rows.len());
    let mut levels = Vec::with_capacity(rows.len());
    for r in rows {
        match cell(r) {
            Some(v) => {
                values.push(v);
                levels.push(1);
            }
            None => levels.push(0),
        }
    }
    (values, levels)
}
