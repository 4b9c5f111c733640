//! `offx short-interest --symbols AAPL [--from D1 --to D2] [--as-of TIME] [--format ...]`: the
//! stored short interest of symbols, one row per settlement (its latest version, or the one
//! knowable at --as-of).

use std::io::Write;

use anyhow::{bail, Context, Result};
use chrono::{Duration, Utc};
use comfy_table::{CellAlignment, Table};
use offexchange::{read_short_interest, ShortInterestQuery, ShortInterestRow};

use crate::cli::{ListFormat, ShortInterestArgs};
use crate::commands::open_store;

const COLUMNS: [&str; 11] = [
    "symbol",
    "settlement_date",
    "short_interest",
    "previous",
    "change_percent",
    "average_daily_volume",
    "days_to_cover",
    "days_to_cover_capped",
    "revision",
    "published_at",
    "source",
];

pub async fn run(args: ShortInterestArgs) -> Result<()> {
    super::check_symbols(Some(&args.symbols))?;
    let to = args.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = args.from.unwrap_or(to - Duration::days(365));
    if from > to {
        bail!(crate::exit::Usage(format!(
            "--from {from} is after --to {to}"
        )));
    }
    let store = open_store(args.store.as_deref())
        .await?
        .context("short-interest reads a store: give --store or set OFFX_STORE")?;
    let query = ShortInterestQuery {
        symbols: Some(args.symbols.clone()),
        from,
        to,
        as_of: args.as_of,
    };
    let rows = read_short_interest(store.as_ref(), &query).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        ListFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(COLUMNS)?;
            for r in &rows {
                w.write_record(cells(r, ""))?;
            }
            w.flush()?;
        }
        ListFormat::Table => {
            if rows.is_empty() {
                writeln!(
                    out,
                    "no short interest stored for {} with settlement dates {from} .. {to} \
                     (offx backfill and catch-up record it)",
                    args.symbols.join(", ")
                )?;
            } else {
                writeln!(out, "{}", table(&rows))?;
            }
        }
    }
    Ok(())
}

/// A row's cells, `null` for an absent value.
fn cells(r: &ShortInterestRow, null: &str) -> Vec<String> {
    let int = |v: Option<i64>| v.map_or(null.to_string(), |v| v.to_string());
    let float = |v: Option<f64>| v.map_or(null.to_string(), |v| v.to_string());
    vec![
        r.symbol.clone(),
        r.settlement_date.to_string(),
        r.current_short.to_string(),
        int(r.previous_short),
        float(r.change_percent),
        int(r.average_daily_volume),
        float(r.days_to_cover),
        r.days_to_cover_capped.to_string(),
        r.revision.clone().unwrap_or_else(|| null.to_string()),
        offexchange::provenance::rfc3339_micros(r.published_at),
        r.source.clone(),
    ]
}

fn table(rows: &[ShortInterestRow]) -> Table {
    let mut table = Table::new();
    table.load_preset(crate::output::FOR_PEOPLE).set_header([
        "symbol",
        "settlement",
        "short interest",
        "previous",
        "change %",
        "avg daily volume",
        "days to cover",
        "published",
        "source",
    ]);
    for r in rows {
        let int = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        let days = match (r.days_to_cover, r.days_to_cover_capped) {
            (Some(d), true) => format!("{d} (FINRA's cap)"),
            (Some(d), false) => format!("{d:.2}"),
            (None, _) => "-".into(),
        };
        table.add_row([
            r.symbol.clone(),
            r.settlement_date.to_string(),
            r.current_short.to_string(),
            int(r.previous_short),
            r.change_percent.map_or("-".into(), |p| format!("{p:.2}")),
            int(r.average_daily_volume),
            days,
            r.published_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            r.source.clone(),
        ]);
    }
    for i in 2..7 {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}
