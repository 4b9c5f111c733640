//! One HTTP client for PostgREST: the key headers, timeouts, retries with backoff, and PostgREST's
//! error body (`code`, `message`, `details`, `hint`) turned into one readable line.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, Method, StatusCode};
use serde::Deserialize;
use url::Url;

use super::credentials::ApiKey;
use super::SupabaseSettings;
use crate::net::{describe, excerpt, retry_after};

/// What an upsert asks PostgREST for: `INSERT ... ON CONFLICT DO UPDATE` of the columns sent, and
/// no rows back.
pub(super) const PREFER_UPSERT: &str = "resolution=merge-duplicates,return=minimal";

/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// PostgREST's error body, PostgreSQL's fields under JSON names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PostgrestError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub details: Option<String>,
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
#[derive(Clone)]
pub(super) struct Rest {
    client: Client,
    table: Url,
    key: ApiKey,
    retries: u32,
    backoff: Duration,
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
        let client = Client::builder()
            .default_headers(headers)
            .user_agent(concat!("offexchange/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Rest {
            client,
            table,
            key,
            retries: settings.retries,
            backoff: settings.backoff,
        })
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

    fn url(&self, query: &[(&str, String)]) -> Url {
        let mut url = self.table.clone();
        // Encoded by the URL library: a value with `/`, `&` or `+` stays one value.
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        url
    }

    /// Sends until a 2xx, a final error, or no attempt left. Connection errors, timeouts, 408,
    /// 429 and 5xx are retried: an upsert with merge-duplicates is idempotent, so sending a batch
    /// twice (the first answer lost) writes the same values.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Bytes, Failure> {
        let attempts = self.retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut wait_hint = None;
            let failure = match build().send().await {
                Err(e) => self.failure(method.clone(), url, None, None, attempt, describe(&e)),
                Ok(response) => {
                    let status = response.status();
                    wait_hint = retry_after(response.headers(), MAX_RETRY_AFTER);
                    match response.bytes().await {
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
                            if !retryable(status) {
                                return Err(failure);
                            }
                            failure
                        }
                        Err(e) => self.failure(
                            method.clone(),
                            url,
                            Some(status),
                            None,
                            attempt,
                            format!("reading the answer failed: {}", describe(&e)),
                        ),
                    }
                }
            };
            if attempt >= attempts {
                return Err(failure);
            }
            tracing::debug!("retrying after a transient failure: {failure}");
            let backoff = self.backoff(attempt);
            tokio::time::sleep(wait_hint.map_or(backoff, |hint| hint.max(backoff))).await;
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

    /// `backoff * 2^(attempt-1)`, stretched by up to half again at random.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .backoff
            .mul_f64(2f64.powi(attempt.saturating_sub(1).min(16) as i32));
        base.mul_f64(1.0 + rand::thread_rng().gen_range(0.0..0.5))
    }
}

fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}
