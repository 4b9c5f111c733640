//! The FINRA source against a real HTTP server on 127.0.0.1: how each answer is handled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use offexchange::config::{HttpSettings, Settings};
use offexchange::parse::regsho;
use offexchange::source::{Fetched, Source, SourceError};
use offx_testkit::S3_ACCESS_DENIED;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PATH: &str = "/regsho/daily/CNMSshvol20240401.txt";
const GOOD: &str = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n20240401|AAPL|10|0|40|B,Q,N\r\n20240401|BRK/B|1|0|4|Q\r\n2\r\n";
const TRUNCATED: &str = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n20240401|AAPL|10|0|40|B,Q,N\r\n2\r\n";

fn settings(server: &MockServer, retries: u32) -> Settings {
    Settings {
        base_url: server.uri().parse().unwrap(),
        http: HttpSettings {
            timeout: Duration::from_millis(500),
            retries,
            backoff: Duration::ZERO,
            user_agent: "offexchange-tests/1 (ops@example.test)".into(),
            ..HttpSettings::default()
        },
        ..Settings::default()
    }
}

async fn fetch(
    server: &MockServer,
    retries: u32,
) -> Result<Fetched<regsho::RegShoFile>, SourceError> {
    let source = Source::new(&settings(server, retries)).unwrap();
    let date = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    source
        .fetch(&PATH[1..], |b| {
            regsho::parse("CNMSshvol20240401.txt", date, b)
        })
        .await
}

/// Answers from a script, one entry per request, repeating the last one.
struct Script(Vec<ResponseTemplate>, Arc<AtomicUsize>);

impl Respond for Script {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.1.fetch_add(1, Ordering::SeqCst);
        self.0[n.min(self.0.len() - 1)].clone()
    }
}

async fn scripted(answers: Vec<ResponseTemplate>) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let count = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(Script(answers, Arc::clone(&count)))
        .mount(&server)
        .await;
    (server, count)
}

#[tokio::test]
async fn a_published_file_is_parsed_and_the_user_agent_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(header(
            "user-agent",
            "offexchange-tests/1 (ops@example.test)",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(GOOD))
        .expect(1)
        .mount(&server)
        .await;
    let Fetched::Published(file) = fetch(&server, 0).await.unwrap() else {
        panic!("expected a published file");
    };
    assert_eq!(file.rows.len(), 2);
    assert_eq!(file.rows[1].symbol, "BRK/B");
}

#[tokio::test]
async fn not_found_and_s3_access_denied_mean_not_published_without_retry() {
    for answer in [
        ResponseTemplate::new(404),
        ResponseTemplate::new(403).set_body_string(S3_ACCESS_DENIED),
    ] {
        let (server, count) = scripted(vec![answer]).await;
        assert_eq!(fetch(&server, 3).await.unwrap(), Fetched::NotPublished);
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "no retry for an unpublished file"
        );
    }
}

#[tokio::test]
async fn any_other_403_is_a_refusal_naming_the_user_agent_setting() {
    for body in ["<html><body><h1>Request blocked</h1></body></html>", ""] {
        let (server, count) =
            scripted(vec![ResponseTemplate::new(403).set_body_string(body)]).await;
        let err = fetch(&server, 3).await.unwrap_err();
        let SourceError::Http(http) = &err else {
            panic!("expected an HTTP error, got {err}");
        };
        assert_eq!(http.status, Some(403));
        assert_eq!(http.attempts, 1);
        assert!(err.to_string().contains("FINRA_HTTP_USER_AGENT"), "{err}");
        assert_eq!(count.load(Ordering::SeqCst), 1, "a refusal is not retried");
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_surface_with_url_status_and_attempts() {
    let (server, count) = scripted(vec![ResponseTemplate::new(503).set_body_string("busy")]).await;
    let err = fetch(&server, 2).await.unwrap_err();
    let SourceError::Http(http) = &err else {
        panic!("expected an HTTP error, got {err}");
    };
    assert_eq!(http.status, Some(503));
    assert_eq!(http.attempts, 3);
    assert!(http.url.ends_with(PATH), "{}", http.url);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_5xx_then_success_recovers() {
    let (server, count) = scripted(vec![
        ResponseTemplate::new(500),
        ResponseTemplate::new(502),
        ResponseTemplate::new(200).set_body_string(GOOD),
    ])
    .await;
    assert!(matches!(
        fetch(&server, 2).await.unwrap(),
        Fetched::Published(_)
    ));
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let (server, count) = scripted(vec![
        ResponseTemplate::new(429).insert_header("retry-after", "1"),
        ResponseTemplate::new(200).set_body_string(GOOD),
    ])
    .await;
    let started = Instant::now();
    assert!(matches!(
        fetch(&server, 1).await.unwrap(),
        Fetched::Published(_)
    ));
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn timeouts_are_retried_and_reported() {
    let slow = ResponseTemplate::new(200)
        .set_body_string(GOOD)
        .set_delay(Duration::from_secs(3));
    let (server, count) = scripted(vec![slow]).await;
    let err = fetch(&server, 1).await.unwrap_err();
    let SourceError::Http(http) = &err else {
        panic!("expected an HTTP error, got {err}");
    };
    assert_eq!(http.status, None);
    assert_eq!(http.attempts, 2);
    assert!(http.message.contains("timed out"), "{}", http.message);
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_truncated_download_is_fetched_again() {
    let (server, count) = scripted(vec![
        ResponseTemplate::new(200).set_body_string(TRUNCATED),
        ResponseTemplate::new(200).set_body_string(GOOD),
    ])
    .await;
    assert!(matches!(
        fetch(&server, 2).await.unwrap(),
        Fetched::Published(_)
    ));
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_file_truncated_every_time_fails_naming_the_file_and_both_counts() {
    let (server, count) =
        scripted(vec![ResponseTemplate::new(200).set_body_string(TRUNCATED)]).await;
    let err = fetch(&server, 2).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("CNMSshvol20240401.txt"), "{text}");
    assert!(text.contains("says 2 rows but 1 were read"), "{text}");
    assert!(text.contains("3 attempt(s)"), "{text}");
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_html_page_served_with_200_is_an_error_not_an_empty_file() {
    let html = "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head></html>\n";
    let (server, count) = scripted(vec![ResponseTemplate::new(200).set_body_string(html)]).await;
    let err = fetch(&server, 2).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("not a Reg SHO short sale volume file"),
        "{err}"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "a wrong body is not retried"
    );
}

#[tokio::test]
async fn connection_refused_is_retried_then_surfaces() {
    // A port that was free a moment ago: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = settings(&MockServer::start().await, 1);
    settings.base_url = format!("http://127.0.0.1:{port}/equity").parse().unwrap();
    let source = Source::new(&settings).unwrap();
    let date = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    let err = source
        .fetch(&PATH[1..], |b| regsho::parse("x", date, b))
        .await
        .unwrap_err();
    let SourceError::Http(http) = &err else {
        panic!("expected an HTTP error, got {err}");
    };
    assert_eq!((http.status, http.attempts), (None, 2));
}
