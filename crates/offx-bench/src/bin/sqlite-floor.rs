//! `sqlite-floor [SESSIONS] [SYMBOLS]`: how fast SQLite alone stores the rows a backfill keeps,
//! with nothing else running: no download, no parsing, no features. The floor under
//! `bench/ab.sh` and `bench/anchors.sh`, measured on the same machine.
//!
//! Each layer adds one table of what offx stores per session, in a file whose tables offx's own
//! SQLite store created (so its schema and 16 KB pages), written with its pragmas (WAL,
//! `synchronous=NORMAL`), one transaction per session, multi-row statements of 200 rows as offx's
//! store uses (faster here than a prepared single-row statement):
//!
//! 1. `daily_features` only: what the pandas and polars scripts store;
//! 2. plus `regsho_daily`, the exact volumes behind the short columns;
//! 3. plus `feature_versions`, one version per part of every row (point in time).
//!
//! Prints each layer's wall time, best of three, and its rows per second.

use std::time::{Duration, Instant};

use rusqlite::{Connection, ToSql};

fn main() -> rusqlite::Result<()> {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (sessions, symbols) = (arg(1, 20), arg(2, 12_000));
    let names: Vec<String> = (0..symbols).map(|i| format!("S{i:05}")).collect();
    println!("{sessions} sessions x {symbols} symbols, best of 3");
    for layer in 1..=3 {
        let mut best = Duration::MAX;
        let mut rows = 0;
        for _ in 0..3 {
            let dir = tempfile::tempdir()
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            let path = dir.path().join("floor.sqlite");
            create_with_offx_schema(&path)?;
            let started = Instant::now();
            rows = store(&path, layer, sessions, &names)?;
            best = best.min(started.elapsed());
        }
        let what = ["daily_features", "+ regsho_daily", "+ feature_versions"][layer - 1];
        println!(
            "{what:<20} {rows:>9} rows  {:>6.3} s  {:>9.0} rows/s",
            best.as_secs_f64(),
            rows as f64 / best.as_secs_f64()
        );
    }
    Ok(())
}

/// Creates `path` as offx's SQLite store does (`offx db init`): every table, WAL, 16 KB pages.
fn create_with_offx_schema(path: &std::path::Path) -> rusqlite::Result<()> {
    let failed =
        |e: Box<dyn std::error::Error + Send + Sync>| rusqlite::Error::ToSqlConversionFailure(e);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| failed(Box::new(e)))?;
    runtime.block_on(async {
        let store = offexchange::store::SqliteStore::open(path).map_err(|e| failed(Box::new(e)))?;
        offexchange::store::Store::init(&store)
            .await
            .map_err(|e| failed(Box::new(e)))
    })
}

/// Stores `sessions` sessions of `names` up to `layer`; returns the rows written.
fn store(
    path: &std::path::Path,
    layer: usize,
    sessions: usize,
    names: &[String],
) -> rusqlite::Result<usize> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    let mut rows = 0;
    for day in 0..sessions {
        let date = format!("2024-01-{:02}", day + 1);
        let at = 1_704_200_000_000_000_i64 + day as i64;
        let shares: Vec<f64> = (0..names.len()).map(|i| (i % 997) as f64 / 997.0).collect();
        let totals: Vec<String> = (0..names.len())
            .map(|i| (i * 31 + 1000).to_string())
            .collect();
        let tx = conn.transaction()?;
        rows += insert(&tx, "daily_features", 5, "ON CONFLICT (symbol, trade_date) DO UPDATE SET short_vol_share = excluded.short_vol_share", names.len(), |i, p| {
            p.extend([&names[i] as &dyn ToSql, &date, &shares[i], &shares[i], &shares[i]]);
        })?;
        if layer >= 2 {
            rows += insert(
                &tx,
                "regsho_daily",
                7,
                "ON CONFLICT DO NOTHING",
                names.len(),
                |i, p| {
                    p.extend([
                        &date as &dyn ToSql,
                        &names[i],
                        &at,
                        &"1234",
                        &"12",
                        &totals[i],
                        &"CNMS",
                    ]);
                },
            )?;
        }
        if layer >= 3 {
            // Two versions per symbol, in key order (`ats` sorts before `short`).
            rows += insert(
                &tx,
                "feature_versions",
                7,
                "ON CONFLICT DO NOTHING",
                names.len() * 2,
                |i, p| {
                    let (s, share) = (&names[i / 2], &shares[i / 2]);
                    if i % 2 == 0 {
                        p.extend([s as &dyn ToSql, &date, &"ats", &at, &NULL, &NULL, share]);
                    } else {
                        p.extend([s as &dyn ToSql, &date, &"short", &at, share, share, &NULL]);
                    }
                },
            )?;
        }
        tx.commit()?;
    }
    Ok(rows)
}

const NULL: Option<f64> = None;
/// Rows per statement, as offx's SQLite store (`CHUNK`).
const CHUNK: usize = 200;

/// Inserts `n` rows into `table` in multi-row statements of `CHUNK` rows, as offx does; `row`
/// pushes row `i`'s `width` values.
fn insert<'a>(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    width: usize,
    conflict: &str,
    n: usize,
    mut row: impl FnMut(usize, &mut Vec<&'a dyn ToSql>),
) -> rusqlite::Result<usize> {
    let one = format!("({})", vec!["?"; width].join(", "));
    let mut params: Vec<&'a dyn ToSql> = Vec::with_capacity(CHUNK * width);
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        let values = vec![one.as_str(); end - start].join(", ");
        let mut stmt =
            tx.prepare_cached(&format!("INSERT INTO {table} VALUES {values} {conflict}"))?;
        params.clear();
        for i in start..end {
            row(i, &mut params);
        }
        stmt.execute(params.as_slice())?;
    }
    Ok(n)
}
