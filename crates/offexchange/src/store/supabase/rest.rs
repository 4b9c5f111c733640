//! One HTTP client for PostgREST: the key headers, timeouts, retries with backoff, and PostgREST's
//! error body (`code`, `message`, `details`, `hint`) turned into one readable line.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, Method, StatusCode};
use serde::Deserialize;
use url::Url;

use super::credentials::ApiKey;
use super::SupabaseSettings;
use crate::net::{
    self, describe, excerpt, read_body, retry_after, BodyError, ClientSpec, Redirects, RetryPolicy,
};

/// What an upsert asks PostgREST for: `INSERT ... ON CONFLICT DO UPDATE` of the columns sent, and
/// no rows back.
pub(super) const PREFER_UPSERT: &str = "resolution=merge-duplicates,return=minimal";

/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// PostgREST's error body, PostgreSQL's fields under JSON names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PostgrestError {
    /// PostgreSQL's SQLSTATE (e.g. `23505`) or PostgREST's own code (`PGRST...`).
    pub code: Option<String>,
    /// The error message.
    pub message: Option<String>,
    /// More detail, when the server gives it.
    pub details: Option<String>,
    /// A suggested fix, when the server gives one.
    pub hint: Option<String>,
}

impl fmt::Display for PostgrestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(code) = &self.code {
            write!(f, "{code}: ")?;
        }
        f.write_str(self.message.as_deref().unwrap_or("(no message)"))?;
        if let Some(details) = &self.details {
            write!(f, " ({details})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " hint: {hint}")?;
        }
        Ok(())
    }
}

/// A request that failed for good. Its text never contains the key.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub method: Method,
    /// Path and query, no host: `/rest/v1/daily_features?on_conflict=...`.
    pub target: String,
    pub status: Option<StatusCode>,
    pub body: Option<PostgrestError>,
    pub attempts: u32,
    pub message: String,
}

impl Failure {
    pub fn code(&self) -> Option<&str> {
        self.body.as_ref().and_then(|b| b.code.as_deref())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.method, self.target)?;
        if let Some(status) = self.status {
            write!(f, "HTTP {} ", status.as_u16())?;
        }
        match &self.body {
            Some(body) => write!(f, "{body}")?,
            None => f.write_str(&self.message)?,
        }
        write!(f, " ({} attempt(s))", self.attempts)
    }
}

/// The PostgREST endpoint of one table, with the key in every request.
///
/// Redirects are never followed: a 3xx is a permanent error naming where it pointed, so the key
/// (and the rows) never travel to another host. Bodies are read up to
/// `SupabaseSettings::max_body_bytes` (a page of rows is a few hundred KB).
#[derive(Clone)]
pub(super) struct Rest {
    client: Client,
    table: Url,
    key: ApiKey,
    policy: RetryPolicy,
    max_body_bytes: u64,
    /// Whether the plain-http warning was given (once per client, shared by its clones).
    warned_plain_http: Arc<AtomicBool>,
}

impl Rest {
    pub fn new(table: Url, key: ApiKey, settings: &SupabaseSettings) -> Result<Rest, String> {
        let mut headers = HeaderMap::new();
        let secret = |value: &str| {
            let mut v = HeaderValue::from_str(value)
                .map_err(|_| "the API key contains characters an HTTP header cannot carry")?;
            // Sensitive values are left out of reqwest's and hyper's debug output.
            v.set_sensitive(true);
            Ok::<_, &str>(v)
        };
        headers.insert("apikey", secret(key.expose())?);
        if key.is_jwt() {
            headers.insert(AUTHORIZATION, secret(&format!("Bearer {}", key.expose()))?);
        }
        let client = net::client(ClientSpec {
            user_agent: concat!("offexchange/", env!("CARGO_PKG_VERSION")),
            timeout: settings.timeout,
            redirects: Redirects::Never,
            default_headers: headers,
        })
        .map_err(|e| format!("cannot build the HTTP client: {}", describe(&e)))?;
        Ok(Rest {
            client,
            table,
            key,
            policy: RetryPolicy {
                retries: settings.retries,
                backoff: settings.backoff,
                retry_after_cap: MAX_RETRY_AFTER,
            },
            max_body_bytes: settings.max_body_bytes,
            warned_plain_http: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Warns (once per client) when a service-role key is about to travel in clear: plain
    /// `http://` to a host that is not this machine.
    fn warn_if_plain_http(&self, url: &Url) {
        if url.scheme() == "http"
            && !net::is_loopback(url)
            && self.key.is_service_role()
            && !self.warned_plain_http.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "sending the Supabase service-role key over plain http:// to {}: anyone on the \
                 path can read it; use https://",
                url.host_str().unwrap_or("?")
            );
        }
    }

    /// Whether the plain-http warning was given.
    #[cfg(test)]
    pub fn warned_plain_http(&self) -> bool {
        self.warned_plain_http.load(Ordering::Relaxed)
    }

    /// The same client (key, timeouts, retries, connection pool) for another table.
    pub fn with_table(&self, table: Url) -> Rest {
        Rest {
            table,
            ..self.clone()
        }
    }

    #[cfg(test)]
    pub fn table(&self) -> &Url {
        &self.table
    }

    /// GETs one page of rows.
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, Failure> {
        let url = self.url(query);
        let body = self
            .send(Method::GET, &url, || self.client.get(url.clone()))
            .await?;
        serde_json::from_slice(&body).map_err(|e| {
            self.failure(
                Method::GET,
                &url,
                None,
                None,
                1,
                format!("unreadable JSON: {e}"),
            )
        })
    }

    /// POSTs a JSON array as an upsert.
    pub async fn upsert(&self, query: &[(&str, String)], body: Bytes) -> Result<(), Failure> {
        let url = self.url(query);
        self.send(Method::POST, &url, || {
            self.client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header("Prefer", PREFER_UPSERT)
                .body(body.clone())
        })
        .await
        .map(drop)
    }

    /// POSTs a JSON object to a database function (this `Rest` is `/rest/v1/rpc/<function>`).
    pub async fn call(&self, body: Bytes) -> Result<(), Failure> {
        let url = self.table.clone();
        self.send(Method::POST, &url, || {
            self.client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
        })
        .await
        .map(drop)
    }

    fn url(&self, query: &[(&str, String)]) -> Url {
        let mut url = self.table.clone();
        // Encoded by the URL library: a value with `/`, `&` or `+` stays one value.
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        url
    }

    /// Sends until a 2xx, a final error, or no attempt left. Connection errors, timeouts, 408,
    /// 429 and 5xx are retried ([`RetryPolicy`]): an upsert with merge-duplicates is idempotent,
    /// so sending a batch twice (the first answer lost) writes the same values. A 3xx is never
    /// followed and never retried.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Bytes, Failure> {
        self.warn_if_plain_http(url);
        let attempts = self.policy.attempts();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut wait_hint = None;
            let failure = match build().send().await {
                Err(e) => self.failure(method.clone(), url, None, None, attempt, describe(&e)),
                Ok(response) if response.status().is_redirection() => {
                    let status = response.status();
                    let target = net::location(response.headers(), url);
                    return Err(self.failure(
                        method,
                        url,
                        Some(status),
                        None,
                        attempt,
                        format!(
                            "the server redirects to {target}; not followed, so that the key \
                             never goes to another address (set the project URL to where it \
                             points, if that is right)"
                        ),
                    ));
                }
                Ok(response) => {
                    let status = response.status();
                    wait_hint = retry_after(response.headers(), MAX_RETRY_AFTER);
                    match read_body(response, self.max_body_bytes).await {
                        Ok(body) if status.is_success() => return Ok(body),
                        Ok(body) => {
                            let parsed = serde_json::from_slice::<PostgrestError>(&body).ok();
                            let text = excerpt(&body, 300);
                            let failure = self.failure(
                                method.clone(),
                                url,
                                Some(status),
                                parsed,
                                attempt,
                                text,
                            );
                            if !RetryPolicy::retryable_status(status) {
                                return Err(failure);
                            }
                            failure
                        }
                        Err(e @ BodyError::TooLarge { .. }) => {
                            return Err(self.failure(
                                method,
                                url,
                                Some(status),
                                None,
                                attempt,
                                e.describe(),
                            ))
                        }
                        Err(e @ BodyError::Read(_)) => self.failure(
                            method.clone(),
                            url,
                            Some(status),
                            None,
                            attempt,
                            e.describe(),
                        ),
                    }
                }
            };
            if attempt >= attempts {
                return Err(failure);
            }
            tracing::debug!("retrying after a transient failure: {failure}");
            tokio::time::sleep(self.policy.delay(attempt, wait_hint)).await;
        }
    }

    fn failure(
        &self,
        method: Method,
        url: &Url,
        status: Option<StatusCode>,
        body: Option<PostgrestError>,
        attempts: u32,
        message: String,
    ) -> Failure {
        let scrub = |s: Option<String>| s.map(|s| self.key.scrub(&s));
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        Failure {
            method,
            target,
            status,
            body: body.map(|b| PostgrestError {
                code: b.code,
                message: scrub(b.message),
                details: scrub(b.details),
                hint: scrub(b.hint),
            }),
            attempts,
            message: self.key.scrub(&message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl";
    const ANON: &str = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl";

    fn rest(url: &str, key: &str) -> Rest {
        Rest::new(
            url.parse().unwrap(),
            ApiKey::new(key),
            &SupabaseSettings::default(),
        )
        .unwrap()
    }

    #[test]
    fn a_service_role_key_over_plain_http_off_this_machine_is_warned_about_once() {
        let r = rest("http://db.example.test/rest/v1/daily_features", SERVICE);
        let clone = r.with_table("http://db.example.test/rest/v1/ats_weekly".parse().unwrap());
        assert!(!r.warned_plain_http());
        r.warn_if_plain_http(r.table());
        assert!(r.warned_plain_http());
        assert!(
            clone.warned_plain_http(),
            "once per client, clones included"
        );

        for (url, key) in [
            ("https://ref.supabase.co/rest/v1/daily_features", SERVICE),
            ("http://127.0.0.1:54321/rest/v1/daily_features", SERVICE),
            ("http://localhost:54321/rest/v1/daily_features", SERVICE),
            ("http://db.example.test/rest/v1/daily_features", ANON),
        ] {
            let r = rest(url, key);
            r.warn_if_plain_http(r.table());
            assert!(!r.warned_plain_http(), "{url}");
        }
    }
}
