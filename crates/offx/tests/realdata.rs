//! Real FINRA files, byte for byte, served by a local server that answers like FINRA's CDN.
//!
//! The expected values are computed here by an independent few-line reader of the facility
//! files, not by the engine's parser.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{offx, stderr, stored_rows};
use offx_testkit::{realdata, FinraCdn};

/// symbol -> (short, exempt, total), summed over the given files: a reader that shares no code
/// with the engine (split lines, skip the header and the count line, add integers).
fn independent_sums(dir: &Path, files: &[String]) -> BTreeMap<String, (u64, u64, u64)> {
    let mut sums: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for name in files {
        let text = fs::read_to_string(dir.join(name)).expect("real file");
        for line in text.lines().skip(1).filter(|l| l.contains('|')) {
            let f: Vec<&str> = line.trim_end_matches('\r').split('|').collect();
            let n = |i: usize| f[i].parse::<u64>().expect("whole number in 2020 files");
            let e = sums.entry(f[1].to_string()).or_default();
            *e = (e.0 + n(2), e.1 + n(3), e.2 + n(4));
        }
    }
    sums
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

#[tokio::test]
async fn tot_on_2020_01_02_equals_the_sum_of_the_five_facility_files() {
    let Some(real) = realdata() else { return };
    let cdn = FinraCdn::serve_dir(real.join("mirror")).await;
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("features.sqlite");
    let store = format!("sqlite:{}", db.display());
    let out = offx(
        &[
            "enrich",
            "--date",
            "2020-01-02",
            "--store",
            &store,
            "--format",
            "csv",
        ],
        &[("FINRA_BASE_URL", &cdn.base_url())],
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    let daily = real.join("mirror/regsho/daily");
    let files: Vec<String> = ["FNSQ", "FNQC", "FNYX", "FNRA", "FORF"]
        .iter()
        .map(|f| format!("{f}shvol20200102.txt"))
        .collect();
    let expected = independent_sums(&daily, &files);
    let rows = stored_rows(&db);
    assert!(expected.len() > 11_000, "{} symbols", expected.len());
    assert_eq!(rows.len(), expected.len());
    for (symbol, date, svs, ses, ats) in &rows {
        let (short, exempt, total) = expected[symbol];
        assert_eq!(date, "2020-01-02");
        assert_eq!(*svs, ratio(short, total), "{symbol} short_vol_share");
        assert_eq!(*ses, ratio(exempt, total), "{symbol} short_exempt_share");
        assert_eq!(*ats, None, "{symbol}: the ATS week is not published");
    }
    let symbols: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    for must in ["CPK", "CpK", "BRK/B", "AMHPF", "AMHpF"] {
        assert!(symbols.contains(&must), "{must} missing");
    }
    let cpk = rows.iter().find(|r| r.0 == "CPK").unwrap();
    let cpk_pref = rows.iter().find(|r| r.0 == "CpK").unwrap();
    assert_ne!(cpk.2, cpk_pref.2, "CPK and CpK are different securities");
    // The composition asked CNMS and FORF only, and nothing twice.
    let paths = cdn.requested_paths();
    assert!(
        paths.iter().any(|p| p.ends_with("CNMSshvol20200102.txt")),
        "{paths:?}"
    );
    assert!(!paths.iter().any(|p| p.contains("FNSQ")), "{paths:?}");
}

#[tokio::test]
async fn cnms_on_2021_12_01_gives_the_files_ratios() {
    let Some(real) = realdata() else { return };
    let cdn = FinraCdn::serve_dir(real.join("mirror")).await;
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("features.sqlite");
    let store = format!("sqlite:{}", db.display());
    let out = offx(
        &[
            "enrich",
            "--date",
            "2021-12-01",
            "--store",
            &store,
            "--format",
            "json",
        ],
        &[
            ("FINRA_BASE_URL", &cdn.base_url()),
            ("FINRA_SHORT_VOLUME_MARKET", "CNMS"),
        ],
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = independent_sums(
        &real.join("mirror/regsho/daily"),
        &["CNMSshvol20211201.txt".into()],
    );
    let rows = stored_rows(&db);
    assert_eq!(rows.len(), 10_325);
    for (symbol, _, svs, ses, _) in &rows {
        let (short, exempt, total) = expected[symbol];
        assert_eq!(
            (*svs, *ses),
            (ratio(short, total), ratio(exempt, total)),
            "{symbol}"
        );
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(doc["rows"].as_array().map(Vec::len), Some(10_325));
    assert!(doc["report"]["quality"].is_array());
}

#[tokio::test]
async fn a_file_truncated_mid_way_fails_the_session_and_writes_nothing() {
    let Some(real) = realdata() else { return };
    let work = tempfile::tempdir().unwrap();
    let daily = work.path().join("mirror/regsho/daily");
    fs::create_dir_all(&daily).unwrap();
    for entry in fs::read_dir(real.join("mirror/regsho/daily")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), daily.join(entry.file_name())).unwrap();
    }
    // Keep the header, the first half of the rows and the record-count line.
    let cnms = daily.join("CNMSshvol20200102.txt");
    let text = fs::read_to_string(&cnms).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let cut: String = lines[..lines.len() / 2].concat() + lines[lines.len() - 1];
    fs::set_permissions(&cnms, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&cnms, cut).unwrap();

    let cdn = FinraCdn::serve_dir(work.path().join("mirror")).await;
    let db = work.path().join("features.sqlite");
    let store = format!("sqlite:{}", db.display());
    let out = offx(
        &["enrich", "--date", "2020-01-02", "--store", &store],
        &[("FINRA_BASE_URL", &cdn.base_url())],
        work.path(),
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("CNMSshvol20200102.txt"), "{err}");
    assert!(err.contains("says 8172 rows but 4086 were read"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(
        stored_rows(&db).is_empty(),
        "no row may be written for the date"
    );
    let attempts = cdn
        .requested_paths()
        .iter()
        .filter(|p| p.contains("CNMS"))
        .count();
    assert_eq!(
        attempts, 2,
        "retried once (FINRA_HTTP_RETRIES=1), like a network error"
    );
}

#[tokio::test]
async fn a_403_html_page_exits_non_zero_with_the_user_agent_hint() {
    let cdn = FinraCdn::fixed(
        403,
        "<html><body><h1>403 Forbidden</h1>Request blocked.</body></html>",
    )
    .await;
    let work = tempfile::tempdir().unwrap();
    let out = offx(
        &["enrich", "--date", "2020-01-02", "--no-store"],
        &[("FINRA_BASE_URL", &cdn.base_url())],
        work.path(),
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("FINRA_HTTP_USER_AGENT"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one line: {err}"
    );
}
