//! Small pieces shared by the crate's HTTP clients (FINRA's CDN and Query API, Supabase REST),
//! so that they word failures and honour `Retry-After` the same way.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

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
    fn excerpts_are_one_short_line() {
        assert_eq!(
            excerpt(b"<html>\n  <body>x</body>\n</html>", 200),
            "<html> <body>x</body> </html>"
        );
        assert_eq!(excerpt(b"   ", 200), "(empty body)");
        assert_eq!(excerpt(b"abcdef", 3), "abc");
    }
}
