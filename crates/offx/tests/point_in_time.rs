//! Point in time, as a user runs it: a local server that answers like FINRA's CDN and sends
//! `Last-Modified`; `offx enrich` after each post; `offx export --as-of` between the posts.
//!
//! The story: Reg SHO for 2024-04-02 is posted that evening, the ATS week not yet; the next day
//! FINRA re-posts CNMS with a corrected row; weeks later it publishes the ATS week. Exports as of
//! moments between those posts show nothing (before the first post), the original value, the
//! corrected one, and ATS only once published. Once into SQLite, once into PostgreSQL.

mod common;

use std::path::Path;

use common::{offx, stderr, stdout, write_zip, Cdn};

const HEADER: &str = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n";

fn cnms(aaa_short: u32) -> Vec<u8> {
    format!("{HEADER}20240402|AAA|{aaa_short}|0|100|B,Q,N\r\n20240402|BBB|10|0|40|Q\r\n2\r\n")
        .into_bytes()
}

fn forf() -> Vec<u8> {
    format!("{HEADER}20240402|OTCX|5|0|50|O\r\n1\r\n").into_bytes()
}

fn ats_zip(dir: &Path) -> Vec<u8> {
    let text = "weekStartDate|tierIdentifier|tierDescription|issueSymbolIdentifier|issueName|MPID|\
                marketParticipantName|summaryTypeCode|totalWeeklyShareQuantity|\
                totalWeeklyTradeCount|lastUpdateDate\n\
                2024-04-01|T1|NMS Tier 1|AAA|A Corp|||ATS_W_SMBL|25|3|2024-04-22\n\
                2024-04-01|T1|NMS Tier 1|AAA|A Corp|||OTC_W_SMBL|75|9|2024-04-22\n";
    let zip = dir.join("week.zip");
    write_zip(&zip, "ATS_W_Summary_20240401.txt", text);
    std::fs::read(zip).expect("the ZIP")
}

/// `offx export` of AAA on 2024-04-02 as of `at`, CSV lines without the header.
async fn aaa_as_of(work: &Path, env: &[(&str, &str)], store: &str, at: &str) -> Vec<String> {
    let args = [
        "export",
        "--from",
        "2024-04-02",
        "--to",
        "2024-04-02",
        "--symbols",
        "AAA",
        "--store",
        store,
        "--as-of",
        at,
    ];
    let out = offx(&args, env, work).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "symbol,trade_date,short_vol_share,short_exempt_share,ats_share_of_total,\
             short_available_at,ats_available_at"
        )
    );
    lines.map(str::to_string).collect()
}

async fn the_story(store: &str) {
    let work = tempfile::tempdir().expect("tempdir");
    let cdn = Cdn::start().await;
    let base = cdn.base_url();
    let env = [("FINRA_BASE_URL", base.as_str()), ("OFFX_CACHE_DIR", "off")];
    let enrich = || async {
        let args = [
            "enrich",
            "--date",
            "2024-04-02",
            "--store",
            store,
            "--format",
            "csv",
        ];
        let out = offx(&args, &env, work.path()).await;
        assert!(out.status.success(), "{}", stderr(&out));
    };

    // The evening of 2024-04-02: Reg SHO posted; the ATS week is weeks away.
    cdn.post(
        "regsho/daily/CNMSshvol20240402.txt",
        cnms(40),
        "Tue, 02 Apr 2024 22:00:00 GMT",
    )
    .await;
    cdn.post(
        "regsho/daily/FORFshvol20240402.txt",
        forf(),
        "Tue, 02 Apr 2024 21:30:00 GMT",
    )
    .await;
    enrich().await;
    // The next day CNMS is re-posted with AAA corrected; on 2024-04-22 the ATS week appears.
    cdn.post(
        "regsho/daily/CNMSshvol20240402.txt",
        cnms(60),
        "Wed, 03 Apr 2024 14:00:00 GMT",
    )
    .await;
    cdn.post(
        "ATS/ATS_W_Summary_20240401.zip",
        ats_zip(work.path()),
        "Mon, 22 Apr 2024 12:00:00 GMT",
    )
    .await;
    enrich().await;

    let w = work.path();
    assert!(
        aaa_as_of(w, &env, store, "2024-04-02T21:59:59Z")
            .await
            .is_empty(),
        "before the first post: nothing"
    );
    assert_eq!(
        aaa_as_of(w, &env, store, "2024-04-02T23:00:00-00:00").await,
        ["AAA,2024-04-02,0.4,0,,2024-04-02T22:00:00.000000Z,"],
        "the original value; ATS not published"
    );
    assert_eq!(
        aaa_as_of(w, &env, store, "2024-04-10T09:30:00-04:00").await,
        ["AAA,2024-04-02,0.6,0,,2024-04-03T14:00:00.000000Z,"],
        "the corrected value; ATS still not published"
    );
    assert_eq!(
        aaa_as_of(w, &env, store, "2024-04-22T12:00:00Z").await,
        ["AAA,2024-04-02,0.6,0,0.25,2024-04-03T14:00:00.000000Z,2024-04-22T12:00:00.000000Z"],
        "ATS once published"
    );

    // Without --as-of: the latest values, every symbol, ordered by (trade_date, symbol).
    let args = [
        "export",
        "--from",
        "2024-04-01",
        "--to",
        "2024-04-05",
        "--store",
        store,
    ];
    let latest = offx(&args, &env, w).await;
    assert!(latest.status.success(), "{}", stderr(&latest));
    let rows: Vec<String> = stdout(&latest)
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    assert_eq!(
        rows,
        [
            "AAA,2024-04-02,0.6,0,0.25,2024-04-03T14:00:00.000000Z,2024-04-22T12:00:00.000000Z",
            "BBB,2024-04-02,0.25,0,,2024-04-03T14:00:00.000000Z,2024-04-22T12:00:00.000000Z",
            "OTCX,2024-04-02,0.1,0,,2024-04-03T14:00:00.000000Z,2024-04-22T12:00:00.000000Z",
        ]
    );

    // --out writes the same bytes, with the mode any new file of the user's gets (0666 less the
    // umask: another user can read it where they could read the user's other files), not 0600.
    let file = w.join("latest.csv");
    let to_file = offx(
        &[&args[..], &["--out", file.to_str().expect("utf-8 path")]].concat(),
        &env,
        w,
    )
    .await;
    assert!(to_file.status.success(), "{}", stderr(&to_file));
    assert_eq!(
        std::fs::read_to_string(&file).expect("export"),
        stdout(&latest)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let plain = w.join("plain");
        std::fs::File::create(&plain).expect("create");
        assert_eq!(format!("{:o}", mode(&file)), format!("{:o}", mode(&plain)));
    }
}

#[tokio::test]
async fn as_of_exports_follow_the_posts_in_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("pit.sqlite");
    the_story(&format!("sqlite:{}", db.display())).await;
    // The ledger keeps both versions of the re-posted file, and the week's.
    let conn = rusqlite::Connection::open(&db).expect("sqlite");
    let versions: Vec<(String, String)> = conn
        .prepare("SELECT name, published_at FROM finra_files ORDER BY published_at")
        .expect("finra_files")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        versions,
        [
            (
                "FORFshvol20240402.txt".into(),
                "2024-04-02T21:30:00.000000Z".into()
            ),
            (
                "CNMSshvol20240402.txt".into(),
                "2024-04-02T22:00:00.000000Z".into()
            ),
            (
                "CNMSshvol20240402.txt".into(),
                "2024-04-03T14:00:00.000000Z".into()
            ),
            (
                "ATS_W_Summary_20240401.zip".into(),
                "2024-04-22T12:00:00.000000Z".into()
            ),
        ]
    );
}

#[tokio::test]
async fn as_of_exports_follow_the_posts_in_postgresql() {
    let admin_url = std::env::var("OFFX_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (admin, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is unreachable at {admin_url}: {e} (CI starts it)"));
    tokio::spawn(connection);
    let schema = format!("offx_pit_{}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .expect("a scratch schema");
    let url = url_with_schema(&admin_url, &schema);
    the_story(&url).await;
    let versions: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {schema}.finra_files"), &[])
        .await
        .expect("finra_files")
        .get(0);
    assert_eq!(versions, 4);
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop the schema");
}

fn url_with_schema(admin_url: &str, schema: &str) -> String {
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    format!("{admin_url}{sep}options=-csearch_path%3D{schema}")
}
