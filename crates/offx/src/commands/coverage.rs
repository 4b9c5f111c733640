//! `offx coverage --from D1 --to D2 [--check] [--format table|json]`: what the store holds of
//! each dataset per date, and why the rest is missing (see [`Engine::coverage`]).

use anyhow::{anyhow, bail, Result};
use offexchange::{Engine, Settings};

use crate::cli::{CoverageArgs, SummaryFormat};
use crate::commands::open_store;

pub async fn run(settings: &Settings, args: CoverageArgs) -> Result<()> {
    if args.from > args.to {
        bail!(crate::exit::Usage(format!(
            "--from {} is after --to {}",
            args.from, args.to
        )));
    }
    let store = open_store(args.store.as_deref())
        .await?
        .ok_or_else(|| anyhow!("coverage reads a store: give --store or set OFFX_STORE"))?;
    let engine = Engine::new(settings.clone())?.with_cache(super::raw_cache()?, true);
    let report = engine
        .coverage(
            store.as_ref(),
            args.from,
            args.to,
            args.check,
            chrono::Utc::now(),
        )
        .await?;
    if args.format == SummaryFormat::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for line in report.lines() {
        println!("{line}");
    }
    println!();
    crate::output::print_summary("coverage", &report, &report.summary_lines(), args.format)
}
