//! `offx backfill --from D --to D`: a range of sessions with a progress bar and a summary.

use std::time::Duration;

use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressStyle};
use offexchange::{BackfillEvent, BackfillOptions, BackfillSummary, Engine, Settings};

use crate::cli::{BackfillArgs, SummaryFormat};
use crate::commands::open_store;
use crate::exit::Interrupted;

pub async fn run(settings: &Settings, args: BackfillArgs) -> Result<()> {
    if args.from > args.to {
        return Err(
            crate::exit::Usage(format!("--from {} is after --to {}", args.from, args.to)).into(),
        );
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
    let outcome = engine
        .backfill(
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
    crate::output::print_summary("backfill", summary, &summary.lines(), format)
}
