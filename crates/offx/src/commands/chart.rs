//! `offx chart SYMBOL [--from D1 --to D2] [--out FILE.svg|FILE.png]`: a symbol's three features
//! over time (see `offx_view::svg`); without `--out`, a compact chart in the terminal.

use anyhow::{bail, Context, Result};
use chrono::{Duration, Utc};
use offx_view::{series, svg, terminal};

use crate::cli::ChartArgs;
use crate::commands::{open_store, write_whole};

pub async fn run(args: ChartArgs) -> Result<()> {
    super::check_symbols(Some(std::slice::from_ref(&args.symbol)))?;
    let to = args.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = args.from.unwrap_or(to - Duration::days(90));
    if from > to {
        bail!(crate::exit::Usage(format!(
            "--from {from} is after --to {to}"
        )));
    }
    let png = match &args.out {
        Some(out) => {
            let extension = out.extension().and_then(|e| e.to_str()).unwrap_or_default();
            match extension.to_ascii_lowercase().as_str() {
                "svg" => false,
                "png" => true,
                _ => bail!(crate::exit::Usage(format!(
                    "--out {}: name the file .svg or .png",
                    out.display()
                ))),
            }
        }
        None => false,
    };
    let store = open_store(args.store.as_deref())
        .await?
        .context("chart reads a store: give --store or set OFFX_STORE")?;
    let s = series(store.as_ref(), &args.symbol, from, to).await?;
    if s.points.iter().all(|p| !p.stored) {
        tracing::warn!(
            "{} has no stored row between {from} and {to} (symbols are exact: BRK/B, not brk.b)",
            args.symbol
        );
    }
    match &args.out {
        Some(out) => {
            let bytes = if png {
                offx_view::png::chart_png(&s, 900, 420)?
            } else {
                svg::chart_svg(&s, 900, 420)?.into_bytes()
            };
            write_whole(out, &bytes)?;
            tracing::info!(
                "wrote {} ({} sessions, {} with short_vol_share)",
                out.display(),
                s.points.len(),
                s.with_short()
            );
        }
        None => {
            for line in terminal::chart_lines(&s) {
                println!("{line}");
            }
        }
    }
    Ok(())
}
