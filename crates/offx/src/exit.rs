//! Exit codes and one-line error rendering.

use offexchange::{BackfillError, ConfigError, EngineError, StoreError};

pub const OTHER: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONFIG: u8 = 3;
pub const FINRA: u8 = 4;
pub const STORE: u8 = 5;

/// The exit code for an error, by the layer that raised it.
pub fn code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<Interrupted>() {
            return INTERRUPTED;
        }
        if cause.is::<Usage>() {
            return USAGE;
        }
        if cause.is::<offexchange::ExportError>() {
            return match cause.downcast_ref::<offexchange::ExportError>() {
                Some(offexchange::ExportError::Store(_)) => STORE,
                _ => OTHER,
            };
        }
        if let Some(failure) = cause.downcast_ref::<BackfillError>() {
            return match failure.error {
                EngineError::Source(_) => FINRA,
                EngineError::Store(_) => STORE,
            };
        }
        if cause.is::<ConfigError>() {
            return CONFIG;
        }
        if cause.is::<StoreError>() {
            return STORE;
        }
        if let Some(engine) = cause.downcast_ref::<EngineError>() {
            return match engine {
                EngineError::Source(_) => FINRA,
                EngineError::Store(_) => STORE,
            };
        }
        if cause.is::<offexchange::source::SourceError>() {
            return FINRA;
        }
    }
    OTHER
}

/// `context: cause: cause`, without repeating a cause already contained in its parent's text.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Arguments that parse but do not fit together (`--from` after `--to`): exit 2, as clap's own
/// usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells expect.
pub const INTERRUPTED: u8 = 130;

/// A run stopped by Ctrl-C after committing this many sessions.
#[derive(Debug, thiserror::Error)]
#[error("interrupted after committing {0} whole sessions; run the same command again to resume")]
pub struct Interrupted(pub usize);
