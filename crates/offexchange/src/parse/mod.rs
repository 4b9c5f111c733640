//! Parsers: raw FINRA bytes in, typed rows out. No I/O here.
//!
//! - [`regsho`]: the daily short sale volume text files.
//! - [`ats`]: the weekly OTC Transparency (ATS / non-ATS) summary, from a ZIP'd delimited file.
//! - [`ats_json`]: the same rows as FINRA's Query API answers them (JSON pages).

pub mod ats;
pub mod ats_json;
pub mod regsho;

/// Why a file could not be used at all (line-level problems are data-quality findings instead).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("{file}: the file is empty")]
    Empty { file: String },
    #[error("{file}: not a {expected} file (first line: {first_line:?})")]
    WrongFormat {
        file: String,
        expected: &'static str,
        first_line: String,
    },
    #[error("{file}: the header has no {column} column (header: {header:?})")]
    MissingColumn {
        file: String,
        column: &'static str,
        header: String,
    },
    #[error("{file} line {line}: date {found} disagrees with the requested date {expected}")]
    DateMismatch {
        file: String,
        line: u64,
        found: String,
        expected: String,
    },
    #[error("{file}: the record-count line says {expected} rows but {found} were read (truncated download?)")]
    CountMismatch {
        file: String,
        expected: u64,
        found: u64,
    },
    /// The body ends inside a line: the last line has no line end, or the last data line has
    /// fewer fields than the header and no record count follows. FINRA ends every file with a
    /// newline, so this is a download cut short.
    #[error("{file} line {line}: {reason} (truncated download?)")]
    Truncated {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("{file}: {bad} of {total} data lines are malformed (first: line {first_line}: {first_reason}); refusing the file")]
    MostlyGarbage {
        file: String,
        bad: u64,
        total: u64,
        first_line: u64,
        first_reason: String,
    },
    #[error("{file}: {reason}")]
    Archive { file: String, reason: String },
    /// A Query API answer that is not what was asked for (bad JSON, a missing field, a short page).
    #[error("{file}: {reason}")]
    Json { file: String, reason: String },
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
