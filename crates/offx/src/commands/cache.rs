//! `offx cache info|clear`.

use anyhow::{Context, Result};

use crate::cli::CacheAction;

pub fn run(action: CacheAction) -> Result<()> {
    let Some(cache) = super::raw_cache()? else {
        println!("the raw-file cache is off (OFFX_CACHE_DIR=off)");
        return Ok(());
    };
    let root = cache.root().display().to_string();
    match action {
        CacheAction::Info => {
            let info = cache
                .info()
                .with_context(|| format!("reading the cache at {root}"))?;
            println!("cache directory:        {root}");
            println!("files:                  {}", info.files);
            println!("size:                   {:.1} MB", info.bytes as f64 / 1e6);
            println!("not-published markers:  {}", info.not_published_markers);
        }
        CacheAction::Clear => {
            let info = cache.info().unwrap_or_default();
            cache
                .clear()
                .with_context(|| format!("clearing the cache at {root}"))?;
            println!(
                "removed {} files ({:.1} MB) from {root}",
                info.files,
                info.bytes as f64 / 1e6
            );
        }
    }
    Ok(())
}
