//! `offx enrich` end to end on the synthetic sample mirror (FINRA's formats, known quirks).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use common::{file_url, offx, sample_mirror, stderr, stdout, stored_rows};
use offx_testkit::FinraCdn;

fn store_arg(db: &Path) -> String {
    format!("sqlite:{}", db.display())
}

/// symbol -> (short, exempt, total) summed over the given sample files, read independently.
fn sums(daily: &Path, names: &[&str]) -> BTreeMap<String, (u64, u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for name in names {
        let text = fs::read_to_string(daily.join(name)).unwrap();
        for line in text.lines().skip(1).filter(|l| l.contains('|')) {
            let f: Vec<&str> = line.split('|').collect();
            let n = |i: usize| f[i].parse::<u64>().unwrap();
            let e = out.entry(f[1].to_string()).or_default();
            *e = (e.0 + n(2), e.1 + n(3), e.2 + n(4));
        }
    }
    out
}

/// ATS symbol -> (ATS_W_SMBL shares, OTC_W_SMBL shares) from a weekly ZIP, read independently.
fn ats_week(zip_path: &Path) -> BTreeMap<String, (u64, u64)> {
    let mut archive = zip::ZipArchive::new(fs::File::open(zip_path).unwrap()).unwrap();
    let mut text = String::new();
    archive
        .by_index(0)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('|').collect();
        let shares: u64 = f[8].parse().unwrap();
        let e = out.entry(f[3].to_string()).or_default();
        match f[7] {
            "ATS_W_SMBL" => e.0 += shares,
            "OTC_W_SMBL" => e.1 += shares,
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn tot_falls_back_to_the_facility_files_and_names_what_is_missing() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let db = work.path().join("f.sqlite");
    let out = offx(
        &["enrich", "--date", "2024-03-27", "--store", &store_arg(&db)],
        &[("FINRA_BASE_URL", &file_url(&mirror))],
        work.path(),
    )
    .await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("CNMSshvol20240327.txt is not published"),
        "{err}"
    );
    assert!(
        err.contains("FNQCshvol20240327.txt is not published"),
        "{err}"
    );
    assert!(
        err.contains("TOT summed from the facility files published (FNSQ, FNYX, FNRA)"),
        "{err}"
    );
    let daily = mirror.join("regsho/daily");
    let expected = sums(
        &daily,
        &[
            "FNSQshvol20240327.txt",
            "FNYXshvol20240327.txt",
            "FNRAshvol20240327.txt",
            "FORFshvol20240327.txt",
        ],
    );
    let rows = stored_rows(&db);
    for (symbol, (short, _, total)) in &expected {
        let row = rows
            .iter()
            .find(|r| &r.0 == symbol)
            .expect("every symbol stored");
        assert_eq!(row.2, Some(*short as f64 / *total as f64), "{symbol}");
    }
}

#[tokio::test]
async fn ats_share_is_broadcast_to_every_session_of_a_holiday_week() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let db = work.path().join("f.sqlite");
    let cdn = FinraCdn::serve_dir(&mirror).await;
    for date in ["2024-03-25", "2024-03-26", "2024-03-27", "2024-03-28"] {
        let out = offx(
            &["enrich", "--date", date, "--store", &store_arg(&db), "-q"],
            &[("FINRA_BASE_URL", &cdn.base_url())],
            work.path(),
        )
        .await;
        assert!(out.status.success(), "{date}: {}", stderr(&out));
    }
    let friday = offx(
        &["enrich", "--date", "2024-03-29", "--store", &store_arg(&db)],
        &[("FINRA_BASE_URL", &cdn.base_url())],
        work.path(),
    )
    .await;
    assert!(friday.status.success());
    assert!(
        stderr(&friday).contains("not an NYSE session (Good Friday)"),
        "{}",
        stderr(&friday)
    );

    let rows = stored_rows(&db);
    assert!(
        rows.iter().all(|r| r.1 != "2024-03-29"),
        "nothing written on Good Friday"
    );
    let week = ats_week(&mirror.join("ATS/ATS_W_Summary_20240325.zip"));
    let mut by_symbol: BTreeMap<&str, Vec<Option<f64>>> = BTreeMap::new();
    for r in &rows {
        by_symbol.entry(&r.0).or_default().push(r.4);
    }
    let mut checked = 0;
    for (ats_symbol, (ats, otc)) in &week {
        let symbol = ats_symbol.replace('.', "/");
        let Some(values) = by_symbol.get(symbol.as_str()) else {
            continue;
        };
        let expected = (ats + otc > 0).then(|| *ats as f64 / (ats + otc) as f64);
        assert_eq!(values.len(), 4, "{symbol}: one row per session");
        assert!(
            values.iter().all(|v| *v == expected),
            "{symbol}: {values:?} != {expected:?}"
        );
        checked += 1;
    }
    assert!(checked > 250, "{checked}");
    // Symbols with OTC volume and no ATS row have a true 0.
    assert!(rows.iter().any(|r| r.4 == Some(0.0)));
    // Three weeks of requests: each daily file once, the week's ZIP once per session run.
    assert!(cdn
        .requested_paths()
        .iter()
        .all(|p| !p.contains("20240329")));
}

#[tokio::test]
async fn rerunning_is_idempotent_and_unpublished_files_never_erase_stored_values() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let db = work.path().join("f.sqlite");
    let env = [("FINRA_BASE_URL", file_url(&mirror))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: Vec<String>| {
        let env = env.clone();
        let work = work.path().to_path_buf();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            offx(&args, &env, &work).await
        }
    };
    let args = || {
        vec![
            "enrich".into(),
            "--date".into(),
            "2024-04-01".into(),
            "--store".into(),
            store_arg(&db),
        ]
    };
    let first = run(args()).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let before = stored_rows(&db);
    assert!(before.len() > 250);

    let second = run(args()).await;
    assert!(
        stderr(&second).contains("0 inserted"),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        stored_rows(&db),
        before,
        "running twice gives the same table"
    );

    // FINRA "withdraws" the ATS week and the CNMS file: the stored values must survive.
    fs::remove_file(mirror.join("ATS/ATS_W_Summary_20240401.zip")).unwrap();
    fs::remove_file(mirror.join("regsho/daily/CNMSshvol20240401.txt")).unwrap();
    for f in ["FNSQ", "FNQC", "FNYX", "FNRA", "FORF"] {
        fs::remove_file(mirror.join(format!("regsho/daily/{f}shvol20240401.txt"))).unwrap();
    }
    let third = run(args()).await;
    assert!(third.status.success(), "{}", stderr(&third));
    assert_eq!(
        stored_rows(&db),
        before,
        "unpublished files leave stored values alone"
    );
}

#[tokio::test]
async fn bad_data_and_unknown_symbols_give_nulls_with_named_warnings() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let out = offx(
        &[
            "enrich",
            "--date",
            "2024-04-01",
            "--no-store",
            "--symbols",
            "BADX,AAPL,NOPE,cpk",
            "--format",
            "csv",
            "-v",
        ],
        &[("FINRA_BASE_URL", &file_url(&mirror))],
        work.path(),
    )
    .await;
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{err}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "symbol,trade_date,short_vol_share,short_exempt_share,ats_share_of_total"
    );
    let badx = lines.iter().find(|l| l.starts_with("BADX,")).unwrap();
    assert!(
        badx.starts_with("BADX,2024-04-01,,"),
        "short_vol_share withheld: {badx}"
    );
    assert!(lines.contains(&"NOPE,2024-04-01,,,"), "{text}");
    assert!(lines.contains(&"cpk,2024-04-01,,,"), "{text}");
    assert!(
        err.contains("BADX: ShortVolume 4013612 > TotalVolume 3210888"),
        "{err}"
    );
    assert!(err.contains("did you mean CPK or CpK?"), "{err}");
    assert!(err.contains("4 requested, 2 found"), "{err}");
}

#[tokio::test]
async fn json_output_carries_rows_report_and_store_summary() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let db = work.path().join("f.sqlite");
    let out = offx(
        &[
            "enrich",
            "--date",
            "2024-04-01",
            "--store",
            &store_arg(&db),
            "--format",
            "json",
            "--symbols",
            "AAPL,BRK/B",
        ],
        &[("FINRA_BASE_URL", &file_url(&mirror))],
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["rows"][1]["symbol"], "BRK/B");
    assert!(doc["rows"][0]["short_vol_share"].is_f64());
    assert_eq!(doc["stored"]["inserted"], 2);
    let files = doc["report"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "CNMS, FORF, the ATS week: {files:?}");
    assert!(doc["report"]["quality"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["invariant_violations"] == 1));
}

#[tokio::test]
async fn bad_settings_are_refused_at_start_up_naming_variable_and_value() {
    let work = tempfile::tempdir().unwrap();
    let cases = [
        ("FINRA_HTTP_TIMEOUT", "-5"),
        ("FINRA_SHORT_VOLUME_MARKET", "NYSE"),
        ("FINRA_BASE_URL", "cdn.finra.org/equity"),
        ("FINRA_HTTP_RETRIES", "many"),
    ];
    for (variable, value) in cases {
        let out = offx(
            &["enrich", "--date", "2024-04-01", "--no-store"],
            &[(variable, value)],
            work.path(),
        )
        .await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{variable}: {err}");
        assert!(err.contains(variable) && err.contains(value), "{err}");
    }
    let flag = offx(
        &["--timeout", "-1", "enrich", "--date", "2024-04-01"],
        &[],
        work.path(),
    )
    .await;
    assert_eq!(flag.status.code(), Some(3));
    assert!(
        stderr(&flag).contains("--timeout (FINRA_HTTP_TIMEOUT)=\"-1\""),
        "{}",
        stderr(&flag)
    );
}

#[tokio::test]
async fn a_dotenv_file_is_read_and_the_environment_wins() {
    let work = tempfile::tempdir().unwrap();
    fs::write(
        work.path().join(".env"),
        "FINRA_SHORT_VOLUME_MARKET=BOGUS\n",
    )
    .unwrap();
    let out = offx(
        &["enrich", "--date", "2024-04-01", "--no-store"],
        &[],
        work.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("BOGUS"));
    let mirror = sample_mirror(work.path());
    let ok = offx(
        &[
            "enrich",
            "--date",
            "2024-04-01",
            "--no-store",
            "--symbols",
            "AAPL",
        ],
        &[
            ("FINRA_SHORT_VOLUME_MARKET", "CNMS"),
            ("FINRA_BASE_URL", &file_url(&mirror)),
        ],
        work.path(),
    )
    .await;
    assert!(ok.status.success(), "{}", stderr(&ok));
}

#[tokio::test]
async fn a_limited_table_says_how_many_rows_were_left_out() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let out = offx(
        &[
            "enrich",
            "--date",
            "2024-04-01",
            "--no-store",
            "--limit",
            "5",
        ],
        &[("FINRA_BASE_URL", &file_url(&mirror))],
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows = text
        .lines()
        .filter(|l| l.contains("2024-04-01") && !l.contains("rows shown"))
        .count();
    assert_eq!(rows, 5, "{text}");
    let note = text
        .lines()
        .find(|l| l.contains("rows shown"))
        .expect("the note");
    assert!(
        note.starts_with("5 of 301 rows shown; 296 more left out by --limit"),
        "{note}"
    );
    // No rule between rows: one under the header, one above, one below.
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("──") || l.contains("══"))
            .count(),
        3,
        "{text}"
    );
}
