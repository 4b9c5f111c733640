//! Optional FINRA API credentials: an OAuth2 client-credentials token, sent as a bearer token.
//!
//! FINRA's market-transparency datasets answer anonymously; credentials give higher limits and
//! the datasets that need an entitlement. With `FINRA_API_CLIENT_ID` / `FINRA_API_CLIENT_SECRET`
//! set, a token is asked of FINRA's token endpoint (`POST` with HTTP Basic auth, the grant in the
//! query string: `?grant_type=client_credentials`), kept until shortly before it expires, and
//! asked again when the API answers 401 (a token revoked or expired early). The secret and the
//! tokens are never logged or put in an error.
//!
//! The contract, as public clients of FINRA's API use it (no FINRA page for it is stored here):
//! a 200 JSON object with `access_token` and `expires_in` (seconds; a number, or a string holding
//! one); wrong credentials answer 400 `{"error_message":"Invalid Credentials","error":
//! "invalid_client"}` (recorded in a public notebook), so any 4xx is taken as a refusal.

use std::time::{Duration, Instant};

use reqwest::header::ACCEPT;
use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

use super::super::http::Verdict;
use super::super::{FinraHttpError, HttpClient, SourceError};
use crate::config::{ApiCredentials, HttpSettings, ENV_API_CLIENT_ID, ENV_API_CLIENT_SECRET};
use crate::net::excerpt;
use crate::store::redact_url;

/// A token is renewed this long before FINRA says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// When FINRA's answer names no lifetime: FINRA's tokens are reported to last 30 minutes.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(1800);

/// Obtains and keeps the bearer token. Clones share the token.
#[derive(Clone)]
pub struct TokenSource {
    client: HttpClient,
    url: Url,
    credentials: ApiCredentials,
    token: std::sync::Arc<tokio::sync::Mutex<Option<Token>>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("url", &redact_url(self.url.as_str()))
            .field("client_id", &self.credentials.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Token {
    value: String,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenSource {
    /// A token source for `credentials` at `url` (FINRA's token endpoint).
    pub fn new(
        url: &Url,
        credentials: ApiCredentials,
        settings: &HttpSettings,
    ) -> Result<TokenSource, SourceError> {
        Ok(TokenSource {
            client: HttpClient::new(url, settings)?,
            url: url.clone(),
            credentials,
            token: Default::default(),
        })
    }

    /// The current token, asked of FINRA when there is none or it is about to expire.
    pub async fn bearer(&self) -> Result<String, SourceError> {
        let mut held = self.token.lock().await;
        if let Some(token) = held.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.value.clone());
        }
        let token = self.fetch().await?;
        let value = token.value.clone();
        *held = Some(token);
        Ok(value)
    }

    /// After a 401 with `stale`: a new token, unless another request already got one.
    pub async fn renew(&self, stale: &str) -> Result<String, SourceError> {
        let mut held = self.token.lock().await;
        if let Some(token) = held.as_ref().filter(|t| t.value != stale) {
            return Ok(token.value.clone());
        }
        let token = self.fetch().await?;
        let value = token.value.clone();
        *held = Some(token);
        Ok(value)
    }

    async fn fetch(&self) -> Result<Token, SourceError> {
        let url = &self.url;
        let ApiCredentials {
            client_id,
            client_secret,
        } = &self.credentials;
        let mut attempt = 0;
        let started = Instant::now();
        self.client
            .execute(
                "POST",
                url,
                |c| {
                    c.post(url.clone())
                        .header(ACCEPT, "application/json")
                        .basic_auth(client_id, Some(client_secret))
                },
                |answer| {
                    attempt += 1;
                    let fail = |status: Option<u16>, message: String| {
                        Verdict::Fail(SourceError::Http(FinraHttpError {
                            method: "POST",
                            url: redact_url(url.as_str()),
                            status,
                            attempts: attempt,
                            message,
                        }))
                    };
                    if answer.status != StatusCode::OK {
                        let why = serde_json::from_slice::<serde_json::Value>(&answer.body)
                            .ok()
                            .and_then(|v| {
                                v.get("error_message")
                                    .or_else(|| v.get("message"))
                                    .and_then(|m| m.as_str())
                                    .map(str::to_string)
                            })
                            .unwrap_or_else(|| excerpt(&answer.body, 200));
                        return fail(
                            Some(answer.status.as_u16()),
                            format!(
                                "FINRA refused the API credentials ({ENV_API_CLIENT_ID} {client_id}, \
                                 {ENV_API_CLIENT_SECRET}): {why}"
                            ),
                        );
                    }
                    match serde_json::from_slice::<TokenAnswer>(&answer.body) {
                        Ok(token) if !token.access_token.trim().is_empty() => {
                            let lifetime = lifetime(token.expires_in.as_ref());
                            Verdict::Done(Token {
                                value: token.access_token.trim().to_string(),
                                renew_at: started + lifetime.saturating_sub(EXPIRY_MARGIN),
                            })
                        }
                        // The body may hold a token: never echo it.
                        _ => fail(
                            Some(200),
                            "the token endpoint answered 200 without an access_token".into(),
                        ),
                    }
                },
            )
            .await
    }
}

/// `expires_in` as seconds: a number or a string holding one; absent or odd, the default.
fn lifetime(value: Option<&serde_json::Value>) -> Duration {
    let seconds = match value {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    seconds
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0 * 30.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_LIFETIME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifetimes_from_numbers_and_strings() {
        assert_eq!(lifetime(Some(&json!(1799))), Duration::from_secs(1799));
        assert_eq!(lifetime(Some(&json!("1799"))), Duration::from_secs(1799));
        assert_eq!(lifetime(Some(&json!("soon"))), DEFAULT_LIFETIME);
        assert_eq!(lifetime(Some(&json!(-5))), DEFAULT_LIFETIME);
        assert_eq!(lifetime(None), DEFAULT_LIFETIME);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let source = TokenSource::new(
            &Url::parse("http://127.0.0.1:9/token").unwrap(),
            ApiCredentials {
                client_id: "me".into(),
                client_secret: "hunter2secret".into(),
            },
            &HttpSettings::default(),
        )
        .unwrap();
        let shown = format!("{source:?}");
        assert!(
            shown.contains("me") && !shown.contains("hunter2secret"),
            "{shown}"
        );
    }
}
