//! Settings a front sets over the environment (the CLI's flags, Python's keyword arguments):
//! one list of what can be overridden, one validation, and errors that name the front's spelling.

use std::collections::BTreeMap;

use crate::config::{self, ConfigError, Settings};

/// One overridable setting: its environment variable, its `offx` flag and its Python keyword.
#[derive(Debug, Clone, Copy)]
pub struct Overridable {
    /// The environment variable (`FINRA_BASE_URL`).
    pub variable: &'static str,
    /// The `offx` flag (`--base-url`).
    pub flag: &'static str,
    /// The Python keyword argument of `Engine(...)` (`base_url`).
    pub keyword: &'static str,
}

/// Every setting a front may override, in the order the README lists them.
pub const OVERRIDABLE: [Overridable; 8] = [
    Overridable {
        variable: config::ENV_BASE_URL,
        flag: "--base-url",
        keyword: "base_url",
    },
    Overridable {
        variable: config::ENV_MARKET,
        flag: "--market",
        keyword: "market",
    },
    Overridable {
        variable: config::ENV_TIMEOUT,
        flag: "--timeout",
        keyword: "timeout",
    },
    Overridable {
        variable: config::ENV_RETRIES,
        flag: "--retries",
        keyword: "retries",
    },
    Overridable {
        variable: config::ENV_BACKOFF,
        flag: "--backoff",
        keyword: "backoff",
    },
    Overridable {
        variable: config::ENV_USER_AGENT,
        flag: "--user-agent",
        keyword: "user_agent",
    },
    Overridable {
        variable: config::ENV_API_BASE_URL,
        flag: "--api-base-url",
        keyword: "api_base_url",
    },
    Overridable {
        variable: config::ENV_ATS_SOURCE,
        flag: "--ats-source",
        keyword: "ats_source",
    },
];

/// How a front spells an overridden setting in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// `--base-url (FINRA_BASE_URL)`.
    Flag,
    /// `base_url (FINRA_BASE_URL)`.
    Keyword,
}

/// Settings from the environment (and `.env`), with `overrides` (variable name -> value) taking
/// precedence. An invalid override's error names it as the front spells it.
///
/// ```
/// use std::collections::BTreeMap;
/// use offexchange::overrides::{settings_with, Spelling};
/// let bad = BTreeMap::from([("FINRA_HTTP_RETRIES", "many".to_string())]);
/// let e = settings_with(&bad, Spelling::Keyword).unwrap_err();
/// assert_eq!(e.variable, "retries (FINRA_HTTP_RETRIES)");
/// ```
pub fn settings_with(
    overrides: &BTreeMap<&str, String>,
    spelling: Spelling,
) -> Result<Settings, ConfigError> {
    config::load_dotenv();
    Settings::from_lookup(|name| {
        overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })
    .map_err(|mut e| {
        let named = OVERRIDABLE
            .iter()
            .find(|o| o.variable == e.variable && overrides.contains_key(o.variable));
        if let Some(o) = named {
            let front = match spelling {
                Spelling::Flag => o.flag,
                Spelling::Keyword => o.keyword,
            };
            e.variable = format!("{front} ({})", e.variable);
        }
        e
    })
}
