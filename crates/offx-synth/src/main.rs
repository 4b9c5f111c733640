//! `offx-synth`: writes a deterministic synthetic FINRA mirror (see the library docs).
//!
//! ```text
//! offx-synth --out sample/mirror --sample             # the small demo/test mirror
//! offx-synth --out /tmp/big --from 2024-01-02 --to 2024-12-31 --symbols 12000
//! ```

use std::path::PathBuf;

use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::Parser;

use offexchange::config::Facility;
use offx_synth::{sample_plan, symbols, write};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Write a deterministic synthetic FINRA mirror (Reg SHO + weekly ATS ZIPs)"
)]
struct Args {
    /// Directory to write the mirror into (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// The demo mirror: weeks of 2024-03-25 (Good Friday) and 2024-04-01, 300 symbols, CNMS and
    /// FNQC missing on 2024-03-27, one symbol (BADX) with ShortVolume > TotalVolume on 2024-04-01.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    sample: bool,
    /// First date (inclusive).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last date (inclusive).
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Number of symbols per session.
    #[arg(long, default_value_t = 300)]
    symbols: usize,
    /// Seed of the generator: the same seed writes the same bytes.
    #[arg(long, default_value_t = 20240401)]
    seed: u64,
    /// Files to leave out, as FACILITY:YYYY-MM-DD (repeatable).
    #[arg(long = "missing", value_parser = parse_missing)]
    missing: Vec<(Facility, NaiveDate)>,
}

fn parse_missing(text: &str) -> Result<(Facility, NaiveDate), String> {
    let (code, date) = text.split_once(':').ok_or("expected FACILITY:YYYY-MM-DD")?;
    let facility = Facility::ALL
        .into_iter()
        .find(|f| f.code() == code)
        .ok_or_else(|| format!("unknown facility {code}"))?;
    let date = date.parse().map_err(|e| format!("bad date {date}: {e}"))?;
    Ok((facility, date))
}

fn main() -> Result<()> {
    let mut args = Args::parse();
    let (plan, from, to) = if args.sample {
        let (mut plan, from, to) = sample_plan(args.symbols, args.seed);
        plan.missing.append(&mut args.missing);
        (plan, from, to)
    } else {
        let plan = write::Plan {
            seed: args.seed,
            symbols: symbols::universe(args.symbols, args.seed),
            missing: std::mem::take(&mut args.missing),
            short_over_total: Vec::new(),
        };
        match (args.from, args.to) {
            (Some(f), Some(t)) if f <= t => (plan, f, t),
            (Some(_), Some(_)) => bail!("--from must not be after --to"),
            _ => bail!("give --sample, or both --from and --to"),
        }
    };
    let stats = write::mirror(&args.out, from, to, &plan)?;
    println!(
        "wrote {} Reg SHO files, {} ATS ZIPs and {} short interest files ({} sessions, {} \
         symbols, {:.1} MB) to {}",
        stats.regsho_files,
        stats.ats_files,
        stats.short_interest_files,
        stats.sessions,
        plan.symbols.len(),
        stats.bytes as f64 / 1e6,
        args.out.display()
    );
    Ok(())
}
