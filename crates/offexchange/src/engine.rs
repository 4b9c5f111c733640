//! The engine: settings, one FINRA source, the raw-file cache and the download limit, made once
//! and shared by every job (a clone is cheap and shares them all).

use std::sync::Arc;

use chrono::NaiveDate;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::{AtsSource, Settings};
use crate::parse::ParseError;
use crate::provenance::Fingerprint;
use crate::report::SessionReport;
use crate::source::cache::{fetch_versioned_through, CacheUse, RawCache};
use crate::source::finra_api::TokenSource;
use crate::source::{Fetched, FinraApi, HttpClient, Source, SourceError};
use crate::store::StoreError;

/// A job that could not finish: FINRA's side or the store's.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// A FINRA file or API answer could not be obtained or used.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a dataset's data is read: through the raw-file cache as configured, or afresh from
/// FINRA (catch-up uses that to see revisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// As the engine's cache settings say.
    Cached,
    /// Bypassing every cache (the cached copy is refreshed).
    Fresh,
}

/// The engine: settings plus one source, reused for every file and session. Its jobs are
/// [`Engine::session`], [`Engine::backfill`] and [`Engine::catch_up`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use offexchange::{Engine, Settings};
/// let engine = Engine::new(Settings::from_env()?)?;
/// let day = chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
/// let outcome = engine.session(day, None, None).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    settings: Settings,
    source: Source,
    cache: Option<CacheUse>,
    /// Bounds concurrent downloads across everything this engine (and its clones) does.
    downloads: Option<Arc<Semaphore>>,
    /// FINRA's Query API, when it is the ATS source ([`Settings::effective_ats_source`]).
    ats_api: Option<FinraApi>,
}

impl Engine {
    /// An engine for `settings` (the HTTP clients are built here, once).
    pub fn new(settings: Settings) -> Result<Engine, EngineError> {
        let source = Source::new(&settings)?;
        let ats_api = match settings.effective_ats_source() {
            AtsSource::Api => {
                let auth = match &settings.api_credentials {
                    Some(credentials) => Some(TokenSource::new(
                        &settings.api_token_url,
                        credentials.clone(),
                        &settings.http,
                    )?),
                    None => None,
                };
                Some(
                    FinraApi::new(HttpClient::new(&settings.api_base_url, &settings.http)?)
                        .with_auth(auth),
                )
            }
            AtsSource::Zip | AtsSource::Auto => None,
        };
        Ok(Engine {
            settings,
            source,
            cache: None,
            downloads: None,
            ats_api,
        })
    }

    /// At most `limit` files downloading at once (a polite backfill).
    pub fn with_download_limit(mut self, limit: usize) -> Engine {
        self.downloads = Some(Arc::new(Semaphore::new(limit.max(1))));
        self
    }

    /// Keeps FINRA's raw files in `cache`; `read`: serve from it too (bulk work), see
    /// [`crate::source::cache`].
    pub fn with_cache(mut self, cache: Option<RawCache>, read: bool) -> Engine {
        // Static historic API weeks are kept there too (see FinraApi::with_cache).
        self.ats_api = self.ats_api.map(|api| api.with_cache(cache.clone()));
        self.cache = cache.map(|cache| CacheUse { cache, read });
        self
    }

    /// The settings this engine was made with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// An empty report for a session (market and symbol count filled in), for its stages to fill.
    pub fn session_report(&self, trade_date: NaiveDate, requested: Option<usize>) -> SessionReport {
        SessionReport::new(trade_date, self.settings.market.to_string(), requested)
    }

    /// FINRA's Query API client, when the API is the ATS source.
    pub(crate) fn ats_api(&self) -> Option<&FinraApi> {
        self.ats_api.as_ref()
    }

    /// Where `path` under `FINRA_BASE_URL` lives, for messages.
    pub(crate) fn locate(&self, path: &str) -> String {
        self.source.locate(path)
    }

    /// A download slot (none when the engine has no limit). The semaphore is never closed, so a
    /// failed acquire cannot happen; it would mean "no limit".
    pub(crate) async fn download_slot(&self) -> Option<SemaphorePermit<'_>> {
        match &self.downloads {
            Some(limit) => limit.acquire().await.ok(),
            None => None,
        }
    }

    /// Fetches a file under `FINRA_BASE_URL`, parsed by `parse`, through the raw-file cache as
    /// `freshness` says, with the fingerprint of its bytes (sha256, size, publication time).
    pub(crate) async fn fetch_file<T>(
        &self,
        path: &str,
        freshness: Freshness,
        parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    ) -> Result<Fetched<(T, Fingerprint)>, SourceError> {
        let refresh = self.cache.as_ref().map(|using| CacheUse {
            cache: using.cache.clone(),
            read: false,
        });
        let cache = match freshness {
            Freshness::Cached => self.cache.as_ref(),
            Freshness::Fresh => refresh.as_ref(),
        };
        let _slot = self.download_slot().await;
        fetch_versioned_through(cache, &self.source, path, parse).await
    }
}
