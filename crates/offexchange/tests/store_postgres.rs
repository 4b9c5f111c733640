//! PostgreSQL store beyond the contract: a killed connection mid-upsert, columns offx does not own,
//! the CHECK constraints, a seed table that predates the migration, TLS.
//!
//! Against the real server on 127.0.0.1:5432 (database `test`, user `postgres`, trust auth; or
//! `OFFX_TEST_DATABASE_URL`), each test in a schema of its own, dropped afterwards.

mod store_support;

use std::time::{Duration, Instant};

use offexchange::store::{self, Store, StoredRow};
use offexchange::Feature::{Null, Pending, Value};
use offexchange::StoreErrorKind;
use store_support::pg::{admin, Schema};
use store_support::{date, row, rows};

async fn open(schema: &Schema) -> Box<dyn Store> {
    store::open(&schema.url).await.expect("postgres store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_mid_upsert_leaves_the_table_as_before() {
    let schema = Schema::new("kill").await;
    // A name of our own, to find this store's backend among others in pg_stat_activity.
    let app = format!("offx_kill_{:08x}", rand::random::<u32>());
    let url = format!("{}&application_name={app}", schema.url);
    let store = store::open(&url).await.expect("postgres store");
    let d = date(2024, 4, 1);
    let seed = rows(1_000, d, 0.1);
    store.upsert(d, &seed).await.expect("seed");
    let before = store.read(d).await.expect("read");

    // Hold a row lock on a row the upsert must update: the merge stops there, mid-transaction,
    // with its staging rows copied and part of the merge done.
    let locker = admin().await;
    locker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM {} WHERE symbol = 'S00999' AND trade_date = '{d}' FOR UPDATE",
            schema.table()
        ))
        .await
        .expect("lock a row");

    let mut update = rows(2_000, d, 0.9); // 1,000 updates and 1,000 inserts
    update[0].short_vol_share = Pending;
    let killer = async {
        let admin = admin().await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let waiting = admin
                .query(
                    "SELECT pid FROM pg_stat_activity
                     WHERE application_name = $1 AND wait_event_type = 'Lock'",
                    &[&app],
                )
                .await
                .expect("pg_stat_activity");
            if let Some(r) = waiting.first() {
                let pid: i32 = r.get(0);
                admin
                    .execute("SELECT pg_terminate_backend($1)", &[&pid])
                    .await
                    .expect("terminate");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the upsert never blocked on the locked row"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (outcome, ()) = tokio::join!(store.upsert(d, &update), killer);
    let error = outcome.expect_err("the upsert must fail when its connection dies");
    assert!(
        error.is_transient(),
        "a lost connection is transient: {error}"
    );
    let text = error.to_string();
    assert!(text.contains("[transient: retrying may help]"), "{text}");
    assert!(
        text.contains("upsert of 2024-04-01 rolled back, nothing written"),
        "{text}"
    );
    assert!(
        text.contains("terminating connection due to administrator command")
            || text.contains("connection"),
        "{text}"
    );
    locker.batch_execute("ROLLBACK").await.expect("unlock");

    // The store reconnects by itself; the table is exactly as before.
    assert_eq!(store.read(d).await.expect("read after the kill"), before);
    let count: i64 = admin()
        .await
        .query_one(&format!("SELECT count(*) FROM {}", schema.table()), &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 1_000);
    // And the same upsert, re-run, goes through.
    let summary = store.upsert(d, &update).await.expect("re-run");
    assert_eq!((summary.inserted, summary.updated), (1_000, 1_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_offx_does_not_own_keep_their_values() {
    let schema = Schema::new("extra").await;
    let store = open(&schema).await;
    let admin = admin().await;
    admin
        .batch_execute(&format!(
            "ALTER TABLE {t} ADD COLUMN note text DEFAULT 'from default';
             ALTER TABLE {t} ADD COLUMN updated_by text",
            t = schema.table()
        ))
        .await
        .expect("extra columns");
    let d = date(2024, 4, 1);
    store
        .upsert(d, &[row("AAPL", d, [Value(0.5), Null, Null])])
        .await
        .expect("insert");
    admin
        .batch_execute(&format!(
            "UPDATE {} SET note = 'hand-written', updated_by = 'analyst'",
            schema.table()
        ))
        .await
        .expect("annotate");
    store
        .upsert(
            d,
            &[
                row("AAPL", d, [Value(0.75), Value(0.1), Pending]),
                row("MSFT", d, [Value(0.25), Null, Null]),
            ],
        )
        .await
        .expect("update");
    let notes = admin
        .query(
            &format!(
                "SELECT symbol, note, updated_by, short_vol_share FROM {} ORDER BY symbol",
                schema.table()
            ),
            &[],
        )
        .await
        .expect("select");
    type Annotated = (String, Option<String>, Option<String>, Option<f64>);
    let notes: Vec<Annotated> = notes
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        notes,
        vec![
            (
                "AAPL".into(),
                Some("hand-written".into()),
                Some("analyst".into()),
                Some(0.75)
            ),
            ("MSFT".into(), Some("from default".into()), None, Some(0.25)),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_constraints_hold() {
    let schema = Schema::new("check").await;
    let store = open(&schema).await;
    let admin = admin().await;
    for bad in ["1.5", "-0.01", "'NaN'", "'Infinity'"] {
        for column in [
            "short_vol_share",
            "short_exempt_share",
            "ats_share_of_total",
        ] {
            let e = admin
                .batch_execute(&format!(
                    "INSERT INTO {} (symbol, trade_date, {column}) VALUES ('X', '2024-04-01', {bad})",
                    schema.table()
                ))
                .await
                .expect_err("the CHECK constraint refuses it");
            let code = e.code().map(|c| c.code().to_string());
            assert_eq!(code.as_deref(), Some("23514"), "{column} = {bad}: {e}");
        }
    }
    // Through the store: refused before anything is sent, naming the row and the column.
    let d = date(2024, 4, 1);
    let e = store
        .upsert(
            d,
            &[
                row("OK", d, [Value(0.5), Null, Null]),
                row("BAD", d, [Value(0.5), Null, Value(1.25)]),
            ],
        )
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("ats_share_of_total of BAD"), "{e}");
    assert!(store.read(d).await.expect("read").is_empty());
    // The bounds themselves are allowed.
    store
        .upsert(d, &[row("EDGE", d, [Value(0.0), Value(1.0), Null])])
        .await
        .expect("0 and 1 are ratios");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_identical_run_rewrites_no_row() {
    let schema = Schema::new("idem").await;
    let store = open(&schema).await;
    let d = date(2024, 4, 1);
    let batch = rows(500, d, 0.4);
    store.upsert(d, &batch).await.expect("first");
    let versions = |sql: String| async move {
        let rows = admin().await.query(&sql, &[]).await.expect("xmin");
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    };
    let sql = format!(
        "SELECT xmin::text || ':' || ctid::text FROM {} ORDER BY symbol",
        schema.table()
    );
    let first = versions(sql.clone()).await;
    let summary = store.upsert(d, &batch).await.expect("second");
    assert_eq!((summary.inserted, summary.updated), (0, 500));
    // Same row versions: nothing was rewritten (no dead tuples, no triggers fired).
    assert_eq!(versions(sql).await, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_table_gains_the_feature_columns() {
    let schema = Schema::new("seed").await;
    // A table made by someone else: a surrogate key, its own columns, the natural key unique.
    admin()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {t} (
                 id bigserial PRIMARY KEY,
                 symbol text NOT NULL,
                 trade_date date NOT NULL,
                 close numeric,
                 UNIQUE (symbol, trade_date)
             );
             INSERT INTO {t} (symbol, trade_date, close) VALUES ('AAPL', '2024-04-01', 170.03);",
            t = schema.table()
        ))
        .await
        .expect("seed table");
    let store = open(&schema).await;
    store.init().await.expect("init twice");
    let d = date(2024, 4, 1);
    assert_eq!(
        store.read(d).await.expect("read"),
        vec![StoredRow {
            symbol: "AAPL".into(),
            trade_date: d,
            short_vol_share: None,
            short_exempt_share: None,
            ats_share_of_total: None,
        }]
    );
    store
        .upsert(d, &[row("AAPL", d, [Value(0.5), Value(0.0), Null])])
        .await
        .expect("upsert into the seed table");
    let close: String = admin()
        .await
        .query_one(
            &format!(
                "SELECT close::text FROM {} WHERE symbol = 'AAPL'",
                schema.table()
            ),
            &[],
        )
        .await
        .expect("close")
        .get(0);
    assert_eq!(close, "170.03");
}

/// The indexes of `schema`'s daily_features: (name, columns in key order).
async fn key_columns(schema: &Schema) -> Vec<(String, Vec<String>)> {
    indexes_of(&schema.table()).await
}

/// The indexes of a qualified table: (name, columns in key order).
async fn indexes_of(table: &str) -> Vec<(String, Vec<String>)> {
    let rows = admin()
        .await
        .query(
            "SELECT c.relname::text,
                    array_agg(a.attname::text ORDER BY k.ord)
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = $1::text::regclass
             GROUP BY c.relname ORDER BY c.relname",
            &[&table],
        )
        .await
        .expect("indexes");
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// A table the migration creates is keyed date-major with no second index; a seed's symbol-major
/// key is kept, gains the trade_date index, and upserts into it work the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_table_is_keyed_date_major_and_a_symbol_major_seed_keeps_working() {
    let ours = Schema::new("datemajor").await;
    let store = open(&ours).await;
    store.init().await.expect("init twice");
    assert_eq!(
        key_columns(&ours).await,
        vec![(
            "daily_features_pkey".to_string(),
            vec!["trade_date".to_string(), "symbol".to_string()]
        )]
    );

    let seed = Schema::new("symbolmajor").await;
    admin()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {} (symbol text NOT NULL, trade_date date NOT NULL,
                              PRIMARY KEY (symbol, trade_date))",
            seed.table()
        ))
        .await
        .expect("seed table");
    let seeded = open(&seed).await;
    let keys = key_columns(&seed).await;
    assert!(
        keys.iter().any(|(_, c)| c == &["symbol", "trade_date"]),
        "{keys:?}"
    );
    assert!(keys.iter().any(|(_, c)| c == &["trade_date"]), "{keys:?}");

    let d = date(2024, 4, 1);
    for store in [&store, &seeded] {
        store.upsert(d, &rows(500, d, 0.25)).await.expect("insert");
        let want = rows(500, d, 0.5);
        let again = store.upsert(d, &want).await.expect("update");
        assert_eq!((again.inserted, again.updated), (0, 500));
        let read = store.read(d).await.expect("read");
        let got: Vec<(&str, Option<f64>)> = read
            .iter()
            .map(|r| (r.symbol.as_str(), r.short_vol_share))
            .collect();
        let sent: Vec<(&str, Option<f64>)> = want
            .iter()
            .map(|r| (r.symbol.as_str(), r.short_vol_share.value()))
            .collect();
        assert_eq!(got, sent);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_without_the_natural_key_is_explained() {
    let schema = Schema::new("nokey").await;
    admin()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {} (symbol text, trade_date date)",
            schema.table()
        ))
        .await
        .expect("keyless table");
    let Err(e) = store::open(&schema.url).await else {
        panic!("init must refuse a table without the natural key");
    };
    assert_eq!(e.kind, StoreErrorKind::Permanent, "{e}");
    assert!(
        e.to_string()
            .contains("no primary key or unique constraint on (symbol, trade_date)"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_when_the_url_asks_and_no_password_in_errors() {
    let schema = Schema::new("tls").await;
    let ssl_on: String = admin()
        .await
        .query_one("SHOW ssl", &[])
        .await
        .expect("show ssl")
        .get(0);
    let url = format!("{}&sslmode=require", schema.url);
    if ssl_on == "on" {
        // libpq's `require`: encrypted, the (self-signed) certificate not checked.
        let store = store::open(&url).await.expect("TLS connection");
        store.read(date(2024, 4, 1)).await.expect("read over TLS");
        // No sslmode: libpq's `prefer`, so encrypted too when the server offers it.
        let app = format!("offx_tls_{:08x}", rand::random::<u32>());
        let plain = format!("{}&application_name={app}", schema.url);
        let store = store::open(&plain).await.expect("default sslmode");
        store.read(date(2024, 4, 1)).await.expect("read");
        let encrypted: bool = admin()
            .await
            .query_one(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.application_name = $1",
                &[&app],
            )
            .await
            .expect("pg_stat_ssl")
            .get(0);
        assert!(encrypted, "sslmode absent must mean prefer, as in libpq");
        // `verify-full` checks it: a self-signed certificate is refused, and the error says so.
        let strict = format!("{}&sslmode=verify-full", schema.url);
        let Err(e) = store::open(&strict).await else {
            panic!("verify-full accepted a self-signed certificate");
        };
        assert!(e.to_string().contains("cannot connect"), "{e}");
    } else {
        let Err(e) = store::open(&url).await else {
            panic!("sslmode=require connected without TLS");
        };
        assert!(e.to_string().contains("cannot connect"), "{e}");
    }
    // A wrong password: the error names the server, never the password.
    let wrong = "postgres://nobody:hunter2-secret@127.0.0.1:5432/test?connect_timeout=5";
    if let Err(e) = store::open(wrong).await {
        let text = format!("{e} {e:?}");
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(text.contains("nobody:***@127.0.0.1"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_whether_retrying_can_help() {
    // Nobody listens on port 1: the server may come back, so it is transient.
    let Err(refused) = store::open("postgres://postgres@127.0.0.1:1/test?connect_timeout=2").await
    else {
        panic!("nothing listens on port 1");
    };
    assert_eq!(refused.kind, StoreErrorKind::Transient, "{refused}");

    // A table the store does not own, with a column of the wrong type: permanent.
    let schema = Schema::new("kinds").await;
    admin()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {} (symbol text, trade_date date, short_vol_share text,
                              PRIMARY KEY (symbol, trade_date))",
            schema.table()
        ))
        .await
        .expect("odd table");
    let Err(refused) = store::open(&schema.url).await else {
        panic!("the migration cannot add a ratio CHECK to a text column");
    };
    assert_eq!(refused.kind, StoreErrorKind::Permanent, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("[permanent: retrying will not help]"),
        "{refused}"
    );
}

/// Migration 004's function, as Supabase REST calls it: one date in one transaction, an absent
/// key keeps the stored value, a null writes null, and one bad row refuses the whole date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upsert_function_writes_a_date_whole_or_not_at_all() {
    let schema = Schema::new("rpc").await;
    let store = open(&schema).await;
    let d = date(2024, 4, 1);
    store
        .upsert(d, &[row("AAA", d, [Value(0.5), Value(0.1), Value(0.2)])])
        .await
        .expect("seed");
    let db = admin().await;
    db.batch_execute(&format!("SET search_path = {}", schema.name))
        .await
        .expect("search_path");
    let call = "SELECT offx_upsert_daily_features($1::date, $2::text::jsonb)";
    let rows = serde_json::json!([
        {"symbol": "AAA", "short_vol_share": 0.6, "ats_share_of_total": null},
        {"symbol": "BBB", "short_vol_share": 0.3, "short_exempt_share": 0.0, "ats_share_of_total": 0.4}
    ])
    .to_string();
    let written: i32 = db
        .query_one(call, &[&d, &rows])
        .await
        .expect("the function runs")
        .get(0);
    assert_eq!(written, 2);
    let stored = store.read(d).await.expect("read");
    assert_eq!(
        stored
            .iter()
            .map(|r| (
                r.symbol.as_str(),
                r.short_vol_share,
                r.short_exempt_share,
                r.ats_share_of_total
            ))
            .collect::<Vec<_>>(),
        [
            ("AAA", Some(0.6), Some(0.1), None),
            ("BBB", Some(0.3), Some(0.0), Some(0.4))
        ],
        "absent key kept, null written"
    );
    let bad = serde_json::json!([
        {"symbol": "CCC", "short_vol_share": 0.2},
        {"symbol": "DDD", "short_vol_share": 1.5}
    ])
    .to_string();
    let refused = db.query_one(call, &[&d, &bad]).await;
    assert!(refused.is_err(), "1.5 breaks the CHECK");
    assert_eq!(
        store.read(d).await.expect("read").len(),
        2,
        "nothing of the date written"
    );
}

/// Two writers committing sessions of one unrecorded week at once: the week's record is checked
/// and written under the week's lock, so exactly one of them writes it (a plain insert, no
/// `ON CONFLICT`) and the other finds it recorded; neither fails on the other's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_of_an_unrecorded_week_record_it_once() {
    use offexchange::parse::ats::Carrier;
    use offexchange::store::{AtsWeeklyRow, SessionCommit, WeekWrite};
    use offexchange::volume::Volume;
    let schema = Schema::new("weeklock").await;
    let (a, b) = (open(&schema).await, open(&schema).await);
    for week in 0..8 {
        let monday = date(2024, 1, 8) + chrono::Duration::weeks(week);
        let week_rows: Vec<AtsWeeklyRow> = (0..2_000)
            .map(|i| AtsWeeklyRow {
                symbol: format!("S{i:05}"),
                week_start: monday,
                tier: "T1".into(),
                ats_shares: Volume::parse(format!("{i}").as_bytes()).ok(),
                otc_shares: None,
                last_update: None,
                initial_published: None,
                source: Carrier::Zip,
            })
            .collect();
        let (tuesday, wednesday) = (
            monday + chrono::Duration::days(1),
            monday + chrono::Duration::days(2),
        );
        let (rows_a, rows_b) = (rows(100, tuesday, 0.1), rows(100, wednesday, 0.2));
        let session = |day, rows| {
            SessionCommit::with_week(day, rows, monday, &week_rows, Some(WeekWrite::IfAbsent))
        };
        let (commit_a, commit_b) = (session(tuesday, &rows_a), session(wednesday, &rows_b));
        let (ra, rb) = tokio::join!(a.commit(&commit_a), b.commit(&commit_b));
        let (ra, rb) = (ra.expect("writer a"), rb.expect("writer b"));
        assert!(
            ra.week_recorded != rb.week_recorded,
            "week {monday}: exactly one writer records it ({} / {})",
            ra.week_recorded,
            rb.week_recorded
        );
        assert_eq!(a.read_ats_weekly(monday).await.expect("read").len(), 2_000);
    }
}

/// `ats_weekly` as the migration creates it is keyed week-major with no second index; a table
/// created before with the symbol-major key keeps it and its `week_start` index, and a week is
/// recorded, replaced and read back the same through either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ats_weekly_is_keyed_week_major_and_an_earlier_table_keeps_working() {
    use offexchange::parse::ats::Carrier;
    use offexchange::store::AtsWeeklyRow;
    use offexchange::volume::Volume;
    let week = date(2024, 4, 1);
    let row = |symbol: &str, ats: &[u8]| AtsWeeklyRow {
        symbol: symbol.into(),
        week_start: week,
        tier: "T1".into(),
        ats_shares: Volume::parse(ats).ok(),
        otc_shares: None,
        last_update: None,
        initial_published: None,
        source: Carrier::Zip,
    };
    let ours = Schema::new("weekmajor").await;
    let earlier = Schema::new("weeksymbolmajor").await;
    admin()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {0}.ats_weekly (
                 symbol text NOT NULL, week_start date NOT NULL, tier text NOT NULL,
                 ats_shares numeric, otc_shares numeric, last_update_date date,
                 initial_published_date date, source text NOT NULL,
                 CONSTRAINT ats_weekly_pkey PRIMARY KEY (symbol, week_start));
             CREATE INDEX ats_weekly_week_start_idx ON {0}.ats_weekly (week_start);",
            earlier.name
        ))
        .await
        .expect("an earlier table");
    let key = |columns: &[&str]| columns.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let expected = [
        vec![(
            "ats_weekly_pkey".to_string(),
            key(&["week_start", "symbol"]),
        )],
        vec![
            (
                "ats_weekly_pkey".to_string(),
                key(&["symbol", "week_start"]),
            ),
            (
                "ats_weekly_week_start_idx".to_string(),
                key(&["week_start"]),
            ),
        ],
    ];
    for (schema, indexes) in [(&ours, &expected[0]), (&earlier, &expected[1])] {
        let store = open(schema).await;
        store.init().await.expect("init twice");
        assert_eq!(
            &indexes_of(&format!("{}.ats_weekly", schema.name)).await,
            indexes
        );
        store
            .upsert_ats_weekly(week, &[row("B", b"2"), row("A", b"1")])
            .await
            .expect("write");
        store
            .upsert_ats_weekly(week, &[row("B", b"2.5")])
            .await
            .expect("replace");
        let read = store.read_ats_weekly(week).await.expect("read");
        assert_eq!(read, [row("A", b"1"), row("B", b"2.5")], "{}", schema.name);
    }
}

/// Two writers of one new short interest settlement version at once: one writes every row (a
/// plain insert, no `ON CONFLICT`) and the other finds them and writes none; neither fails. (The
/// settlement's advisory lock orders them; so does the version's ledger row, upserted first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_of_a_new_settlement_version_write_it_once() {
    use offexchange::provenance::PublishedFrom;
    use offexchange::store::SourceVersion;
    use offexchange::ShortInterestRow;
    let schema = Schema::new("silock").await;
    let (a, b) = (open(&schema).await, open(&schema).await);
    for n in 0..6_u32 {
        let settlement = date(2024, 1, 12) + chrono::Duration::days(14 * i64::from(n));
        let sha = format!("{n:064x}");
        let version = SourceVersion {
            dataset: "short_interest".into(),
            name: format!("shrt{}.csv", settlement.format("%Y%m%d")),
            url: "https://cdn.finra.org/equity/otcmarket/biweekly/".into(),
            sha256: sha.clone(),
            bytes: 100,
            rows: 2_000,
            published_at: "2024-01-24T22:30:00Z".parse().expect("time"),
            published_from: PublishedFrom::LastModified,
        };
        let rows: Vec<ShortInterestRow> = (0..2_000)
            .map(|i| ShortInterestRow {
                symbol: format!("S{i:05}"),
                finra_symbol: format!("S{i:05}"),
                settlement_date: settlement,
                issue_name: "Issuer".into(),
                market_class: "NYSE".into(),
                current_short: i,
                previous_short: None,
                change_previous: None,
                change_percent: None,
                average_daily_volume: None,
                days_to_cover: None,
                days_to_cover_capped: false,
                stock_split: None,
                revision: None,
                sha256: sha.clone(),
                published_at: version.published_at,
                source: version.name.clone(),
            })
            .collect();
        let (ra, rb) = tokio::join!(
            a.commit_short_interest(settlement, &version, &rows),
            b.commit_short_interest(settlement, &version, &rows)
        );
        let mut written = [ra.expect("writer a"), rb.expect("writer b")];
        written.sort_unstable();
        assert_eq!(written, [0, 2_000], "settlement {settlement}");
    }
}
