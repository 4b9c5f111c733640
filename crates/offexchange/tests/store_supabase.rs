//! The Supabase REST store's wire contract, checked request by request against a real HTTP server
//! on 127.0.0.1 (wiremock) that replays PostgREST's answers.
//!
//! No PostgREST can run here, so this file pins down what the store sends and how it reads what
//! comes back; the PostgREST side follows its documentation (tables_views, errors, preferences):
//!
//! Every request: `apikey: <key>`; `Authorization: Bearer <key>` when the key is a JWT (legacy
//! anon / service_role keys), not for the new `sb_...` keys, which Supabase refuses as bearer.
//!
//! Upsert, per batch (at most `batch_size` rows, rows grouped by which cells are pending):
//! ```text
//! POST /rest/v1/daily_features?on_conflict=symbol,trade_date&columns=symbol,trade_date,<features>
//! Content-Type: application/json
//! Prefer: resolution=merge-duplicates,return=minimal
//! [{"symbol":"BRK/B","trade_date":"2024-04-01","short_vol_share":0.5,"short_exempt_share":null}]
//! -> 201 Created, empty body
//! ```
//! A pending cell is absent from the object (PostgREST's merge then leaves the column alone);
//! null is sent as `null` (and overwrites).
//!
//! Discovery and reads:
//! ```text
//! GET /rest/v1/daily_features?select=symbol&trade_date=eq.2024-04-01
//!     [&or=(short_vol_share.is.null,short_exempt_share.is.null,ats_share_of_total.is.null)]
//!     &order=symbol.asc&limit=1000&offset=<rows so far>
//! -> 200, a JSON array, Content-Range: 0-999/*
//! ```
//! until an empty page, or a short page once a full one has shown the server does not cap pages
//! below `limit` (PostgREST's `db-max-rows`).
//!
//! `ats_weekly` the same way at `/rest/v1/ats_weekly` (`on_conflict=symbol,week_start`, every
//! column in every object, shares as exact decimal strings); `init` checks both tables.
//!
//! Errors: PostgREST's body `{"code","details","hint","message"}` becomes one line with the
//! status, the code and all four fields. 401/403/404/409/400 are final; 408, 429, 5xx, timeouts
//! and connection errors are retried with exponential backoff, then reported with the number of
//! attempts. The key never appears in an error, a `Debug` or a log line.

mod store_support;

use std::time::Duration;

use offexchange::store::{self, ApiKey, Discovery, Store, SupabaseSettings, SupabaseStore};
use offexchange::Feature::{Null, Pending, Value};
use serde_json::json;
use store_support::postgrest::{
    pgrst_error, FakePostgrest, ATS_PATH, KEY, PREFER, RPC_PATH, TABLE_PATH,
};
use store_support::{date, row, rows};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

const ALL_COLUMNS: &str = "symbol,trade_date,short_vol_share,short_exempt_share,ats_share_of_total";

fn settings() -> SupabaseSettings {
    SupabaseSettings {
        retries: 2,
        backoff: Duration::from_millis(5),
        timeout: Duration::from_secs(5),
        ..SupabaseSettings::default()
    }
}

fn store_at(server: &MockServer, settings: SupabaseSettings) -> SupabaseStore {
    SupabaseStore::new(&server.uri(), ApiKey::new(KEY), settings).expect("store")
}

/// The query string, exactly these pairs (in any order), nothing more.
fn query_is(expected: &[(&str, &str)]) -> impl Fn(&Request) -> bool + Send + Sync + 'static {
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    move |r: &Request| {
        let mut got: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
        got.sort();
        got == want
    }
}

/// The header, exactly this raw value (wiremock's `header` splits values at commas).
fn header_is(
    name: &'static str,
    value: impl Into<String>,
) -> impl Fn(&Request) -> bool + Send + Sync + 'static {
    let value = value.into();
    move |r: &Request| r.headers.get(name).and_then(|v| v.to_str().ok()) == Some(value.as_str())
}

fn no_header(name: &'static str) -> impl Fn(&Request) -> bool + Send + Sync + 'static {
    move |r: &Request| !r.headers.contains_key(name)
}

/// A POST the store must send exactly like this.
fn upsert_mock(columns: &str, body: serde_json::Value) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .and(query_is(&[
            ("on_conflict", "symbol,trade_date"),
            ("columns", columns),
        ]))
        .and(header_is("apikey", KEY))
        .and(header_is("authorization", format!("Bearer {KEY}")))
        .and(header_is("content-type", "application/json"))
        .and(header_is("prefer", PREFER))
        .and(body_json(body))
}

#[tokio::test]
async fn upsert_sends_the_documented_requests() {
    let server = MockServer::start().await;
    let d = date(2024, 4, 1);
    upsert_mock(
        ALL_COLUMNS,
        json!([{"symbol": "AAPL", "trade_date": "2024-04-01", "short_vol_share": 0.5,
                "short_exempt_share": 0.0, "ats_share_of_total": null}]),
    )
    .respond_with(ResponseTemplate::new(201).insert_header("Content-Range", "*/*"))
    .expect(1)
    .mount(&server)
    .await;
    upsert_mock(
        "symbol,trade_date,short_vol_share,short_exempt_share",
        json!([{"symbol": "BRK/B", "trade_date": "2024-04-01", "short_vol_share": 0.25,
                "short_exempt_share": null},
               {"symbol": "CpK", "trade_date": "2024-04-01", "short_vol_share": 1.0,
                "short_exempt_share": 0.125}]),
    )
    .respond_with(ResponseTemplate::new(201))
    .expect(1)
    .mount(&server)
    .await;
    upsert_mock(
        "symbol,trade_date",
        json!([{"symbol": "NEW", "trade_date": "2024-04-01"}]),
    )
    .respond_with(ResponseTemplate::new(201))
    .expect(1)
    .mount(&server)
    .await;

    let store = store_at(&server, settings());
    let summary = store
        .upsert(
            d,
            &[
                row("BRK/B", d, [Value(0.25), Null, Pending]),
                row("AAPL", d, [Value(0.5), Value(0.0), Null]),
                row("NEW", d, [Pending, Pending, Pending]),
                row("CpK", d, [Value(1.0), Value(0.125), Pending]),
            ],
        )
        .await
        .expect("upsert");
    assert_eq!((summary.rows, summary.batches), (4, 3));
    // PostgREST with return=minimal does not say which rows were new.
    assert_eq!((summary.inserted, summary.updated), (0, 0));
}

#[tokio::test]
async fn batches_hold_at_most_batch_size_rows() {
    let (server, _fake) = FakePostgrest::start().await;
    let d = date(2024, 4, 1);
    let store = store_at(
        &server,
        SupabaseSettings {
            batch_size: 400,
            ..settings()
        },
    );
    let summary = store.upsert(d, &rows(1_000, d, 0.2)).await.expect("upsert");
    assert_eq!(summary.batches, 3);
    let posted: Vec<usize> = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == TABLE_PATH)
        .map(|r| {
            let body: Vec<serde_json::Value> = serde_json::from_slice(&r.body).expect("JSON");
            body.len()
        })
        .collect();
    // Rows whose ats_share_of_total is null and those with a value share the same keys.
    assert_eq!(posted, vec![400, 400, 200]);
}

#[tokio::test]
async fn with_the_upsert_function_a_date_is_one_transaction() {
    let (server, fake) = FakePostgrest::start().await;
    fake.add_upsert_function(&server).await;
    let d = date(2024, 4, 1);
    let store = store_at(
        &server,
        SupabaseSettings {
            batch_size: 400,
            ..settings()
        },
    );
    let summary = store.upsert(d, &rows(1_000, d, 0.2)).await.expect("upsert");
    assert_eq!((summary.rows, summary.batches), (1_000, 1));
    assert_eq!(fake.function_calls(), 1, "the whole date in one call");
    assert_eq!(fake.requests(), 0, "no batch was posted");
    assert_eq!(store.read(d).await.expect("read").len(), 1_000);

    // A pending cell keeps its stored value.
    let before = store.read(d).await.expect("read");
    let mut next = rows(2, d, 0.4);
    next[0].short_vol_share = Pending;
    store.upsert(d, &next).await.expect("pending kept");
    let stored = store.read(d).await.expect("read");
    assert_eq!(stored[0].short_vol_share, before[0].short_vol_share);
    assert_eq!(stored[1].short_vol_share, next[1].short_vol_share.value());
    // The database refuses a row (a CHECK): nothing of the date changes.
    fake.script(pgrst_error(
        400,
        "23514",
        "violates check constraint",
        None,
        None,
    ));
    let e = store
        .upsert(d, &rows(3, d, 0.9))
        .await
        .expect_err("refused");
    assert!(
        e.to_string().contains("rolled back, nothing written"),
        "{e}"
    );
    assert_eq!(store.read(d).await.expect("read"), stored);
}

#[tokio::test]
async fn without_the_upsert_function_dates_go_in_batches() {
    let (server, fake) = FakePostgrest::start().await;
    let d = date(2024, 4, 1);
    let store = store_at(
        &server,
        SupabaseSettings {
            batch_size: 400,
            ..settings()
        },
    );
    store.upsert(d, &rows(1_000, d, 0.2)).await.expect("upsert");
    store.upsert(d, &rows(1_000, d, 0.3)).await.expect("again");
    let calls = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.url.path() == RPC_PATH)
        .count();
    assert_eq!(calls, 1, "asked once, then remembered as absent");
    assert_eq!(fake.requests(), 6, "3 batches per date");
}

fn page(symbols: std::ops::Range<usize>) -> ResponseTemplate {
    let body: Vec<_> = symbols
        .map(|i| json!({ "symbol": format!("S{i:05}") }))
        .collect();
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn discovery_pages_with_limit_and_offset() {
    let server = MockServer::start().await;
    let missing = "(short_vol_share.is.null,short_exempt_share.is.null,ats_share_of_total.is.null)";
    for (offset, rows) in [("0", 0..1000), ("1000", 1000..2000), ("2000", 2000..2345)] {
        Mock::given(method("GET"))
            .and(path(TABLE_PATH))
            .and(query_is(&[
                ("select", "symbol"),
                ("trade_date", "eq.2024-04-01"),
                ("or", missing),
                ("order", "symbol.asc"),
                ("limit", "1000"),
                ("offset", offset),
            ]))
            .and(header_is("apikey", KEY))
            .and(header_is("authorization", format!("Bearer {KEY}")))
            .and(no_header("prefer"))
            .respond_with(page(rows))
            .expect(1)
            .mount(&server)
            .await;
    }
    let store = store_at(&server, settings());
    let found = store
        .discover_symbols(date(2024, 4, 1), Discovery::MissingFeatures)
        .await
        .expect("discover");
    assert_eq!(found.len(), 2345);
    assert_eq!(found[2344], "S02344");
}

#[tokio::test]
async fn a_server_capping_pages_below_the_limit_is_still_read_whole() {
    let (server, _fake) = FakePostgrest::start_with_max_rows(300).await;
    let d = date(2024, 4, 1);
    let store = store_at(&server, settings());
    store.upsert(d, &rows(1_234, d, 0.5)).await.expect("upsert");
    let found = store.discover_symbols(d, Discovery::All).await;
    assert_eq!(found.expect("discover").len(), 1_234);
    assert_eq!(store.read(d).await.expect("read").len(), 1_234);
}

#[tokio::test]
async fn small_and_empty_dates_cost_two_and_one_requests() {
    let (server, fake) = FakePostgrest::start().await;
    let d = date(2024, 4, 1);
    let store = store_at(&server, settings());
    store.upsert(d, &rows(10, d, 0.5)).await.expect("upsert");
    let before = fake.requests();
    assert_eq!(
        store
            .discover_symbols(d, Discovery::All)
            .await
            .expect("x")
            .len(),
        10
    );
    assert_eq!(
        fake.requests() - before,
        2,
        "a short first page is confirmed once"
    );
    let before = fake.requests();
    let none = store
        .discover_symbols(date(2024, 4, 2), Discovery::All)
        .await;
    assert!(none.expect("empty").is_empty());
    assert_eq!(fake.requests() - before, 1);
}

#[tokio::test]
async fn the_extra_column_of_a_row_is_left_alone() {
    let (server, fake) = FakePostgrest::start().await;
    let d = date(2024, 4, 1);
    let store = store_at(&server, settings());
    store
        .upsert(d, &[row("AAPL", d, [Value(0.5), Null, Null])])
        .await
        .expect("insert");
    fake.set_note("2024-04-01", "AAPL", "hand-written");
    store
        .upsert(d, &[row("AAPL", d, [Value(0.7), Pending, Null])])
        .await
        .expect("update");
    assert_eq!(fake.note("2024-04-01", "AAPL"), Some(json!("hand-written")));
}

/// A store whose next request gets `answer`, and the error the upsert ends with.
async fn upsert_error(answer: ResponseTemplate, retries: u32) -> (String, usize) {
    let (server, fake) = FakePostgrest::start().await;
    let store = store_at(
        &server,
        SupabaseSettings {
            retries,
            ..settings()
        },
    );
    for _ in 0..=retries {
        fake.script(answer.clone());
    }
    let d = date(2024, 4, 1);
    let e = store
        .upsert(d, &[row("AAPL", d, [Value(0.5), Null, Null])])
        .await
        .expect_err("the answer is an error");
    (e.to_string(), fake.requests())
}

#[tokio::test]
async fn a_401_is_final_and_readable() {
    let answer = pgrst_error(401, "PGRST301", "JWT expired", None, None);
    let (text, requests) = upsert_error(answer, 2).await;
    assert_eq!(requests, 1, "401 is not retried");
    assert!(
        text.contains("POST /rest/v1/daily_features?on_conflict=symbol%2Ctrade_date"),
        "{text}"
    );
    assert!(
        text.contains("HTTP 401 PGRST301: JWT expired (1 attempt(s))"),
        "{text}"
    );
    assert!(text.contains("the API key was refused"), "{text}");
    assert!(
        text.contains("[permanent: retrying will not help]"),
        "{text}"
    );
    assert!(!text.contains(KEY), "{text}");
}

#[tokio::test]
async fn a_409_carries_postgres_details() {
    let answer = pgrst_error(
        409,
        "23505",
        "duplicate key value violates unique constraint \"daily_features_pkey\"",
        Some("Key (symbol, trade_date)=(AAPL, 2024-04-01) already exists."),
        None,
    );
    let (text, requests) = upsert_error(answer, 2).await;
    assert_eq!(requests, 1);
    assert!(
        text.contains(
            "HTTP 409 23505: duplicate key value violates unique constraint \
             \"daily_features_pkey\" (Key (symbol, trade_date)=(AAPL, 2024-04-01) already exists.)"
        ),
        "{text}"
    );
    assert!(
        text.contains("stopped at batch 1 of 1; 0 batch(es), 0 row(s) were committed"),
        "{text}"
    );
}

#[tokio::test]
async fn a_check_violation_midway_names_what_was_committed() {
    let (server, fake) = FakePostgrest::start().await;
    let store = store_at(
        &server,
        SupabaseSettings {
            batch_size: 2,
            ..settings()
        },
    );
    let d = date(2024, 4, 1);
    let first = rows(2, d, 0.1);
    store.upsert(d, &first).await.expect("warm up");
    // Second upsert: batch 1 goes through, batch 2 meets a CHECK violation (as PostgREST says
    // it: 400 with SQLSTATE 23514).
    fake.script(ResponseTemplate::new(201));
    fake.script(pgrst_error(
        400,
        "23514",
        "new row for relation \"daily_features\" violates check constraint \
         \"daily_features_short_vol_share_check\"",
        Some("Failing row contains (X, 2024-04-01, 1.5, null, null)."),
        None,
    ));
    let e = store
        .upsert(d, &rows(4, d, 0.3))
        .await
        .expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("stopped at batch 2 of 2; 1 batch(es), 2 row(s) were committed"),
        "{text}"
    );
    assert!(
        text.contains("HTTP 400 23514: new row for relation"),
        "{text}"
    );
    assert!(text.contains("re-running the date is safe"), "{text}");
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let answer = pgrst_error(
        503,
        "PGRST001",
        "Database client error. Retrying the connection.",
        None,
        None,
    );
    let (text, requests) = upsert_error(answer, 2).await;
    assert_eq!(requests, 3, "one attempt and two retries");
    assert!(text.contains("HTTP 503 PGRST001"), "{text}");
    assert!(text.contains("(3 attempt(s))"), "{text}");
    assert!(text.contains("[transient: retrying may help]"), "{text}");
}

#[tokio::test]
async fn a_500_then_success_is_a_success() {
    let (server, fake) = FakePostgrest::start().await;
    fake.script(pgrst_error(500, "XX000", "internal error", None, None));
    fake.script(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"));
    let store = store_at(&server, settings());
    let d = date(2024, 4, 1);
    store
        .upsert(d, &[row("AAPL", d, [Value(0.5), Null, Null])])
        .await
        .expect("the third attempt succeeds");
    assert_eq!(fake.requests(), 3);
    assert_eq!(store.read(d).await.expect("read").len(), 1);
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let (server, fake) = FakePostgrest::start().await;
    fake.script(ResponseTemplate::new(201).set_delay(Duration::from_secs(3)));
    let store = store_at(
        &server,
        SupabaseSettings {
            timeout: Duration::from_millis(300),
            ..settings()
        },
    );
    let d = date(2024, 4, 1);
    store
        .upsert(d, &[row("AAPL", d, [Value(0.5), Null, Null])])
        .await
        .expect("the retry succeeds");
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn a_missing_table_says_how_to_create_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE_PATH))
        .respond_with(pgrst_error(
            404,
            "PGRST205",
            "Could not find the table 'public.daily_features' in the schema cache",
            None,
            Some("Perhaps you meant the table 'public.daily_prices'"),
        ))
        .mount(&server)
        .await;
    let e = store_at(&server, settings())
        .init()
        .await
        .expect_err("no table");
    let text = e.to_string();
    assert!(
        text.contains("HTTP 404 PGRST205: Could not find the table"),
        "{text}"
    );
    assert!(text.contains("hint: Perhaps you meant"), "{text}");
    assert!(text.contains("migrations/001_daily_features.sql"), "{text}");
}

#[tokio::test]
async fn a_missing_ats_weekly_says_which_migration_creates_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ATS_PATH))
        .respond_with(pgrst_error(
            404,
            "PGRST205",
            "Could not find the table 'public.ats_weekly' in the schema cache",
            None,
            None,
        ))
        .mount(&server)
        .await;
    let e = store_at(&server, settings())
        .init()
        .await
        .expect_err("no ats_weekly");
    let text = e.to_string();
    assert!(text.contains("checking ats_weekly"), "{text}");
    assert!(text.contains("migrations/002_ats_weekly.sql"), "{text}");
}

/// `ats_weekly` on the wire: every column in each object, shares as exact decimal strings.
#[tokio::test]
async fn ats_weekly_upsert_sends_exact_decimal_strings() {
    use offexchange::parse::ats::Carrier;
    use offexchange::store::AtsWeeklyRow;
    use offexchange::volume::Volume;

    let server = MockServer::start().await;
    let week = date(2024, 4, 1);
    Mock::given(method("POST"))
        .and(path(ATS_PATH))
        .and(query_is(&[
            ("on_conflict", "symbol,week_start"),
            (
                "columns",
                "symbol,week_start,tier,ats_shares,otc_shares,last_update_date,\
                 initial_published_date,source",
            ),
        ]))
        .and(header_is("prefer", PREFER))
        .and(body_json(json!([{
            "symbol": "BRK/B",
            "week_start": "2024-04-01",
            "tier": "T1",
            "ats_shares": "10439495945.685266",
            "otc_shares": null,
            "last_update_date": "2024-04-29",
            "initial_published_date": "2024-04-22",
            "source": "api"
        }])))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let row = AtsWeeklyRow {
        symbol: "BRK/B".into(),
        week_start: week,
        tier: "T1".into(),
        ats_shares: Some(Volume::parse(b"10439495945.685266").unwrap()),
        otc_shares: None,
        last_update: Some(date(2024, 4, 29)),
        initial_published: Some(date(2024, 4, 22)),
        source: Carrier::Api,
    };
    let written = store_at(&server, settings())
        .upsert_ats_weekly(week, &[row])
        .await
        .expect("upsert");
    assert_eq!(written, 1);
}

#[tokio::test]
async fn new_style_keys_go_in_apikey_only() {
    let server = MockServer::start().await;
    let key = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz";
    Mock::given(method("GET"))
        .and(header_is("apikey", key))
        .and(no_header("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        // `init` checks daily_features, then ats_weekly.
        .expect(2)
        .mount(&server)
        .await;
    let env = |k: &str| match k {
        "NEXT_PUBLIC_SUPABASE_URL" => Some(server.uri()),
        "NEXT_PUBLIC_SUPABASE_ANON_KEY" => Some(key.to_string()),
        _ => None,
    };
    let store = store::open_with("supabase:", env).await.expect("open");
    assert_eq!(store.describe(), server.uri());
}

#[tokio::test]
async fn the_key_never_shows() {
    let server = MockServer::start().await;
    // A server that quotes the key back in its error (some proxies do).
    Mock::given(method("GET"))
        .respond_with(pgrst_error(
            401,
            "PGRST301",
            &format!("invalid token {KEY}"),
            Some(&format!("apikey={KEY}")),
            None,
        ))
        .mount(&server)
        .await;
    let store = store_at(&server, settings());
    let e = store.init().await.expect_err("refused");
    let shown = format!("{e} | {e:?} | {store:?} | {}", store.describe());
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("invalid token ***"), "{shown}");
    assert!(format!("{:?}", ApiKey::new(KEY)) == "ApiKey(***)");
    // Opening without a key names the variables to set, and nothing else.
    let Err(e) = store::open_with(&server.uri(), |_| None).await else {
        panic!("opened without a key");
    };
    assert!(e.to_string().contains("SUPABASE_SERVICE_ROLE_KEY"), "{e}");
}

/// `short_interest` on the wire: the ledger row first (`finra_files`), then the rows merged on
/// their key with every column; reads filter the version and quote each symbol.
#[tokio::test]
async fn short_interest_sends_the_ledger_then_the_rows_and_reads_one_version() {
    use offexchange::provenance::PublishedFrom;
    use offexchange::store::SourceVersion;
    use offexchange::ShortInterestRow;

    let server = MockServer::start().await;
    let settlement = date(2024, 1, 12);
    let published = "2024-01-24T22:30:00Z".parse().unwrap();
    let version = SourceVersion {
        dataset: "short_interest".into(),
        name: "shrt20240112.csv".into(),
        url: "https://cdn.finra.org/equity/otcmarket/biweekly/shrt20240112.csv".into(),
        sha256: "ab12".into(),
        bytes: 210,
        rows: 1,
        published_at: published,
        published_from: PublishedFrom::LastModified,
    };
    let row = ShortInterestRow {
        symbol: "BRK/B".into(),
        finra_symbol: "BRKB".into(),
        settlement_date: settlement,
        issue_name: "Berkshire Hathaway Inc. Class B".into(),
        market_class: "NYSE".into(),
        current_short: 9_007_199_254_740_993,
        previous_short: Some(6000),
        change_previous: None,
        change_percent: Some(16.67),
        average_daily_volume: Some(1),
        days_to_cover: Some(999.99),
        days_to_cover_capped: true,
        stock_split: None,
        revision: Some("R".into()),
        sha256: "ab12".into(),
        published_at: published,
        source: "shrt20240112.csv".into(),
    };
    Mock::given(method("POST"))
        .and(path("/rest/v1/finra_files"))
        .and(header_is("prefer", PREFER))
        .and(|r: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            body[0]["name"] == "shrt20240112.csv" && body[0]["sha256"] == "ab12"
        })
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let wire = json!([{
        "settlement_date": "2024-01-12", "symbol": "BRK/B", "sha256": "ab12",
        "finra_symbol": "BRKB", "issue_name": "Berkshire Hathaway Inc. Class B",
        "market_class": "NYSE", "current_short": 9_007_199_254_740_993_i64,
        "previous_short": 6000, "change_previous": null, "change_percent": 16.67,
        "average_daily_volume": 1, "days_to_cover": 999.99, "days_to_cover_capped": true,
        "stock_split": null, "revision": "R", "published_at": "2024-01-24T22:30:00Z",
        "source": "shrt20240112.csv"
    }]);
    let columns = "settlement_date,symbol,sha256,finra_symbol,issue_name,market_class,\
                   current_short,previous_short,change_previous,change_percent,\
                   average_daily_volume,days_to_cover,days_to_cover_capped,stock_split,\
                   revision,published_at,source";
    Mock::given(method("POST"))
        .and(path("/rest/v1/short_interest"))
        .and(query_is(&[
            ("on_conflict", "settlement_date,sha256,symbol"),
            ("columns", columns),
        ]))
        .and(header_is("prefer", PREFER))
        .and(body_json(wire.clone()))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let store = store_at(&server, settings());
    let written = store
        .commit_short_interest(settlement, &version, std::slice::from_ref(&row))
        .await
        .expect("commit");
    assert_eq!(written, 1);

    Mock::given(method("GET"))
        .and(path("/rest/v1/short_interest"))
        .and(|r: &Request| {
            let q: std::collections::HashMap<String, String> =
                r.url.query_pairs().into_owned().collect();
            q.get("settlement_date").map(String::as_str) == Some("eq.2024-01-12")
                && q.get("sha256").map(String::as_str) == Some("eq.ab12")
                && q.get("symbol").map(String::as_str) == Some(r#"in.("BRK/B","A,B")"#)
        })
        // PostgREST pages: the row at offset 0, nothing after it.
        .respond_with(move |r: &Request| {
            let first = r.url.query_pairs().any(|(k, v)| k == "offset" && v == "0");
            ResponseTemplate::new(200).set_body_json(if first { wire.clone() } else { json!([]) })
        })
        .mount(&server)
        .await;
    let read = store
        .read_short_interest(
            settlement,
            "ab12",
            Some(&["BRK/B".to_string(), "A,B".to_string()]),
        )
        .await
        .expect("read");
    assert_eq!(read, vec![row]);
}
