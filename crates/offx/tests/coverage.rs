//! `offx coverage` over a range with every state, and a 2010 backfill (before FINRA's ATS data):
//! Reg SHO from a file mirror against a local stand-in for FINRA's Query API whose
//! `weeklySummary` partitions start at 2022-01-03.

mod common;

use std::fs;
use std::path::Path;

use common::{file_url, offx, stderr, stdout, stored_rows};
use offx_testkit::{ApiRow, FinraApi, FinraCdn};
use serde_json::Value;
use tempfile::TempDir;

/// FNQC files (the current header) for `days`, symbols AAPL and XYZ.
fn fnqc_files(root: &Path, days: &[&str]) {
    let daily = root.join("regsho/daily");
    fs::create_dir_all(&daily).unwrap();
    for d in days {
        let c = d.replace('-', "");
        let text = format!(
            "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\n\
             {c}|AAPL|40|1|100|B\n{c}|XYZ|5|0|10|B\n2\n"
        );
        fs::write(daily.join(format!("FNQCshvol{c}.txt")), text).unwrap();
    }
}

fn api_rows(api: &FinraApi) {
    for tier in ["T1", "T2", "OTCE"] {
        let symbol = if tier == "T1" { "AAPL" } else { "XYZ" };
        api.add_rows([
            ApiRow::new("2022-01-03", tier, symbol, "ATS_W_SMBL", "10"),
            ApiRow::new("2022-01-03", tier, symbol, "OTC_W_SMBL", "30"),
        ]);
    }
    api.add_historic_rows([
        ApiRow::new("2021-12-27", "T1", "AAPL", "ATS_W_SMBL", "1"),
        ApiRow::new("2021-12-27", "T1", "AAPL", "OTC_W_SMBL", "3"),
        ApiRow::new("2021-12-27", "T1", "AAPL", "ATS_W_SMBL_FIRM", "1").with("MPID", "\"X\""),
        ApiRow::new("2021-12-27", "T2", "XYZ", "OTC_W_SMBL", "3"),
    ]);
}

/// The day's entry for `dataset`: (state, detail).
fn state(doc: &Value, date: &str, dataset: &str) -> (String, String) {
    let day = doc["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == date)
        .unwrap_or_else(|| panic!("no {date}"));
    let entry = day["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dataset"] == dataset)
        .unwrap_or_else(|| panic!("no {dataset} on {date}: {day}"));
    (
        entry["state"].as_str().unwrap().to_string(),
        entry["detail"].as_str().unwrap().to_string(),
    )
}

fn closed(doc: &Value, date: &str) -> Option<String> {
    doc["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == date)
        .and_then(|d| d["closed"].as_str().map(str::to_string))
}

#[tokio::test]
async fn coverage_names_every_state() {
    let api = FinraApi::start().await;
    api_rows(&api);
    let work = TempDir::new().unwrap();
    let mirror = work.path().join("mirror");
    // 2021-12-30 is missing from the mirror (a file FINRA never posted).
    fnqc_files(&mirror, &["2021-12-29", "2022-01-03"]);
    let base = file_url(&mirror);
    let api_base = api.base_url();
    let env = [
        ("FINRA_BASE_URL", base.as_str()),
        ("FINRA_SHORT_VOLUME_MARKET", "FNQC"),
        ("FINRA_ATS_SOURCE", "api"),
        ("FINRA_API_BASE_URL", api_base.as_str()),
    ];
    let db = work.path().join("store.sqlite");
    let store = format!("sqlite:{}", db.display());
    let enriched = offx(
        &[
            "enrich",
            "--date",
            "2021-12-29",
            "--store",
            &store,
            "--format",
            "json",
        ],
        &env,
        work.path(),
    )
    .await;
    assert!(enriched.status.success(), "{}", stderr(&enriched));

    let range = [
        "--from",
        "2018-09-03",
        "--to",
        "2022-01-14",
        "--store",
        &store,
    ];
    let checked = offx(
        &[&["coverage", "--check", "--format", "json"], &range[..]].concat(),
        &env,
        work.path(),
    )
    .await;
    assert!(checked.status.success(), "{}", stderr(&checked));
    let doc: Value = serde_json::from_str(&stdout(&checked)).expect("--format json parses");
    assert_eq!(doc["checked"], true);

    // A holiday, and the day after Christmas observed.
    assert_eq!(closed(&doc, "2018-09-03").as_deref(), Some("Labor Day"));
    assert!(closed(&doc, "2021-12-24").is_some());
    // Before FINRA published the FNQC file (it begins 2018-09-10).
    let (s, detail) = state(&doc, "2018-09-07", "regsho_daily");
    assert_eq!(s, "before_dataset");
    assert!(detail.contains("2018-09-10"), "{detail}");
    assert_eq!(state(&doc, "2018-09-10", "regsho_daily").0, "awaited");
    // A 2018 week: outside weeklySummary's window (listed from 2022-01-03).
    let (s, detail) = state(&doc, "2018-09-07", "otc_weekly");
    assert_eq!(s, "historic");
    assert!(detail.contains("2022-01-03"), "{detail}");
    // Stored: the enriched session and its (historic) week.
    let (s, detail) = state(&doc, "2021-12-29", "regsho_daily");
    assert_eq!((s.as_str(), detail.as_str()), ("stored", "FNQC"));
    assert_eq!(state(&doc, "2021-12-29", "otc_weekly").0, "stored");
    // The missing file: past due, and FINRA (the mirror) does not have it.
    assert_eq!(state(&doc, "2021-12-30", "regsho_daily").0, "awaited");
    assert_eq!(state(&doc, "2021-12-30", "otc_weekly").0, "stored");
    // Published by FINRA, not in the store.
    let (s, detail) = state(&doc, "2022-01-03", "regsho_daily");
    assert_eq!(s, "published_not_stored");
    assert!(detail.contains("FNQCshvol20220103.txt"), "{detail}");
    assert_eq!(
        state(&doc, "2022-01-03", "otc_weekly").0,
        "published_not_stored"
    );
    // A week inside the window that FINRA has not published, long past its due date.
    let (s, detail) = state(&doc, "2022-01-10", "otc_weekly");
    assert_eq!(s, "awaited");
    assert!(detail.contains("2022-01-31"), "Tier 1 due date: {detail}");
    assert_eq!(doc["counts"]["regsho_daily"]["stored"], 1);
    assert_eq!(doc["counts"]["regsho_daily"]["published_not_stored"], 1);
    assert_eq!(
        doc["counts"]["regsho_daily"]["before_dataset"], 4,
        "2018-09-04 .. 09-07"
    );

    // The table for people: one line per date, the counts at the end; without --check, FINRA
    // is not asked at all.
    let before = api.requests().len();
    let table = offx(&[&["coverage"], &range[..]].concat(), &env, work.path()).await;
    assert!(table.status.success(), "{}", stderr(&table));
    assert_eq!(api.requests().len(), before, "no request without --check");
    let text = stdout(&table);
    assert!(
        text.contains("2018-09-03  not a session (Labor Day)"),
        "{text}"
    );
    assert!(
        text.contains("2018-09-07  regsho_daily: before FINRA published it"),
        "{text}"
    );
    assert!(
        text.contains("2021-12-29  regsho_daily: stored (FNQC)"),
        "{text}"
    );
    assert!(text.contains("otc_weekly: outside the API window (historic)"));
    assert!(text.contains("regsho_daily: awaited past its due time"));
    assert!(text.contains("FINRA asked"), "{text}");
}

/// Pre-2011 facility files have no ShortExemptVolume column.
fn facility_files_2010(root: &Path, days: &[&str]) {
    let daily = root.join("regsho/daily");
    fs::create_dir_all(&daily).unwrap();
    for d in days {
        let c = d.replace('-', "");
        for (facility, market, short, total) in [
            ("FNSQ", "Q", 30, 100),
            ("FNYX", "N", 10, 50),
            ("FNRA", "D", 0, 50),
            ("FORF", "O", 7, 70),
        ] {
            let symbol = if facility == "FORF" { "OTCX" } else { "AAPL" };
            let text = format!(
                "Date|Symbol|ShortVolume|TotalVolume|Market\n{c}|{symbol}|{short}|{total}|{market}\n1\n"
            );
            fs::write(daily.join(format!("{facility}shvol{c}.txt")), text).unwrap();
        }
    }
}

#[tokio::test]
async fn a_2010_backfill_has_reg_sho_and_asks_for_no_ats_week() {
    let work = TempDir::new().unwrap();
    let mirror = work.path().join("mirror");
    let days = [
        "2010-03-01",
        "2010-03-02",
        "2010-03-03",
        "2010-03-04",
        "2010-03-05",
    ];
    facility_files_2010(&mirror, &days);

    // From the file mirror.
    let db = work.path().join("file.sqlite");
    let store = format!("sqlite:{}", db.display());
    let base = file_url(&mirror);
    let out = offx(
        &[
            "backfill",
            "--from",
            "2010-03-01",
            "--to",
            "2010-03-05",
            "--store",
            &store,
        ],
        &[("FINRA_BASE_URL", base.as_str())],
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = stored_rows(&db);
    assert_eq!(rows.len(), 10, "AAPL and OTCX on 5 sessions: {rows:?}");
    for (symbol, _, short, exempt, ats) in &rows {
        let expected = if symbol == "AAPL" { 40.0 / 200.0 } else { 0.1 };
        assert_eq!(*short, Some(expected), "{symbol}");
        assert_eq!(
            *exempt, None,
            "no ShortExemptVolume column before 2011-02-28"
        );
        assert_eq!(*ats, None, "no ATS data before 2014-05-12");
    }

    // The same mirror over HTTP: only Reg SHO files are asked for, never an ATS week.
    let cdn = FinraCdn::serve_dir(&mirror).await;
    let db = work.path().join("http.sqlite");
    let store = format!("sqlite:{}", db.display());
    let base = cdn.base_url();
    let out = offx(
        &[
            "backfill",
            "--from",
            "2010-03-01",
            "--to",
            "2010-03-05",
            "--store",
            &store,
        ],
        &[("FINRA_BASE_URL", base.as_str())],
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let paths = cdn.requested_paths();
    assert_eq!(paths.len(), 20, "4 facility files x 5 sessions: {paths:?}");
    assert!(
        paths.iter().all(|p| p.contains("/regsho/daily/")),
        "{paths:?}"
    );
    assert_eq!(stored_rows(&db), rows);

    // Coverage says why ATS is null: before FINRA published it.
    let cov = offx(
        &[
            "coverage",
            "--from",
            "2010-03-01",
            "--to",
            "2010-03-07",
            "--store",
            &store,
            "--format",
            "json",
        ],
        &[("FINRA_BASE_URL", base.as_str())],
        work.path(),
    )
    .await;
    assert!(cov.status.success(), "{}", stderr(&cov));
    let doc: Value = serde_json::from_str(&stdout(&cov)).unwrap();
    assert_eq!(state(&doc, "2010-03-01", "otc_weekly").0, "before_dataset");
    assert_eq!(state(&doc, "2010-03-01", "regsho_daily").0, "stored");
    assert_eq!(doc["counts"]["otc_weekly"]["before_dataset"], 5);
    assert_eq!(closed(&doc, "2010-03-06").as_deref(), Some("Saturday"));
}
