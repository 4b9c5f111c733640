//! Hostile answers from real local servers: redirects to another origin (the key and the rows
//! must never reach it), bodies over the cap (plain, gzip, endless, a 2 GiB `Content-Length`),
//! and the peak memory of a fetch against them, measured in a child process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use offexchange::config::{HttpSettings, Settings, ENV_MAX_BODY_BYTES};
use offexchange::parse::regsho;
use offexchange::source::{Fetched, FinraApi, HttpClient, Source, SourceError};
use offexchange::store::{ApiKey, Store, SupabaseSettings, SupabaseStore};
use offx_testkit::hostile::{gzip, peak_rss_bytes, Hostile, HostileServer};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PATH: &str = "/regsho/daily/CNMSshvol20240401.txt";
const GOOD: &str = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n20240401|AAPL|10|0|40|B,Q,N\r\n1\r\n";
/// A service-role JWT ({"role":"service_role"}); what must never reach another host.
const KEY: &str = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2VjcmV0LXNpZ25hdHVyZQ";
const CAP: u64 = 1 << 20;

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
}

fn http(retries: u32, cap: u64) -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_secs(20),
        retries,
        backoff: Duration::ZERO,
        max_body_bytes: cap,
        ..HttpSettings::default()
    }
}

fn source(base: &str, retries: u32, cap: u64) -> Source {
    Source::new(&Settings {
        base_url: base.parse().unwrap(),
        http: http(retries, cap),
        ..Settings::default()
    })
    .unwrap()
}

async fn fetch(source: &Source) -> Result<Fetched<regsho::RegShoFile>, SourceError> {
    source
        .fetch(&PATH[1..], |b| {
            regsho::parse("CNMSshvol20240401.txt", date(), b)
        })
        .await
}

/// Counts every request it gets, answering 200 with a body that holds nothing secret.
struct Counter(Arc<AtomicUsize>);

impl Respond for Counter {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_string("[]")
    }
}

/// A second origin (another port on 127.0.0.1) and how many requests reached it.
async fn elsewhere() -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    Mock::given(any())
        .respond_with(Counter(Arc::clone(&hits)))
        .mount(&server)
        .await;
    (server, hits)
}

/// A server answering every request with `status` and `Location: target`.
async fn redirecting(status: u16, target: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).insert_header("location", target))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn supabase_never_follows_a_redirect_with_the_key() {
    let (other, hits) = elsewhere().await;
    let target = format!("{}/rest/v1/daily_features", other.uri());
    for status in [301, 302, 307, 308] {
        let project = redirecting(status, &target).await;
        let store = SupabaseStore::new(
            &project.uri(),
            ApiKey::new(KEY),
            SupabaseSettings {
                retries: 2,
                backoff: Duration::ZERO,
                ..SupabaseSettings::default()
            },
        )
        .unwrap();
        let err = store.read(date()).await.unwrap_err().to_string();
        let other_host = other.address().to_string();
        assert!(err.contains(&other_host), "names the target: {err}");
        assert!(!err.contains(KEY) && !err.contains("c2VjcmV0"), "{err}");
        assert!(err.contains(&format!("HTTP {status}")), "{err}");
        let received = project.received_requests().await.unwrap();
        assert_eq!(received.len(), 1, "a redirect is permanent, not retried");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the other origin got nothing"
    );
}

#[tokio::test]
async fn finra_cdn_refuses_a_redirect_to_another_origin() {
    let (other, hits) = elsewhere().await;
    let cdn = redirecting(302, &format!("{}{PATH}", other.uri())).await;
    let err = fetch(&source(&cdn.uri(), 2, CAP)).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&other.address().to_string()), "{text}");
    assert!(text.contains("another host or port"), "{text}");
    assert!(
        matches!(&err, SourceError::Http(e) if e.attempts == 1),
        "{text}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn finra_cdn_follows_a_redirect_on_its_own_origin() {
    let cdn = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/old/CNMSshvol20240401.txt"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", PATH))
        .mount(&cdn)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(GOOD))
        .mount(&cdn)
        .await;
    let source = source(&cdn.uri(), 0, CAP);
    let fetched = source
        .fetch("old/CNMSshvol20240401.txt", |b| {
            regsho::parse("CNMSshvol20240401.txt", date(), b)
        })
        .await
        .unwrap();
    assert!(matches!(fetched, Fetched::Published(f) if f.rows.len() == 1));
}

#[tokio::test]
async fn query_api_refuses_a_redirect_to_another_origin() {
    let (other, hits) = elsewhere().await;
    let api = redirecting(307, &format!("{}/elsewhere", other.uri())).await;
    let client = HttpClient::new(&api.uri().parse().unwrap(), &http(2, CAP)).unwrap();
    let err = FinraApi::new(client)
        .fetch_partitions()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&other.address().to_string()), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn credentials_in_the_base_url_are_not_printed() {
    let cdn = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .mount(&cdn)
        .await;
    let base = cdn
        .uri()
        .replace("http://", "http://mirror-user:hunter2secret@");
    let source = source(&base, 0, CAP);
    let err = fetch(&source).await.unwrap_err().to_string();
    assert!(!err.contains("hunter2secret"), "{err}");
    assert!(err.contains("mirror-user:***@"), "{err}");
}

fn assert_over_cap(err: &SourceError, cap: u64) {
    let text = err.to_string();
    assert!(text.contains(&format!("{cap}-byte limit")), "{text}");
    assert!(text.contains(ENV_MAX_BODY_BYTES), "{text}");
    assert!(text.contains("127.0.0.1"), "names the URL: {text}");
    assert!(
        matches!(err, SourceError::Http(e) if e.attempts == 1),
        "permanent, not retried: {text}"
    );
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let cdn = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 2 << 20]))
        .mount(&cdn)
        .await;
    let err = fetch(&source(&cdn.uri(), 2, CAP)).await.unwrap_err();
    assert_over_cap(&err, CAP);
}

#[tokio::test]
async fn a_small_gzip_body_that_inflates_past_the_cap_is_refused() {
    let inflated = GOOD.repeat((8 << 20) / GOOD.len());
    let compressed = gzip(inflated.as_bytes());
    assert!(
        compressed.len() < (CAP as usize) / 4,
        "{}",
        compressed.len()
    );
    let cdn = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .set_body_bytes(compressed),
        )
        .mount(&cdn)
        .await;
    let err = fetch(&source(&cdn.uri(), 2, CAP)).await.unwrap_err();
    assert_over_cap(&err, CAP);
}

#[tokio::test]
async fn endless_bodies_stop_at_the_cap() {
    for kind in [
        Hostile::EndlessPlain,
        Hostile::EndlessGzip,
        Hostile::DeclaredHuge,
    ] {
        let server = HostileServer::start(kind);
        let err = fetch(&source(&server.uri(), 2, CAP)).await.unwrap_err();
        assert_over_cap(&err, CAP);
        assert_eq!(server.requests(), 1, "{kind:?}");
        // The body never ends: any error at all proves the read stopped on its own.
    }
}

#[tokio::test]
async fn a_query_api_page_over_the_cap_is_refused() {
    let server = HostileServer::start(Hostile::EndlessGzip);
    let client = HttpClient::new(&server.uri().parse().unwrap(), &http(2, CAP)).unwrap();
    let err = FinraApi::new(client).fetch_partitions().await.unwrap_err();
    assert_over_cap(&err, CAP);
}

#[tokio::test]
async fn a_supabase_read_over_the_cap_is_refused() {
    let server = HostileServer::start(Hostile::EndlessPlain);
    let store = SupabaseStore::new(
        &server.uri(),
        ApiKey::new(KEY),
        SupabaseSettings {
            retries: 2,
            backoff: Duration::ZERO,
            ..SupabaseSettings::default()
        },
    )
    .unwrap();
    let err = store.read(date()).await.unwrap_err().to_string();
    assert!(err.contains("-byte limit"), "{err}");
    assert_eq!(server.requests(), 1, "not retried");
}

const CHILD_ENV: &str = "OFFX_HOSTILE_CHILD_URL";

/// Runs in a child process (see below): one fetch with the default cap, then the peak RSS.
#[tokio::test]
async fn child_fetch_with_default_cap() {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return;
    };
    let source = Source::new(&Settings {
        base_url: url.parse().unwrap(),
        http: http(0, HttpSettings::default().max_body_bytes),
        ..Settings::default()
    })
    .unwrap();
    let err = fetch(&source).await.unwrap_err();
    assert!(err.to_string().contains("-byte limit"), "{err}");
    println!("PEAK_RSS={}", peak_rss_bytes().unwrap_or(0));
}

#[test]
fn peak_memory_on_hostile_bodies_stays_under_256_mb() {
    if peak_rss_bytes().is_none() {
        eprintln!("SKIPPED: no /proc/self/status here");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for kind in [
        Hostile::EndlessPlain,
        Hostile::EndlessGzip,
        Hostile::DeclaredHuge,
    ] {
        let server = HostileServer::start(kind);
        let out = std::process::Command::new(&exe)
            .args([
                "child_fetch_with_default_cap",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, server.uri())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{kind:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let peak: u64 = stdout
            .lines()
            .find_map(|l| l.split_once("PEAK_RSS=").map(|(_, v)| v))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{kind:?}: no PEAK_RSS in {stdout}"));
        eprintln!(
            "{kind:?}: peak RSS {} MiB, server wrote {} MiB decoded",
            peak >> 20,
            server.decoded_sent() >> 20
        );
        assert!(peak > 0 && peak <= 256 << 20, "{kind:?}: peak {peak} bytes");
    }
}

#[tokio::test]
async fn credentials_in_the_api_base_url_are_not_printed() {
    let api = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(400).set_body_string(r#"{"message":"bad"}"#))
        .mount(&api)
        .await;
    let base = api
        .uri()
        .replace("http://", "http://api-user:hunter2secret@");
    let client = HttpClient::new(&base.parse().unwrap(), &http(0, CAP)).unwrap();
    let err = FinraApi::new(client)
        .fetch_partitions()
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2secret"), "{err}");
    assert!(err.contains("api-user:***@"), "{err}");
}
