//! `offx enrich` with the weekly ATS data from FINRA's Query API (a local stand-in on 127.0.0.1)
//! against the same numbers as the mirror's weekly ZIP: the same `ats_share_of_total`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{api_rows_from_zip, offx, sample_mirror, stderr, stdout};
use offx_testkit::{FinraApi, FinraCdn};

/// symbol -> ats_share_of_total cell, from `offx --format csv` output.
fn ats_column(csv: &str) -> BTreeMap<String, String> {
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("symbol,trade_date,short_vol_share,short_exempt_share,ats_share_of_total")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[4].to_string())
        })
        .collect()
}

#[tokio::test]
async fn enrich_with_the_api_gives_the_same_ats_share_as_the_zip() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let cdn = FinraCdn::serve_dir(&mirror).await;
    let api = FinraApi::start().await;
    let rows = api_rows_from_zip(&mirror.join("ATS/ATS_W_Summary_20240401.zip"));
    let tiers: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r.get("tierIdentifier"))
        .collect();
    assert_eq!(
        tiers,
        ["OTCE", "T1", "T2"].map(String::from).into(),
        "the sample has every tier"
    );
    api.add_rows(rows);
    let args = [
        "enrich",
        "--date",
        "2024-04-01",
        "--no-store",
        "--format",
        "csv",
        "-v",
    ];

    // The ZIP path: a base that is not FINRA's CDN means `auto` = zip.
    let zip = offx(&args, &[("FINRA_BASE_URL", &cdn.base_url())], work.path()).await;
    assert!(zip.status.success(), "{}", stderr(&zip));
    assert!(
        api.requests().is_empty(),
        "auto with a mirror base never asks the API"
    );

    let cdn_before = cdn.requested_paths().len();
    let via_api = offx(
        &args,
        &[
            ("FINRA_BASE_URL", &cdn.base_url()),
            ("FINRA_ATS_SOURCE", "api"),
            ("FINRA_API_BASE_URL", &api.base_url()),
        ],
        work.path(),
    )
    .await;
    let err = stderr(&via_api);
    assert!(via_api.status.success(), "{err}");
    assert!(
        cdn.requested_paths()[cdn_before..]
            .iter()
            .all(|p| !p.contains("ATS")),
        "the API run fetches no ZIP"
    );
    assert!(!err.contains("awaited"), "every tier published: {err}");
    assert!(
        err.contains("ATS symbols match no Reg SHO symbol"),
        "the unmatched are counted: {err}"
    );

    let from_zip = ats_column(&stdout(&zip));
    let from_api = ats_column(&stdout(&via_api));
    assert_eq!(
        from_api, from_zip,
        "identical ats_share_of_total, symbol by symbol"
    );
    let valued = from_api.values().filter(|v| !v.is_empty()).count();
    assert!(valued > 250, "{valued} values");
    assert!(
        from_api.keys().any(|s| s.contains('/')),
        "class shares keep Reg SHO's slash"
    );
    assert!(
        from_api.keys().all(|s| !s.contains('.')),
        "no API spelling in the output"
    );

    // The same through the flags, which override the environment.
    let flags = offx(
        &[
            &args[..],
            &["--ats-source", "api", "--api-base-url", &api.base_url()],
        ]
        .concat(),
        &[
            ("FINRA_BASE_URL", &cdn.base_url()),
            ("FINRA_ATS_SOURCE", "zip"),
        ],
        work.path(),
    )
    .await;
    assert!(flags.status.success(), "{}", stderr(&flags));
    assert_eq!(ats_column(&stdout(&flags)), from_zip);

    // Tier 2 and OTCE not yet published: their symbols stay null (pending), coverage says so.
    api.withhold("2024-04-01", "T2");
    api.withhold("2024-04-01", "OTCE");
    let partial = offx(
        &args,
        &[
            ("FINRA_BASE_URL", &cdn.base_url()),
            ("FINRA_ATS_SOURCE", "api"),
            ("FINRA_API_BASE_URL", &api.base_url()),
        ],
        work.path(),
    )
    .await;
    let err = stderr(&partial);
    assert!(partial.status.success(), "{err}");
    assert!(
        err.contains("ATS week 2024-04-01: T2, OTCE awaited"),
        "{err}"
    );
    let partial = ats_column(&stdout(&partial));
    let still = partial
        .iter()
        .filter(|(s, v)| !v.is_empty() && from_zip[*s] == **v)
        .count();
    assert!(
        still > 0 && still < valued,
        "only Tier 1 symbols keep a value: {still} of {valued}"
    );
    assert!(partial
        .iter()
        .all(|(s, v)| v.is_empty() || from_zip[s] == *v));
}

#[tokio::test]
async fn bad_ats_settings_are_refused_at_start_up() {
    let work = tempfile::tempdir().unwrap();
    for (variable, value) in [
        ("FINRA_ATS_SOURCE", "API"),
        ("FINRA_ATS_SOURCE", "ftp"),
        ("FINRA_API_BASE_URL", "api.finra.org"),
        ("FINRA_API_BASE_URL", "file:///tmp/api"),
    ] {
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
        &["--ats-source", "bogus", "enrich", "--date", "2024-04-01"],
        &[],
        work.path(),
    )
    .await;
    assert_eq!(flag.status.code(), Some(3));
    assert!(
        stderr(&flag).contains("--ats-source (FINRA_ATS_SOURCE)=\"bogus\""),
        "{}",
        stderr(&flag)
    );
}
