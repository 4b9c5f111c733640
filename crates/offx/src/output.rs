//! Printing rows and reports.

use std::io::Write;

use anyhow::Result;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use offexchange::{FeatureRow, Level, SessionReport, SummaryLine, UpsertSummary};
use serde::Serialize;
use serde_json::json;

use crate::cli::{Format, SummaryFormat};

/// comfy-table's `UTF8_HORIZONTAL_ONLY` without the rules between rows (a rule above, under the
/// header and below): long tables stay readable.
pub const FOR_PEOPLE: &str = "  ── ══      ──    ";

const COLUMNS: [&str; 5] = [
    "symbol",
    "trade_date",
    "short_vol_share",
    "short_exempt_share",
    "ats_share_of_total",
];

pub fn print(
    format: Format,
    rows: &[FeatureRow],
    report: &SessionReport,
    stored: Option<&UpsertSummary>,
    limit: Option<usize>,
) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Table => {
            let shown = limit.unwrap_or(rows.len()).min(rows.len());
            writeln!(out, "{}", table(&rows[..shown]))?;
            if shown < rows.len() {
                writeln!(
                    out,
                    "{shown} of {} rows shown; {} more left out by --limit (--format csv prints \
                     every row)",
                    rows.len(),
                    rows.len() - shown
                )?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(COLUMNS)?;
            for r in rows {
                let cell = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
                w.write_record([
                    r.symbol.clone(),
                    r.trade_date.to_string(),
                    cell(r.short_vol_share.value()),
                    cell(r.short_exempt_share.value()),
                    cell(r.ats_share_of_total.value()),
                ])?;
            }
            w.flush()?;
        }
        Format::Json => {
            let doc = json!({ "rows": rows, "report": report, "stored": stored });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn table(rows: &[FeatureRow]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(FOR_PEOPLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(COLUMNS);
    for r in rows {
        let cell = |v: Option<f64>| v.map_or_else(|| "null".to_string(), |x| format!("{x:.6}"));
        table.add_row([
            r.symbol.clone(),
            r.trade_date.to_string(),
            cell(r.short_vol_share.value()),
            cell(r.short_exempt_share.value()),
            cell(r.ats_share_of_total.value()),
        ]);
    }
    for i in 2..5 {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// Prints a job's summary: its `lines()` as a two-column table, or the summary itself as JSON
/// (with `elapsed_seconds` where the job timed itself).
pub fn print_summary<T: Serialize>(
    title: &str,
    summary: &T,
    lines: &[SummaryLine],
    format: SummaryFormat,
) -> Result<()> {
    if format == SummaryFormat::Json {
        println!("{}", serde_json::to_string_pretty(summary)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(FOR_PEOPLE).set_header([title, "value"]);
    for line in lines {
        table.add_row([line.label.clone(), line.value.clone()]);
    }
    println!("{table}");
    Ok(())
}

/// Logs the session report the engine wrote (details with -v).
pub fn log_report(report: &SessionReport, verbose: bool) {
    for line in report.lines() {
        match line.level {
            Level::Warn => tracing::warn!("{}", line.text),
            Level::Info => tracing::info!("{}", line.text),
            Level::Debug if verbose => tracing::info!("{}", line.text),
            Level::Debug => tracing::debug!("{}", line.text),
        }
    }
}
