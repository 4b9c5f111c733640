//! `offx backfill --from D --to D`: a range of sessions with a progress bar and a summary.

use std::time::Duration;

use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressStyle};
use offexchange::backfill::{backfill, BackfillEvent, BackfillOptions, BackfillSummary};
use offexchange::{Engine, Settings};

use crate::cli::{BackfillArgs, SummaryFormat};
use crate::commands::open_store;
use crate::exit::Interrupted;

pub async fn run(settings: &Settings, args: BackfillArgs) -> Result<()> {
    if args.from > args.to {
        return Err(anyhow!("--from {} is after --to {}", args.from, args.to));
    }
    let store = open_store(args.store.as_deref())
        .await?
        .ok_or_else(|| anyhow!("backfill needs a store: give --store or set OFFX_STORE"))?;
    let engine = Engine::new(settings.clone())?
        .with_cache(super::raw_cache()?, true)
        .with_download_limit(usize::from(args.concurrency));
    tracing::info!(
        "backfill {}..{} into {} ({} downloads at once)",
        args.from,
        args.to,
        store.describe(),
        args.concurrency
    );

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} sessions {msg} (ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let (mut rows, mut missing) = (0usize, 0usize);
    let mut on_event = |event: BackfillEvent<'_>| match event {
        BackfillEvent::Planned {
            to_run,
            already_stored,
        } => {
            bar.set_length(to_run as u64);
            if already_stored > 0 {
                bar.println(format!(
                    "resuming: {already_stored} sessions already stored (use --force to redo)"
                ));
            }
        }
        BackfillEvent::Stored {
            trade_date,
            stored,
            report,
        } => {
            rows += stored.rows;
            missing += report.files_missing();
            bar.set_message(format!(
                "{trade_date} | {rows} rows | {missing} files missing"
            ));
            bar.inc(1);
        }
    };
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let outcome = backfill(
        &engine,
        store.as_ref(),
        args.from,
        args.to,
        BackfillOptions {
            concurrency: usize::from(args.concurrency),
            force: args.force,
        },
        interrupt,
        &mut on_event,
    )
    .await;
    bar.finish_and_clear();
    match outcome {
        Ok(summary) => {
            print_summary(&summary, args.format)?;
            if summary.interrupted {
                return Err(Interrupted(summary.sessions_stored).into());
            }
            Ok(())
        }
        Err(failure) => {
            print_summary(&failure.summary, args.format)?;
            Err(failure.into())
        }
    }
}

pub fn print_summary(summary: &BackfillSummary, format: SummaryFormat) -> Result<()> {
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    if format == SummaryFormat::Json {
        let mut doc = serde_json::to_value(summary)?;
        doc["elapsed_seconds"] = serde_json::json!(secs);
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let range = format!(
        "{} .. {}",
        summary.from.map(|d| d.to_string()).unwrap_or_default(),
        summary.to.map(|d| d.to_string()).unwrap_or_default()
    );
    let lines = [
        ("range", range),
        (
            "NYSE sessions in range",
            summary.sessions_in_range.to_string(),
        ),
        (
            "already stored (skipped)",
            summary.sessions_already_stored.to_string(),
        ),
        ("sessions stored now", summary.sessions_stored.to_string()),
        (
            "rows written",
            format!(
                "{} ({} inserted, {} updated)",
                summary.rows_written, summary.rows_inserted, summary.rows_updated
            ),
        ),
        (
            "files fetched / not published",
            format!("{} / {}", summary.files_fetched, summary.files_missing),
        ),
        ("elapsed", format!("{secs:.2} s")),
        (
            "throughput",
            format!(
                "{:.1} sessions/s, {:.0} rows/s",
                summary.sessions_stored as f64 / secs,
                summary.rows_written as f64 / secs
            ),
        ),
        (
            "interrupted",
            if summary.interrupted {
                "yes (re-run to resume)".into()
            } else {
                "no".into()
            },
        ),
    ];
    crate::output::print_summary_table("backfill", &lines);
    Ok(())
}
