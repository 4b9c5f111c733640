//! Short interest beside short volume, as a user runs it: a local server answering like FINRA's
//! CDN (with `Last-Modified`), `offx backfill`, then `offx export --with short-interest` and
//! `offx short-interest`.
//!
//! The story: the week of 2024-01-22. The settlement of 2023-12-29 was published on 2024-01-10;
//! the settlement of 2024-01-12 is published seven business days later, on 2024-01-24, after
//! the close (22:30 UTC, 17:30 in New York). So 2024-01-22, -23 and -24 see the 2023-12-29
//! values, and 2024-01-25 and -26 the 2024-01-12 values, though its settlement date is before
//! every day of the week.

mod common;

use common::{offx, stderr, stdout, Cdn};

const HEADER: &str = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n";
const SI_HEADER: &str = "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate\n";
const WEEK: [&str; 5] = ["20240122", "20240123", "20240124", "20240125", "20240126"];

fn cnms(day: &str) -> Vec<u8> {
    format!("{HEADER}{day}|AAA|40|0|100|B,Q,N\r\n{day}|BRK/B|10|0|40|Q\r\n2\r\n").into_bytes()
}

fn shrt(settlement: &str, aaa: u64, brkb_days: &str) -> Vec<u8> {
    let compact = settlement.replace('-', "");
    format!(
        "{SI_HEADER}{compact}|AAA|A Corp|A|NYSE|{aaa}|1000||500|2.5||1.0|10|{settlement}\n\
         {compact}|BRKB|Berkshire Hathaway Inc. Class B|A|NYSE|7000|6000||1|{brkb_days}||16.67|1000|{settlement}\n"
    )
    .into_bytes()
}

async fn the_week(cdn: &Cdn) {
    for day in WEEK {
        cdn.post(
            &format!("regsho/daily/CNMSshvol{day}.txt"),
            cnms(day),
            "Mon, 22 Jan 2024 23:00:00 GMT",
        )
        .await;
    }
    cdn.post(
        "otcmarket/biweekly/shrt20231229.csv",
        shrt("2023-12-29", 1200, "999.99"),
        "Wed, 10 Jan 2024 20:30:00 GMT",
    )
    .await;
    cdn.post(
        "otcmarket/biweekly/shrt20240112.csv",
        shrt("2024-01-12", 1500, "3.5"),
        "Wed, 24 Jan 2024 22:30:00 GMT",
    )
    .await;
}

#[tokio::test]
async fn exports_join_the_settlement_published_by_each_close() {
    let work = tempfile::tempdir().expect("tempdir");
    let cdn = Cdn::start().await;
    the_week(&cdn).await;
    let base = cdn.base_url();
    let env = [
        ("FINRA_BASE_URL", base.as_str()),
        ("FINRA_SHORT_VOLUME_MARKET", "CNMS"),
        ("OFFX_CACHE_DIR", "off"),
    ];
    let db = work.path().join("si.sqlite");
    let store = format!("sqlite:{}", db.display());
    let backfill = offx(
        &[
            "backfill",
            "--from",
            "2024-01-22",
            "--to",
            "2024-01-26",
            "--store",
            &store,
            "--format",
            "json",
        ],
        &env,
        work.path(),
    )
    .await;
    assert!(backfill.status.success(), "{}", stderr(&backfill));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&backfill)).expect("json");
    assert_eq!(summary["short_interest"]["stored"], 2, "{summary}");

    let export = |extra: &'static [&'static str]| {
        let store = store.clone();
        let dir = work.path().to_path_buf();
        async move {
            let mut args = vec![
                "export",
                "--from",
                "2024-01-22",
                "--to",
                "2024-01-26",
                "--symbols",
                "AAA,BRK/B",
                "--store",
                &store,
                "--with",
                "short-interest",
            ];
            args.extend_from_slice(extra);
            let out = offx(&args, &env, &dir).await;
            assert!(out.status.success(), "{}", stderr(&out));
            stdout(&out)
        }
    };
    let text = export(&[]).await;
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "symbol,trade_date,short_vol_share,short_exempt_share,ats_share_of_total,\
             short_available_at,ats_available_at,short_interest,days_to_cover,\
             short_interest_settlement_date"
        )
    );
    let si: Vec<(String, String)> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (format!("{} {}", cells[1], cells[0]), cells[7..].join(","))
        })
        .collect();
    let expected = [
        ("2024-01-22 AAA", "1200,2.5,2023-12-29"),
        ("2024-01-22 BRK/B", "7000,999.99,2023-12-29"),
        ("2024-01-23 AAA", "1200,2.5,2023-12-29"),
        ("2024-01-23 BRK/B", "7000,999.99,2023-12-29"),
        // Published that evening, after the close: not yet.
        ("2024-01-24 AAA", "1200,2.5,2023-12-29"),
        ("2024-01-24 BRK/B", "7000,999.99,2023-12-29"),
        ("2024-01-25 AAA", "1500,2.5,2024-01-12"),
        ("2024-01-25 BRK/B", "7000,3.5,2024-01-12"),
        ("2024-01-26 AAA", "1500,2.5,2024-01-12"),
        ("2024-01-26 BRK/B", "7000,3.5,2024-01-12"),
    ];
    let got: Vec<(&str, &str)> = si.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, expected);

    // As of the morning of 2024-01-24, the week's last days do not exist yet and 2024-01-12
    // is not published: every row sees 2023-12-29.
    let early = export(&["--as-of", "2024-01-24T14:00:00Z"]).await;
    assert!(
        early.lines().skip(1).all(|l| l.ends_with(",2023-12-29")),
        "{early}"
    );

    // JSON carries the same cells; a row before any settlement has them null.
    let json = export(&["--format", "json"]).await;
    let rows: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(rows[9]["short_interest"], 7000);
    assert_eq!(rows[9]["short_interest_settlement_date"], "2024-01-12");

    // offx coverage: each session sees a stored settlement (2024-01-24 sees 2024-01-12, due
    // that day by FINRA's schedule; the export joins it from the next day, after the post).
    let coverage = offx(
        &[
            "coverage",
            "--from",
            "2024-01-22",
            "--to",
            "2024-01-26",
            "--store",
            &store,
            "--format",
            "json",
        ],
        &env,
        work.path(),
    )
    .await;
    assert!(coverage.status.success(), "{}", stderr(&coverage));
    let report: serde_json::Value = serde_json::from_str(&stdout(&coverage)).expect("json");
    assert_eq!(report["counts"]["short_interest"]["stored"], 5, "{report}");
    let periods: Vec<&str> = report["days"]
        .as_array()
        .expect("days")
        .iter()
        .filter_map(|d| {
            d["datasets"]
                .as_array()?
                .iter()
                .find(|x| x["dataset"] == "short_interest")?["period"]
                .as_str()
        })
        .collect();
    assert_eq!(
        periods,
        [
            "2023-12-29",
            "2023-12-29",
            "2024-01-12",
            "2024-01-12",
            "2024-01-12"
        ]
    );

    // offx short-interest lists the stored settlements, the cap visible.
    let listed = offx(
        &[
            "short-interest",
            "--symbols",
            "BRK/B",
            "--from",
            "2023-12-01",
            "--to",
            "2024-01-31",
            "--store",
            &store,
        ],
        &env,
        work.path(),
    )
    .await;
    assert!(listed.status.success(), "{}", stderr(&listed));
    let table = stdout(&listed);
    assert!(table.contains("999.99 (FINRA's cap)"), "{table}");
    assert!(table.contains("shrt20240112.csv"), "{table}");
    let csv = offx(
        &[
            "short-interest",
            "--symbols",
            "BRK/B",
            "--from",
            "2023-12-01",
            "--to",
            "2024-01-31",
            "--store",
            &store,
            "--format",
            "csv",
        ],
        &env,
        work.path(),
    )
    .await;
    let csv = stdout(&csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].starts_with("BRK/B,2023-12-29,7000,6000,16.67,1,999.99,true,,2024-01-10T20:30:00.000000Z,shrt20231229.csv"), "{csv}");
}
