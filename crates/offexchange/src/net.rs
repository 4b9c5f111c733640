//! Small pieces shared by the crate's HTTP clients (FINRA's CDN and Query API, Supabase REST),
//! so that they retry, follow redirects, cap bodies, word failures and honour `Retry-After` the
//! same way:
//!
//! - [`RetryPolicy`]: how many attempts, the backoff between them (exponential, with jitter),
//!   the longest `Retry-After` honoured, and which statuses are worth another attempt;
//! - [`client`]: one `reqwest::Client` builder (timeouts, User-Agent, gzip, default headers and
//!   the [`Redirects`] rule);
//! - [`read_body`]: every response body is read through it, chunk by chunk, stopping at a cap on
//!   the *decoded* bytes, so a gzip bomb or an endless body cannot exhaust memory.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Client, StatusCode};
use url::Url;

/// Attempts, backoff and `Retry-After`: one policy for every client of the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt (`retries + 1` attempts in all).
    pub retries: u32,
    /// Base of the exponential backoff: attempt `n` waits about `backoff * 2^(n-1)`.
    pub backoff: Duration,
    /// Longest wait honoured from a `Retry-After` header.
    pub retry_after_cap: Duration,
}

impl RetryPolicy {
    pub fn attempts(&self) -> u32 {
        self.retries.saturating_add(1)
    }

    /// The wait after failed attempt `attempt` (1-based): `backoff * 2^(attempt-1)`, stretched
    /// by up to half again at random so that many clients retrying together spread out; at least
    /// what the server asked for in `Retry-After` (capped at `retry_after_cap`).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let base = self
            .backoff
            .mul_f64(2f64.powi(attempt.saturating_sub(1).min(16) as i32));
        let backoff = base.mul_f64(1.0 + rand::thread_rng().gen_range(0.0..0.5));
        match retry_after {
            Some(hint) => hint.min(self.retry_after_cap).max(backoff),
            None => backoff,
        }
    }

    /// 408, 429 and 5xx: the server may answer differently next time. Every other status is the
    /// caller's to judge.
    pub fn retryable_status(status: StatusCode) -> bool {
        status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
    }
}

/// Which redirects a client follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redirects {
    /// None: a 3xx comes back as the answer (Supabase: the key must never travel elsewhere).
    Never,
    /// Only to the same scheme, host and port, and only on https (or on http to a loopback
    /// host, for tests): never to another origin, never from https down to http. Anything else is
    /// an error naming the target.
    SameOrigin,
}

/// Longest chain of same-origin redirects followed.
const MAX_REDIRECTS: usize = 5;

/// Why a redirect was not followed (the source of the request's `reqwest::Error`).
#[derive(Debug, thiserror::Error)]
#[error("refused to follow a redirect to {target} ({why})")]
pub(crate) struct RedirectRefused {
    /// The target, redacted.
    pub target: String,
    pub why: &'static str,
}

/// `true` when `to` may be followed from `from` under [`Redirects::SameOrigin`].
fn same_origin_redirect(from: &Url, to: &Url) -> Result<(), &'static str> {
    if from.scheme() != to.scheme() {
        return Err("another scheme");
    }
    if from.host_str() != to.host_str()
        || from.port_or_known_default() != to.port_or_known_default()
    {
        return Err("another host or port");
    }
    match to.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(to) => Ok(()),
        _ => Err("only https redirects are followed"),
    }
}

/// `127.0.0.0/8`, `::1` or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// What every client of the crate is made of.
pub(crate) struct ClientSpec<'a> {
    pub user_agent: &'a str,
    pub timeout: Duration,
    pub redirects: Redirects,
    pub default_headers: HeaderMap,
}

/// The one `reqwest::Client` builder: timeouts (connecting included), User-Agent, gzip, default
/// headers, and the redirect rule.
pub(crate) fn client(spec: ClientSpec<'_>) -> Result<Client, reqwest::Error> {
    let policy = match spec.redirects {
        Redirects::Never => reqwest::redirect::Policy::none(),
        Redirects::SameOrigin => reqwest::redirect::Policy::custom(|attempt| {
            let Some(from) = attempt.previous().last().cloned() else {
                return attempt.stop();
            };
            if attempt.previous().len() > MAX_REDIRECTS {
                let target = crate::store::redact_url(attempt.url().as_str());
                return attempt.error(RedirectRefused {
                    target,
                    why: "too many redirects",
                });
            }
            match same_origin_redirect(&from, attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(why) => {
                    let target = crate::store::redact_url(attempt.url().as_str());
                    attempt.error(RedirectRefused { target, why })
                }
            }
        }),
    };
    Client::builder()
        .default_headers(spec.default_headers)
        .user_agent(spec.user_agent)
        .timeout(spec.timeout)
        .connect_timeout(spec.timeout)
        .gzip(true)
        .redirect(policy)
        .build()
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// More than `cap` decoded bytes: permanent (the same request gets the same body).
    TooLarge { cap: u64 },
    /// The connection failed mid-body: worth another attempt.
    Read(reqwest::Error),
}

impl BodyError {
    /// One line for an error message that already names the URL.
    pub fn describe(&self) -> String {
        match self {
            BodyError::TooLarge { cap } => format!(
                "the body is larger than the {cap}-byte limit ({}); refusing it",
                crate::config::ENV_MAX_BODY_BYTES
            ),
            BodyError::Read(e) => format!("reading the body failed: {}", describe(e)),
        }
    }
}

/// Reads a response body, decoded (gzip), stopping as soon as it passes `cap` bytes: a
/// declared `Content-Length` over the cap is refused before reading, and an endless or inflating
/// body after at most `cap` bytes plus one chunk. Memory stays within about twice the cap.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    cap: u64,
) -> Result<Bytes, BodyError> {
    let declared = response.content_length();
    if declared.is_some_and(|n| n > cap) {
        return Err(BodyError::TooLarge { cap });
    }
    let initial = declared.unwrap_or(0).min(cap).min(1 << 20);
    let mut body = BytesMut::with_capacity(usize::try_from(initial).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(BodyError::TooLarge { cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Where a 3xx points (its `Location`, resolved against `base` and redacted), for messages.
pub(crate) fn location(headers: &HeaderMap, base: &Url) -> String {
    match headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(target) => match base.join(target) {
            Ok(url) => crate::store::redact_url(url.as_str()),
            Err(_) => crate::store::redact_url(target),
        },
        None => "no Location header".into(),
    }
}

/// The wait a `Retry-After` header asks for (seconds or an HTTP date), capped at `cap`.
pub(crate) fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(wait.min(cap))
}

/// `timed out: ...` / `connection failed: ...` with the causes, without reqwest's own text,
/// which repeats the URL the caller's error already names.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    if e.is_redirect() {
        // Our own refusal, which names the (redacted) target: the rest is reqwest's wrapping.
        if let Some(refused) = find_source::<RedirectRefused>(e) {
            return refused.to_string();
        }
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut message = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}

/// A refused redirect in the chain of causes of `e`.
pub(crate) fn refused_redirect(e: &reqwest::Error) -> Option<&RedirectRefused> {
    find_source::<RedirectRefused>(e)
}

fn find_source<T: std::error::Error + 'static>(e: &reqwest::Error) -> Option<&T> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(found) = s.downcast_ref::<T>() {
            return Some(found);
        }
        source = s.source();
    }
    None
}

/// The start of a response body on one line, for error messages.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max)]);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        "(empty body)".into()
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_dates_and_cap() {
        let cap = Duration::from_secs(120);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h, cap), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, "9999".parse().unwrap());
        assert_eq!(retry_after(&h, cap), Some(cap));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&h, cap),
            Some(Duration::ZERO),
            "a date in the past: no wait"
        );
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h, cap), None);
    }

    #[test]
    fn retry_policy_delays_and_statuses() {
        let policy = RetryPolicy {
            retries: 3,
            backoff: Duration::from_millis(100),
            retry_after_cap: Duration::from_secs(2),
        };
        assert_eq!(policy.attempts(), 4);
        for attempt in 1..=4u32 {
            let base = 100u64 << (attempt - 1);
            let d = policy.delay(attempt, None).as_millis() as u64;
            assert!((base..=base * 3 / 2).contains(&d), "attempt {attempt}: {d}");
        }
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(60))),
            Duration::from_secs(2),
            "Retry-After is capped"
        );
        assert!(policy.delay(1, Some(Duration::ZERO)) >= Duration::from_millis(100));
        assert!(policy.delay(u32::MAX, None) > Duration::ZERO, "no overflow");
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(
                RetryPolicy::retryable_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
        for s in [200, 204, 301, 400, 401, 403, 404, 409] {
            assert!(
                !RetryPolicy::retryable_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
    }

    #[test]
    fn redirects_stay_on_the_origin_and_on_https() {
        let u = |s: &str| Url::parse(s).unwrap();
        let ok = |a: &str, b: &str| same_origin_redirect(&u(a), &u(b)).is_ok();
        assert!(ok("https://cdn.finra.org/a", "https://cdn.finra.org/b"));
        assert!(ok("https://cdn.finra.org/a", "https://cdn.finra.org:443/b"));
        assert!(ok("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b"));
        assert!(!ok("https://cdn.finra.org/a", "http://cdn.finra.org/b"));
        assert!(!ok("https://cdn.finra.org/a", "https://evil.test/b"));
        assert!(!ok(
            "https://cdn.finra.org/a",
            "https://cdn.finra.org:8443/b"
        ));
        assert!(!ok("http://127.0.0.1:8080/a", "http://127.0.0.1:8081/b"));
        assert!(
            !ok("http://mirror.test/a", "http://mirror.test/b"),
            "plain http off loopback"
        );
        assert!(is_loopback(&u("http://localhost:1/")));
        assert!(is_loopback(&u("http://[::1]:1/")));
        assert!(!is_loopback(&u("http://10.0.0.1/")));
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(
            excerpt(b"<html>\n  <body>x</body>\n</html>", 200),
            "<html> <body>x</body> </html>"
        );
        assert_eq!(excerpt(b"   ", 200), "(empty body)");
        assert_eq!(excerpt(b"abcdef", 3), "abc");
    }
}
