//! Printing rows and reports.

use std::io::Write;

use anyhow::Result;
use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use offexchange::session::SessionReport;
use offexchange::store::UpsertSummary;
use offexchange::FeatureRow;
use serde_json::json;

use crate::cli::Format;

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
) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Table => writeln!(out, "{}", table(rows))?,
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
        .load_preset(presets::UTF8_HORIZONTAL_ONLY)
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

/// Prints a run's summary as a two-column table (`title | value`).
pub fn print_summary_table(title: &str, lines: &[(&str, String)]) {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_HORIZONTAL_ONLY)
        .set_header([title, "value"]);
    for (name, value) in lines {
        table.add_row([name.to_string(), value.clone()]);
    }
    println!("{table}");
}

/// Logs what was fetched, what is missing, symbol counts and data quality (details with -v).
pub fn log_report(report: &SessionReport, verbose: bool) {
    let date = report.trade_date.map(|d| d.to_string()).unwrap_or_default();
    tracing::info!(
        "{date} market {}: {} files fetched, {} not published",
        report.market,
        report.files_fetched(),
        report.files_missing()
    );
    for line in &report.coverage {
        tracing::warn!("coverage: {line}");
    }
    match report.symbols_requested {
        Some(n) => tracing::info!(
            "symbols: {n} requested, {} found in the data",
            report.symbols_found
        ),
        None => tracing::info!("symbols: {} found in the data", report.symbols_found),
    }
    for note in &report.symbol_notes {
        tracing::warn!("symbol {note}");
    }
    if !report.ats_unmatched.is_empty() {
        tracing::info!(
            "{} ATS symbols match no Reg SHO symbol of the day (kept with '.' mapped to '/'){}",
            report.ats_unmatched.len(),
            if verbose {
                format!(": {}", report.ats_unmatched.join(" "))
            } else {
                String::new()
            }
        );
    }
    for q in &report.quality {
        if q.is_clean() {
            tracing::debug!("data quality: {}", q.summary());
            continue;
        }
        tracing::warn!("data quality: {}", q.summary());
        if verbose {
            for line in q.details() {
                tracing::warn!("  {line}");
            }
        }
    }
}
