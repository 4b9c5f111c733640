//! `offx catch-up` following FINRA's revisions of published ATS weeks, end to end: Reg SHO from a
//! local server that answers like FINRA's CDN, the weekly ATS data from a local server that
//! answers like FINRA's Query API (or the mirror's weekly ZIP on the CDN), SQLite as the store.
//!
//! A backfill records each week in `ats_weekly` (shares and FINRA's `lastUpdateDate`); FINRA then
//! revises two symbols of the week of 2024-04-01 (new shares, `lastUpdateDate` three weeks after
//! publication moves from 2024-04-22 to 2024-04-29); catch-up sees the newer date, recomputes the
//! week, and only the revised symbols' `ats_share_of_total` change.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{
    api_rows_from_zip, offx, sample_mirror, stderr, stdout, stored_ats_weekly, stored_rows,
    write_zip, zip_member, Row, WeeklyRow,
};
use offx_testkit::{ApiRow, FinraApi, FinraCdn};

const WEEK: &str = "2024-04-01";
const EARLIER_WEEK: &str = "2024-03-25";
const PUBLISHED: &str = "2024-04-22";
const REVISED: &str = "2024-04-29";
/// Three weeks after the revised week: its Monday is within catch-up's last 8 weeks.
const UNTIL: &str = "2024-04-22";

/// (ATS shares, non-ATS shares) per ATS symbol of `week` in a weekly ZIP, and each symbol's tier.
fn symbol_shares(zip_path: &Path) -> BTreeMap<String, (String, Option<String>, Option<String>)> {
    let (_, text) = zip_member(zip_path);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('|').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (tier, symbol, kind, shares) = (
        col("tierIdentifier"),
        col("issueSymbolIdentifier"),
        col("summaryTypeCode"),
        col("totalWeeklyShareQuantity"),
    );
    let mut out: BTreeMap<String, (String, Option<String>, Option<String>)> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split('|').collect();
        let entry = out
            .entry(f[symbol].to_string())
            .or_insert_with(|| (f[tier].to_string(), None, None));
        match f[kind] {
            "ATS_W_SMBL" => entry.1 = Some(f[shares].to_string()),
            "OTC_W_SMBL" => entry.2 = Some(f[shares].to_string()),
            _ => {}
        }
    }
    out
}

/// Two symbols to revise: a plain Tier 1 one and a class share (`X.Y`, `X/Y` in Reg SHO), both
/// with ATS and non-ATS rows. Each with its new (ATS, non-ATS) shares, decimals included.
fn pick_revisions(zip_path: &Path) -> BTreeMap<String, (&'static str, &'static str)> {
    let shares = symbol_shares(zip_path);
    let both = |s: &&(String, Option<String>, Option<String>)| s.1.is_some() && s.2.is_some();
    let plain = shares
        .iter()
        .find(|(s, v)| !s.contains('.') && v.0 == "T1" && both(v))
        .map(|(s, _)| s.clone())
        .expect("a Tier 1 symbol with ATS and non-ATS rows");
    let dotted = shares
        .iter()
        .find(|(s, v)| s.contains('.') && both(v))
        .map(|(s, _)| s.clone())
        .expect("a class share with ATS and non-ATS rows");
    BTreeMap::from([
        (plain, ("1234.5", "3703.5")),
        (dotted, ("700.000001", "300")),
    ])
}

/// FINRA's exact decimal as millionths of a share.
fn micros(decimal: &str) -> u64 {
    let (whole, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    let frac = format!("{frac:0<6}");
    whole.parse::<u64>().unwrap() * 1_000_000 + frac.parse::<u64>().unwrap()
}

/// `ats / (ats + otc)`, computed the way the engine does (one division of exact totals).
fn ratio(ats: &str, otc: &str) -> f64 {
    micros(ats) as f64 / (micros(ats) + micros(otc)) as f64
}

fn reg_sho(ats_symbol: &str) -> String {
    ats_symbol.replace('.', "/")
}

async fn catch_up(work: &Path, db: &Path, env: &[(&str, &str)]) -> serde_json::Value {
    let store = format!("sqlite:{}", db.display());
    let args = [
        "catch-up", "--until", UNTIL, "--days", "30", "--store", &store, "--format", "json",
    ];
    let out = offx(&args, env, work).await;
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

async fn backfill(work: &Path, db: &Path, env: &[(&str, &str)]) {
    let store = format!("sqlite:{}", db.display());
    let args = [
        "backfill",
        "--from",
        EARLIER_WEEK,
        "--to",
        "2024-04-05",
        "--store",
        &store,
    ];
    let out = offx(&args, env, work).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The record of one week, by symbol.
fn record(db: &Path, week: &str) -> BTreeMap<String, WeeklyRow> {
    stored_ats_weekly(db)
        .into_iter()
        .filter(|r| r.1 == week)
        .map(|r| (r.0.clone(), r))
        .collect()
}

/// Checks the stores after a revision of `revisions` (ATS spelling -> new shares).
fn assert_revised(
    before: &[Row],
    after: &[Row],
    revisions: &BTreeMap<String, (&str, &str)>,
) -> usize {
    let expected: BTreeMap<String, f64> = revisions
        .iter()
        .map(|(s, (ats, otc))| (reg_sho(s), ratio(ats, otc)))
        .collect();
    assert_eq!(before.len(), after.len());
    let mut revised = 0;
    for (old, new) in before.iter().zip(after) {
        assert_eq!((&old.0, &old.1), (&new.0, &new.1));
        assert_eq!(
            (old.2, old.3),
            (new.2, new.3),
            "{} {}: short columns untouched",
            old.0,
            old.1
        );
        match expected.get(&new.0) {
            Some(value) if new.1.as_str() >= WEEK => {
                assert_eq!(
                    new.4,
                    Some(*value),
                    "{} {}: the revised ratio",
                    new.0,
                    new.1
                );
                assert_ne!(old.4, new.4, "{} {}: the value changed", new.0, new.1);
                revised += 1;
            }
            _ => assert_eq!(
                old.4, new.4,
                "{} {}: not revised, not rewritten",
                old.0, old.1
            ),
        }
    }
    // Every session of the week (2024-04-01 .. 04-05) holds both revised symbols.
    assert_eq!(revised, 2 * 5);
    revised
}

/// The record after the revision: the revised symbols with their new shares and date, every other
/// row of the week as it was.
fn assert_record_revised(
    before: &BTreeMap<String, WeeklyRow>,
    after: &BTreeMap<String, WeeklyRow>,
    revisions: &BTreeMap<String, (&str, &str)>,
) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (symbol, new) in after {
        let revised = revisions
            .iter()
            .find(|(s, _)| reg_sho(s) == *symbol)
            .map(|(_, v)| v);
        match revised {
            Some((ats, otc)) => {
                assert_eq!(new.3.as_deref(), Some(*ats), "{symbol}: exact ATS shares");
                assert_eq!(
                    new.4.as_deref(),
                    Some(*otc),
                    "{symbol}: exact non-ATS shares"
                );
                assert_eq!(new.5.as_deref(), Some(REVISED), "{symbol}");
            }
            None => assert_eq!(&before[symbol], new, "{symbol}: unchanged"),
        }
    }
}

#[tokio::test]
async fn a_revised_week_from_the_query_api_is_picked_up_by_catch_up() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let cdn = FinraCdn::serve_dir(&mirror).await;
    let api = FinraApi::start().await;
    let zip = |week: &str| mirror.join(format!("ATS/ATS_W_Summary_{}.zip", week.replace('-', "")));
    api.add_rows(api_rows_from_zip(&zip(EARLIER_WEEK)));
    api.add_rows(api_rows_from_zip(&zip(WEEK)));
    let revisions = pick_revisions(&zip(WEEK));
    let (base, api_base) = (cdn.base_url(), api.base_url());
    let env = [
        ("FINRA_BASE_URL", base.as_str()),
        ("FINRA_ATS_SOURCE", "api"),
        ("FINRA_API_BASE_URL", api_base.as_str()),
    ];
    let db = work.path().join("f.sqlite");
    backfill(work.path(), &db, &env).await;

    // The backfill recorded both weeks: Reg SHO spelling, FINRA's date, the carrier.
    let recorded = record(&db, WEEK);
    assert!(recorded.len() > 250, "{} symbols", recorded.len());
    assert!(recorded
        .values()
        .all(|r| r.5.as_deref() == Some(PUBLISHED) && r.7 == "api"));
    assert!(
        recorded.keys().all(|s| !s.contains('.')),
        "Reg SHO spelling"
    );
    for (symbol, (tier, ats, otc)) in symbol_shares(&zip(WEEK)) {
        if let Some(row) = recorded.get(&reg_sho(&symbol)) {
            assert_eq!((&row.2, &row.3, &row.4), (&tier, &ats, &otc), "{symbol}");
        }
    }
    assert!(!record(&db, EARLIER_WEEK).is_empty());

    // Nothing revised: nothing rewritten.
    let before = stored_rows(&db);
    let quiet = catch_up(work.path(), &db, &env).await;
    assert_eq!(quiet["weeks_revised"], 0, "{quiet}");
    assert_eq!(quiet["weeks_recorded"], 0, "{quiet}");
    assert_eq!(quiet["rows_revised"], 0, "{quiet}");
    assert_eq!(stored_rows(&db), before);
    assert_eq!(record(&db, WEEK), recorded);

    // FINRA revises two symbols of the week.
    api.revise_rows(|row: ApiRow| {
        let symbol = row.get("issueSymbolIdentifier").unwrap_or_default();
        let Some((ats, otc)) = revisions.get(&symbol) else {
            return row;
        };
        if row.get("weekStartDate").as_deref() != Some(WEEK) {
            return row;
        }
        let row = row.with("lastUpdateDate", &format!("\"{REVISED}\""));
        match row.get("summaryTypeCode").as_deref() {
            Some("ATS_W_SMBL") => row.with("totalWeeklyShareQuantity", ats),
            Some("OTC_W_SMBL") => row.with("totalWeeklyShareQuantity", otc),
            _ => row,
        }
    });
    // A daily run of one session of that week stores the new values for its day, but leaves
    // the record alone: the week's other sessions still hold the old ones.
    let store = format!("sqlite:{}", db.display());
    let args = [
        "enrich",
        "--date",
        "2024-04-02",
        "--store",
        &store,
        "--format",
        "csv",
    ];
    let enrich = offx(&args, &env, work.path()).await;
    assert!(enrich.status.success(), "{}", stderr(&enrich));
    assert!(
        stderr(&enrich).contains("FINRA revised the ATS week of 2024-04-01"),
        "{}",
        stderr(&enrich)
    );
    assert_eq!(
        record(&db, WEEK),
        recorded,
        "the record is not moved forward"
    );

    let doc = catch_up(work.path(), &db, &env).await;
    assert_eq!(doc["weeks_revised"], 1, "{doc}");
    assert_eq!(doc["revised_weeks"], serde_json::json!([WEEK]), "{doc}");
    let after = stored_rows(&db);
    let changed = assert_revised(&before, &after, &revisions);
    // 2024-04-02 was already up to date.
    assert_eq!(doc["rows_revised"], changed - 2, "{doc}");
    assert_record_revised(&recorded, &record(&db, WEEK), &revisions);

    // Recorded now: the next run changes nothing.
    let again = catch_up(work.path(), &db, &env).await;
    assert_eq!(again["weeks_revised"], 0, "{again}");
    assert_eq!(stored_rows(&db), after);
}

#[tokio::test]
async fn a_revised_weekly_zip_is_picked_up_past_the_raw_file_cache() {
    let work = tempfile::tempdir().unwrap();
    let mirror = sample_mirror(work.path());
    let cdn = FinraCdn::serve_dir(&mirror).await;
    let zip = mirror.join("ATS/ATS_W_Summary_20240401.zip");
    let revisions = pick_revisions(&zip);
    let base = cdn.base_url();
    let env = [("FINRA_BASE_URL", base.as_str())];
    let db = work.path().join("f.sqlite");
    backfill(work.path(), &db, &env).await;
    let recorded = record(&db, WEEK);
    assert!(recorded
        .values()
        .all(|r| r.5.as_deref() == Some(PUBLISHED) && r.7 == "zip"));
    let before = stored_rows(&db);

    // FINRA's revision, in the mirror: the backfill's cached copy of the ZIP is now stale.
    let (member, text) = zip_member(&zip);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let columns: Vec<&str> = header.split('|').collect();
    let col = |name: &str| columns.iter().position(|h| *h == name).unwrap();
    let mut revised_text = format!("{header}\n");
    for line in lines {
        let mut f: Vec<String> = line.split('|').map(String::from).collect();
        if let Some((ats, otc)) = revisions.get(&f[col("issueSymbolIdentifier")]) {
            f[col("lastUpdateDate")] = REVISED.to_string();
            match f[col("summaryTypeCode")].as_str() {
                "ATS_W_SMBL" => f[col("totalWeeklyShareQuantity")] = ats.to_string(),
                "OTC_W_SMBL" => f[col("totalWeeklyShareQuantity")] = otc.to_string(),
                _ => {}
            }
        }
        revised_text.push_str(&f.join("|"));
        revised_text.push('\n');
    }
    write_zip(&zip, &member, &revised_text);

    let store = format!("sqlite:{}", db.display());
    let args = [
        "catch-up", "--until", UNTIL, "--days", "30", "--store", &store,
    ];
    let out = offx(&args, &env, work.path()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    let line = table
        .lines()
        .find(|l| l.contains("weeks revised by FINRA"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains(&format!("1 ({WEEK})")), "{table}");
    assert!(
        stderr(&out).contains("FINRA revised the ATS week of 2024-04-01"),
        "{}",
        stderr(&out)
    );
    assert_revised(&before, &stored_rows(&db), &revisions);
    assert_record_revised(&recorded, &record(&db, WEEK), &revisions);
    let earlier = record(&db, EARLIER_WEEK);
    assert!(earlier
        .values()
        .all(|r| r.5.as_deref() == Some("2024-04-15")));

    let again = catch_up(work.path(), &db, &env).await;
    assert_eq!(again["weeks_revised"], 0, "{again}");
}
