//! One module per subcommand.

mod backfill;
mod cache;
mod catch_up;
mod chart;
mod coverage;
mod datasets;
mod db;
mod enrich;
mod export;
mod report;
mod short_interest;
mod top;

use std::collections::BTreeMap;

use std::path::PathBuf;

use anyhow::{Context, Result};
use offexchange::config::{self, ConfigError, Settings};
use offexchange::overrides::{self, Spelling};
use offexchange::source::cache::RawCache;
use offexchange::store::{self, Store};

use crate::cli::{Cli, Command, Global};

pub async fn run(cli: Cli) -> Result<()> {
    let settings = settings(&cli.global)?;
    match cli.command {
        Command::Enrich(args) => enrich::run(&settings, &cli.global, args).await,
        Command::Backfill(args) => backfill::run(&settings, args).await,
        Command::CatchUp(args) => catch_up::run(&settings, &cli.global, args).await,
        Command::Export(args) => export::run(args).await,
        Command::Top(args) => top::run(args).await,
        Command::Chart(args) => chart::run(args).await,
        Command::Report(args) => report::run(&settings, args).await,
        Command::ShortInterest(args) => short_interest::run(args).await,
        Command::Coverage(args) => coverage::run(&settings, args).await,
        Command::Datasets => datasets::run(),
        Command::Cache { action } => cache::run(action),
        Command::Db { action } => db::run(action).await,
    }
}

/// The raw-file cache from `OFFX_CACHE_DIR` / `OFFX_CACHE_MISSING_TTL`. A directory that cannot
/// be written is said once, and the run goes on without the cache (it is an optimisation).
pub fn raw_cache() -> Result<Option<RawCache>, ConfigError> {
    let Some(cache) = RawCache::from_lookup(|name| std::env::var(name).ok())? else {
        return Ok(None);
    };
    let probe = cache.root().join(".offx-write-check");
    let writable = std::fs::create_dir_all(cache.root())
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe));
    match writable {
        Ok(()) => Ok(Some(cache)),
        Err(e) => {
            tracing::warn!(
                "OFFX_CACHE_DIR {} is not writable ({e}): running without the raw-file cache",
                cache.root().display()
            );
            Ok(None)
        }
    }
}

/// Refuses an empty symbol in `--symbols` (`--symbols ""`, `A,,B`): it can only be a typo.
pub fn check_symbols(symbols: Option<&[String]>) -> Result<()> {
    if symbols.is_some_and(|list| list.iter().any(|s| s.trim().is_empty())) {
        return Err(crate::exit::Usage(
            "--symbols has an empty symbol; give them comma-separated, e.g. AAPL,BRK/B".into(),
        )
        .into());
    }
    Ok(())
}

/// Environment (and `.env`), overridden by flags; an error names the flag and its variable.
pub fn settings(global: &Global) -> Result<Settings, ConfigError> {
    let flags: BTreeMap<&str, String> = [
        (config::ENV_BASE_URL, &global.base_url),
        (config::ENV_MARKET, &global.market),
        (config::ENV_TIMEOUT, &global.timeout),
        (config::ENV_RETRIES, &global.retries),
        (config::ENV_BACKOFF, &global.backoff),
        (config::ENV_USER_AGENT, &global.user_agent),
        (config::ENV_API_BASE_URL, &global.api_base_url),
        (config::ENV_ATS_SOURCE, &global.ats_source),
    ]
    .into_iter()
    .filter_map(|(variable, value)| value.clone().map(|v| (variable, v)))
    .collect();
    overrides::settings_with(&flags, Spelling::Flag)
}

/// The CLI's store rule: `--store`, else `OFFX_STORE`, else SQLite in the user data directory.
pub async fn open_store(explicit: Option<&str>) -> Result<Option<Box<dyn Store>>> {
    let fallback = default_sqlite_path().map(|p| format!("sqlite:{}", p.display()));
    let choice = store::choose(explicit, |k| std::env::var(k).ok(), fallback);
    if let Some(url) = &choice.url {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"));
        if path.is_some_and(|p| p.trim().is_empty()) {
            // SQLite would open a temporary database that vanishes with the process.
            return Err(ConfigError::new(
                &choice.origin,
                url,
                "a SQLite store needs a file path: sqlite:PATH",
            )
            .into());
        }
    }
    match choice.url {
        Some(url) => {
            let opened = store::open(&url)
                .await
                .with_context(|| format!("opening the store named by {}", choice.origin))?;
            tracing::info!("store {} (from {})", opened.describe(), choice.origin);
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

/// Writes `bytes` beside `path`, then renames the file into place: a failed write never leaves
/// half a file where a user looks for it.
pub fn write_whole(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut temp = create_beside(path)?;
    temp.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A temporary file in `path`'s directory (a rename into place is then atomic), created with the
/// mode a plain `File::create` would give it: 0666 less the umask. `tempfile` alone makes it
/// private (0600), and a chart, report or export is meant to be opened by others.
pub fn create_beside(path: &std::path::Path) -> Result<tempfile::NamedTempFile> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
        .prefix(".offx-")
        .tempfile_in(dir.unwrap_or(std::path::Path::new(".")))
        .with_context(|| format!("cannot write beside {}", path.display()))
}
