//! Settings a front sets over the environment (the CLI's flags, Python's keyword arguments):
//! one list of what can be overridden, one validation, and errors that name the front's spelling.

use std::collections::BTreeMap;

use crate::config::{self, ConfigError, Settings};

/// One overridable setting: its environment variable and its `offx` flag (Python's `Engine(...)`
/// takes the same settings as keyword arguments, in this order).
#[derive(Debug, Clone, Copy)]
pub struct Overridable {
    /// The environment variable (`FINRA_BASE_URL`).
    pub variable: &'static str,
    /// The `offx` flag (`--base-url`).
    pub flag: &'static str,
}

/// Every setting a front may override, in the order the README lists them.
pub const OVERRIDABLE: [Overridable; 8] = [
    Overridable {
        variable: config::ENV_BASE_URL,
        flag: "--base-url",
    },
    Overridable {
        variable: config::ENV_MARKET,
        flag: "--market",
    },
    Overridable {
        variable: config::ENV_TIMEOUT,
        flag: "--timeout",
    },
    Overridable {
        variable: config::ENV_RETRIES,
        flag: "--retries",
    },
    Overridable {
        variable: config::ENV_BACKOFF,
        flag: "--backoff",
    },
    Overridable {
        variable: config::ENV_USER_AGENT,
        flag: "--user-agent",
    },
    Overridable {
        variable: config::ENV_API_BASE_URL,
        flag: "--api-base-url",
    },
    Overridable {
        variable: config::ENV_ATS_SOURCE,
        flag: "--ats-source",
    },
];

/// How a front spells an overridden setting in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// `--base-url (FINRA_BASE_URL)`, as the CLI's user typed it.
    Flag,
    /// `FINRA_BASE_URL`: the keyword stands in for its variable (Python's `ConfigError.variable`
    /// is the variable's name, whichever way the value came).
    Variable,
}

/// Settings from the environment (and `.env`), with `overrides` (variable name -> value) taking
/// precedence. An invalid override's error names it as the front spells it.
///
/// ```
/// use std::collections::BTreeMap;
/// use offexchange::overrides::{settings_with, Spelling};
/// let bad = BTreeMap::from([("FINRA_HTTP_RETRIES", "many".to_string())]);
/// let e = settings_with(&bad, Spelling::Flag).unwrap_err();
/// assert_eq!(e.variable, "--retries (FINRA_HTTP_RETRIES)");
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
        if let (Some(o), Spelling::Flag) = (named, spelling) {
            e.variable = format!("{} ({})", o.flag, e.variable);
        }
        e
    })
}
