//! The store contract: one suite, run against every store.
//!
//! `memory::*`, `sqlite::*`, `postgres::*` (the real server on 127.0.0.1:5432, a schema per test)
//! and `supabase::*` (the Supabase REST store against a fake PostgREST on 127.0.0.1, see
//! `store_support/postgrest.rs`) run the same cases. Every store is opened through
//! `store::open_with`, so the URL grammar is exercised too.
//!
//! What every store promises:
//! - an upsert writes the three features of the rows given, for one date; a `Null` cell
//!   overwrites, a `Pending` cell keeps the stored value (NULL when the row is new);
//! - running the same upsert twice changes nothing;
//! - symbols are exact bytes (`CPK` and `CpK` are two rows, `BRK/B` keeps its slash), and
//!   discovery and reads return them sorted bytewise, whatever the server's collation;
//! - discovery sees every row of a date (paging past the server's page cap), or only the rows with
//!   a null feature;
//! - a refused upsert (a value outside [0, 1], a symbol twice, another date) writes nothing;
//! - `ats_weekly` keeps shares as exact decimals (more digits than a double holds come back
//!   unchanged), upserts by `(symbol, week_start)` replacing the rows sent and nothing else,
//!   reports each stored week's latest `last_update_date`, and refuses a row of another week or
//!   a symbol twice without writing anything;
//! - a session's commit writes its week's record under `WeekWrite::IfAbsent` only when the week
//!   has none, always under `Replace`, and says whether it wrote it;
//! - `dates_with_rows` names the dates asked that hold rows, in the order asked.

mod store_support;

use std::any::Any;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use offexchange::parse::ats::Carrier;
use offexchange::store::{
    self, AtsWeeklyRow, Discovery, SessionCommit, Store, StoredRow, WeekWrite,
};
use offexchange::volume::Volume;
use offexchange::{Feature, FeatureRow};
use store_support::postgrest::{FakePostgrest, KEY};
use store_support::{date, pg, row, rows};

use Feature::{Null, Pending, Value};

/// A store under test, with whatever must live as long as it (a server, a schema, a directory).
struct Fixture {
    store: Box<dyn Store>,
    /// Whether the store can tell inserted rows from updated ones (PostgREST with
    /// `return=minimal` cannot).
    counts: bool,
    _keep: Box<dyn Any + Send>,
}

async fn memory() -> Fixture {
    Fixture {
        store: store::open("memory:").await.expect("memory store"),
        counts: true,
        _keep: Box::new(()),
    }
}

async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite:{}", dir.path().join("nested/offx.sqlite").display());
    Fixture {
        store: store::open(&url).await.expect("sqlite store"),
        counts: true,
        _keep: Box::new(dir),
    }
}

async fn postgres() -> Fixture {
    let schema = pg::Schema::new("contract").await;
    Fixture {
        store: store::open(&schema.url).await.expect("postgres store"),
        counts: true,
        _keep: Box::new(schema),
    }
}

async fn supabase() -> Fixture {
    let (server, fake) = FakePostgrest::start().await;
    let env = |k: &str| (k == "SUPABASE_SERVICE_ROLE_KEY").then(|| KEY.to_string());
    let url = format!("{}?retries=0", server.uri());
    Fixture {
        store: store::open_with(&url, env).await.expect("supabase store"),
        counts: false,
        _keep: Box::new((server, fake)),
    }
}

fn d1() -> NaiveDate {
    date(2024, 4, 1)
}

fn d2() -> NaiveDate {
    date(2024, 4, 2)
}

fn stored(symbol: &str, trade_date: NaiveDate, cells: [Option<f64>; 3]) -> StoredRow {
    StoredRow {
        symbol: symbol.into(),
        trade_date,
        short_vol_share: cells[0],
        short_exempt_share: cells[1],
        ats_share_of_total: cells[2],
    }
}

async fn upsert(f: &Fixture, trade_date: NaiveDate, rows: &[FeatureRow]) {
    let summary = f
        .store
        .upsert(trade_date, rows)
        .await
        .unwrap_or_else(|e| panic!("upsert into {} failed: {e}", f.store.describe()));
    assert_eq!(summary.rows, rows.len());
}

async fn read(f: &Fixture, trade_date: NaiveDate) -> Vec<StoredRow> {
    f.store.read(trade_date).await.expect("read")
}

async fn inserts_and_reads_back(f: Fixture) {
    let rows = [
        row("AAPL", d1(), [Value(0.5), Value(0.01), Value(0.25)]),
        row("MSFT", d1(), [Value(0.0), Null, Value(1.0)]),
        row("NEW", d1(), [Pending, Pending, Pending]),
    ];
    let summary = f.store.upsert(d1(), &rows).await.expect("upsert");
    assert_eq!(summary.rows, 3);
    assert!(summary.batches >= 1);
    if f.counts {
        assert_eq!((summary.inserted, summary.updated), (3, 0));
    }
    assert_eq!(
        read(&f, d1()).await,
        vec![
            stored("AAPL", d1(), [Some(0.5), Some(0.01), Some(0.25)]),
            stored("MSFT", d1(), [Some(0.0), None, Some(1.0)]),
            // A pending cell of a new row is stored as NULL: there is nothing to keep.
            stored("NEW", d1(), [None, None, None]),
        ]
    );
    assert!(read(&f, d2()).await.is_empty());
}

async fn values_and_nulls_overwrite(f: Fixture) {
    upsert(
        &f,
        d1(),
        &[row("AAPL", d1(), [Value(0.5), Value(0.01), Value(0.25)])],
    )
    .await;
    let summary = f
        .store
        .upsert(d1(), &[row("AAPL", d1(), [Value(0.75), Null, Null])])
        .await
        .expect("second upsert");
    if f.counts {
        assert_eq!((summary.inserted, summary.updated), (0, 1));
    }
    assert_eq!(
        read(&f, d1()).await,
        vec![stored("AAPL", d1(), [Some(0.75), None, None])]
    );
}

async fn pending_keeps_the_stored_value(f: Fixture) {
    let full = [Value(0.5), Value(0.01), Value(0.25)];
    let symbols = ["P1", "P2", "P3", "P12", "P123"];
    let initial: Vec<FeatureRow> = symbols.iter().map(|s| row(s, d1(), full)).collect();
    upsert(&f, d1(), &initial).await;
    // Every mix of pending and fresh cells in one upsert.
    upsert(
        &f,
        d1(),
        &[
            row("P1", d1(), [Pending, Value(0.02), Null]),
            row("P2", d1(), [Value(0.6), Pending, Value(0.3)]),
            row("P3", d1(), [Null, Value(0.03), Pending]),
            row("P12", d1(), [Pending, Pending, Value(0.4)]),
            row("P123", d1(), [Pending, Pending, Pending]),
        ],
    )
    .await;
    assert_eq!(
        read(&f, d1()).await,
        vec![
            stored("P1", d1(), [Some(0.5), Some(0.02), None]),
            stored("P12", d1(), [Some(0.5), Some(0.01), Some(0.4)]),
            stored("P123", d1(), [Some(0.5), Some(0.01), Some(0.25)]),
            stored("P2", d1(), [Some(0.6), Some(0.01), Some(0.3)]),
            stored("P3", d1(), [None, Some(0.03), Some(0.25)]),
        ]
    );
    // Null after pending: now it is known to be null, and it overwrites.
    upsert(&f, d1(), &[row("P123", d1(), [Null, Pending, Pending])]).await;
    let p123 = read(&f, d1())
        .await
        .into_iter()
        .find(|r| r.symbol == "P123");
    assert_eq!(
        p123,
        Some(stored("P123", d1(), [None, Some(0.01), Some(0.25)]))
    );
}

async fn running_twice_changes_nothing(f: Fixture) {
    let rows = rows(50, d1(), 0.3);
    upsert(&f, d1(), &rows).await;
    let first = read(&f, d1()).await;
    let again = f.store.upsert(d1(), &rows).await.expect("second run");
    if f.counts {
        assert_eq!((again.inserted, again.updated), (0, 50));
    }
    assert_eq!(read(&f, d1()).await, first);
    assert_eq!(first.len(), 50);
}

async fn symbols_are_exact_bytes(f: Fixture) {
    let rows = [
        row("CpK", d1(), [Value(0.2), Null, Null]),
        row("CPK", d1(), [Value(0.1), Null, Null]),
        row("BRK/B", d1(), [Value(0.3), Null, Null]),
        row("BRK.B", d1(), [Value(0.4), Null, Null]),
        row("Cpa", d1(), [Value(0.5), Null, Null]),
    ];
    upsert(&f, d1(), &rows).await;
    // Bytewise: '.' < '/', 'P' < 'p', 'K' < 'a'. A linguistic collation would put Cpa first.
    let expected = ["BRK.B", "BRK/B", "CPK", "CpK", "Cpa"];
    let found = f
        .store
        .discover_symbols(d1(), Discovery::All)
        .await
        .expect("discover");
    assert_eq!(found, expected);
    upsert(&f, d1(), &[row("CpK", d1(), [Value(0.9), Null, Null])]).await;
    let values: Vec<(String, Option<f64>)> = read(&f, d1())
        .await
        .into_iter()
        .map(|r| (r.symbol, r.short_vol_share))
        .collect();
    assert_eq!(
        values,
        vec![
            ("BRK.B".to_string(), Some(0.4)),
            ("BRK/B".to_string(), Some(0.3)),
            ("CPK".to_string(), Some(0.1)),
            ("CpK".to_string(), Some(0.9)),
            ("Cpa".to_string(), Some(0.5)),
        ]
    );
}

async fn discovery_all_and_missing(f: Fixture) {
    upsert(
        &f,
        d1(),
        &[
            row("FULL", d1(), [Value(0.5), Value(0.0), Value(0.1)]),
            row("NOATS", d1(), [Value(0.5), Value(0.0), Null]),
            row("NEW", d1(), [Pending, Pending, Pending]),
            row("NOEXEMPT", d1(), [Value(0.5), Null, Value(0.1)]),
        ],
    )
    .await;
    upsert(&f, d2(), &[row("OTHER", d2(), [Null, Null, Null])]).await;
    let all = f.store.discover_symbols(d1(), Discovery::All).await;
    assert_eq!(all.expect("all"), ["FULL", "NEW", "NOATS", "NOEXEMPT"]);
    let missing = f
        .store
        .discover_symbols(d1(), Discovery::MissingFeatures)
        .await;
    assert_eq!(missing.expect("missing"), ["NEW", "NOATS", "NOEXEMPT"]);
    let none = f
        .store
        .discover_symbols(date(2024, 4, 3), Discovery::All)
        .await;
    assert!(none.expect("empty date").is_empty());
}

async fn dates_are_separate(f: Fixture) {
    upsert(&f, d1(), &[row("AAPL", d1(), [Value(0.1), Null, Null])]).await;
    upsert(&f, d2(), &[row("AAPL", d2(), [Value(0.2), Null, Null])]).await;
    upsert(&f, d2(), &[row("AAPL", d2(), [Null, Null, Null])]).await;
    assert_eq!(
        read(&f, d1()).await,
        vec![stored("AAPL", d1(), [Some(0.1), None, None])]
    );
    assert_eq!(
        read(&f, d2()).await,
        vec![stored("AAPL", d2(), [None, None, None])]
    );
}

async fn refused_upserts_write_nothing(f: Fixture) {
    upsert(&f, d1(), &[row("KEEP", d1(), [Value(0.5), Null, Null])]).await;
    let before = read(&f, d1()).await;
    let attempts: [(&str, Vec<FeatureRow>); 3] = [
        (
            "outside [0, 1]",
            vec![
                row("NEW", d1(), [Value(0.5), Null, Null]),
                row("KEEP", d1(), [Value(1.5), Null, Null]),
            ],
        ),
        (
            "appears twice",
            vec![
                row("NEW", d1(), [Value(0.5), Null, Null]),
                row("NEW", d1(), [Value(0.6), Null, Null]),
            ],
        ),
        (
            "is dated",
            vec![
                row("NEW", d1(), [Value(0.5), Null, Null]),
                row("LATE", d2(), [Value(0.6), Null, Null]),
            ],
        ),
    ];
    for (why, rows) in attempts {
        let e = f.store.upsert(d1(), &rows).await.expect_err(why);
        assert!(e.to_string().contains(why), "{why}: {e}");
        assert_eq!(read(&f, d1()).await, before, "{why}");
    }
    assert!(read(&f, d2()).await.is_empty());
}

async fn pages_past_the_server_cap(f: Fixture) {
    // More than one PostgREST page (1,000) and more than one POST batch (1,000).
    let rows = rows(2_345, d1(), 0.7);
    upsert(&f, d1(), &rows).await;
    let found = f.store.discover_symbols(d1(), Discovery::All).await;
    let expected: Vec<String> = rows.iter().map(|r| r.symbol.clone()).collect();
    assert_eq!(found.expect("discover"), expected);
    let missing = f
        .store
        .discover_symbols(d1(), Discovery::MissingFeatures)
        .await
        .expect("missing");
    assert_eq!(
        missing.len(),
        rows.iter().filter(|r| r.ats_share_of_total == Null).count()
    );
    let back = read(&f, d1()).await;
    assert_eq!(back.len(), rows.len());
    for (r, s) in rows.iter().zip(&back) {
        assert_eq!(r.symbol, s.symbol);
        assert_eq!(r.short_vol_share.value(), s.short_vol_share, "{}", r.symbol);
        assert_eq!(
            r.ats_share_of_total.value(),
            s.ats_share_of_total,
            "{}",
            r.symbol
        );
    }
}

async fn empty_upsert_and_init_again(f: Fixture) {
    upsert(&f, d1(), &[row("AAPL", d1(), [Value(0.5), Null, Null])]).await;
    let summary = f.store.upsert(d1(), &[]).await.expect("empty upsert");
    assert_eq!(summary.rows, 0);
    f.store.init().await.expect("init is idempotent");
    assert_eq!(read(&f, d1()).await.len(), 1);
}

async fn describe_hides_secrets(f: Fixture) {
    let text = format!("{} {:?}", f.store.describe(), f.store.read(d1()).await);
    assert!(!text.contains(KEY), "{text}");
}

// ---- ats_weekly ----------------------------------------------------------------------------

fn week1() -> NaiveDate {
    date(2024, 4, 1)
}

fn week2() -> NaiveDate {
    date(2024, 4, 8)
}

/// An `ats_weekly` row; shares as FINRA writes them (`None`: no such row that week).
fn weekly(
    symbol: &str,
    week_start: NaiveDate,
    shares: [Option<&str>; 2],
    last_update: Option<NaiveDate>,
    source: Carrier,
) -> AtsWeeklyRow {
    let volume = |s: Option<&str>| s.map(|s| Volume::parse(s.as_bytes()).expect("a volume"));
    AtsWeeklyRow {
        symbol: symbol.into(),
        week_start,
        tier: "T1".into(),
        ats_shares: volume(shares[0]),
        otc_shares: volume(shares[1]),
        last_update,
        initial_published: Some(week_start + chrono::Duration::days(21)),
        source,
    }
}

async fn upsert_weekly(f: &Fixture, week_start: NaiveDate, rows: &[AtsWeeklyRow]) {
    let written = f
        .store
        .upsert_ats_weekly(week_start, rows)
        .await
        .unwrap_or_else(|e| panic!("ats_weekly upsert into {} failed: {e}", f.store.describe()));
    assert_eq!(written, rows.len());
}

async fn read_weekly(f: &Fixture, week_start: NaiveDate) -> Vec<AtsWeeklyRow> {
    f.store
        .read_ats_weekly(week_start)
        .await
        .expect("read ats_weekly")
}

async fn ats_weekly_keeps_exact_decimals(f: Fixture) {
    let updated = date(2024, 4, 29);
    let mut odd = weekly("CPK", week1(), [None, Some("12")], None, Carrier::Zip);
    (odd.tier, odd.initial_published) = ("OTCE".into(), None);
    let rows = vec![
        // More digits than a double holds: any float on the way would change them.
        weekly(
            "BRK/B",
            week1(),
            [Some("431668.624869"), Some("10439495945.685266")],
            Some(date(2024, 4, 22)),
            Carrier::Api,
        ),
        odd,
        weekly(
            "CpK",
            week1(),
            [Some("0"), Some("0.000001")],
            Some(updated),
            Carrier::Api,
        ),
        weekly(
            "Cpa",
            week1(),
            [Some("99999999999.999999"), None],
            None,
            Carrier::Api,
        ),
    ];
    upsert_weekly(&f, week1(), &rows).await;
    // Bytewise order, as everywhere: '/' < 'P' < 'p' and 'K' < 'a'.
    assert_eq!(read_weekly(&f, week1()).await, rows);
    assert!(read_weekly(&f, week2()).await.is_empty());
    let latest = f
        .store
        .ats_weekly_last_update(&[week1(), week2()])
        .await
        .expect("last update");
    assert_eq!(latest, BTreeMap::from([(week1(), Some(updated))]));
}

async fn ats_weekly_upserts_by_symbol_and_week(f: Fixture) {
    let d1 = Some(date(2024, 4, 22));
    let a = weekly("A", week1(), [Some("10"), Some("30")], d1, Carrier::Api);
    let b = weekly("B", week1(), [Some("1.5"), Some("2.5")], d1, Carrier::Api);
    upsert_weekly(&f, week1(), &[a.clone(), b.clone()]).await;
    upsert_weekly(&f, week1(), &[a.clone(), b.clone()]).await;
    assert_eq!(read_weekly(&f, week1()).await, [a.clone(), b.clone()]);

    // FINRA revises A: its row is replaced whole, B is left alone.
    let d2 = Some(date(2024, 4, 29));
    let revised = weekly("A", week1(), [Some("12.25"), None], d2, Carrier::Zip);
    upsert_weekly(&f, week1(), std::slice::from_ref(&revised)).await;
    assert_eq!(read_weekly(&f, week1()).await, [revised, b.clone()]);

    // Another week is another key; a week whose rows have no lastUpdateDate is still listed.
    let other = weekly("A", week2(), [Some("7"), Some("7")], None, Carrier::Zip);
    upsert_weekly(&f, week2(), &[other]).await;
    assert_eq!(read_weekly(&f, week1()).await.len(), 2);
    let latest = f
        .store
        .ats_weekly_last_update(&[week2(), week1(), date(2024, 4, 15)])
        .await
        .expect("last update");
    assert_eq!(latest, BTreeMap::from([(week1(), d2), (week2(), None)]));
    assert_eq!(
        f.store
            .upsert_ats_weekly(week1(), &[])
            .await
            .expect("empty"),
        0
    );
}

async fn ats_weekly_refuses_caller_bugs(f: Fixture) {
    let keep = weekly("KEEP", week1(), [Some("1"), Some("1")], None, Carrier::Api);
    upsert_weekly(&f, week1(), std::slice::from_ref(&keep)).await;
    let new = weekly("NEW", week1(), [Some("2"), Some("2")], None, Carrier::Api);
    let attempts: [(&str, Vec<AtsWeeklyRow>); 2] = [
        (
            "is of the week of 2024-04-08",
            vec![
                new.clone(),
                weekly("LATE", week2(), [None, None], None, Carrier::Api),
            ],
        ),
        ("appears twice", vec![new.clone(), new.clone()]),
    ];
    for (why, rows) in attempts {
        let e = f
            .store
            .upsert_ats_weekly(week1(), &rows)
            .await
            .expect_err(why);
        assert!(e.to_string().contains(why), "{why}: {e}");
        assert_eq!(
            read_weekly(&f, week1()).await,
            std::slice::from_ref(&keep),
            "{why}"
        );
    }
}

async fn ats_weekly_pages_past_the_server_cap(f: Fixture) {
    // A full FINRA week has thousands of symbols: more than one page and one POST batch.
    let rows: Vec<AtsWeeklyRow> = (0..2_345)
        .map(|i| {
            let (ats, otc) = (
                format!("{i}.{:06}", i * 7 % 1_000_000),
                format!("{}", i * 3),
            );
            weekly(
                &format!("S{i:05}"),
                week1(),
                [Some(&ats), Some(&otc)],
                Some(date(2024, 4, 22)),
                Carrier::Api,
            )
        })
        .collect();
    upsert_weekly(&f, week1(), &rows).await;
    assert_eq!(read_weekly(&f, week1()).await, rows);
}

/// A commit of `a_commit_says_whether_it_recorded_its_week`: (session, week rows sent, write,
/// whether it records the week, the week's record afterwards).
type Step<'a> = (
    NaiveDate,
    &'a [AtsWeeklyRow],
    Option<WeekWrite>,
    bool,
    &'a [AtsWeeklyRow],
);

async fn a_commit_says_whether_it_recorded_its_week(f: Fixture) {
    let first = [weekly(
        "A",
        week1(),
        [Some("10"), Some("30")],
        None,
        Carrier::Zip,
    )];
    let revised = [weekly(
        "A",
        week1(),
        [Some("11"), Some("30")],
        None,
        Carrier::Api,
    )];
    let (monday, tuesday) = (week1(), week1().succ_opt().unwrap());
    let steps: [Step; 4] = [
        (monday, &first, Some(WeekWrite::IfAbsent), true, &first),
        (tuesday, &revised, Some(WeekWrite::IfAbsent), false, &first),
        (tuesday, &revised, None, false, &first),
        (tuesday, &revised, Some(WeekWrite::Replace), true, &revised),
    ];
    for (i, (day, sent, write, recorded, after)) in steps.into_iter().enumerate() {
        let rows = [row("A", day, [Value(0.5), Null, Null])];
        let summary = f
            .store
            .commit(&SessionCommit::with_week(day, &rows, week1(), sent, write))
            .await
            .unwrap_or_else(|e| panic!("step {i}: commit into {}: {e}", f.store.describe()));
        let what = format!("step {i} ({write:?}) on {}", f.store.describe());
        assert_eq!(summary.week_recorded, recorded, "{what}");
        assert_eq!(read_weekly(&f, week1()).await, after, "{what}");
    }
}

async fn dates_with_rows_in_the_order_asked(f: Fixture) {
    let (a, b, c) = (d1(), d2(), date(2024, 4, 3));
    assert!(f
        .store
        .dates_with_rows(&[a, b, c])
        .await
        .unwrap()
        .is_empty());
    upsert(&f, c, &[row("A", c, [Value(0.5), Null, Null])]).await;
    upsert(&f, a, &[row("A", a, [Null, Null, Null])]).await;
    let found = f.store.dates_with_rows(&[c, b, a]).await.unwrap();
    assert_eq!(found, [c, a], "{}", f.store.describe());
    assert!(f.store.dates_with_rows(&[]).await.unwrap().is_empty());
}

/// One module per store, one test per case: `cargo test --test store_contract postgres::`.
macro_rules! contract {
    ($($store:ident),+) => {$(
        mod $store {
            contract!(@cases $store:
                inserts_and_reads_back,
                values_and_nulls_overwrite,
                pending_keeps_the_stored_value,
                running_twice_changes_nothing,
                symbols_are_exact_bytes,
                discovery_all_and_missing,
                dates_are_separate,
                refused_upserts_write_nothing,
                pages_past_the_server_cap,
                empty_upsert_and_init_again,
                describe_hides_secrets,
                ats_weekly_keeps_exact_decimals,
                ats_weekly_upserts_by_symbol_and_week,
                ats_weekly_refuses_caller_bugs,
                ats_weekly_pages_past_the_server_cap,
                a_commit_says_whether_it_recorded_its_week,
                dates_with_rows_in_the_order_asked,
                read_symbols_over_a_range
            );
        }
    )+};
    (@cases $store:ident: $($case:ident),+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            super::$case(super::$store().await).await;
        }
    )+};
}

contract!(memory, sqlite, postgres, supabase);

/// A few symbols over a range, in (date, symbol bytes) order, other symbols and dates left out.
async fn read_symbols_over_a_range(f: Fixture) {
    let (a, b, c) = (d1(), d2(), date(2024, 4, 3));
    for d in [a, b, c] {
        upsert(
            &f,
            d,
            &[
                row("BRK/B", d, [Value(0.1), Null, Null]),
                row("CPK", d, [Value(0.2), Null, Null]),
                row("CpK", d, [Value(0.3), Null, Null]),
            ],
        )
        .await;
    }
    let wanted = ["CpK".to_string(), "BRK/B".to_string()];
    let got = f.store.read_symbols(&wanted, b, c).await.unwrap();
    let keys: Vec<(NaiveDate, &str)> = got
        .iter()
        .map(|r| (r.trade_date, r.symbol.as_str()))
        .collect();
    assert_eq!(
        keys,
        [(b, "BRK/B"), (b, "CpK"), (c, "BRK/B"), (c, "CpK")],
        "{}",
        f.store.describe()
    );
    assert_eq!(got[1].short_vol_share, Some(0.3));
}

/// One settlement version of `symbols`, each short `shares`.
fn settlement(
    settlement: NaiveDate,
    sha: &str,
    published: &str,
    symbols: &[(&str, i64)],
) -> (
    offexchange::store::SourceVersion,
    Vec<offexchange::ShortInterestRow>,
) {
    let version = offexchange::store::SourceVersion {
        dataset: "short_interest".into(),
        name: format!("shrt{}.csv", settlement.format("%Y%m%d")),
        url: "https://cdn.finra.org/equity/otcmarket/biweekly/".into(),
        sha256: sha.into(),
        bytes: 100,
        rows: symbols.len() as u64,
        published_at: published.parse().expect("time"),
        published_from: offexchange::provenance::PublishedFrom::LastModified,
    };
    let rows = symbols
        .iter()
        .map(|(symbol, shares)| offexchange::ShortInterestRow {
            symbol: symbol.to_string(),
            finra_symbol: symbol.replace('/', ""),
            settlement_date: settlement,
            issue_name: format!("{symbol} Inc."),
            market_class: "NYSE".into(),
            current_short: *shares,
            previous_short: Some(shares - 1),
            change_previous: Some(1),
            change_percent: Some(0.5),
            average_daily_volume: None,
            days_to_cover: Some(if *shares > 1_000_000_000 {
                999.99
            } else {
                2.25
            }),
            days_to_cover_capped: *shares > 1_000_000_000,
            stock_split: None,
            revision: None,
            sha256: sha.into(),
            published_at: version.published_at,
            source: version.name.clone(),
        })
        .collect();
    (version, rows)
}

/// Versions are kept side by side, a re-sent version changes nothing, quantities stay exact,
/// reads filter by symbol in byte order, and a caller bug writes nothing.
async fn short_interest_versions_side_by_side(f: Fixture) {
    let s = date(2024, 1, 12);
    let (v1, rows1) = settlement(
        s,
        "aaa1",
        "2024-01-24T22:30:00Z",
        &[("BRK/B", 9_007_199_254_740_993), ("AAPL", 100), ("CpK", 3)],
    );
    let (v2, rows2) = settlement(s, "bbb2", "2024-01-26T15:00:00Z", &[("AAPL", 120)]);
    let store = f.store.as_ref();
    assert_eq!(
        store.commit_short_interest(s, &v1, &rows1).await.unwrap(),
        3
    );
    assert_eq!(
        store.commit_short_interest(s, &v1, &rows1).await.unwrap(),
        0
    );
    assert_eq!(
        store.commit_short_interest(s, &v2, &rows2).await.unwrap(),
        1
    );
    let versions = store.short_interest_versions(s, s).await.unwrap();
    let shas: Vec<&str> = versions.iter().map(|v| v.version.sha256.as_str()).collect();
    assert_eq!(shas, ["aaa1", "bbb2"], "{}", store.describe());
    assert_eq!(versions[0].settlement_date, s);

    let all = store.read_short_interest(s, "aaa1", None).await.unwrap();
    let symbols: Vec<&str> = all.iter().map(|r| r.symbol.as_str()).collect();
    assert_eq!(symbols, ["AAPL", "BRK/B", "CpK"], "byte order");
    assert_eq!(
        all[1],
        rows1[0],
        "{}: every field as written",
        store.describe()
    );
    let one = store
        .read_short_interest(s, "bbb2", Some(&["AAPL".to_string(), "CPK".to_string()]))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].current_short, 120);

    // A row of another version: refused, nothing written (not even the ledger row).
    let (v3, mut bad) = settlement(s, "ccc3", "2024-02-01T00:00:00Z", &[("X", 1), ("Y", 2)]);
    bad[1].sha256 = "other".into();
    assert!(store.commit_short_interest(s, &v3, &bad).await.is_err());
    assert_eq!(store.short_interest_versions(s, s).await.unwrap().len(), 2);
}

macro_rules! short_interest_contract {
    ($($store:ident),+) => {$(
        mod $store {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn short_interest_versions_side_by_side() {
                super::short_interest_versions_side_by_side(super::$store().await).await;
            }
        }
    )+};
}

// Not over Supabase REST here (the contract's fake PostgREST serves daily_features and ats_weekly
// only): tests/store_supabase.rs pins down the store's short_interest requests and reads.
mod short_interest {
    use super::*;
    short_interest_contract!(memory, sqlite, postgres);
}

/// `regsho_daily`: a session's volumes land with its rows, exact to the millionth; a re-posted
/// day adds a version beside the first; reads give the latest, or the one known at a time.
async fn regsho_daily_versions_are_exact_and_kept(f: Fixture) {
    use offexchange::store::{RegShoDailyRow, SessionCommit};
    use offexchange::Provenance;

    let day = d1();
    let volume = |text: &str| Volume::parse(text.as_bytes()).expect("volume");
    let rows = [
        row("BRK/B", day, [Value(0.25), Value(0.0), Null]),
        row("CpK", day, [Value(0.5), Null, Null]),
    ];
    let first = [
        RegShoDailyRow {
            symbol: "BRK/B".into(),
            short_volume: volume("431668.624869"),
            short_exempt_volume: Some(volume("0")),
            total_volume: volume("1726674.499476"),
        },
        RegShoDailyRow {
            symbol: "CpK".into(),
            short_volume: volume("10"),
            short_exempt_volume: None,
            total_volume: volume("20"),
        },
    ];
    let mut second = first.clone();
    second[1].short_volume = volume("12");
    let t1: chrono::DateTime<chrono::Utc> = "2024-04-01T22:00:00Z".parse().unwrap();
    let t2: chrono::DateTime<chrono::Utc> = "2024-04-02T14:00:00Z".parse().unwrap();
    for (at, volumes) in [(t1, &first), (t2, &second), (t1, &first)] {
        let provenance = Provenance {
            sources: &[],
            short_available_at: Some(at),
            ats_available_at: None,
            volumes: volumes.as_slice(),
            facilities: "CNMS,FORF",
        };
        f.store
            .commit(&SessionCommit::rows(day, &rows).with_provenance(provenance))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", f.store.describe()));
    }
    let latest = f.store.regsho_daily(day, None).await.unwrap();
    let symbols: Vec<&str> = latest.iter().map(|v| v.row.symbol.as_str()).collect();
    assert_eq!(symbols, ["BRK/B", "CpK"], "{}", f.store.describe());
    assert_eq!(latest[0].row, first[0], "exact: {}", f.store.describe());
    assert_eq!(latest[0].row.total_volume.to_string(), "1726674.499476");
    assert_eq!(
        (
            latest[1].row.short_volume.to_string(),
            latest[1].available_at
        ),
        ("12".into(), t2)
    );
    assert_eq!(latest[1].facilities, "CNMS,FORF");
    let known = f.store.regsho_daily(day, Some(t1)).await.unwrap();
    assert_eq!(known[1].row, first[1], "as of the first post");
    assert!(f.store.regsho_daily(d2(), None).await.unwrap().is_empty());
}

macro_rules! volumes_contract {
    ($($store:ident),+) => {$(
        mod $store {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn regsho_daily_versions_are_exact_and_kept() {
                super::regsho_daily_versions_are_exact_and_kept(super::$store().await).await;
            }
        }
    )+};
}

// Over Supabase REST the contract's fake PostgREST has no regsho_daily (nor finra_files).
mod regsho_daily {
    use super::*;
    volumes_contract!(memory, sqlite, postgres);
}
