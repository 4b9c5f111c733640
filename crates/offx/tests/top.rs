//! `offx top` over a stored backfill: raw volumes kept beside the ratios (`regsho_daily`), the
//! rolling signals recomputed here from the stored tables, and the volume floor.
//!
//! The mirror: offx-synth's universe over 2024-01-02 .. 2024-02-09 (28 sessions, 6 weekly ATS
//! files), served like FINRA's CDN; one backfill into SQLite.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{offx, stderr, stdout, synth_mirror};
use offx_testkit::FinraCdn;
use rusqlite::Connection;

const DAY: &str = "2024-02-09";

/// (symbol -> short_vol_share) of each of the 20 sessions ending with DAY, from the store.
fn window(db: &Path) -> (Vec<String>, HashMap<String, Vec<Option<f64>>>) {
    let conn = Connection::open(db).unwrap();
    let mut dates: Vec<String> = conn
        .prepare("SELECT DISTINCT trade_date FROM daily_features WHERE trade_date <= ?1 ORDER BY trade_date DESC LIMIT 20")
        .unwrap()
        .query_map([DAY], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    dates.reverse();
    let mut by_symbol: HashMap<String, Vec<Option<f64>>> = HashMap::new();
    for d in &dates {
        let mut stmt = conn
            .prepare("SELECT symbol, short_vol_share FROM daily_features WHERE trade_date = ?1")
            .unwrap();
        let rows = stmt
            .query_map([d], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<f64>>(1)?))
            })
            .unwrap();
        for row in rows {
            let (s, v) = row.unwrap();
            by_symbol.entry(s).or_default().push(v);
        }
    }
    (dates, by_symbol)
}

#[tokio::test]
async fn rankings_signals_and_the_volume_floor_agree_with_the_stored_tables() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("mirror");
    synth_mirror(&root, "2024-01-02", DAY, 120);
    let cdn = FinraCdn::serve_dir(&root).await;
    let db = work.path().join("top.sqlite");
    let store = format!("sqlite:{}", db.display());
    let base = cdn.base_url();
    let env = [("FINRA_BASE_URL", base.as_str()), ("OFFX_CACHE_DIR", "off")];
    let done = offx(
        &[
            "backfill",
            "--from",
            "2024-01-02",
            "--to",
            DAY,
            "--store",
            &store,
        ],
        &env,
        work.path(),
    )
    .await;
    assert!(done.status.success(), "{}", stderr(&done));

    // regsho_daily: the volumes behind every stored ratio, exact.
    let conn = Connection::open(&db).unwrap();
    let mismatched: i64 = conn
        .query_row(
            "SELECT count(*) FROM daily_features f JOIN regsho_daily v
               ON v.trade_date = f.trade_date AND v.symbol = f.symbol
             WHERE f.short_vol_share IS NOT NULL
               AND abs(f.short_vol_share - CAST(v.short_volume AS REAL) / CAST(v.total_volume AS REAL)) > 1e-12",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        mismatched, 0,
        "short_vol_share = short_volume / total_volume"
    );
    let facilities: String = conn
        .query_row(
            "SELECT facilities FROM regsho_daily WHERE trade_date = ?1 LIMIT 1",
            [DAY],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(facilities, "CNMS,FORF");

    // --by short_vol_z, as JSON: every row's signals recomputed from daily_features.
    let out = offx(
        &[
            "top",
            "--date",
            DAY,
            "--by",
            "short-vol-z",
            "--limit",
            "5",
            "--store",
            &store,
            "--format",
            "json",
        ],
        &env,
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let ranking: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = ranking["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let (dates, history) = window(&db);
    assert_eq!(dates.len(), 20);
    let mut previous = f64::INFINITY;
    for row in rows {
        let symbol = row["symbol"].as_str().unwrap();
        let values: Vec<f64> = history[symbol].iter().flatten().copied().collect();
        assert!(values.len() >= 10);
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let today = history[symbol].last().copied().flatten().unwrap();
        let z = row["short_vol_z"].as_f64().unwrap();
        assert!(
            (row["short_vol_mean20"].as_f64().unwrap() - mean).abs() < 1e-12,
            "{symbol}"
        );
        assert!((z - (today - mean) / sd).abs() < 1e-9, "{symbol}");
        assert!(z <= previous, "highest first");
        previous = z;
    }
    assert_eq!(
        ranking["ranked"].as_u64().unwrap() as usize,
        rows.len() + ranking["left_out"].as_u64().unwrap() as usize
    );

    // The volume floor: every row shown at or above it, the others counted.
    let floor = 2_000_000.0;
    let out = offx(
        &[
            "top",
            "--date",
            DAY,
            "--by",
            "short-vol-share",
            "--min-total-volume",
            "2000000",
            "--limit",
            "100000",
            "--store",
            &store,
            "--format",
            "json",
        ],
        &env,
        work.path(),
    )
    .await;
    let ranking: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let liquid: i64 = conn
        .query_row(
            "SELECT count(*) FROM regsho_daily v JOIN daily_features f
               ON v.trade_date = f.trade_date AND v.symbol = f.symbol
             WHERE v.trade_date = ?1 AND CAST(v.total_volume AS REAL) >= ?2
               AND f.short_vol_share IS NOT NULL",
            rusqlite::params![DAY, floor],
            |r| r.get(0),
        )
        .unwrap();
    let shown = ranking["rows"].as_array().unwrap();
    assert_eq!(shown.len() as i64, liquid);
    assert!(shown
        .iter()
        .all(|r| r["total_volume"].as_f64().unwrap() >= floor));
    assert!(ranking["below_floor"].as_u64().unwrap() > 0);

    // For people: no rule between rows, and a note of what was left out.
    let out = offx(
        &["top", "--date", DAY, "--limit", "3", "--store", &store],
        &env,
        work.path(),
    )
    .await;
    let text = stdout(&out);
    assert!(text.contains("3 of "), "{text}");
    assert!(text.contains("more left out by --limit"), "{text}");
    let rules = text
        .lines()
        .filter(|l| l.trim_start().starts_with('─'))
        .count();
    assert_eq!(rules, 2, "a rule above and below only: {text}");
}
