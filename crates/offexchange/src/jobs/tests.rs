//! The jobs at their own level: a tiny `file://` mirror written here (Reg SHO CNMS + FORF files
//! and the mirror's weekly ATS ZIP), the in-memory store, and a store that fails on cue.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Settings;
use crate::engine::Engine;
use crate::features::AtsWeeklyRow;
use crate::jobs::{BackfillOptions, SessionOutcome};
use crate::store::{
    Discovery, FeatureVersion, LedgerRow, MemoryStore, SessionCommit, Store, StoreError, StoredRow,
    UpsertSummary,
};

fn day(d: &str) -> NaiveDate {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("test date")
}

/// CNMS and FORF files of `date`: AAA 40/100 short, BRK/B 25/100, and FORF's OTCX 10/50.
fn regsho(root: &Path, date: NaiveDate, short_aaa: u32) {
    let dir = root.join("regsho/daily");
    fs::create_dir_all(&dir).expect("mkdir");
    let ymd = date.format("%Y%m%d");
    let header = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n";
    let cnms =
        format!("{header}{ymd}|AAA|{short_aaa}|1|100|B,Q,N\r\n{ymd}|BRK/B|25|0|100|Q\r\n2\r\n");
    let forf = format!("{header}{ymd}|OTCX|10|0|50|O\r\n1\r\n");
    fs::write(dir.join(format!("CNMSshvol{ymd}.txt")), cnms).expect("write");
    fs::write(dir.join(format!("FORFshvol{ymd}.txt")), forf).expect("write");
}

/// The mirror's weekly ZIP: AAA 30 ATS + 70 OTC shares, BRK.B 10 + 30 (FINRA's dotted spelling).
fn ats_zip(root: &Path, monday: NaiveDate, aaa_ats: u32, last_update: &str) {
    let dir = root.join("ATS");
    fs::create_dir_all(&dir).expect("mkdir");
    let week = monday.format("%Y-%m-%d");
    let mut text = String::from(
        "weekStartDate|tierIdentifier|tierDescription|issueSymbolIdentifier|issueName|MPID|\
         marketParticipantName|summaryTypeCode|totalWeeklyShareQuantity|totalWeeklyTradeCount|\
         lastUpdateDate\n",
    );
    for (symbol, ats, otc) in [("AAA", aaa_ats, 70), ("BRK.B", 10, 30)] {
        text.push_str(&format!(
            "{week}|T1|NMS Tier 1|{symbol}|x|||ATS_W_SMBL|{ats}|1|{last_update}\n\
             {week}|T1|NMS Tier 1|{symbol}|x|||OTC_W_SMBL|{otc}|1|{last_update}\n"
        ));
    }
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file(
            format!("ATS_W_Summary_{}.txt", monday.format("%Y%m%d")),
            options,
        )
        .expect("zip");
        zip.write_all(text.as_bytes()).expect("zip");
        zip.finish().expect("zip");
    }
    let name = format!("ATS_W_Summary_{}.zip", monday.format("%Y%m%d"));
    fs::write(dir.join(name), buffer.into_inner()).expect("write");
}

/// The backfill job over `from..=to`, never interrupted, progress ignored.
async fn backfill(
    engine: &Engine,
    store: &dyn Store,
    (from, to): (NaiveDate, NaiveDate),
    concurrency: usize,
    force: bool,
) -> Result<crate::jobs::BackfillSummary, crate::jobs::BackfillError> {
    let options = BackfillOptions { concurrency, force };
    engine
        .backfill(
            store,
            from,
            to,
            options,
            std::future::pending(),
            &mut |_| {},
        )
        .await
}

fn engine(root: &Path) -> Engine {
    let settings = Settings {
        base_url: url::Url::from_directory_path(root).expect("file URL"),
        ..Settings::default()
    };
    Engine::new(settings).expect("engine")
}

fn value(rows: &[StoredRow], symbol: &str) -> (Option<f64>, Option<f64>) {
    let row = rows
        .iter()
        .find(|r| r.symbol == symbol)
        .unwrap_or_else(|| panic!("no stored row for {symbol}"));
    (row.short_vol_share, row.ats_share_of_total)
}

/// Every session of 2024-04-01..05 and 2024-04-08..12 (Reg SHO), ATS for the first week only.
fn two_weeks(root: &Path) -> Vec<NaiveDate> {
    let sessions: Vec<NaiveDate> =
        crate::calendar::sessions_between(day("2024-04-01"), day("2024-04-12")).collect();
    for &d in &sessions {
        regsho(root, d, 40);
    }
    ats_zip(root, day("2024-04-01"), 30, "2024-04-22");
    sessions
}

#[tokio::test]
async fn a_session_commits_its_rows_and_its_week_record_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    two_weeks(dir.path());
    let store = MemoryStore::new();
    let engine = engine(dir.path());
    let outcome = engine
        .session(day("2024-04-02"), None, Some(&store))
        .await
        .expect("session");
    let SessionOutcome::Computed { session, stored } = outcome else {
        panic!("2024-04-02 is a session")
    };
    assert_eq!(stored.expect("stored").rows, 3);
    assert_eq!(session.week.len(), 2, "AAA and BRK/B recorded");
    let rows = store.read(day("2024-04-02")).await.expect("read");
    assert_eq!(value(&rows, "AAA"), (Some(0.4), Some(0.3)));
    assert_eq!(value(&rows, "BRK/B"), (Some(0.25), Some(0.25)));
    assert_eq!(
        value(&rows, "OTCX"),
        (Some(0.2), None),
        "not in the ATS week"
    );
    let week = store
        .read_ats_weekly(day("2024-04-01"))
        .await
        .expect("week");
    let symbols: Vec<&str> = week.iter().map(|r| r.symbol.as_str()).collect();
    assert_eq!(symbols, ["AAA", "BRK/B"], "under Reg SHO's spelling");

    // A closed day: nothing fetched, nothing written.
    let good_friday = engine
        .session(day("2024-03-29"), None, Some(&store))
        .await
        .expect("closed day");
    assert!(matches!(
        good_friday,
        SessionOutcome::Closed {
            reason: "Good Friday",
            ..
        }
    ));
}

#[tokio::test]
async fn a_week_not_yet_published_stays_pending_and_is_recorded_once_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    two_weeks(dir.path());
    let store = MemoryStore::new();
    let engine = engine(dir.path());
    engine
        .session(day("2024-04-09"), None, Some(&store))
        .await
        .expect("session");
    let rows = store.read(day("2024-04-09")).await.expect("read");
    assert_eq!(value(&rows, "AAA"), (Some(0.4), None));
    assert!(store
        .read_ats_weekly(day("2024-04-08"))
        .await
        .expect("week")
        .is_empty());

    ats_zip(dir.path(), day("2024-04-08"), 50, "2024-04-29");
    let summary = engine
        .catch_up(&store, day("2024-04-12"), 30)
        .await
        .expect("catch-up");
    assert_eq!(summary.rows_filled, 2, "{summary:?}");
    assert_eq!(summary.weeks_recorded, 1, "{summary:?}");
    let rows = store.read(day("2024-04-09")).await.expect("read");
    assert_eq!(value(&rows, "AAA"), (Some(0.4), Some(50.0 / 120.0)));
    let week = store
        .read_ats_weekly(day("2024-04-08"))
        .await
        .expect("week");
    assert_eq!(week.len(), 2);
    let lines = summary.lines();
    let filled = lines
        .iter()
        .find(|l| l.label.contains("rows filled"))
        .expect("a filled line");
    assert_eq!(filled.value, "2");
}

#[tokio::test]
async fn every_committed_backfill_session_has_its_week_even_when_the_run_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sessions = two_weeks(dir.path());
    ats_zip(dir.path(), day("2024-04-08"), 50, "2024-04-29");
    // The store dies on the second session of the second week (as a killed process would stop).
    let store = Failing {
        inner: MemoryStore::new(),
        fail_on: day("2024-04-09"),
    };
    let engine = engine(dir.path());
    let range = (sessions[0], sessions[sessions.len() - 1]);
    let failure = backfill(&engine, &store, range, 3, false)
        .await
        .expect_err("the store fails on 2024-04-09");
    assert_eq!(failure.trade_date, day("2024-04-09"));
    assert_eq!(failure.summary.sessions_stored, 6, "04-01..05 and 04-08");
    let stored = store.inner.dates_with_rows(&sessions).await.expect("dates");
    assert_eq!(stored.len(), 6);
    for week in [day("2024-04-01"), day("2024-04-08")] {
        let record = store.inner.read_ats_weekly(week).await.expect("week");
        assert_eq!(
            record.len(),
            2,
            "the week of {week} is recorded with its sessions"
        );
    }

    // Resuming finishes the range; the records stay.
    let summary = backfill(&engine, &store.inner, range, 3, false)
        .await
        .expect("resume");
    assert_eq!(
        (summary.sessions_stored, summary.sessions_already_stored),
        (4, 6)
    );
    let all: BTreeSet<NaiveDate> = store
        .inner
        .dates_with_rows(&sessions)
        .await
        .expect("dates")
        .into_iter()
        .collect();
    assert_eq!(all.len(), sessions.len());
}

#[tokio::test]
async fn a_forced_backfill_of_a_whole_week_rewrites_its_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    two_weeks(dir.path());
    let store = MemoryStore::new();
    let engine = engine(dir.path());
    engine
        .session(day("2024-04-01"), None, Some(&store))
        .await
        .expect("session");
    // FINRA revises the week; a forced backfill recomputes all its sessions.
    ats_zip(dir.path(), day("2024-04-01"), 90, "2024-04-30");
    backfill(
        &engine,
        &store,
        (day("2024-04-01"), day("2024-04-05")),
        2,
        true,
    )
    .await
    .expect("backfill");
    let week = store
        .read_ats_weekly(day("2024-04-01"))
        .await
        .expect("week");
    let aaa = week.iter().find(|r| r.symbol == "AAA").expect("AAA");
    assert_eq!(aaa.last_update, Some(day("2024-04-30")));
    let rows = store.read(day("2024-04-03")).await.expect("read");
    assert_eq!(value(&rows, "AAA").1, Some(90.0 / 160.0));
}

/// A store whose commit of one date fails (after nothing of it was written).
struct Failing {
    inner: MemoryStore,
    fail_on: NaiveDate,
}

#[async_trait]
impl Store for Failing {
    fn describe(&self) -> String {
        "failing:".into()
    }

    async fn init(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn discover_symbols(
        &self,
        trade_date: NaiveDate,
        which: Discovery,
    ) -> Result<Vec<String>, StoreError> {
        self.inner.discover_symbols(trade_date, which).await
    }

    async fn commit(&self, commit: &SessionCommit<'_>) -> Result<UpsertSummary, StoreError> {
        if commit.trade_date == self.fail_on {
            return Err(StoreError::transient("failing:", "connection lost"));
        }
        self.inner.commit(commit).await
    }

    async fn read(&self, trade_date: NaiveDate) -> Result<Vec<StoredRow>, StoreError> {
        self.inner.read(trade_date).await
    }

    async fn upsert_ats_weekly(
        &self,
        week_start: NaiveDate,
        rows: &[AtsWeeklyRow],
    ) -> Result<usize, StoreError> {
        self.inner.upsert_ats_weekly(week_start, rows).await
    }

    async fn read_ats_weekly(
        &self,
        week_start: NaiveDate,
    ) -> Result<Vec<AtsWeeklyRow>, StoreError> {
        self.inner.read_ats_weekly(week_start).await
    }

    async fn commit_short_interest(
        &self,
        settlement_date: NaiveDate,
        version: &crate::store::SourceVersion,
        rows: &[crate::store::ShortInterestRow],
    ) -> Result<usize, StoreError> {
        self.inner
            .commit_short_interest(settlement_date, version, rows)
            .await
    }

    async fn read_short_interest(
        &self,
        settlement_date: NaiveDate,
        sha256: &str,
        symbols: Option<&[String]>,
    ) -> Result<Vec<crate::store::ShortInterestRow>, StoreError> {
        self.inner
            .read_short_interest(settlement_date, sha256, symbols)
            .await
    }

    async fn regsho_daily(
        &self,
        trade_date: NaiveDate,
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<crate::store::StoredVolumes>, StoreError> {
        self.inner.regsho_daily(trade_date, as_of).await
    }

    async fn ledger(&self, sources: &[(String, String)]) -> Result<Vec<LedgerRow>, StoreError> {
        self.inner.ledger(sources).await
    }

    async fn feature_versions(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<FeatureVersion>, StoreError> {
        self.inner.feature_versions(trade_date, as_of).await
    }
}

#[tokio::test]
async fn a_corrupt_next_week_stops_the_backfill_after_the_finished_week_is_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sessions = two_weeks(dir.path());
    fs::write(
        dir.path().join("ATS/ATS_W_Summary_20240408.zip"),
        b"PK\x03\x04 not really a zip",
    )
    .expect("write");
    let store = MemoryStore::new();
    let engine = engine(dir.path());
    let range = (sessions[0], sessions[sessions.len() - 1]);
    let failure = backfill(&engine, &store, range, 2, false)
        .await
        .expect_err("the ZIP of 2024-04-08 is corrupt");
    assert_eq!(failure.trade_date, day("2024-04-08"));
    assert!(
        matches!(failure.error, crate::EngineError::Source(_)),
        "{failure}"
    );
    assert_eq!(failure.summary.sessions_stored, 5);
    let record = store
        .read_ats_weekly(day("2024-04-01"))
        .await
        .expect("week");
    assert_eq!(record.len(), 2, "the finished week keeps its record");
}

#[tokio::test]
async fn a_file_without_its_count_line_never_turns_stored_values_into_nulls() {
    let dir = tempfile::tempdir().expect("tempdir");
    two_weeks(dir.path());
    let store = MemoryStore::new();
    let engine = engine(dir.path());
    let date = day("2024-04-02");
    engine
        .session(date, None, Some(&store))
        .await
        .expect("first run");
    // FINRA re-posts CNMS without BRK/B and without the record-count line (the 2026 files
    // sometimes have none): nothing proves the file whole, so BRK/B keeps its stored values.
    let header = "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n";
    fs::write(
        dir.path().join("regsho/daily/CNMSshvol20240402.txt"),
        format!("{header}20240402|AAA|50|1|100|B,Q,N\r\n"),
    )
    .expect("write");
    let outcome = engine
        .session(date, None, Some(&store))
        .await
        .expect("second run");
    let SessionOutcome::Computed { session, .. } = outcome else {
        panic!("a session")
    };
    assert!(
        session
            .report
            .coverage
            .iter()
            .any(|c| c.contains("CNMSshvol20240402.txt has no record-count line")),
        "{:?}",
        session.report.coverage
    );
    let rows = store.read(date).await.expect("read");
    assert_eq!(value(&rows, "AAA"), (Some(0.5), Some(0.3)), "the new value");
    assert_eq!(value(&rows, "BRK/B"), (Some(0.25), Some(0.25)), "kept");
}

/// Sets a mirror file's modification time: in a `file://` mirror it stands for FINRA's
/// publication time.
fn posted_at(path: &Path, at: &str) {
    let at: DateTime<Utc> = at.parse().expect("an RFC 3339 time");
    let file = fs::File::options().write(true).open(path).expect("open");
    file.set_modified(at.into()).expect("set mtime");
}

#[tokio::test]
async fn exports_as_of_a_time_show_only_what_was_published_by_then() {
    use crate::jobs::{export, ExportRequest};
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let date = day("2024-04-02");
    regsho(root, date, 40);
    let cnms = root.join("regsho/daily/CNMSshvol20240402.txt");
    let forf = root.join("regsho/daily/FORFshvol20240402.txt");
    posted_at(&cnms, "2024-04-02T22:00:00Z");
    posted_at(&forf, "2024-04-02T21:30:00Z");
    let store = MemoryStore::new();
    let engine = engine(root);
    engine
        .session(date, None, Some(&store))
        .await
        .expect("first run");

    // FINRA re-posts CNMS with AAA corrected, then publishes the ATS week.
    regsho(root, date, 50);
    posted_at(&cnms, "2024-04-03T14:00:00Z");
    posted_at(&forf, "2024-04-02T21:30:00Z");
    ats_zip(root, day("2024-04-01"), 30, "2024-04-22");
    posted_at(
        &root.join("ATS/ATS_W_Summary_20240401.zip"),
        "2024-04-22T12:00:00Z",
    );
    engine
        .session(date, None, Some(&store))
        .await
        .expect("second run");

    let as_of = |at: Option<&str>| {
        let request = ExportRequest {
            from: date,
            to: date,
            symbols: Some(vec!["AAA".into(), "OTCX".into()]),
            as_of: at.map(|t| t.parse().expect("time")),
            with_short_interest: false,
        };
        let store = &store;
        async move {
            let mut out = Vec::new();
            export(store, &request, |rows| {
                out.extend(rows);
                Ok(())
            })
            .await
            .expect("export");
            out
        }
    };
    let t = |s: &str| Some(s.parse::<DateTime<Utc>>().expect("time"));
    assert!(
        as_of(Some("2024-04-02T21:59:59Z")).await.is_empty(),
        "before the first post"
    );
    let first = as_of(Some("2024-04-02T22:00:00Z")).await;
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].symbol, "AAA");
    assert_eq!(first[0].short_vol_share, Some(0.4), "the original value");
    assert_eq!(first[0].short_available_at, t("2024-04-02T22:00:00Z"));
    assert_eq!(
        (first[0].ats_share_of_total, first[0].ats_available_at),
        (None, None)
    );
    let corrected = as_of(Some("2024-04-10T00:00:00Z")).await;
    assert_eq!(
        corrected[0].short_vol_share,
        Some(0.5),
        "the corrected value"
    );
    assert_eq!(corrected[0].short_available_at, t("2024-04-03T14:00:00Z"));
    assert_eq!(
        corrected[0].ats_share_of_total, None,
        "ATS not yet published"
    );
    let published = as_of(Some("2024-04-22T12:00:00Z")).await;
    assert_eq!(published[0].ats_share_of_total, Some(0.3));
    assert_eq!(published[0].ats_available_at, t("2024-04-22T12:00:00Z"));
    assert_eq!(published[1].symbol, "OTCX");
    assert_eq!(
        (
            published[1].ats_share_of_total,
            published[1].ats_available_at
        ),
        (None, t("2024-04-22T12:00:00Z")),
        "known to be null once the week is out"
    );
    let latest = as_of(None).await;
    assert_eq!(latest, published, "without as_of: the latest values");

    // The ledger keeps both versions of the re-posted file.
    let ledger = store
        .ledger(&[("regsho_daily".into(), "CNMSshvol20240402.txt".into())])
        .await
        .expect("ledger");
    assert_eq!(ledger.len(), 2, "{ledger:?}");
}
