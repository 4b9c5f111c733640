//! Parsers: raw FINRA bytes in, typed rows out. No I/O here.
//!
//! - [`regsho`]: the daily short sale volume text files.
//! - [`ats`]: the weekly OTC Transparency (ATS / non-ATS) summary, from a ZIP'd delimited file.
//! - [`ats_json`]: the same rows as FINRA's Query API answers them (JSON pages).
//! - [`short_interest`]: consolidated short interest, the CDN file and the API's JSON pages.

pub mod ats;
pub mod ats_json;
pub mod regsho;
pub mod short_interest;

/// Why a file could not be used at all (line-level problems are data-quality findings instead).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// The body holds nothing but whitespace.
    #[error("{file}: the file is empty")]
    Empty {
        /// The file, as the caller named it.
        file: String,
    },
    /// The first line is not the expected header: another kind of file (an HTML error page, say).
    #[error("{file}: not a {expected} file (first line: {first_line:?})")]
    WrongFormat {
        /// The file, as the caller named it.
        file: String,
        /// The kind of file expected, e.g. `Reg SHO short sale volume`.
        expected: &'static str,
        /// The file's first line, shortened to 80 characters.
        first_line: String,
    },
    /// The header lacks a column this parser needs.
    #[error("{file}: the header has no {column} column (header: {header:?})")]
    MissingColumn {
        /// The file, as the caller named it.
        file: String,
        /// FINRA's column name, e.g. `TotalVolume`.
        column: &'static str,
        /// The header line (the weekly summary's shortened to 80 characters).
        header: String,
    },
    /// A row carries another date than the one asked for: the wrong file (or week).
    #[error("{file} line {line}: date {found} disagrees with the requested date {expected}")]
    DateMismatch {
        /// The file, as the caller named it.
        file: String,
        /// The row's line (for the weekly summary, the record's number).
        line: u64,
        /// The date in the row.
        found: String,
        /// The date asked for.
        expected: String,
    },
    /// The record-count line disagrees with the data lines read: a truncated download.
    #[error("{file}: the record-count line says {expected} rows but {found} were read (truncated download?)")]
    CountMismatch {
        /// The file, as the caller named it.
        file: String,
        /// The record count on FINRA's last line.
        expected: u64,
        /// Data lines actually read.
        found: u64,
    },
    /// The body ends inside a line: the last line has no line end, or the last data line has
    /// fewer fields than the header and no record count follows. FINRA ends every file with a
    /// newline, so this is a download cut short.
    #[error("{file} line {line}: {reason} (truncated download?)")]
    Truncated {
        /// The file, as the caller named it.
        file: String,
        /// The line cut short.
        line: u64,
        /// What shows the cut.
        reason: String,
    },
    /// More than half of the data lines are malformed: the whole file is refused.
    #[error("{file}: {bad} of {total} data lines are malformed (first: line {first_line}: {first_reason}); refusing the file")]
    MostlyGarbage {
        /// The file, as the caller named it.
        file: String,
        /// Malformed data lines.
        bad: u64,
        /// Data lines read.
        total: u64,
        /// Line number of the first malformed line.
        first_line: u64,
        /// Why that line was refused.
        first_reason: String,
    },
    /// The weekly ZIP cannot be read: not a ZIP, not exactly one member, or a member over
    /// [`ats::MAX_MEMBER_BYTES`].
    #[error("{file}: {reason}")]
    Archive {
        /// The file, as the caller named it.
        file: String,
        /// What is wrong with the archive.
        reason: String,
    },
    /// A Query API answer that is not what was asked for (bad JSON, a missing field, a short page).
    #[error("{file}: {reason}")]
    Json {
        /// The page or answer, as the caller named it (e.g. `weeklySummary partitions`).
        file: String,
        /// What is wrong, naming the row and field where there is one.
        reason: String,
    },
}

impl ParseError {
    /// A mismatch between the record-count line and the rows read, or a body that ends inside a
    /// line, means the download was cut short: fetching again may fix it, so sources retry it
    /// like a network error (and never cache it).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ParseError::CountMismatch { .. } | ParseError::Truncated { .. }
        )
    }
}

/// The first line of a payload, shortened, for error messages.
pub(crate) fn first_line_excerpt(bytes: &[u8]) -> String {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches('\r');
    let mut out: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        out.push('…');
    }
    out
}
