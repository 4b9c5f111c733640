//! One HTTP client for every FINRA request: timeouts, retries with exponential backoff and
//! jitter, `Retry-After`, a descriptive User-Agent, same-origin https redirects only, a cap on
//! every body, and FINRA's way of saying "no such file". The policy pieces live in
//! [`crate::net`], shared with the Supabase REST client.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode};
use url::Url;

use super::{Fetched, SourceError};
use crate::config::HttpSettings;
use crate::net::{
    self, describe, excerpt, read_body, refused_redirect, BodyError, ClientSpec, Redirects,
    RetryPolicy,
};
use crate::parse::ParseError;
use crate::provenance::parse_http_date;
use crate::store::redact_url;

/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// A FINRA request that failed for good: after the last retry, or at once when retrying cannot
/// help (a refused client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {url}: {message}{}", self.suffix())]
pub struct FinraHttpError {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The URL, with any credentials redacted.
    pub url: String,
    /// The last HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Attempts made (0 when the client could not even be built).
    pub attempts: u32,
    /// What went wrong.
    pub message: String,
}

impl FinraHttpError {
    fn suffix(&self) -> String {
        match self.status {
            Some(status) => format!(" (HTTP {status}, {} attempt(s))", self.attempts),
            None => format!(" ({} attempt(s))", self.attempts),
        }
    }
}

/// A file fetched and parsed, with what the cache and the provenance ledger need.
#[derive(Debug)]
pub struct RawAnswer<T> {
    /// The parsed file.
    pub parsed: T,
    /// The raw body that parsed.
    pub body: Bytes,
    /// The `Last-Modified` header, when the server sent a valid one.
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// A complete response, body read.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the caller makes of an answer that was not already a 429/5xx (those are always retried).
pub enum Verdict<T> {
    Done(T),
    /// Try again; if no attempt is left, this is the error.
    Retry(SourceError),
    Fail(SourceError),
}

/// The HTTP client for one base URL: FINRA's CDN (or a server laid out like it) or the Query
/// API root. Built once, shared by every request.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client,
    base: Url,
    settings: HttpSettings,
    policy: RetryPolicy,
}

impl HttpClient {
    /// Builds the client for `base` with `settings`; `Err` when the HTTP client cannot be set up.
    pub fn new(base: &Url, settings: &HttpSettings) -> Result<HttpClient, SourceError> {
        let client = net::client(ClientSpec {
            user_agent: &settings.user_agent,
            timeout: settings.timeout,
            redirects: Redirects::SameOrigin,
            default_headers: HeaderMap::new(),
        })
        .map_err(|e| {
            SourceError::Http(FinraHttpError {
                method: "GET",
                url: redact_url(base.as_str()),
                status: None,
                attempts: 0,
                message: format!("cannot build the HTTP client: {}", describe(&e)),
            })
        })?;
        Ok(HttpClient {
            client,
            base: base.clone(),
            policy: RetryPolicy {
                retries: settings.retries,
                backoff: settings.backoff,
                retry_after_cap: MAX_RETRY_AFTER,
            },
            settings: settings.clone(),
        })
    }

    /// `path` under the base URL: `{base}/{path}`.
    pub fn url_for(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let joined = format!("{}/{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }

    /// GETs a CDN file and parses it. 404 and the S3 `AccessDenied` 403 mean "not published".
    pub async fn fetch<T>(
        &self,
        path: &str,
        parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    ) -> Result<Fetched<T>, SourceError> {
        Ok(match self.fetch_raw(path, parse).await? {
            Fetched::Published(raw) => Fetched::Published(raw.parsed),
            Fetched::NotPublished => Fetched::NotPublished,
        })
    }

    /// [`HttpClient::fetch`], also handing back the raw body that parsed (a cheap, shared
    /// `Bytes`: what the raw-file cache stores, without copying it) and its `Last-Modified`.
    pub async fn fetch_raw<T>(
        &self,
        path: &str,
        parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    ) -> Result<Fetched<RawAnswer<T>>, SourceError> {
        let url = self.url_for(path);
        let location = redact_url(url.as_str());
        let mut attempt_no = 0;
        self.execute(
            "GET",
            &url,
            |c| c.get(url.clone()),
            |answer| {
                attempt_no += 1;
                match answer.status {
                    s if s.is_success() => match parse(&answer.body) {
                        Ok(parsed) => Verdict::Done(Fetched::Published(RawAnswer {
                            parsed,
                            last_modified: answer
                                .headers
                                .get(reqwest::header::LAST_MODIFIED)
                                .and_then(|v| v.to_str().ok())
                                .and_then(parse_http_date),
                            body: answer.body,
                        })),
                        Err(error) => {
                            let transient = error.is_transient();
                            let err = SourceError::Parse {
                                location: location.clone(),
                                attempts: attempt_no,
                                error,
                            };
                            if transient {
                                Verdict::Retry(err)
                            } else {
                                Verdict::Fail(err)
                            }
                        }
                    },
                    StatusCode::NOT_FOUND => Verdict::Done(Fetched::NotPublished),
                    StatusCode::FORBIDDEN if is_s3_access_denied(&answer.body) => {
                        Verdict::Done(Fetched::NotPublished)
                    }
                    StatusCode::FORBIDDEN => Verdict::Fail(self.error(
                        "GET",
                        &url,
                        Some(403),
                        attempt_no,
                        "FINRA refused the client (a 403 that is not S3's AccessDenied); set \
                     FINRA_HTTP_USER_AGENT to a descriptive value with a contact, e.g. \
                     \"acme-research data-team@acme.com\"",
                    )),
                    other => Verdict::Fail(self.error(
                        "GET",
                        &url,
                        Some(other.as_u16()),
                        attempt_no,
                        &format!("unexpected answer: {}", excerpt(&answer.body, 200)),
                    )),
                }
            },
        )
        .await
    }

    /// Sends the request built by `build` until `judge` is satisfied or attempts run out.
    ///
    /// Connection errors, timeouts and the statuses of `RetryPolicy::retryable_status` (408,
    /// 429, 5xx) are retried here, honouring `Retry-After`; every other answer goes to `judge`.
    /// A refused redirect and a body over the cap fail at once: the same request would get the
    /// same answer.
    pub async fn execute<T>(
        &self,
        method: &'static str,
        url: &Url,
        build: impl Fn(&Client) -> RequestBuilder,
        mut judge: impl FnMut(Answer) -> Verdict<T>,
    ) -> Result<T, SourceError> {
        let attempts = self.policy.attempts();
        let mut last_error = None;
        for attempt in 1..=attempts {
            let mut wait_hint = None;
            let outcome = match build(&self.client).send().await {
                Err(e) if refused_redirect(&e).is_some() => {
                    Verdict::Fail(self.error(method, url, None, attempt, &describe(&e)))
                }
                Err(e) => Verdict::Retry(self.error(method, url, None, attempt, &describe(&e))),
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match read_body(response, self.settings.max_body_bytes).await {
                        Err(e @ BodyError::TooLarge { .. }) => Verdict::Fail(self.error(
                            method,
                            url,
                            Some(status.as_u16()),
                            attempt,
                            &e.describe(),
                        )),
                        Err(e @ BodyError::Read(_)) => Verdict::Retry(self.error(
                            method,
                            url,
                            Some(status.as_u16()),
                            attempt,
                            &e.describe(),
                        )),
                        Ok(body) if RetryPolicy::retryable_status(status) => {
                            wait_hint = net::retry_after(&headers, MAX_RETRY_AFTER);
                            Verdict::Retry(self.error(
                                method,
                                url,
                                Some(status.as_u16()),
                                attempt,
                                &format!("server answered {status}: {}", excerpt(&body, 200)),
                            ))
                        }
                        Ok(_) if status.is_redirection() => Verdict::Fail(self.error(
                            method,
                            url,
                            Some(status.as_u16()),
                            attempt,
                            &format!(
                                "redirect not followed (to {})",
                                net::location(&headers, url)
                            ),
                        )),
                        Ok(body) => judge(Answer {
                            status,
                            headers,
                            body,
                        }),
                    }
                }
            };
            match outcome {
                Verdict::Done(value) => return Ok(value),
                Verdict::Fail(error) => return Err(error),
                Verdict::Retry(error) => {
                    tracing::debug!(url = %redact_url(url.as_str()), attempt, "retryable failure: {error}");
                    last_error = Some(error);
                    if attempt < attempts {
                        tokio::time::sleep(self.policy.delay(attempt, wait_hint)).await;
                    }
                }
            }
        }
        Err(last_error
            .unwrap_or_else(|| self.error(method, url, None, attempts, "no attempt made")))
    }

    fn error(
        &self,
        method: &'static str,
        url: &Url,
        status: Option<u16>,
        attempts: u32,
        message: &str,
    ) -> SourceError {
        SourceError::Http(FinraHttpError {
            method,
            url: redact_url(url.as_str()),
            status,
            attempts,
            message: message.to_string(),
        })
    }
}

/// FINRA's CDN is S3 behind CloudFront: a missing key is `403` with
/// `<Error><Code>AccessDenied</Code>...</Error>`, not 404.
fn is_s3_access_denied(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    text.contains("<Error>") && text.contains("<Code>AccessDenied</Code>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_access_denied_is_recognised() {
        let xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>X</RequestId></Error>";
        assert!(is_s3_access_denied(xml));
        assert!(!is_s3_access_denied(
            b"<html><body>Request blocked</body></html>"
        ));
        assert!(!is_s3_access_denied(b""));
    }
}
