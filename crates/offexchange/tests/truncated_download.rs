//! A Reg SHO body cut short: retried like a network error, never cached, and the real files
//! (all ending with a line end) still accepted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use offexchange::config::{HttpSettings, Settings};
use offexchange::parse::{regsho, ParseError};
use offexchange::source::cache::{fetch_through, CacheUse, RawCache};
use offexchange::source::{Fetched, Source, SourceError};
use offx_testkit::realdata;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PATH: &str = "/regsho/daily/CNMSshvol20240401.txt";
const GOOD: &str = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n20240401|AAPL|10|0|40|B,Q,N\r\n20240401|BRK/B|1|0|4|Q\r\n2\r\n";
/// Cut inside the second row, which starts with the date: no count line, no final line end.
const CUT: &str = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n20240401|AAPL|10|0|40|B,Q,N\r\n20240401|BR";

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
}

fn settings(server: &MockServer, retries: u32) -> Settings {
    Settings {
        base_url: server.uri().parse().unwrap(),
        http: HttpSettings {
            timeout: Duration::from_secs(5),
            retries,
            backoff: Duration::ZERO,
            ..HttpSettings::default()
        },
        ..Settings::default()
    }
}

/// Serves `bodies[n]` to the n-th request, then the last one forever.
struct Script(Vec<&'static str>, Arc<AtomicUsize>);

impl Respond for Script {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.1.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_string(self.0[n.min(self.0.len() - 1)])
    }
}

async fn server(bodies: Vec<&'static str>) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let count = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(Script(bodies, Arc::clone(&count)))
        .mount(&server)
        .await;
    (server, count)
}

fn parse(bytes: &[u8]) -> Result<regsho::RegShoFile, ParseError> {
    regsho::parse("CNMSshvol20240401.txt", date(), bytes)
}

#[tokio::test]
async fn a_cut_body_is_fetched_again() {
    let (server, count) = server(vec![CUT, GOOD]).await;
    let source = Source::new(&settings(&server, 2)).unwrap();
    let Fetched::Published(file) = source.fetch(&PATH[1..], parse).await.unwrap() else {
        panic!("expected the file");
    };
    assert_eq!(file.rows.len(), 2);
    assert!(file.count_verified);
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "one retry after the cut body"
    );
}

#[tokio::test]
async fn a_body_cut_every_time_fails_uncached_and_a_later_good_body_is_fetched() {
    let cache_dir = tempfile::tempdir().unwrap();
    let using = CacheUse {
        cache: RawCache::new(cache_dir.path(), Duration::from_secs(3600)),
        read: true,
    };
    let (server, count) = server(vec![CUT, CUT, CUT, GOOD]).await;
    let source = Source::new(&settings(&server, 2)).unwrap();
    let Source::Http(client) = &source else {
        panic!("an HTTP source");
    };
    let entry = using.cache.entry(&client.url_for(&PATH[1..]));

    let err = fetch_through(Some(&using), &source, &PATH[1..], parse)
        .await
        .unwrap_err();
    match &err {
        SourceError::Parse {
            attempts, error, ..
        } => {
            assert_eq!(*attempts, 3, "{err}");
            assert!(matches!(error, ParseError::Truncated { .. }), "{err}");
        }
        other => panic!("expected a truncation, got {other}"),
    }
    assert!(err.to_string().contains("truncated download"), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(
        using.cache.get(&entry).is_none(),
        "a truncated body must never be cached"
    );
    assert_eq!(using.cache.info().unwrap().files, 0);

    // The next run asks the server again (nothing cached) and gets the whole file.
    let Fetched::Published(file) = fetch_through(Some(&using), &source, &PATH[1..], parse)
        .await
        .unwrap()
    else {
        panic!("expected the file");
    };
    assert_eq!(file.rows.len(), 2);
    assert_eq!(count.load(Ordering::SeqCst), 4);
    assert_eq!(using.cache.get(&entry).as_deref(), Some(GOOD.as_bytes()));
}

#[test]
fn every_real_file_ends_with_a_line_end_and_is_accepted() {
    let Some(real) = realdata() else { return };
    let mut seen = 0;
    for dir in [
        "mirror/regsho/daily",
        "regsho-excerpts/daniel3303_Equibles",
        "regsho-excerpts/SiddharthUIgupta_trading-engine",
    ] {
        for entry in std::fs::read_dir(real.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            // The date is in the file name, or (for the sample) in the first data row.
            let digits: String = name.chars().filter(char::is_ascii_digit).collect();
            let date = NaiveDate::parse_from_str(&digits, "%Y%m%d").unwrap_or_else(|_| {
                let text = String::from_utf8_lossy(&bytes);
                let row = text.lines().nth(1).unwrap();
                NaiveDate::parse_from_str(&row[..8], "%Y%m%d").unwrap()
            });
            let file = regsho::parse(&name, date, &bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let has_count = !name.contains("sample");
            assert_eq!(file.count_verified, has_count, "{name}");
            seen += 1;
        }
    }
    assert!(seen >= 16, "{seen} real files");
}
