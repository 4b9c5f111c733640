//! `offx enrich --date D`: one session, printed and stored.

use anyhow::{Context, Result};
use offexchange::{Engine, SessionOutcome, Settings};

use crate::cli::{EnrichArgs, Global};
use crate::output;

pub async fn run(settings: &Settings, global: &Global, args: EnrichArgs) -> Result<()> {
    super::check_symbols(args.symbols.as_deref())?;
    let store = if args.no_store {
        None
    } else {
        super::open_store(args.store.as_deref()).await?
    };
    // A daily run always fetches afresh (FINRA re-posts corrected files) and refreshes the cache.
    let engine = Engine::new(settings.clone())?.with_cache(super::raw_cache()?, false);
    let outcome = engine
        .session(args.date, args.symbols.as_deref(), store.as_deref())
        .await
        .with_context(|| format!("session {} failed; nothing was written", args.date))?;
    match outcome {
        SessionOutcome::Closed { trade_date, reason } => {
            tracing::info!("{trade_date} is not an NYSE session ({reason}); nothing to do");
        }
        SessionOutcome::Computed { session, stored } => {
            output::log_report(&session.report, global.verbose > 0);
            if let (Some(summary), Some(store)) = (&stored, &store) {
                // PostgREST (return=minimal) cannot tell inserts from updates: say so, not "0 / 0".
                let split = if summary.inserted + summary.updated == summary.rows {
                    format!("{} inserted, {} updated", summary.inserted, summary.updated)
                } else {
                    "the store does not report inserts and updates apart".to_string()
                };
                tracing::info!(
                    "stored {} rows in {} ({split}) in {:.0} ms",
                    summary.rows,
                    store.describe(),
                    summary.elapsed.as_secs_f64() * 1e3
                );
            }
            output::print(
                args.format,
                &session.rows,
                &session.report,
                stored.as_ref(),
                args.limit.map(|n| n as usize),
            )?;
        }
    }
    Ok(())
}
