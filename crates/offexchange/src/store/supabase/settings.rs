//! The Supabase store's request settings, and how a store URL's parameters set them.

use std::time::Duration;

use crate::config::{DEFAULT_MAX_BODY_BYTES, MAX_BODY_BYTES_RANGE};

/// Request sizes, timeouts and retries. `batch_size` and `timeout`/`retries` can also be given
/// in the store URL: `supabase:?batch_size=500&timeout=60&retries=5`.
#[derive(Debug, Clone, PartialEq)]
pub struct SupabaseSettings {
    /// Rows per POST.
    pub batch_size: usize,
    /// Rows asked for per GET; the server may return fewer (its `max-rows`), which paging handles.
    pub page_size: usize,
    /// Per request, connecting included.
    pub timeout: Duration,
    /// Retries after the first attempt, on connection errors, timeouts, 408, 429 and 5xx.
    pub retries: u32,
    /// First wait between attempts; doubles each time, plus up to half again at random.
    pub backoff: Duration,
    /// Largest response body read, decoded (`OFFX_MAX_BODY_BYTES`, or `max_body_bytes=` in the
    /// store URL).
    pub max_body_bytes: u64,
}

impl Default for SupabaseSettings {
    fn default() -> Self {
        SupabaseSettings {
            batch_size: 1000,
            page_size: 1000,
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(500),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl SupabaseSettings {
    /// Applies one `name=value` from a store URL.
    pub(super) fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let bad = |why: &str| format!("{name}={value}: {why}");
        match name {
            "batch_size" | "page_size" => {
                let n: usize = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| bad("expected a whole number from 1 to 100000"))?;
                if name == "batch_size" {
                    self.batch_size = n;
                } else {
                    self.page_size = n;
                }
            }
            "timeout" => {
                let secs: f64 = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                    .ok_or_else(|| bad("expected seconds, more than 0"))?;
                self.timeout = Duration::from_secs_f64(secs);
            }
            "max_body_bytes" => {
                self.max_body_bytes = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| MAX_BODY_BYTES_RANGE.contains(n))
                    .ok_or_else(|| bad("expected bytes from 65536 to 1073741824"))?;
            }
            "retries" => {
                self.retries = value
                    .parse()
                    .ok()
                    .filter(|n| *n <= 20)
                    .ok_or_else(|| bad("expected a whole number from 0 to 20"))?;
            }
            _ => {
                return Err(format!(
                    "unknown parameter {name}; expected batch_size, page_size, timeout, retries or max_body_bytes"
                ))
            }
        }
        Ok(())
    }
}
