//! `offx report --date D [--out report.html] [--min-total-volume N] [--limit 10]`: one
//! self-contained HTML page for the day (see `offx_view::report`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use offexchange::{Engine, Settings};
use offx_view::{report_html, ReportRequest};

use crate::cli::ReportArgs;
use crate::commands::{open_store, write_whole};

pub async fn run(settings: &Settings, args: ReportArgs) -> Result<()> {
    let store = open_store(args.store.as_deref())
        .await?
        .context("report reads a store: give --store or set OFFX_STORE")?;
    // Coverage from the store and ledger only (no request to FINRA).
    let engine = Engine::new(settings.clone())?;
    let coverage = engine
        .coverage(
            store.as_ref(),
            args.date,
            args.date,
            false,
            chrono::Utc::now(),
        )
        .await?;
    let request = ReportRequest {
        min_total_volume: args.min_total_volume,
        limit: args.limit as usize,
        ..ReportRequest::new(args.date)
    };
    let html = report_html(store.as_ref(), &request, Some(&coverage)).await?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("offexchange-report-{}.html", args.date)));
    write_whole(&out, html.as_bytes())?;
    println!("{}", out.display());
    Ok(())
}
