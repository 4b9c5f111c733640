//! `offx catch-up [--days 60]`: fill ats_share_of_total where FINRA has published the week since,
//! and recompute recent weeks FINRA has revised (see [`Engine::catch_up`]).

use anyhow::{anyhow, Result};
use offexchange::{Engine, Settings};

use crate::cli::{CatchUpArgs, Global};
use crate::commands::open_store;

pub async fn run(settings: &Settings, _global: &Global, args: CatchUpArgs) -> Result<()> {
    let store = open_store(args.store.as_deref())
        .await?
        .ok_or_else(|| anyhow!("catch-up needs a store: give --store or set OFFX_STORE"))?;
    // Reads the cache: "not published" markers expire after OFFX_CACHE_MISSING_TTL, so a week
    // FINRA published since is fetched.
    let engine = Engine::new(settings.clone())?.with_cache(super::raw_cache()?, true);
    let until = args
        .until
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let summary = engine.catch_up(store.as_ref(), until, args.days).await?;
    crate::output::print_summary("catch-up", &summary, &summary.lines(), args.format)
}
