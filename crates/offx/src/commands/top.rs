//! `offx top --date D --by short_vol_share|short_vol_z|ats_share_of_total [--min-total-volume N]
//! [--limit 25] [--bottom] [--format table|csv|json]`: a day's ranking, from the store.

use std::io::Write;

use anyhow::{bail, Context, Result};
use comfy_table::{CellAlignment, Table};
use offexchange::{top, RankBy, Ranking, SymbolSignals};

use crate::cli::{ListFormat, RankByArg, TopArgs};
use crate::commands::open_store;

const COLUMNS: [&str; 9] = [
    "rank",
    "symbol",
    "short_vol_share",
    "short_vol_mean20",
    "short_vol_z",
    "ats_share_of_total",
    "ats_mean_12w",
    "ats_vs_mean",
    "total_volume",
];

pub async fn run(args: TopArgs) -> Result<()> {
    if args.min_total_volume.is_some_and(|v| v.is_nan() || v < 0.0) {
        bail!(crate::exit::Usage(
            "--min-total-volume must be a number of shares, 0 or more".into()
        ));
    }
    let store = open_store(args.store.as_deref())
        .await?
        .context("top reads a store: give --store or set OFFX_STORE")?;
    let by = match args.by {
        RankByArg::ShortVolShare => RankBy::ShortVolShare,
        RankByArg::ShortVolZ => RankBy::ShortVolZ,
        RankByArg::AtsShareOfTotal => RankBy::AtsShareOfTotal,
    };
    let ranking = top(
        store.as_ref(),
        args.date,
        by,
        args.min_total_volume,
        args.limit as usize,
        args.bottom,
    )
    .await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &ranking)?;
            writeln!(out)?;
        }
        ListFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(COLUMNS)?;
            for (i, r) in ranking.rows.iter().enumerate() {
                w.write_record(cells(i + 1, r))?;
            }
            w.flush()?;
        }
        ListFormat::Table => {
            if ranking.rows.is_empty() {
                writeln!(
                    out,
                    "nothing to rank on {} by {}",
                    ranking.trade_date,
                    by.name()
                )?;
            } else {
                writeln!(out, "{}", table(&ranking))?;
            }
            writeln!(out, "{}", note(&ranking))?;
        }
    }
    Ok(())
}

/// A row's cells, empty for null.
fn cells(rank: usize, r: &SymbolSignals) -> Vec<String> {
    let v = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
    vec![
        rank.to_string(),
        r.symbol.clone(),
        v(r.short_vol_share),
        v(r.short_vol_mean20),
        v(r.short_vol_z),
        v(r.ats_share_of_total),
        v(r.ats_mean_12w),
        v(r.ats_vs_mean),
        v(r.total_volume),
    ]
}

fn table(ranking: &Ranking) -> Table {
    let mut table = Table::new();
    table.load_preset(crate::output::FOR_PEOPLE).set_header([
        "#",
        "symbol",
        "short vol share",
        "20d mean",
        "z",
        "ATS share",
        "12w mean",
        "ATS - mean",
        "total volume",
    ]);
    let ratio = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.4}"));
    for (i, r) in ranking.rows.iter().enumerate() {
        table.add_row([
            (i + 1).to_string(),
            r.symbol.clone(),
            ratio(r.short_vol_share),
            ratio(r.short_vol_mean20),
            r.short_vol_z.map_or("-".into(), |z| format!("{z:+.2}")),
            ratio(r.ats_share_of_total),
            ratio(r.ats_mean_12w),
            r.ats_vs_mean.map_or("-".into(), |d| format!("{d:+.4}")),
            r.total_volume.map_or("-".into(), |v| format!("{v:.0}")),
        ]);
    }
    for i in [0, 2, 3, 4, 5, 6, 7, 8] {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// What was ranked and what was left out, in one line.
fn note(r: &Ranking) -> String {
    let mut parts = vec![format!(
        "{} of {} ranked symbols shown ({} by {}, {})",
        r.rows.len(),
        r.ranked,
        r.trade_date,
        r.by.name(),
        if r.bottom {
            "lowest first"
        } else {
            "highest first"
        }
    )];
    if r.left_out > 0 {
        parts.push(format!("{} more left out by --limit", r.left_out));
    }
    if let Some(floor) = r.min_total_volume {
        parts.push(format!(
            "{} below --min-total-volume {floor} (or without recorded volume)",
            r.below_floor
        ));
    }
    if r.without_value > 0 {
        parts.push(format!(
            "{} without a {} value",
            r.without_value,
            r.by.name()
        ));
    }
    parts.join("; ")
}
