//! What a job did, computed once here and shown by every front: the `offx` tables and JSON, the
//! Python dicts, the Prefect logs. Fronts print [`SessionReport::lines`] and the summaries'
//! `lines()`; none of them re-derives a count.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::quality::FileQuality;

/// Whether a source file (or API partition) was there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileStatus {
    /// FINRA's file name, or `weeklySummary {week} {tier}` for an API partition.
    pub file: String,
    /// Where it was looked for: a URL or a mirror path.
    pub location: String,
    /// FINRA has published it.
    pub published: bool,
    /// Rows used from the file.
    pub rows: Option<u64>,
}

/// How loud a report line is: fronts map it onto their logger's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Only with `-v`.
    Debug,
    /// Normal progress.
    Info,
    /// Something a person should look at (a missing file, a data-quality problem).
    Warn,
}

/// One line of a report, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportLine {
    /// How loud.
    pub level: Level,
    /// The text.
    pub text: String,
}

impl ReportLine {
    fn new(level: Level, text: impl Into<String>) -> Self {
        ReportLine {
            level,
            text: text.into(),
        }
    }
}

/// What happened in one session, for people and logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionReport {
    /// The session.
    pub trade_date: Option<NaiveDate>,
    /// `TOT` or a facility code.
    pub market: String,
    /// Every file asked for, published or not.
    pub files: Vec<FileStatus>,
    /// Coverage remarks: which components of the day or week are missing.
    pub coverage: Vec<String>,
    /// Data-quality summaries of each file read, and of the computed features.
    pub quality: Vec<FileQuality>,
    /// How many symbols were asked for (`None`: all).
    pub symbols_requested: Option<usize>,
    /// Rows whose symbol is in the day's or week's data.
    pub symbols_found: usize,
    /// Remarks about requested symbols (no exact match; case-insensitive near misses).
    pub symbol_notes: Vec<String>,
    /// ATS symbols with no Reg SHO symbol of that spelling on the day.
    pub ats_unmatched: Vec<String>,
}

impl SessionReport {
    /// An empty report for `trade_date` in `market`, filled by the session's stages.
    pub(crate) fn new(trade_date: NaiveDate, market: String, requested: Option<usize>) -> Self {
        SessionReport {
            trade_date: Some(trade_date),
            market,
            symbols_requested: requested,
            ..SessionReport::default()
        }
    }

    /// Adds the files, coverage remarks and data quality of a stage's partial report.
    pub fn absorb(&mut self, part: SessionReport) {
        self.files.extend(part.files);
        self.coverage.extend(part.coverage);
        self.quality.extend(part.quality);
    }

    /// Records a file that was published, and its data-quality summary.
    pub(crate) fn published(&mut self, file: String, location: String, quality: &FileQuality) {
        self.files.push(FileStatus {
            file,
            location,
            published: true,
            rows: Some(quality.rows_read),
        });
        self.quality.push(quality.clone());
    }

    /// Records a file FINRA has not published, with the coverage remark that says so.
    pub(crate) fn not_published(&mut self, file: String, location: String, remark: String) {
        self.coverage.push(remark);
        self.files.push(FileStatus {
            file,
            location,
            published: false,
            rows: None,
        });
    }

    /// Files (or partitions) read.
    pub fn files_fetched(&self) -> usize {
        self.files.iter().filter(|f| f.published).count()
    }

    /// Files (or partitions) FINRA has not published.
    pub fn files_missing(&self) -> usize {
        self.files.iter().filter(|f| !f.published).count()
    }

    /// The report for people: what was fetched and missing, symbol counts, coverage gaps and
    /// data quality (the details of each quality problem at [`Level::Debug`]).
    pub fn lines(&self) -> Vec<ReportLine> {
        use Level::{Debug, Info, Warn};
        let date = self.trade_date.map(|d| d.to_string()).unwrap_or_default();
        let mut out = vec![ReportLine::new(
            Info,
            format!(
                "{date} market {}: {} files fetched, {} not published",
                self.market,
                self.files_fetched(),
                self.files_missing()
            ),
        )];
        for line in &self.coverage {
            out.push(ReportLine::new(Warn, format!("coverage: {line}")));
        }
        out.push(ReportLine::new(
            Info,
            match self.symbols_requested {
                Some(n) => format!(
                    "symbols: {n} requested, {} found in the data",
                    self.symbols_found
                ),
                None => format!("symbols: {} found in the data", self.symbols_found),
            },
        ));
        for note in &self.symbol_notes {
            out.push(ReportLine::new(Warn, format!("symbol {note}")));
        }
        if !self.ats_unmatched.is_empty() {
            out.push(ReportLine::new(
                Info,
                format!(
                    "{} ATS symbols match no Reg SHO symbol of the day (kept with '.' mapped to '/')",
                    self.ats_unmatched.len()
                ),
            ));
            out.push(ReportLine::new(
                Debug,
                format!("unmatched ATS symbols: {}", self.ats_unmatched.join(" ")),
            ));
        }
        for q in &self.quality {
            if q.is_clean() {
                out.push(ReportLine::new(
                    Debug,
                    format!("data quality: {}", q.summary()),
                ));
                continue;
            }
            out.push(ReportLine::new(
                Warn,
                format!("data quality: {}", q.summary()),
            ));
            for detail in q.details() {
                out.push(ReportLine::new(Debug, format!("  {detail}")));
            }
        }
        out
    }
}

/// One `label | value` line of a job summary, as the CLI table and the flow logs show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryLine {
    /// What is counted.
    pub label: String,
    /// The count, in words where it needs some.
    pub value: String,
}

impl SummaryLine {
    pub(crate) fn new(label: &str, value: impl ToString) -> Self {
        SummaryLine {
            label: label.to_string(),
            value: value.to_string(),
        }
    }
}

/// `a, b, c`, or `none`; past `max` items, the count and the first ones.
pub(crate) fn list<T: ToString>(items: &[T], max: usize) -> String {
    if items.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = items.iter().take(max).map(T::to_string).collect();
    if items.len() <= max {
        shown.join(", ")
    } else {
        format!("{} ({}, ...)", items.len(), shown.join(", "))
    }
}
