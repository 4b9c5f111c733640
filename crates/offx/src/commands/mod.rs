//! One module per subcommand.

mod enrich;

use std::collections::HashMap;

use anyhow::Result;
use offexchange::config::{self, ConfigError, Settings};

use crate::cli::{Cli, Command, Global};

pub async fn run(cli: Cli) -> Result<()> {
    let settings = settings(&cli.global)?;
    match cli.command {
        Command::Enrich(args) => enrich::run(&settings, &cli.global, args).await,
    }
}

/// Environment (and `.env`), overridden by flags; an error names the flag and its variable.
pub fn settings(global: &Global) -> Result<Settings, ConfigError> {
    config::load_dotenv();
    let flags: HashMap<&str, (&str, &Option<String>)> = HashMap::from([
        (config::ENV_BASE_URL, ("--base-url", &global.base_url)),
        (config::ENV_MARKET, ("--market", &global.market)),
        (config::ENV_TIMEOUT, ("--timeout", &global.timeout)),
        (config::ENV_RETRIES, ("--retries", &global.retries)),
        (config::ENV_BACKOFF, ("--backoff", &global.backoff)),
        (config::ENV_USER_AGENT, ("--user-agent", &global.user_agent)),
    ]);
    Settings::from_lookup(|name| match flags.get(name) {
        Some((_, Some(value))) => Some(value.clone()),
        _ => std::env::var(name).ok(),
    })
    .map_err(|mut e| {
        if let Some((flag, Some(_))) = flags.get(e.variable.as_str()) {
            e.variable = format!("{flag} ({})", e.variable);
        }
        e
    })
}
