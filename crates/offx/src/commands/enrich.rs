//! `offx enrich --date D`: one session, printed and stored.

use std::path::PathBuf;

use anyhow::{Context, Result};
use offexchange::session::SessionOutcome;
use offexchange::store::{self, Store};
use offexchange::{Engine, Settings};

use crate::cli::{EnrichArgs, Global};
use crate::output;

pub async fn run(settings: &Settings, global: &Global, args: EnrichArgs) -> Result<()> {
    let store = if args.no_store {
        None
    } else {
        open_store(args.store.as_deref()).await?
    };
    // A daily run always fetches afresh (FINRA re-posts corrected files) and refreshes the cache.
    let engine = Engine::new(settings.clone())?.with_cache(super::raw_cache()?, false);
    let outcome = engine
        .run(args.date, args.symbols.as_deref(), store.as_deref())
        .await
        .with_context(|| format!("session {} failed; nothing was written", args.date))?;
    match outcome {
        SessionOutcome::Closed { trade_date, reason } => {
            tracing::info!("{trade_date} is not an NYSE session ({reason}); nothing to do");
        }
        SessionOutcome::Computed {
            rows,
            report,
            stored,
        } => {
            output::log_report(&report, global.verbose > 0);
            if let (Some(summary), Some(store)) = (&stored, &store) {
                tracing::info!(
                    "stored {} rows in {} ({} inserted, {} updated) in {:.0} ms",
                    summary.rows,
                    store.describe(),
                    summary.inserted,
                    summary.updated,
                    summary.elapsed.as_secs_f64() * 1e3
                );
            }
            output::print(args.format, &rows, &report, stored.as_ref())?;
        }
    }
    Ok(())
}

/// The CLI's store rule: `--store`, else `OFFX_STORE`, else SQLite in the user data directory.
pub async fn open_store(explicit: Option<&str>) -> Result<Option<Box<dyn Store>>> {
    let fallback = default_sqlite_path().map(|p| format!("sqlite:{}", p.display()));
    let choice = store::choose(explicit, |k| std::env::var(k).ok(), fallback);
    match choice.url {
        Some(url) => {
            let opened = store::open(&url).await?;
            tracing::debug!("store {} (from {})", opened.describe(), choice.origin);
            Ok(Some(opened))
        }
        None => {
            tracing::warn!("no store configured: computing in memory only");
            Ok(None)
        }
    }
}

fn default_sqlite_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("offexchange").join("offexchange.sqlite"))
}
