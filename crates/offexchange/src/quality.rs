//! Data-quality findings: what was skipped or suspicious in a file, and why.
//!
//! A file's problems never vanish silently. Every skipped line carries its line number and reason,
//! every broken invariant names its symbol. Fronts print the counts and, verbosely, the details.

use serde::Serialize;

/// How many individual findings of one kind are kept per file (counts stay exact).
const MAX_DETAILS: usize = 200;

/// A data line that could not be used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedLine {
    /// 1-based line number in the file.
    pub line: u64,
    /// Why it was skipped.
    pub reason: String,
}

/// A row that was read but breaks one of FINRA's invariants, or a feature that was withheld.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymbolIssue {
    /// The symbol concerned.
    pub symbol: String,
    /// What is wrong with it.
    pub issue: String,
}

/// The data-quality summary of one file (or one derived step, such as feature computation).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileQuality {
    /// The file's name (`CNMSshvol20240401.txt`) or the step's.
    pub file: String,
    /// Data rows used.
    pub rows_read: u64,
    /// Data lines that could not be used (every one counted).
    pub lines_skipped: u64,
    /// Rows that break one of FINRA's invariants (every one counted).
    pub invariant_violations: u64,
    /// The first skipped lines, with reasons.
    pub skipped: Vec<SkippedLine>,
    /// The first invariant violations, by symbol.
    pub violations: Vec<SymbolIssue>,
    /// File-level remarks (no record-count line, no OTC_W_SMBL rows, ...).
    pub notes: Vec<String>,
}

impl FileQuality {
    /// An empty record for `file`.
    pub fn new(file: impl Into<String>) -> Self {
        FileQuality {
            file: file.into(),
            ..FileQuality::default()
        }
    }

    /// Counts a skipped line (and keeps its detail, up to a limit).
    pub fn skip(&mut self, line: u64, reason: impl Into<String>) {
        self.lines_skipped += 1;
        if self.skipped.len() < MAX_DETAILS {
            self.skipped.push(SkippedLine {
                line,
                reason: reason.into(),
            });
        }
    }

    /// Counts an invariant violation (and keeps its detail, up to a limit).
    pub fn violation(&mut self, symbol: &str, issue: impl Into<String>) {
        self.invariant_violations += 1;
        if self.violations.len() < MAX_DETAILS {
            self.violations.push(SymbolIssue {
                symbol: symbol.to_string(),
                issue: issue.into(),
            });
        }
    }

    /// Adds a remark about the whole file.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// `true` when nothing was skipped, violated or remarked.
    pub fn is_clean(&self) -> bool {
        self.lines_skipped == 0 && self.invariant_violations == 0 && self.notes.is_empty()
    }

    /// One line for people: `CNMSshvol20240401.txt: 8172 rows, 1 line skipped, 1 invariant violation`.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} rows", self.rows_read)];
        if self.lines_skipped > 0 {
            parts.push(plural(self.lines_skipped, "line skipped", "lines skipped"));
        }
        if self.invariant_violations > 0 {
            parts.push(plural(
                self.invariant_violations,
                "invariant violation",
                "invariant violations",
            ));
        }
        parts.extend(self.notes.iter().cloned());
        format!("{}: {}", self.file, parts.join(", "))
    }

    /// Every finding, one per line, for verbose output.
    pub fn details(&self) -> Vec<String> {
        let skipped = self
            .skipped
            .iter()
            .map(|s| format!("{} line {}: {}", self.file, s.line, s.reason));
        let violations = self
            .violations
            .iter()
            .map(|v| format!("{} {}: {}", self.file, v.symbol, v.issue));
        skipped.chain(violations).collect()
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
