//! One HTTP client for every FINRA request: timeouts, retries with exponential backoff and
//! jitter, `Retry-After`, a descriptive User-Agent, and FINRA's way of saying "no such file".

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode};
use url::Url;

use super::{Fetched, SourceError};
use crate::config::HttpSettings;
use crate::net::{describe, excerpt, retry_after};
use crate::parse::ParseError;

/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// A FINRA request that failed for good: after the last retry, or at once when retrying cannot
/// help (a refused client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method} {url}: {message}{}", self.suffix())]
pub struct FinraHttpError {
    pub method: &'static str,
    pub url: String,
    /// The last HTTP status, when a response arrived.
    pub status: Option<u16>,
    pub attempts: u32,
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

#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client,
    base: Url,
    settings: HttpSettings,
}

impl HttpClient {
    pub fn new(base: &Url, settings: &HttpSettings) -> Result<HttpClient, SourceError> {
        let client = Client::builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .gzip(true)
            .build()
            .map_err(|e| {
                SourceError::Http(FinraHttpError {
                    method: "GET",
                    url: base.to_string(),
                    status: None,
                    attempts: 0,
                    message: format!("cannot build the HTTP client: {e}"),
                })
            })?;
        Ok(HttpClient {
            client,
            base: base.clone(),
            settings: settings.clone(),
        })
    }

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
        let url = self.url_for(path);
        let location = url.to_string();
        let mut attempt_no = 0;
        self.execute(
            "GET",
            &url,
            |c| c.get(url.clone()),
            |answer| {
                attempt_no += 1;
                match answer.status {
                    s if s.is_success() => match parse(&answer.body) {
                        Ok(parsed) => Verdict::Done(Fetched::Published(parsed)),
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
    /// Connection errors, timeouts, 429 and 5xx are retried here, honouring `Retry-After`;
    /// every other answer goes to `judge`.
    pub async fn execute<T>(
        &self,
        method: &'static str,
        url: &Url,
        build: impl Fn(&Client) -> RequestBuilder,
        mut judge: impl FnMut(Answer) -> Verdict<T>,
    ) -> Result<T, SourceError> {
        let attempts = self.settings.retries + 1;
        let mut last_error = None;
        for attempt in 1..=attempts {
            let mut wait_hint = None;
            let outcome = match build(&self.client).send().await {
                Err(e) => Verdict::Retry(self.error(method, url, None, attempt, &describe(&e))),
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Err(e) => Verdict::Retry(self.error(
                            method,
                            url,
                            Some(status.as_u16()),
                            attempt,
                            &format!("reading the body failed: {}", describe(&e)),
                        )),
                        Ok(body)
                            if status == StatusCode::TOO_MANY_REQUESTS
                                || status.is_server_error() =>
                        {
                            wait_hint = retry_after(&headers, MAX_RETRY_AFTER);
                            Verdict::Retry(self.error(
                                method,
                                url,
                                Some(status.as_u16()),
                                attempt,
                                &format!("server answered {status}: {}", excerpt(&body, 200)),
                            ))
                        }
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
                    tracing::debug!(%url, attempt, "retryable failure: {error}");
                    last_error = Some(error);
                    if attempt < attempts {
                        let backoff = self.backoff(attempt);
                        tokio::time::sleep(wait_hint.map_or(backoff, |hint| hint.max(backoff)))
                            .await;
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
            url: url.to_string(),
            status,
            attempts,
            message: message.to_string(),
        })
    }

    /// `backoff * 2^(attempt-1)`, stretched by up to half again at random so that many clients
    /// retrying together spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .settings
            .backoff
            .mul_f64(2f64.powi(attempt.saturating_sub(1).min(16) as i32));
        base.mul_f64(1.0 + rand::thread_rng().gen_range(0.0..0.5))
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
