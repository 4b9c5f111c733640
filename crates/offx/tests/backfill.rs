//! `offx backfill` and `offx catch-up` end to end, against a local server that answers like
//! FINRA's CDN and counts every request.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{offx, sample_mirror, stderr, stdout, stored_rows, Row};
use offx_testkit::FinraCdn;

const SESSIONS: [&str; 9] = [
    "2024-03-25",
    "2024-03-26",
    "2024-03-27",
    "2024-03-28",
    "2024-04-01",
    "2024-04-02",
    "2024-04-03",
    "2024-04-04",
    "2024-04-05",
];

fn store_arg(db: &Path) -> String {
    format!("sqlite:{}", db.display())
}

fn rows_per_date(rows: &[Row]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in rows {
        *out.entry(r.1.clone()).or_insert(0) += 1;
    }
    out
}

async fn backfill(
    cdn: &FinraCdn,
    db: &Path,
    work: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let store = store_arg(db);
    let mut args = vec![
        "backfill",
        "--from",
        "2024-03-23",
        "--to",
        "2024-04-07",
        "--store",
        &store,
    ];
    args.extend_from_slice(extra);
    let base = cdn.base_url();
    let mut vars = vec![("FINRA_BASE_URL", base.as_str())];
    vars.extend_from_slice(env);
    offx(&args, &vars, work).await
}

#[tokio::test]
async fn every_session_once_each_file_fetched_once_and_a_cache_hit_makes_no_request() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let db = work.path().join("f.sqlite");
    let cdn = FinraCdn::serve_dir(&mirror).await;
    let out = backfill(&cdn, &db, work.path(), &["--format", "json"], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));

    // Weekends and Good Friday are not sessions; every session is stored.
    let per_date = rows_per_date(&stored_rows(&db));
    assert_eq!(
        per_date.keys().map(String::as_str).collect::<Vec<_>>(),
        SESSIONS
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["sessions_in_range"], 9);
    assert_eq!(summary["sessions_stored"], 9);

    // Each file requested exactly once: the two weekly ZIPs once each, not once per day.
    let paths = cdn.requested_paths();
    let mut unique = paths.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        paths.len(),
        unique.len(),
        "a file was fetched twice: {paths:?}"
    );
    assert_eq!(
        paths.iter().filter(|p| p.contains("ATS_W_Summary")).count(),
        2
    );
    // The short interest settlements the range sees: 2024-02-29 and 2024-03-15.
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.contains("/otcmarket/biweekly/shrt"))
            .count(),
        2,
        "{paths:?}"
    );
    // 9 sessions x (CNMS + FORF), plus the four NMS facility files where CNMS is missing.
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.contains("/regsho/daily/"))
            .count(),
        9 * 2 + 4
    );

    // Same range again, forced, with the same cache: zero requests.
    let again = backfill(&cdn, &db, work.path(), &["--force"], &[]).await;
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        cdn.requested_paths().len(),
        paths.len(),
        "the cache served everything"
    );
    assert_eq!(rows_per_date(&stored_rows(&db)), per_date, "idempotent");
}

#[tokio::test]
async fn a_failed_session_keeps_the_earlier_ones_and_a_rerun_resumes() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let cnms = mirror.join("regsho/daily/CNMSshvol20240402.txt");
    let good = fs::read_to_string(&cnms).unwrap();
    // Truncated mid-file, count line kept: this session must fail, whole.
    let lines: Vec<&str> = good.split_inclusive('\n').collect();
    fs::write(&cnms, lines[..10].concat() + lines[lines.len() - 1]).unwrap();

    let db = work.path().join("f.sqlite");
    let cdn = FinraCdn::serve_dir(&mirror).await;
    let failed = backfill(&cdn, &db, work.path(), &["--concurrency", "1"], &[]).await;
    assert_eq!(failed.status.code(), Some(4), "{}", stderr(&failed));
    assert!(
        stderr(&failed).contains("session 2024-04-02 failed"),
        "{}",
        stderr(&failed)
    );
    let committed: Vec<String> = rows_per_date(&stored_rows(&db)).into_keys().collect();
    assert_eq!(
        committed,
        SESSIONS[..5],
        "whole sessions before the failure stay"
    );

    fs::write(&cnms, good).unwrap();
    let before = cdn.requested_paths().len();
    let resumed = backfill(&cdn, &db, work.path(), &[], &[]).await;
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stdout(&resumed).contains("already stored (skipped)"),
        "{}",
        stdout(&resumed)
    );
    let new_requests = &cdn.requested_paths()[before..];
    assert!(
        new_requests
            .iter()
            .all(|p| !p.contains("20240325") && !p.contains("20240401.txt")),
        "finished sessions are not redone: {new_requests:?}"
    );
    let per_date = rows_per_date(&stored_rows(&db));
    assert_eq!(
        per_date.keys().map(String::as_str).collect::<Vec<_>>(),
        SESSIONS
    );
}

/// `offx backfill` of the two sample weeks, one session at a time, from `cdn` into `db`, running
/// in the background (to be interrupted); its output is piped.
fn spawn_slow_backfill(
    cdn: &FinraCdn,
    db: &Path,
    work: &Path,
    cache: &str,
) -> tokio::process::Child {
    let store = store_arg(db);
    tokio::process::Command::new(env!("CARGO_BIN_EXE_offx"))
        .args([
            "backfill",
            "--from",
            "2024-03-25",
            "--to",
            "2024-04-05",
            "--concurrency",
            "1",
            "--store",
            &store,
        ])
        .env("FINRA_BASE_URL", cdn.base_url())
        .env("OFFX_CACHE_DIR", cache)
        .env_remove("OFFX_STORE")
        .current_dir(work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn ctrl_c_stops_after_whole_sessions_and_a_rerun_finishes() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let db = work.path().join("f.sqlite");
    let slow = FinraCdn::serve_dir_slowly(&mirror, Duration::from_millis(150)).await;
    let cache = work.path().join("cache");
    let child = spawn_slow_backfill(&slow, &db, work.path(), &cache.to_string_lossy());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("interrupted after committing"),
        "{}",
        stderr(&out)
    );

    let partial = rows_per_date(&stored_rows(&db));
    assert!(
        !partial.is_empty() && partial.len() < 9,
        "stopped mid-way: {partial:?}"
    );
    let fast = FinraCdn::serve_dir(&mirror).await;
    let rest = backfill(&fast, &db, work.path(), &[], &[]).await;
    assert!(rest.status.success(), "{}", stderr(&rest));
    let full = rows_per_date(&stored_rows(&db));
    // Every session interrupted or not holds all of its rows: nothing was half-written.
    for (date, count) in &partial {
        assert_eq!(full[date], *count, "{date} was complete before the re-run");
    }
    assert_eq!(full.len(), 9);
}

/// The sessions stored (dates with `daily_features` rows) and the weeks `ats_weekly` records, read
/// while a backfill may be writing (WAL lets a reader in). Empty while the file has no tables.
fn sessions_and_weeks(db: &Path) -> (Vec<String>, Vec<String>) {
    let Ok(conn) = rusqlite::Connection::open(db) else {
        return (Vec::new(), Vec::new());
    };
    let column = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_default()
    };
    (
        column("SELECT DISTINCT trade_date FROM daily_features ORDER BY 1"),
        column("SELECT DISTINCT week_start FROM ats_weekly ORDER BY 1"),
    )
}

/// The Monday of a `YYYY-MM-DD` session.
fn monday(date: &str) -> String {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("a date");
    offexchange::calendar::week_start(day).to_string()
}

/// SIGKILL (no clean-up at all) once the first week's sessions are committed: every session the
/// store holds has its week's `ats_weekly` record, and a re-run completes both weeks.
#[tokio::test]
async fn a_backfill_killed_between_weeks_leaves_every_stored_session_with_its_week() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let db = work.path().join("k.sqlite");
    let slow = FinraCdn::serve_dir_slowly(&mirror, Duration::from_millis(150)).await;
    let mut child = spawn_slow_backfill(&slow, &db, work.path(), "off");
    // The week of 2024-03-25 has four sessions (Good Friday is a holiday).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (sessions, _) = sessions_and_weeks(&db);
        if sessions.len() >= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first week was never committed: {sessions:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(!out.status.success(), "killed: {:?}", out.status);

    let (sessions, weeks) = sessions_and_weeks(&db);
    assert!(
        sessions.len() >= 4 && sessions.len() < 9,
        "killed mid-way: {sessions:?}"
    );
    for session in &sessions {
        assert!(
            weeks.contains(&monday(session)),
            "{session} is stored but its week is not in ats_weekly: {weeks:?}"
        );
    }

    let fast = FinraCdn::serve_dir(&mirror).await;
    let rest = backfill(&fast, &db, work.path(), &[], &[]).await;
    assert!(rest.status.success(), "{}", stderr(&rest));
    let (sessions, weeks) = sessions_and_weeks(&db);
    assert_eq!(sessions, SESSIONS.map(String::from).to_vec());
    assert_eq!(weeks, ["2024-03-25", "2024-04-01"]);
}

#[tokio::test]
async fn catch_up_fills_only_the_null_ats_rows_once_the_week_is_published() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let zip = mirror.join("ATS/ATS_W_Summary_20240401.zip");
    let held_back = work.path().join("held-back.zip");
    fs::rename(&zip, &held_back).unwrap();
    let db = work.path().join("f.sqlite");
    let cdn = FinraCdn::serve_dir(&mirror).await;
    const TTL: [(&str, &str); 1] = [("OFFX_CACHE_MISSING_TTL", "0")];
    let ttl = TTL;
    let out = backfill(&cdn, &db, work.path(), &[], &ttl).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let before = stored_rows(&db);
    let week2 = |r: &&Row| r.1.as_str() >= "2024-04-01";
    assert!(
        before.iter().filter(week2).all(|r| r.4.is_none()),
        "week of 2024-04-01 not published yet"
    );

    let store = store_arg(&db);
    let catch_up = |extra: &'static [(&'static str, &'static str)]| {
        let store = store.clone();
        let base = cdn.base_url();
        let work = work.path().to_path_buf();
        async move {
            let mut env = vec![("FINRA_BASE_URL", base.as_str())];
            env.extend_from_slice(extra);
            let args = [
                "catch-up",
                "--until",
                "2024-04-10",
                "--days",
                "30",
                "--store",
                &store,
                "--format",
                "json",
            ];
            offx(&args, &env, &work).await
        }
    };
    let still_awaited = catch_up(&TTL).await;
    assert!(still_awaited.status.success(), "{}", stderr(&still_awaited));
    let doc: serde_json::Value = serde_json::from_slice(&still_awaited.stdout).unwrap();
    assert_eq!(doc["rows_filled"], 0);
    assert_eq!(doc["weeks_awaited"][0], "2024-04-01");
    assert_eq!(stored_rows(&db), before);

    fs::rename(&held_back, &zip).unwrap();
    let filled = catch_up(&TTL).await;
    assert!(filled.status.success(), "{}", stderr(&filled));
    let doc: serde_json::Value = serde_json::from_slice(&filled.stdout).unwrap();
    let after = stored_rows(&db);
    assert!(doc["rows_filled"].as_u64().unwrap() > 1000, "{doc}");
    assert_eq!(before.len(), after.len());
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(
            (&old.0, &old.1, old.2, old.3),
            (&new.0, &new.1, new.2, new.3),
            "short columns untouched"
        );
        if old.4.is_some() {
            assert_eq!(
                old.4, new.4,
                "{} {}: a stored value is never rewritten",
                old.0, old.1
            );
        }
    }
    let filled_rows = after.iter().filter(week2).filter(|r| r.4.is_some()).count();
    assert_eq!(filled_rows as u64, doc["rows_filled"].as_u64().unwrap());
}

#[tokio::test]
async fn cache_info_and_clear() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let db = work.path().join("f.sqlite");
    let cdn = FinraCdn::serve_dir(&mirror).await;
    assert!(backfill(&cdn, &db, work.path(), &[], &[])
        .await
        .status
        .success());
    let info = offx(&["cache", "info"], &[], work.path()).await;
    let text = stdout(&info);
    // 17 of the 18 CNMS/FORF files, FNSQ/FNYX/FNRA of 2024-03-27 (no CNMS that day), 2 weeks,
    // and the 2 short interest settlements the range sees (2024-02-29 and 2024-03-15).
    assert!(text.contains("files:                  24"), "{text}");
    assert!(
        text.contains("not-published markers:  2"),
        "CNMS and FNQC of 2024-03-27: {text}"
    );
    let cleared = offx(&["cache", "clear"], &[], work.path()).await;
    assert!(
        stdout(&cleared).contains("removed 24 files"),
        "{}",
        stdout(&cleared)
    );
    let empty = offx(&["cache", "info"], &[], work.path()).await;
    assert!(
        stdout(&empty).contains("files:                  0"),
        "{}",
        stdout(&empty)
    );
}
