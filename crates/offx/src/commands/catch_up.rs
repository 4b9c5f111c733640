//! `offx catch-up [--days 60]`: fill ats_share_of_total where FINRA has published the week since,
//! and recompute recent weeks FINRA has revised (see [`offexchange::catch_up`]).

use anyhow::{anyhow, Result};
use offexchange::catch_up::catch_up;
use offexchange::{Engine, Settings};

use crate::cli::{CatchUpArgs, Global, SummaryFormat};
use crate::commands::open_store;

pub async fn run(settings: &Settings, global: &Global, args: CatchUpArgs) -> Result<()> {
    let store = open_store(args.store.as_deref())
        .await?
        .ok_or_else(|| anyhow!("catch-up needs a store: give --store or set OFFX_STORE"))?;
    // Reads the cache: "not published" markers expire after OFFX_CACHE_MISSING_TTL, so a week
    // FINRA published since is fetched.
    let engine = Engine::new(settings.clone())?.with_cache(super::raw_cache()?, true);
    let until = args
        .until
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let summary = catch_up(&engine, store.as_ref(), until, args.days).await?;
    if args.format == SummaryFormat::Json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    let awaited: Vec<String> = summary
        .weeks_awaited
        .iter()
        .map(|w| w.to_string())
        .collect();
    let mut lines: Vec<(&str, String)> = Vec::new();
    lines.push((
        "window",
        format!(
            "{} .. {until}",
            summary.from.map(|d| d.to_string()).unwrap_or_default()
        ),
    ));
    lines.push((
        "sessions with null ats_share_of_total",
        summary.sessions_with_nulls.to_string(),
    ));
    lines.push((
        "rows with null ats_share_of_total",
        summary.rows_with_nulls.to_string(),
    ));
    lines.push(("weeks checked", summary.weeks_checked.to_string()));
    let revised = if summary.revised_weeks.is_empty() {
        "0".to_string()
    } else {
        let weeks: Vec<String> = summary
            .revised_weeks
            .iter()
            .map(|w| w.to_string())
            .collect();
        format!("{} ({})", summary.weeks_revised, weeks.join(", "))
    };
    lines.push(("weeks revised by FINRA (recomputed)", revised));
    lines.push((
        "weeks recorded in ats_weekly for the first time",
        summary.weeks_recorded.to_string(),
    ));
    lines.push(("rows filled", summary.rows_filled.to_string()));
    lines.push((
        "rows changed by a revision",
        summary.rows_revised.to_string(),
    ));
    lines.push((
        "rows rewritten unchanged (a null: not in the week's data)",
        summary
            .rows_written
            .saturating_sub(summary.rows_filled + summary.rows_revised)
            .to_string(),
    ));
    let awaited_text = if awaited.is_empty() {
        "none".to_string()
    } else if global.verbose > 0 || awaited.len() <= 4 {
        awaited.join(", ")
    } else {
        format!("{} weeks (-v lists them)", awaited.len())
    };
    lines.push(("weeks still awaited from FINRA", awaited_text));
    crate::output::print_summary_table("catch-up", &lines);
    Ok(())
}
