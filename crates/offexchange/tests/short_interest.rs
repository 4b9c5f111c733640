//! Short interest from both carriers, into a store, as FINRA serves it.
//!
//! The Query API side is a local server that pages `consolidatedShortInterest` the way FINRA
//! does (an EQUAL filter on `settlementDate`; `Record-Total`, `Record-Offset`,
//! `Record-Max-Limit: 5000`; 204 for a settlement not published). Its rows are shaped exactly
//! like those a public client's test suite recorded from api.finra.org (settlement 2026-05-29:
//! Alcoa, GameStop, AAC Technologies with the 999.99 cap); the CDN file's lines like FINRA's
//! `shrt20260430.csv` (Agilent). Reg SHO comes from a file mirror.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use offexchange::config::{AtsSource, Facility, HttpSettings, Market, Settings};
use offexchange::store::{self, Store};
use offexchange::{read_short_interest, Engine, SettlementState, ShortInterestQuery};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SETTLEMENT: &str = "2026-05-29";
const HEADER: &str = "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate";

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A CNMS file for `date` holding `symbols`, in a file mirror at `root`.
fn regsho(root: &Path, date: &str, symbols: &[&str]) {
    let daily = root.join("regsho/daily");
    fs::create_dir_all(&daily).unwrap();
    let compact = date.replace('-', "");
    let mut text = String::from("Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n");
    for s in symbols {
        text.push_str(&format!("{compact}|{s}|1|0|2|B,Q,N\r\n"));
    }
    text.push_str(&format!("{}\r\n", symbols.len()));
    fs::write(daily.join(format!("CNMSshvol{compact}.txt")), text).unwrap();
}

/// FINRA's data endpoint for `consolidatedShortInterest`, paging like the real one.
#[derive(Clone, Default)]
struct FakeApi {
    rows: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
    requests: Arc<Mutex<Vec<Value>>>,
    malformed: Arc<Mutex<bool>>,
}

const MAX_LIMIT: usize = 5000;

impl Respond for FakeApi {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => {
                return ResponseTemplate::new(400).set_body_json(json!({"message": "bad JSON"}))
            }
        };
        self.requests.lock().unwrap().push(body.clone());
        let filter = &body["compareFilters"][0];
        if filter["fieldName"] != "settlementDate" || filter["compareType"] != "EQUAL" {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"message": "settlementDate must be filtered"}));
        }
        let settlement = filter["fieldValue"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let offset = body["offset"].as_u64().unwrap_or(0) as usize;
        let limit = (body["limit"].as_u64().unwrap_or(1000) as usize).min(MAX_LIMIT);
        let rows = self.rows.lock().unwrap();
        let Some(all) = rows.get(&settlement) else {
            return ResponseTemplate::new(204);
        };
        let page: Vec<&Value> = all.iter().skip(offset).take(limit).collect();
        let text = if *self.malformed.lock().unwrap() {
            // A body cut inside a row, as a dropped connection leaves it.
            let full = serde_json::to_string(&page).unwrap();
            full[..full.len() / 2].to_string()
        } else {
            serde_json::to_string(&page).unwrap()
        };
        ResponseTemplate::new(200)
            .insert_header("Record-Total", all.len().to_string().as_str())
            .insert_header("Record-Offset", offset.to_string().as_str())
            .insert_header("Record-Limit", limit.to_string().as_str())
            .insert_header("Record-Max-Limit", MAX_LIMIT.to_string().as_str())
            .set_body_raw(text, "application/json")
    }
}

impl FakeApi {
    async fn start() -> (MockServer, FakeApi) {
        let server = MockServer::start().await;
        let api = FakeApi::default();
        Mock::given(method("POST"))
            .and(path("/data/group/otcMarket/name/consolidatedShortInterest"))
            .respond_with(api.clone())
            .mount(&server)
            .await;
        (server, api)
    }

    fn publish(&self, settlement: &str, rows: Vec<Value>) {
        self.rows.lock().unwrap().insert(settlement.into(), rows);
    }

    fn pages_asked(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// The public client's recorded rows, plus BRKB and an ambiguous ABCD, plus `filler` more.
fn recorded_rows(filler: usize) -> Vec<Value> {
    let mut rows = vec![
        json!({"symbolCode":"AA","issueName":"Alcoa Corporation","marketClassCode":"NYSE","settlementDate":SETTLEMENT,"currentShortPositionQuantity":10624431,"previousShortPositionQuantity":9476203,"averageDailyVolumeQuantity":9564290,"daysToCoverQuantity":1.11,"changePercent":12.12,"changePreviousNumber":1148228,"revisionFlag":null,"stockSplitFlag":null}),
        json!({"symbolCode":"GME","issueName":"GameStop Corp","marketClassCode":"NNM","settlementDate":SETTLEMENT,"currentShortPositionQuantity":55000000,"averageDailyVolumeQuantity":5000000,"daysToCoverQuantity":11.0,"changePercent":3.5}),
        json!({"symbolCode":"AACAF","issueName":"AAC Technologies Holdings Inc","marketClassCode":"OTC","settlementDate":SETTLEMENT,"currentShortPositionQuantity":4612254,"averageDailyVolumeQuantity":33,"daysToCoverQuantity":999.99,"changePercent":5.5}),
        json!({"symbolCode":"BRKB","issueName":"Berkshire Hathaway Inc. Class B","marketClassCode":"NYSE","settlementDate":SETTLEMENT,"currentShortPositionQuantity":12000000,"averageDailyVolumeQuantity":4000000,"daysToCoverQuantity":3.0}),
        json!({"symbolCode":"ABCD","issueName":"Ambiguous","marketClassCode":"NYSE","settlementDate":SETTLEMENT,"currentShortPositionQuantity":1,"daysToCoverQuantity":1.0}),
    ];
    for i in 0..filler {
        rows.push(json!({"symbolCode":format!("Z{i:05}"),"issueName":"Filler","marketClassCode":"OTC","settlementDate":SETTLEMENT,"currentShortPositionQuantity":i,"daysToCoverQuantity":1.0}));
    }
    rows
}

fn settings(mirror: &Path, api_url: &str, source: AtsSource) -> Settings {
    Settings {
        base_url: format!("file://{}", mirror.display()).parse().unwrap(),
        market: Market::Facility(Facility::Cnms),
        http: HttpSettings {
            timeout: Duration::from_secs(5),
            retries: 0,
            backoff: Duration::ZERO,
            ..HttpSettings::default()
        },
        api_base_url: api_url.parse().unwrap(),
        ats_source: source,
        ..Settings::default()
    }
}

async fn memory() -> Box<dyn Store> {
    store::open("memory:").await.unwrap()
}

#[tokio::test]
async fn api_pages_map_symbols_and_keep_the_cap_visible() {
    let mirror = tempfile::tempdir().unwrap();
    regsho(
        mirror.path(),
        SETTLEMENT,
        &["AA", "GME", "BRK/B", "ABCD", "ABC/D"],
    );
    let (server, api) = FakeApi::start().await;
    // 5 recorded rows + 10,000 more: three pages of at most 5,000.
    api.publish(SETTLEMENT, recorded_rows(10_000));
    let engine = Engine::new(settings(mirror.path(), &server.uri(), AtsSource::Api)).unwrap();
    let store = memory().await;

    let (outcome, _) = engine
        .record_settlement(day(SETTLEMENT), Some(store.as_ref()), false)
        .await
        .unwrap();
    assert_eq!(outcome.state, SettlementState::Stored);
    assert_eq!(api.pages_asked(), 3, "10,005 rows in pages of 5,000");
    assert_eq!(outcome.rows, 10_004, "every row but the ambiguous ABCD");
    assert!(
        outcome
            .report
            .coverage
            .iter()
            .any(|l| l.contains("ABCD (ABC/D or ABCD)")),
        "{:?}",
        outcome.report.coverage
    );

    let query = ShortInterestQuery {
        symbols: Some(vec![
            "AA".into(),
            "BRK/B".into(),
            "AACAF".into(),
            "ABCD".into(),
        ]),
        from: day(SETTLEMENT),
        to: day(SETTLEMENT),
        as_of: None,
    };
    let rows = read_short_interest(store.as_ref(), &query).await.unwrap();
    let symbols: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
    assert_eq!(symbols, ["AA", "AACAF", "BRK/B"]);
    let (aa, aacaf, brk) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!(
        (aa.current_short, aa.previous_short, aa.change_previous),
        (10_624_431, Some(9_476_203), Some(1_148_228))
    );
    assert_eq!(
        (aa.days_to_cover, aa.days_to_cover_capped),
        (Some(1.11), false)
    );
    assert_eq!(
        (aacaf.days_to_cover, aacaf.days_to_cover_capped),
        (Some(999.99), true)
    );
    assert_eq!(
        (brk.finra_symbol.as_str(), brk.current_short),
        ("BRKB", 12_000_000)
    );
    assert_eq!(brk.source, "consolidatedShortInterest 2026-05-29");

    // A second run asks nothing: the ledger holds the settlement.
    let (again, _) = engine
        .record_settlement(day(SETTLEMENT), Some(store.as_ref()), false)
        .await
        .unwrap();
    assert_eq!(again.state, SettlementState::AlreadyStored);
    assert_eq!(api.pages_asked(), 3);
}

#[tokio::test]
async fn a_revision_is_a_new_version_beside_the_first() {
    let mirror = tempfile::tempdir().unwrap();
    regsho(mirror.path(), SETTLEMENT, &["AA", "GME"]);
    let (server, api) = FakeApi::start().await;
    api.publish(SETTLEMENT, recorded_rows(0));
    let engine = Engine::new(settings(mirror.path(), &server.uri(), AtsSource::Api)).unwrap();
    let store = memory().await;
    engine
        .record_settlement(day(SETTLEMENT), Some(store.as_ref()), false)
        .await
        .unwrap();

    // FINRA revises GameStop's position.
    let mut revised = recorded_rows(0);
    revised[1]["currentShortPositionQuantity"] = json!(56000000);
    revised[1]["revisionFlag"] = json!("R");
    api.publish(SETTLEMENT, revised);
    let (outcome, _) = engine
        .record_settlement(day(SETTLEMENT), Some(store.as_ref()), true)
        .await
        .unwrap();
    assert_eq!(outcome.state, SettlementState::Stored);

    let versions = store
        .short_interest_versions(day(SETTLEMENT), day(SETTLEMENT))
        .await
        .unwrap();
    assert_eq!(versions.len(), 2, "both versions kept");
    let (first, second) = (&versions[0].version, &versions[1].version);
    assert!(first.published_at < second.published_at);
    // The first version is dated by FINRA's schedule (published 2026-06-09), the revision when
    // it was first seen.
    assert_eq!(first.published_from.as_str(), "schedule");
    assert_eq!(second.published_from.as_str(), "first_seen");

    let gme = |as_of| ShortInterestQuery {
        symbols: Some(vec!["GME".into()]),
        from: day(SETTLEMENT),
        to: day(SETTLEMENT),
        as_of,
    };
    let latest = read_short_interest(store.as_ref(), &gme(None))
        .await
        .unwrap();
    assert_eq!(latest[0].current_short, 56_000_000);
    assert_eq!(latest[0].revision.as_deref(), Some("R"));
    let before = read_short_interest(store.as_ref(), &gme(Some(first.published_at)))
        .await
        .unwrap();
    assert_eq!(
        before[0].current_short, 55_000_000,
        "as knowable before the revision"
    );
}

#[tokio::test]
async fn not_published_is_204_and_a_malformed_page_stores_nothing() {
    let mirror = tempfile::tempdir().unwrap();
    regsho(mirror.path(), SETTLEMENT, &["AA"]);
    let (server, api) = FakeApi::start().await;
    let engine = Engine::new(settings(mirror.path(), &server.uri(), AtsSource::Api)).unwrap();
    let store = memory().await;

    let (outcome, _) = engine
        .record_settlement(day(SETTLEMENT), Some(store.as_ref()), false)
        .await
        .unwrap();
    assert_eq!(outcome.state, SettlementState::NotPublished);
    assert!(outcome.report.files.iter().any(|f| !f.published));

    api.publish(SETTLEMENT, recorded_rows(0));
    *api.malformed.lock().unwrap() = true;
    let error = engine
        .record_settlement(day(SETTLEMENT), Some(store.as_ref()), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("consolidatedShortInterest 2026-05-29"),
        "{error}"
    );
    assert!(error.contains("not a JSON array"), "{error}");
    let versions = store
        .short_interest_versions(day(SETTLEMENT), day(SETTLEMENT))
        .await
        .unwrap();
    assert!(versions.is_empty(), "nothing stored");
}

#[tokio::test]
async fn the_cdn_file_from_a_mirror() {
    let mirror = tempfile::tempdir().unwrap();
    let settlement = "2026-04-30";
    regsho(mirror.path(), settlement, &["A", "BRK/B"]);
    let dir = mirror.path().join("otcmarket/biweekly");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("shrt20260430.csv"),
        format!(
            "{HEADER}\n\
             20260430|A|Agilent Technologies Inc.|A|NYSE|4824122|4481687||2052152|2.35||7.64|342435|2026-04-30\n\
             20260430|BRKB|Berkshire Hathaway Inc. Class B|A|NYSE|9000000|8000000||3000000|3||12.5|1000000|2026-04-30\n"
        ),
    )
    .unwrap();
    let engine = Engine::new(settings(
        mirror.path(),
        "http://127.0.0.1:9",
        AtsSource::Zip,
    ))
    .unwrap();
    let store = memory().await;
    let (outcome, _) = engine
        .record_settlement(day(settlement), Some(store.as_ref()), false)
        .await
        .unwrap();
    assert_eq!((outcome.state, outcome.rows), (SettlementState::Stored, 2));
    let query = ShortInterestQuery {
        symbols: None,
        from: day(settlement),
        to: day(settlement),
        as_of: None,
    };
    let rows = read_short_interest(store.as_ref(), &query).await.unwrap();
    assert_eq!(rows[0].symbol, "A");
    assert_eq!(rows[0].current_short, 4_824_122);
    assert_eq!(rows[1].symbol, "BRK/B");
    assert_eq!(rows[1].source, "shrt20260430.csv");
    // A mirror file is dated by its modification time.
    let versions = store
        .short_interest_versions(day(settlement), day(settlement))
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].version.published_from.as_str(), "file_modified");
    assert_eq!(rows[1].published_at, versions[0].version.published_at);
}
