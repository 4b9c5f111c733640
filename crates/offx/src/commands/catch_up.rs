//! `offx catch-up [--days 60]`: fill ats_share_of_total where FINRA has published the week since,
//! and recompute recent weeks FINRA has revised (see [`offexchange::catch_up`]).

use anyhow::{anyhow, Result};
use comfy_table::{presets, Table};
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
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_HORIZONTAL_ONLY)
        .set_header(["catch-up", "value"]);
    table.add_row([
        "window".to_string(),
        format!(
            "{} .. {until}",
            summary.from.map(|d| d.to_string()).unwrap_or_default()
        ),
    ]);
    table.add_row([
        "sessions with null ats_share_of_total".to_string(),
        summary.sessions_with_nulls.to_string(),
    ]);
    table.add_row([
        "rows with null ats_share_of_total".to_string(),
        summary.rows_with_nulls.to_string(),
    ]);
    table.add_row([
        "weeks checked".to_string(),
        summary.weeks_checked.to_string(),
    ]);
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
    table.add_row(["weeks revised by FINRA (recomputed)".to_string(), revised]);
    table.add_row([
        "weeks recorded in ats_weekly for the first time".to_string(),
        summary.weeks_recorded.to_string(),
    ]);
    table.add_row(["rows filled".to_string(), summary.rows_filled.to_string()]);
    table.add_row([
        "rows changed by a revision".to_string(),
        summary.rows_revised.to_string(),
    ]);
    table.add_row([
        "rows rewritten unchanged (a null: not in the week's data)".to_string(),
        summary
            .rows_written
            .saturating_sub(summary.rows_filled + summary.rows_revised)
            .to_string(),
    ]);
    let awaited_text = if awaited.is_empty() {
        "none".to_string()
    } else if global.verbose > 0 || awaited.len() <= 4 {
        awaited.join(", ")
    } else {
        format!("{} weeks (-v lists them)", awaited.len())
    };
    table.add_row(["weeks still awaited from FINRA".to_string(), awaited_text]);
    println!("{table}");
    Ok(())
}
