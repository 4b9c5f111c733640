//! Helpers for running the real `offx` binary in tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use rusqlite::Connection;

/// Runs `offx` with a clean configuration: only the given variables, in an empty directory (so no
/// stray `.env` or store settings of the developer's leak in).
pub async fn offx(args: &[&str], env: &[(&str, &str)], workdir: &Path) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_offx"));
    command.args(args).current_dir(workdir);
    for (key, _) in std::env::vars() {
        let ours = [
            "FINRA_",
            "OFFX_",
            "SUPABASE",
            "NEXT_PUBLIC_SUPABASE",
            "DATABASE_URL",
            "RUST_BACKTRACE",
        ];
        if ours.iter().any(|p| key.starts_with(p)) {
            command.env_remove(key);
        }
    }
    command
        .env("FINRA_HTTP_BACKOFF", "0")
        .env("FINRA_HTTP_RETRIES", "1");
    // Each run gets its own raw-file cache unless the test names one.
    command.env("OFFX_CACHE_DIR", workdir.join("offx-cache"));
    command.envs(env.iter().copied());
    command.output().await.expect("offx runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A stored row: (symbol, date, short_vol_share, short_exempt_share, ats_share_of_total).
pub type Row = (String, String, Option<f64>, Option<f64>, Option<f64>);

pub fn stored_rows(db: &Path) -> Vec<Row> {
    let conn = Connection::open(db).expect("open sqlite");
    let mut stmt = conn
        .prepare(
            "SELECT symbol, trade_date, short_vol_share, short_exempt_share, ats_share_of_total
             FROM daily_features ORDER BY trade_date, symbol",
        )
        .expect("daily_features exists");
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

/// Writes the synthetic sample mirror into `dir` and returns its path.
pub fn sample_mirror(dir: &Path) -> PathBuf {
    let root = dir.join("mirror");
    let (plan, from, to) = offx_synth::sample_plan(300, 20240401);
    offx_synth::mirror(&root, from, to, &plan).expect("sample mirror written");
    root
}

pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}
