//! Settings from the environment (and a `.env` file), validated once at start-up.
//!
//! Every setting has one environment variable; fronts (CLI flags, Python keyword arguments)
//! override it by handing [`Settings::from_lookup`] a lookup that consults them first. A bad value
//! is refused with an error naming the variable and the value.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

/// `FINRA_BASE_URL`: FINRA's CDN root or a `file://` mirror (default [`DEFAULT_BASE_URL`]).
pub const ENV_BASE_URL: &str = "FINRA_BASE_URL";
/// `FINRA_SHORT_VOLUME_MARKET`: `TOT` or one facility code (see [`Market`]).
pub const ENV_MARKET: &str = "FINRA_SHORT_VOLUME_MARKET";
/// `FINRA_HTTP_TIMEOUT`: seconds allowed per request attempt, above 0 up to 3600.
pub const ENV_TIMEOUT: &str = "FINRA_HTTP_TIMEOUT";
/// `FINRA_HTTP_RETRIES`: retries after the first attempt, 0 to 20.
pub const ENV_RETRIES: &str = "FINRA_HTTP_RETRIES";
/// `FINRA_HTTP_BACKOFF`: base of the retry backoff in seconds, 0 up to 3600.
pub const ENV_BACKOFF: &str = "FINRA_HTTP_BACKOFF";
/// `FINRA_HTTP_USER_AGENT`: the User-Agent sent to FINRA (no control characters).
pub const ENV_USER_AGENT: &str = "FINRA_HTTP_USER_AGENT";
/// `FINRA_API_BASE_URL`: the Query API root (default [`DEFAULT_API_BASE_URL`]).
pub const ENV_API_BASE_URL: &str = "FINRA_API_BASE_URL";
/// `FINRA_ATS_SOURCE`: `auto`, `api` or `zip` (see [`AtsSource`]).
pub const ENV_ATS_SOURCE: &str = "FINRA_ATS_SOURCE";
/// Largest response body accepted, in decoded bytes (after gzip), for every HTTP request.
pub const ENV_MAX_BODY_BYTES: &str = "OFFX_MAX_BODY_BYTES";
/// `FINRA_API_CLIENT_ID`: FINRA API credentials (optional; with the secret).
pub const ENV_API_CLIENT_ID: &str = "FINRA_API_CLIENT_ID";
/// `FINRA_API_CLIENT_SECRET`: FINRA API credentials (optional; with the id). Never logged.
pub const ENV_API_CLIENT_SECRET: &str = "FINRA_API_CLIENT_SECRET";
/// `FINRA_API_TOKEN_URL`: FINRA's OAuth2 token endpoint (client-credentials grant).
pub const ENV_API_TOKEN_URL: &str = "FINRA_API_TOKEN_URL";
/// FINRA's token endpoint, as every public client of its API uses it (FINRA's own pages
/// stored here do not show it; see the README's "FINRA API credentials").
pub const DEFAULT_API_TOKEN_URL: &str =
    "https://ews.fip.finra.org/fip/rest/ews/oauth2/access_token?grant_type=client_credentials";

/// FINRA's CDN root: the Reg SHO files are under `regsho/daily/`.
pub const DEFAULT_BASE_URL: &str = "https://cdn.finra.org/equity";
/// FINRA's Query API, which serves the OTC Transparency (ATS / non-ATS) weekly data.
pub const DEFAULT_API_BASE_URL: &str = "https://api.finra.org";
/// The host of FINRA's own CDN: with `FINRA_ATS_SOURCE=auto`, this base means the Query API.
pub const FINRA_CDN_HOST: &str = "cdn.finra.org";
/// Default `FINRA_HTTP_TIMEOUT`, in seconds.
pub const DEFAULT_TIMEOUT_SECS: f64 = 30.0;
/// Default `FINRA_HTTP_RETRIES`: 3 retries, so 4 attempts in all.
pub const DEFAULT_RETRIES: u32 = 3;
/// Default `FINRA_HTTP_BACKOFF`, in seconds.
pub const DEFAULT_BACKOFF_SECS: f64 = 0.5;
/// 32 MiB: the largest real bodies are a Reg SHO file (~1 MB), a weekly ZIP (~10 MB) and a
/// Query API page (~3 MB). The cap leaves headroom while keeping the worst body that fits (a
/// Reg SHO file of 1.2 million distinct symbols parses into ~200 MB of rows) and any hostile one
/// (an endless stream, a gzip bomb) within a 256 MB budget.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 << 20;
/// Bounds of `OFFX_MAX_BODY_BYTES`: 64 KiB to 1 GiB.
pub const MAX_BODY_BYTES_RANGE: std::ops::RangeInclusive<u64> = (64 << 10)..=(1 << 30);
/// FINRA's CDN refuses clients without a descriptive User-Agent (HTTP 403).
pub const DEFAULT_USER_AGENT: &str = concat!(
    "offexchange/",
    env!("CARGO_PKG_VERSION"),
    " (FINRA Reg SHO and OTC Transparency feature pipeline; set FINRA_HTTP_USER_AGENT to add a contact)"
);

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable, e.g. `FINRA_HTTP_TIMEOUT`.
    pub variable: String,
    /// The value as given (a URL with its `user:password@` redacted).
    pub value: String,
    /// What was expected instead.
    pub reason: String,
}

impl ConfigError {
    /// An error for `variable` set to `value`.
    pub fn new(variable: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// A Reg SHO reporting facility: one daily file each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facility {
    /// Consolidated NMS: the per-symbol sum of FNSQ, FNQC, FNYX and FNRA (from 2018-08-01).
    Cnms,
    /// FINRA/Nasdaq TRF Carteret.
    Fnsq,
    /// FINRA/Nasdaq TRF Chicago (from 2018-09-10).
    Fnqc,
    /// FINRA/NYSE TRF.
    Fnyx,
    /// Alternative Display Facility.
    Fnra,
    /// OTC Reporting Facility: OTC equities (non-NMS), disjoint from CNMS.
    Forf,
}

impl Facility {
    /// Every facility, CNMS first.
    pub const ALL: [Facility; 6] = [
        Facility::Cnms,
        Facility::Fnsq,
        Facility::Fnqc,
        Facility::Fnyx,
        Facility::Fnra,
        Facility::Forf,
    ];

    /// The NMS facilities whose sum CNMS is.
    pub const NMS_PARTS: [Facility; 4] = [
        Facility::Fnsq,
        Facility::Fnqc,
        Facility::Fnyx,
        Facility::Fnra,
    ];

    /// FINRA's facility code (`CNMS`, `FNSQ`, ...), as in the file names.
    pub fn code(self) -> &'static str {
        match self {
            Facility::Cnms => "CNMS",
            Facility::Fnsq => "FNSQ",
            Facility::Fnqc => "FNQC",
            Facility::Fnyx => "FNYX",
            Facility::Fnra => "FNRA",
            Facility::Forf => "FORF",
        }
    }
}

impl fmt::Display for Facility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What `FINRA_SHORT_VOLUME_MARKET` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Market {
    /// All FINRA-reported volume, composed from facility files (FINRA publishes no `TOT` file):
    /// see [`crate::Engine::session`].
    Tot,
    /// Exactly one facility's file.
    Facility(Facility),
}

impl FromStr for Market {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "TOT" {
            return Ok(Market::Tot);
        }
        Facility::ALL
            .into_iter()
            .find(|f| f.code() == s)
            .map(Market::Facility)
            .ok_or_else(|| "expected TOT, CNMS, FNSQ, FNQC, FNYX, FNRA or FORF".to_string())
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Market::Tot => f.write_str("TOT"),
            Market::Facility(fac) => fac.fmt(f),
        }
    }
}

/// Where the weekly ATS / non-ATS volumes come from (`FINRA_ATS_SOURCE`).
///
/// FINRA publishes no weekly ZIP on its CDN: `ATS/ATS_W_Summary_YYYYMMDD.zip` is this project's
/// mirror layout. FINRA itself serves the weekly data only through its Query API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AtsSource {
    /// `api` when `FINRA_BASE_URL` is FINRA's own CDN (`cdn.finra.org`), `zip` for any other
    /// base (a mirror, `file://`), so the mirror layout keeps working offline.
    #[default]
    Auto,
    /// FINRA's Query API at `FINRA_API_BASE_URL`.
    Api,
    /// The mirror's `ATS/ATS_W_Summary_YYYYMMDD.zip` under `FINRA_BASE_URL`.
    Zip,
}

impl AtsSource {
    /// `auto`, `api` or `zip`, as `FINRA_ATS_SOURCE` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AtsSource::Auto => "auto",
            AtsSource::Api => "api",
            AtsSource::Zip => "zip",
        }
    }
}

impl FromStr for AtsSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(AtsSource::Auto),
            "api" => Ok(AtsSource::Api),
            "zip" => Ok(AtsSource::Zip),
            _ => Err("expected auto, api or zip".to_string()),
        }
    }
}

impl fmt::Display for AtsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the HTTP client behaves: one value, made once, shared by every request.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Time allowed for each request attempt, connecting included (`FINRA_HTTP_TIMEOUT`).
    pub timeout: Duration,
    /// Retries after the first attempt (so `retries + 1` attempts in all).
    pub retries: u32,
    /// Base of the exponential backoff: attempt `n` waits about `backoff * 2^(n-1)`, with jitter.
    pub backoff: Duration,
    /// Sent with every request (`FINRA_HTTP_USER_AGENT`): FINRA's CDN refuses clients without a
    /// descriptive one.
    pub user_agent: String,
    /// Largest response body read, in decoded bytes (`OFFX_MAX_BODY_BYTES`, default
    /// [`DEFAULT_MAX_BODY_BYTES`]). A larger body is a permanent error naming the URL and the cap.
    pub max_body_bytes: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_SECS),
            retries: DEFAULT_RETRIES,
            backoff: Duration::from_secs_f64(DEFAULT_BACKOFF_SECS),
            user_agent: DEFAULT_USER_AGENT.to_string(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Every setting the engine needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// CDN root (`https://...`) or a local mirror (`file:///...`), without trailing slash.
    pub base_url: Url,
    /// `TOT` or the one facility whose short volume is read (`FINRA_SHORT_VOLUME_MARKET`).
    pub market: Market,
    /// How the HTTP client behaves.
    pub http: HttpSettings,
    /// FINRA's Query API root (`https://api.finra.org`), without trailing slash.
    pub api_base_url: Url,
    /// As configured; [`Settings::effective_ats_source`] resolves `Auto`.
    pub ats_source: AtsSource,
    /// FINRA API credentials: with them every API request carries an OAuth2 bearer token.
    pub api_credentials: Option<ApiCredentials>,
    /// Where tokens are obtained ([`DEFAULT_API_TOKEN_URL`]).
    pub api_token_url: Url,
}

/// A FINRA API client id and secret. Its `Debug` shows the id only: the secret is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiCredentials {
    /// `FINRA_API_CLIENT_ID`.
    pub client_id: String,
    /// `FINRA_API_CLIENT_SECRET`.
    pub client_secret: String,
}

impl fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("the default URL is valid"),
            market: Market::Tot,
            http: HttpSettings::default(),
            api_base_url: Url::parse(DEFAULT_API_BASE_URL).expect("the default URL is valid"),
            ats_source: AtsSource::Auto,
            api_credentials: None,
            api_token_url: Url::parse(DEFAULT_API_TOKEN_URL).expect("the default URL is valid"),
        }
    }
}

impl Settings {
    /// Reads the process environment, after loading `.env` from the working directory if present.
    pub fn from_env() -> Result<Settings, ConfigError> {
        load_dotenv();
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any lookup (`name -> value`); unset or empty means the default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut settings = Settings::default();
        if let Some(raw) = get(ENV_BASE_URL) {
            settings.base_url = parse_base_url(&raw)?;
        }
        if let Some(raw) = get(ENV_MARKET) {
            settings.market = raw
                .trim()
                .parse()
                .map_err(|why: String| ConfigError::new(ENV_MARKET, &raw, why))?;
        }
        if let Some(raw) = get(ENV_TIMEOUT) {
            settings.http.timeout = parse_seconds(ENV_TIMEOUT, &raw, false)?;
        }
        if let Some(raw) = get(ENV_RETRIES) {
            settings.http.retries = raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|r| *r <= 20)
                .ok_or_else(|| {
                    ConfigError::new(ENV_RETRIES, &raw, "expected a whole number from 0 to 20")
                })?;
        }
        if let Some(raw) = get(ENV_BACKOFF) {
            settings.http.backoff = parse_seconds(ENV_BACKOFF, &raw, true)?;
        }
        if let Some(raw) = get(ENV_USER_AGENT) {
            if raw.chars().any(|c| c.is_control()) {
                return Err(ConfigError::new(
                    ENV_USER_AGENT,
                    &raw,
                    "control characters are not allowed",
                ));
            }
            settings.http.user_agent = raw.trim().to_string();
        }
        if let Some(raw) = get(ENV_MAX_BODY_BYTES) {
            settings.http.max_body_bytes = raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| MAX_BODY_BYTES_RANGE.contains(n))
                .ok_or_else(|| {
                    ConfigError::new(
                        ENV_MAX_BODY_BYTES,
                        &raw,
                        format!(
                            "expected a whole number of bytes from {} to {}",
                            MAX_BODY_BYTES_RANGE.start(),
                            MAX_BODY_BYTES_RANGE.end()
                        ),
                    )
                })?;
        }
        if let Some(raw) = get(ENV_API_BASE_URL) {
            settings.api_base_url = parse_api_base_url(&raw)?;
        }
        if let Some(raw) = get(ENV_ATS_SOURCE) {
            settings.ats_source = raw
                .trim()
                .parse()
                .map_err(|why: String| ConfigError::new(ENV_ATS_SOURCE, &raw, why))?;
        }
        settings.api_credentials = match (get(ENV_API_CLIENT_ID), get(ENV_API_CLIENT_SECRET)) {
            (Some(id), Some(secret)) => Some(ApiCredentials {
                client_id: id.trim().to_string(),
                client_secret: secret.trim().to_string(),
            }),
            (None, None) => None,
            (Some(id), None) => {
                return Err(ConfigError::new(
                    ENV_API_CLIENT_SECRET,
                    "",
                    format!(
                    "{ENV_API_CLIENT_ID} is set ({id}) but the secret is not: set both or neither"
                ),
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    ENV_API_CLIENT_ID,
                    "",
                    format!(
                        "{ENV_API_CLIENT_SECRET} is set but the id is not: set both or neither"
                    ),
                ))
            }
        };
        if let Some(raw) = get(ENV_API_TOKEN_URL) {
            let shown = crate::store::redact_url(&raw);
            settings.api_token_url = Url::parse(raw.trim())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| {
                    ConfigError::new(ENV_API_TOKEN_URL, &shown, "expected an http(s):// URL")
                })?;
        }
        Ok(settings)
    }

    /// The ATS source actually used: `Api` or `Zip`, never `Auto`.
    ///
    /// `Auto` is `Api` exactly when the base URL is FINRA's own CDN (`cdn.finra.org`), where no
    /// weekly ZIP exists, and `Zip` for any other base (a mirror, `file://`).
    ///
    /// ```
    /// use offexchange::config::{AtsSource, Settings};
    /// let mut s = Settings::default();
    /// assert_eq!(s.effective_ats_source(), AtsSource::Api);
    /// s.base_url = "file:///data/finra".parse().unwrap();
    /// assert_eq!(s.effective_ats_source(), AtsSource::Zip);
    /// ```
    pub fn effective_ats_source(&self) -> AtsSource {
        match self.ats_source {
            AtsSource::Auto if self.base_url.host_str() == Some(FINRA_CDN_HOST) => AtsSource::Api,
            AtsSource::Auto => AtsSource::Zip,
            chosen => chosen,
        }
    }

    /// `true` when the base URL is a local directory rather than an HTTP server.
    pub fn is_file_mirror(&self) -> bool {
        self.base_url.scheme() == "file"
    }
}

/// Loads `.env` (if any) without overriding variables already set.
pub fn load_dotenv() {
    // A missing .env is the normal case; a malformed one is worth a warning.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => tracing::warn!("ignoring .env: {e}"),
    }
}

fn parse_base_url(raw: &str) -> Result<Url, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    // The value is echoed redacted: a base URL may carry `user:password@`.
    let shown = crate::store::redact_url(raw);
    let url =
        Url::parse(trimmed).map_err(|e| ConfigError::new(ENV_BASE_URL, &shown, e.to_string()))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        "file" => {
            // `file://relative/dir` parses with `relative` as a host: say so, rather than read an
            // empty mirror and call every file "not published".
            if url
                .host_str()
                .is_some_and(|h| !h.is_empty() && h != "localhost")
            {
                return Err(ConfigError::new(
                    ENV_BASE_URL,
                    &shown,
                    "a file:// URL needs an absolute directory, with three slashes: \
                     file:///data/finra",
                ));
            }
            let path = url
                .to_file_path()
                .map_err(|()| ConfigError::new(ENV_BASE_URL, &shown, "not a local directory"))?;
            if !path.is_dir() {
                return Err(ConfigError::new(
                    ENV_BASE_URL,
                    &shown,
                    format!(
                        "{} is not a directory (a mirror laid out like FINRA's CDN is expected \
                         there)",
                        path.display()
                    ),
                ));
            }
            Ok(url)
        }
        _ => Err(ConfigError::new(
            ENV_BASE_URL,
            &shown,
            "expected an http(s):// URL or a file:// directory",
        )),
    }
}

fn parse_api_base_url(raw: &str) -> Result<Url, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    // The value is echoed redacted: a base URL may carry `user:password@`.
    let shown = crate::store::redact_url(raw);
    let url = Url::parse(trimmed)
        .map_err(|e| ConfigError::new(ENV_API_BASE_URL, &shown, e.to_string()))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        _ => Err(ConfigError::new(
            ENV_API_BASE_URL,
            &shown,
            "expected an http(s):// URL (FINRA's Query API has no file:// form)",
        )),
    }
}

fn parse_seconds(variable: &str, raw: &str, zero_ok: bool) -> Result<Duration, ConfigError> {
    let secs: f64 = raw
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(variable, raw, "expected a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 || (secs == 0.0 && !zero_ok) || secs > 3600.0 {
        let bound = if zero_ok { "from 0" } else { "above 0" };
        return Err(ConfigError::new(
            variable,
            raw,
            format!("expected seconds {bound} up to 3600"),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = from(&[]).unwrap();
        assert_eq!(s.base_url.as_str(), "https://cdn.finra.org/equity");
        assert_eq!(s.market, Market::Tot);
        assert_eq!(s.http.retries, 3);
        assert!(s.http.user_agent.starts_with("offexchange/"));
        assert_eq!(s.api_base_url.as_str(), "https://api.finra.org/");
        assert_eq!(s.ats_source, AtsSource::Auto);
        assert_eq!(s.effective_ats_source(), AtsSource::Api);
    }

    #[test]
    fn auto_means_api_only_against_finras_own_cdn() {
        let effective = |pairs: &[(&str, &str)]| from(pairs).unwrap().effective_ats_source();
        assert_eq!(effective(&[]), AtsSource::Api);
        assert_eq!(
            effective(&[(ENV_BASE_URL, "https://cdn.finra.org/equity/")]),
            AtsSource::Api
        );
        assert_eq!(
            effective(&[(ENV_BASE_URL, "http://127.0.0.1:8080/equity")]),
            AtsSource::Zip
        );
        assert_eq!(effective(&[(ENV_BASE_URL, "file:///tmp")]), AtsSource::Zip);
        assert_eq!(
            effective(&[(ENV_BASE_URL, "file:///tmp"), (ENV_ATS_SOURCE, "api")]),
            AtsSource::Api
        );
        assert_eq!(effective(&[(ENV_ATS_SOURCE, "zip")]), AtsSource::Zip);
        let s = from(&[(ENV_API_BASE_URL, "http://127.0.0.1:9/api/")]).unwrap();
        assert_eq!(s.api_base_url.as_str(), "http://127.0.0.1:9/api");
    }

    #[test]
    fn values_are_read() {
        let s = from(&[
            // A mirror must exist: /tmp stands in for one.
            (ENV_BASE_URL, "file:///tmp/"),
            (ENV_MARKET, "CNMS"),
            (ENV_TIMEOUT, "2.5"),
            (ENV_RETRIES, "0"),
            (ENV_BACKOFF, "0"),
            (ENV_USER_AGENT, "acme research ops@acme.test"),
        ])
        .unwrap();
        assert!(s.is_file_mirror());
        assert_eq!(s.base_url.path(), "/tmp");
        assert_eq!(s.market, Market::Facility(Facility::Cnms));
        assert_eq!(s.http.timeout, Duration::from_millis(2500));
        assert_eq!(s.http.retries, 0);
        assert_eq!(s.http.backoff, Duration::ZERO);
        assert_eq!(s.http.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        let s = from(&[(ENV_MAX_BODY_BYTES, " 1048576 ")]).unwrap();
        assert_eq!(s.http.max_body_bytes, 1 << 20);
    }

    #[test]
    fn file_mirrors_must_be_existing_absolute_directories() {
        let dir = std::env::temp_dir();
        let good = Url::from_directory_path(&dir).expect("a file URL");
        fn base(value: &str) -> Result<Settings, ConfigError> {
            Settings::from_lookup(|k| (k == ENV_BASE_URL).then(|| value.to_string()))
        }
        assert!(base(good.as_str()).is_ok());
        let missing = base("file:///nonexistent/finra").unwrap_err();
        assert!(missing.reason.contains("is not a directory"), "{missing}");
        let relative = base("file://relative/dir").unwrap_err();
        assert!(relative.reason.contains("three slashes"), "{relative}");
    }

    #[test]
    fn bad_urls_are_echoed_without_their_password() {
        for (var, value) in [
            (ENV_BASE_URL, "ftp://user:hunter2secret@x.test/equity"),
            (
                ENV_BASE_URL,
                "https://user:hunter2secret@x.test:port/equity",
            ),
            (ENV_API_BASE_URL, "https://user:hunter2secret@[::1/api"),
            (ENV_API_BASE_URL, "file://user:hunter2secret@x.test/api"),
        ] {
            let err = from(&[(var, value)]).expect_err(value);
            assert!(!err.to_string().contains("hunter2secret"), "{err}");
            assert!(!err.value.contains("hunter2secret"), "{err}");
            assert!(err.to_string().contains("user:***@"), "{err}");
        }
    }

    #[test]
    fn bad_values_name_the_variable_and_value() {
        let cases = [
            (ENV_TIMEOUT, "-1"),
            (ENV_TIMEOUT, "0"),
            (ENV_TIMEOUT, "soon"),
            (ENV_MARKET, "NYSE"),
            (ENV_MARKET, "cnms"),
            (ENV_BASE_URL, "not a url"),
            (ENV_BASE_URL, "ftp://x.test/equity"),
            (ENV_RETRIES, "-2"),
            (ENV_BACKOFF, "NaN"),
            (ENV_ATS_SOURCE, "API"),
            (ENV_ATS_SOURCE, "ftp"),
            (ENV_API_BASE_URL, "api.finra.org"),
            (ENV_API_BASE_URL, "file:///tmp/api"),
            (ENV_MAX_BODY_BYTES, "64MB"),
            (ENV_MAX_BODY_BYTES, "-1"),
            (ENV_MAX_BODY_BYTES, "100"),
            (ENV_MAX_BODY_BYTES, "99999999999"),
        ];
        for (var, value) in cases {
            let err = from(&[(var, value)]).expect_err(value);
            assert_eq!(err.variable, var);
            assert_eq!(err.value, value);
            assert!(err.to_string().contains(var), "{err}");
        }
    }
}
