//! Weeks outside `weeklySummary`'s window come from `weeklySummaryHistoric`, anonymously or with
//! FINRA API credentials, against the local fake API (`offx_testkit::FinraApi`), whose
//! `weeklySummary` partitions start at 2022-01-03 as FINRA's listing did in 2026.

use std::fs;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use offexchange::config::{ApiCredentials, AtsSource, Facility, HttpSettings, Market, Settings};
use offexchange::source::cache::RawCache;
use offexchange::{Engine, Feature, FeatureRow, SessionOutcome, SessionReport};
use offx_testkit::{ApiRow, FinraApi};
use tempfile::TempDir;

const HISTORIC_WEEK: &str = "2021-06-07";
const WINDOW_WEEK: &str = "2022-01-03";

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A file mirror with a CNMS file for each of `days`, holding `symbols` (1 short of 2 each).
fn mirror(root: &Path, days: &[&str], symbols: &[&str]) {
    let daily = root.join("regsho/daily");
    fs::create_dir_all(&daily).unwrap();
    for d in days {
        let compact = d.replace('-', "");
        let mut text =
            String::from("Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n");
        for s in symbols {
            text.push_str(&format!("{compact}|{s}|1|0|2|B,Q,N\r\n"));
        }
        text.push_str(&format!("{}\r\n", symbols.len()));
        fs::write(daily.join(format!("CNMSshvol{compact}.txt")), text).unwrap();
    }
}

fn settings(root: &Path, api: &FinraApi, credentials: Option<(&str, &str)>) -> Settings {
    Settings {
        base_url: format!("file://{}", root.display()).parse().unwrap(),
        market: Market::Facility(Facility::Cnms),
        http: HttpSettings {
            timeout: Duration::from_secs(5),
            retries: 0,
            backoff: Duration::ZERO,
            ..HttpSettings::default()
        },
        api_base_url: api.base_url().parse().unwrap(),
        ats_source: AtsSource::Api,
        api_credentials: credentials.map(|(id, secret)| ApiCredentials {
            client_id: id.into(),
            client_secret: secret.into(),
        }),
        api_token_url: api.token_url().parse().unwrap(),
    }
}

/// The window: one complete week at 2022-01-03 in `weeklySummary`.
fn window(api: &FinraApi) {
    for (tier, symbol) in [("T1", "AAPL"), ("T2", "XYZ"), ("OTCE", "ZZZZ")] {
        api.add_rows([
            ApiRow::new(WINDOW_WEEK, tier, symbol, "ATS_W_SMBL", "10"),
            ApiRow::new(WINDOW_WEEK, tier, symbol, "OTC_W_SMBL", "30"),
        ]);
    }
}

/// The 2021 week in `weeklySummaryHistoric`, every summary type as FINRA serves it there:
/// AAPL 300 ATS + 900 non-ATS (T1), BRK.B 1 + 3 (T1), XYZ 5 + 5 (T2), ZZZZ (OTCE) 0 ATS + 7,
/// plus firm breakdowns and firm totals (no symbol) that must be ignored.
fn historic(api: &FinraApi) {
    let row = |tier, symbol, kind, shares| ApiRow::new(HISTORIC_WEEK, tier, symbol, kind, shares);
    api.add_historic_rows([
        row("T1", "AAPL", "ATS_W_SMBL", "300"),
        row("T1", "AAPL", "OTC_W_SMBL", "900"),
        row("T1", "AAPL", "ATS_W_SMBL_FIRM", "250").with("MPID", "\"UBSA\""),
        row("T1", "AAPL", "ATS_W_SMBL_FIRM", "50").with("MPID", "\"JPBX\""),
        row("T1", "AAPL", "OTC_W_SMBL_FIRM", "900").with("MPID", "\"CDRG\""),
        row("T1", "BRK.B", "ATS_W_SMBL", "1"),
        row("T1", "BRK.B", "OTC_W_SMBL", "3"),
        row("T1", "x", "ATS_W_FIRM", "301")
            .with("issueSymbolIdentifier", "null")
            .with("MPID", "\"UBSA\""),
        row("T2", "XYZ", "ATS_W_SMBL", "5"),
        row("T2", "XYZ", "OTC_W_SMBL", "5"),
        row("T2", "x", "ATS_W_VOL_STATS", "5").with("issueSymbolIdentifier", "null"),
        row("OTCE", "ZZZZ", "OTC_W_SMBL", "7"),
    ]);
}

async fn rows_of(engine: &Engine, date: &str) -> (Vec<FeatureRow>, SessionReport) {
    match engine.session(day(date), None, None).await.unwrap() {
        SessionOutcome::Computed { session, .. } => (session.rows, session.report),
        SessionOutcome::Closed { reason, .. } => panic!("closed: {reason}"),
    }
}

fn ats(rows: &[FeatureRow], symbol: &str) -> Feature {
    rows.iter()
        .find(|r| r.symbol == symbol)
        .unwrap_or_else(|| panic!("no row for {symbol}"))
        .ats_share_of_total
}

const SYMBOLS: [&str; 4] = ["AAPL", "BRK/B", "XYZ", "ZZZZ"];

#[tokio::test]
async fn a_2021_week_is_filled_from_weekly_summary_historic() {
    let api = FinraApi::start().await;
    window(&api);
    historic(&api);
    let dir = TempDir::new().unwrap();
    mirror(dir.path(), &[HISTORIC_WEEK, "2021-06-08"], &SYMBOLS);
    let engine = Engine::new(settings(dir.path(), &api, None)).unwrap();

    let (rows, report) = rows_of(&engine, HISTORIC_WEEK).await;
    assert_eq!(ats(&rows, "AAPL"), Feature::Value(300.0 / 1200.0));
    assert_eq!(ats(&rows, "BRK/B"), Feature::Value(0.25), "BRK.B -> BRK/B");
    assert_eq!(ats(&rows, "XYZ"), Feature::Value(0.5));
    assert_eq!(
        ats(&rows, "ZZZZ"),
        Feature::Value(0.0),
        "OTC only: a true 0"
    );
    let files: Vec<&str> = report.files.iter().map(|f| f.file.as_str()).collect();
    assert!(
        files.contains(&"weeklySummaryHistoric 2021-06-07 T1"),
        "{files:?}"
    );
    assert!(
        !report.lines().iter().any(|l| l.text.contains("awaited")),
        "a historic week is complete, not awaited: {:?}",
        report.lines()
    );

    // Historic requests: one time filter and the tier, nothing else (FINRA refuses other
    // filters there); weeklySummary is never asked for the 2021 week.
    let historic = api.historic_requests();
    assert_eq!(historic.len(), 3, "one per tier: {historic:?}");
    for body in &historic {
        assert!(body.get("domainFilters").is_none(), "{body}");
    }
    for body in api.data_requests() {
        assert!(!body.to_string().contains(HISTORIC_WEEK), "{body}");
    }

    // The next session of the week reuses the week read (no new request).
    let (rows, _) = rows_of(&engine, "2021-06-08").await;
    assert_eq!(ats(&rows, "AAPL"), Feature::Value(0.25));
    assert_eq!(api.historic_requests().len(), 3);
}

#[tokio::test]
async fn a_static_historic_week_is_read_once_then_served_from_the_cache() {
    let api = FinraApi::start().await;
    window(&api);
    historic(&api);
    let dir = TempDir::new().unwrap();
    mirror(dir.path(), &[HISTORIC_WEEK], &SYMBOLS);
    let cache = TempDir::new().unwrap();
    let cached = || {
        Engine::new(settings(dir.path(), &api, None))
            .unwrap()
            .with_cache(Some(RawCache::new(cache.path(), Duration::ZERO)), true)
    };
    let (first, _) = rows_of(&cached(), HISTORIC_WEEK).await;
    assert_eq!(api.historic_requests().len(), 3);
    // A new engine (a new process): the week comes from the cache, equal to the first read.
    let (second, report) = rows_of(&cached(), HISTORIC_WEEK).await;
    assert_eq!(api.historic_requests().len(), 3, "no new historic request");
    assert_eq!(first, second);
    assert_eq!(ats(&second, "BRK/B"), Feature::Value(0.25));
    assert!(report
        .files
        .iter()
        .any(|f| f.file == "weeklySummaryHistoric 2021-06-07 T2"));
}

#[tokio::test]
async fn with_credentials_the_token_is_fetched_once_reused_and_renewed_on_401() {
    let api = FinraApi::start().await;
    window(&api);
    historic(&api);
    api.require_credentials("offx-test", "s3cret-value");
    let dir = TempDir::new().unwrap();
    mirror(
        dir.path(),
        &[HISTORIC_WEEK, WINDOW_WEEK, "2022-01-04"],
        &SYMBOLS,
    );
    let engine = Engine::new(settings(
        dir.path(),
        &api,
        Some(("offx-test", "s3cret-value")),
    ))
    .unwrap();

    let (rows, _) = rows_of(&engine, WINDOW_WEEK).await;
    assert_eq!(ats(&rows, "AAPL"), Feature::Value(0.25));
    let (rows, _) = rows_of(&engine, HISTORIC_WEEK).await;
    assert_eq!(ats(&rows, "AAPL"), Feature::Value(0.25));
    assert_eq!(api.tokens_issued(), 1, "one token for every request so far");
    let data: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| !r.path.contains("oauth2"))
        .collect();
    assert!(data.len() >= 7, "partitions, 3 tiers, 3 historic tiers");
    assert!(data
        .iter()
        .all(|r| r.header("authorization") == Some("Bearer fake-token-1")));
    let token_request = api
        .requests()
        .into_iter()
        .find(|r| r.path.contains("oauth2"))
        .unwrap();
    assert_eq!(token_request.method, "POST");
    assert!(token_request
        .header("authorization")
        .is_some_and(|h| h.starts_with("Basic ")));

    // FINRA revokes the token: the next request gets 401, a new token is fetched, the request
    // is sent again, and the session succeeds.
    api.revoke_tokens();
    let mut report = SessionReport::default();
    let load = engine
        .load_ats_fresh(day(WINDOW_WEEK), &mut report)
        .await
        .unwrap();
    assert!(load.week.is_some());
    assert_eq!(api.tokens_issued(), 2);
    assert_eq!(
        api.requests().last().unwrap().header("authorization"),
        Some("Bearer fake-token-2")
    );
}

#[tokio::test]
async fn refusals_say_whether_credentials_would_help_and_never_show_the_secret() {
    let api = FinraApi::start().await;
    window(&api);
    api.require_credentials("offx-test", "s3cret-value");
    let dir = TempDir::new().unwrap();
    mirror(dir.path(), &[WINDOW_WEEK], &SYMBOLS);

    // Anonymous against an API that wants credentials: 401, and the hint.
    let anonymous = Engine::new(settings(dir.path(), &api, None)).unwrap();
    let error = anonymous
        .session(day(WINDOW_WEEK), None, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("401"), "{error}");
    assert!(
        error.contains("FINRA_API_CLIENT_ID") && error.contains("FINRA_API_CLIENT_SECRET"),
        "{error}"
    );

    // A wrong secret: FINRA's token endpoint answers 400 invalid_client; named, not shown.
    let wrong = Engine::new(settings(
        dir.path(),
        &api,
        Some(("offx-test", "wrong-s3cret")),
    ))
    .unwrap();
    let error = wrong
        .session(day(WINDOW_WEEK), None, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("Invalid Credentials"), "{error}");
    assert!(error.contains("FINRA_API_CLIENT_ID offx-test"), "{error}");
    assert!(!error.contains("wrong-s3cret"), "{error}");
    assert_eq!(api.tokens_issued(), 0);
}
