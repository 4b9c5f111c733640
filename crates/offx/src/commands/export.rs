//! `offx export --from D1 --to D2 [--as-of TIME] --format csv|json|parquet [--out FILE]`.

use std::io::Write;

use anyhow::{bail, Context, Result};
use offexchange::{export_to, ExportFormat, ExportRequest};

use crate::cli::{ExportArgs, ExportExtra, ExportFormatArg};
use crate::commands::open_store;

pub async fn run(args: ExportArgs) -> Result<()> {
    super::check_symbols(args.symbols.as_deref())?;
    if args.from > args.to {
        bail!(crate::exit::Usage(format!(
            "--from {} is after --to {}",
            args.from, args.to
        )));
    }
    let format = match args.format {
        ExportFormatArg::Csv => ExportFormat::Csv,
        ExportFormatArg::Json => ExportFormat::Json,
        ExportFormatArg::Parquet => ExportFormat::Parquet,
    };
    if format == ExportFormat::Parquet && args.out.is_none() {
        bail!(crate::exit::Usage(
            "--format parquet needs --out FILE (Parquet is not written to a terminal)".into()
        ));
    }
    let store = open_store(args.store.as_deref())
        .await?
        .context("export needs a store: give --store or set OFFX_STORE")?;
    let request = ExportRequest {
        from: args.from,
        to: args.to,
        symbols: args.symbols,
        as_of: args.as_of,
        with_short_interest: args.with.contains(&ExportExtra::ShortInterest),
    };
    let summary = match &args.out {
        Some(path) => {
            // Written beside the target, then renamed: a failed export never leaves half a file.
            let temp = super::create_beside(path)?;
            let file = std::io::BufWriter::new(temp.as_file().try_clone()?);
            let summary = export_to(store.as_ref(), &request, format, file).await?;
            temp.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            summary
        }
        None => {
            let stdout = std::io::BufWriter::new(std::io::stdout());
            let summary = export_to(store.as_ref(), &request, format, stdout).await?;
            std::io::stdout().flush()?;
            summary
        }
    };
    tracing::info!(
        "exported {} rows of {} sessions{} from {} in {:.2} s{}",
        summary.rows,
        summary.sessions,
        request
            .as_of
            .map(|t| format!(" as of {}", t.to_rfc3339()))
            .unwrap_or_default(),
        store.describe(),
        summary.elapsed.as_secs_f64(),
        args.out
            .as_ref()
            .map(|p| format!(" to {}", p.display()))
            .unwrap_or_default(),
    );
    Ok(())
}
