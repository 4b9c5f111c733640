//! Upsert throughput into PostgreSQL: the store's COPY + merge against row-by-row INSERTs.
//!
//! `cargo bench -p offexchange --bench store` against the server of the tests
//! (`postgres://postgres@127.0.0.1:5432/test`, or `OFFX_TEST_DATABASE_URL`), in a scratch schema
//! dropped at the end. `OFFX_BENCH_SESSIONS` changes the number of sessions (default 250).
//!
//! Prints rows/second for: one 12,000-row session inserted, the same session updated, a backfill
//! of N sessions (one upsert per session, each its own transaction), and the same 12,000 rows as
//! row-by-row `INSERT ... ON CONFLICT DO UPDATE` statements (prepared, in one transaction; and
//! autocommitted, one transaction per row).

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use offexchange::store;
use offexchange::{Feature, FeatureRow};
use tokio_postgres::NoTls;

const SYMBOLS: usize = 12_000;

fn database_url() -> String {
    std::env::var("OFFX_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn session(trade_date: NaiveDate, salt: u64) -> Vec<FeatureRow> {
    (0..SYMBOLS)
        .map(|i| {
            // Cheap deterministic ratios in [0, 1]; every 9th ATS share null, like thin symbols.
            let x = ((i as u64).wrapping_mul(2_654_435_761).wrapping_add(salt) % 1_000_000) as f64
                / 1_000_000.0;
            FeatureRow {
                symbol: format!("S{i:05}"),
                trade_date,
                short_vol_share: Feature::Value(x),
                short_exempt_share: Feature::Value(x / 100.0),
                ats_share_of_total: if i % 9 == 0 {
                    Feature::Null
                } else {
                    Feature::Value(1.0 - x)
                },
            }
        })
        .collect()
}

fn rate(rows: usize, took: Duration) -> String {
    format!(
        "{:>10.0} rows/s  ({rows} rows in {:.3} s)",
        rows as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    )
}

async fn run(schema: &str) -> Result<(), String> {
    // Loopback: no TLS, so the numbers are the database's, not the cipher's.
    let url = format!(
        "{}?sslmode=disable&options=-csearch_path%3D{schema}",
        database_url()
    );
    let store = store::open(&url).await.map_err(|e| e.to_string())?;
    let day0 = NaiveDate::from_ymd_opt(2023, 1, 2).ok_or("date")?;

    let rows = session(day0, 1);
    let t = Instant::now();
    let s = store.upsert(day0, &rows).await.map_err(|e| e.to_string())?;
    println!("store, 1 session, insert   {}", rate(s.rows, t.elapsed()));

    let rows = session(day0, 2);
    let t = Instant::now();
    let s = store.upsert(day0, &rows).await.map_err(|e| e.to_string())?;
    println!("store, 1 session, update   {}", rate(s.rows, t.elapsed()));

    let sessions: usize = std::env::var("OFFX_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250);
    let mut per_session = Vec::with_capacity(sessions);
    let t = Instant::now();
    let mut total = 0;
    for k in 0..sessions {
        let day = day0 + chrono::Days::new(1 + k as u64);
        let rows = session(day, k as u64);
        let one = Instant::now();
        total += store
            .upsert(day, &rows)
            .await
            .map_err(|e| e.to_string())?
            .rows;
        per_session.push(one.elapsed());
    }
    let took = t.elapsed();
    per_session.sort();
    println!(
        "store, {sessions} sessions        {}  median {:.0} ms, slowest {:.0} ms per session",
        rate(total, took),
        per_session[per_session.len() / 2].as_secs_f64() * 1e3,
        per_session[per_session.len() - 1].as_secs_f64() * 1e3,
    );

    // The naive way, same rows, on a fresh date.
    let (mut client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let insert = "INSERT INTO daily_features
                      (symbol, trade_date, short_vol_share, short_exempt_share, ats_share_of_total)
                  VALUES ($1, $2, $3, $4, $5)
                  ON CONFLICT (symbol, trade_date) DO UPDATE SET
                      short_vol_share = EXCLUDED.short_vol_share,
                      short_exempt_share = EXCLUDED.short_exempt_share,
                      ats_share_of_total = EXCLUDED.ats_share_of_total";
    let day = day0 - chrono::Days::new(1);
    let rows = session(day, 3);
    let t = Instant::now();
    let tx = client.transaction().await.map_err(|e| e.to_string())?;
    let stmt = tx.prepare(insert).await.map_err(|e| e.to_string())?;
    for r in &rows {
        tx.execute(
            &stmt,
            &[
                &r.symbol,
                &r.trade_date,
                &r.short_vol_share.value(),
                &r.short_exempt_share.value(),
                &r.ats_share_of_total.value(),
            ],
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    println!(
        "row-by-row, 1 transaction  {}",
        rate(rows.len(), t.elapsed())
    );

    let day = day0 - chrono::Days::new(2);
    let rows = session(day, 4);
    let stmt = client.prepare(insert).await.map_err(|e| e.to_string())?;
    let t = Instant::now();
    for r in &rows {
        client
            .execute(
                &stmt,
                &[
                    &r.symbol,
                    &r.trade_date,
                    &r.short_vol_share.value(),
                    &r.short_exempt_share.value(),
                    &r.ats_share_of_total.value(),
                ],
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    println!(
        "row-by-row, autocommit     {}",
        rate(rows.len(), t.elapsed())
    );
    Ok(())
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    let schema = format!("offx_bench_{}", std::process::id());
    let outcome = runtime.block_on(async {
        let (admin, connection) = tokio_postgres::connect(&database_url(), NoTls)
            .await
            .map_err(|e| {
                format!(
                    "PostgreSQL unreachable at {}: {e} (set OFFX_TEST_DATABASE_URL)",
                    database_url()
                )
            })?;
        tokio::spawn(connection);
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .map_err(|e| e.to_string())?;
        let outcome = run(&schema).await;
        let dropped = admin
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await;
        if let Err(e) = dropped {
            eprintln!("warning: could not drop schema {schema}: {e}");
        }
        outcome
    });
    if let Err(e) = outcome {
        eprintln!("store bench failed: {e}");
        std::process::exit(1);
    }
}
