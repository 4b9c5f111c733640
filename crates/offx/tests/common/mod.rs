//! Helpers for running the real `offx` binary in tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use std::collections::BTreeMap;
use std::sync::Mutex;

use rusqlite::Connection;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs `offx` with a clean configuration: only the given variables, in an empty directory (so no
/// stray `.env` or store settings of the developer's leak in).
pub async fn offx(args: &[&str], env: &[(&str, &str)], workdir: &Path) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_offx"));
    command.args(args).current_dir(workdir);
    for (key, _) in std::env::vars() {
        let ours = [
            "FINRA_",
            "OFFX_",
            "SUPABASE",
            "NEXT_PUBLIC_SUPABASE",
            "DATABASE_URL",
            "RUST_BACKTRACE",
        ];
        if ours.iter().any(|p| key.starts_with(p)) {
            command.env_remove(key);
        }
    }
    command
        .env("FINRA_HTTP_BACKOFF", "0")
        .env("FINRA_HTTP_RETRIES", "1");
    // Each run gets its own raw-file cache unless the test names one.
    command.env("OFFX_CACHE_DIR", workdir.join("offx-cache"));
    command.envs(env.iter().copied());
    command.output().await.expect("offx runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A stored row: (symbol, date, short_vol_share, short_exempt_share, ats_share_of_total).
pub type Row = (String, String, Option<f64>, Option<f64>, Option<f64>);

pub fn stored_rows(db: &Path) -> Vec<Row> {
    let conn = Connection::open(db).expect("open sqlite");
    let mut stmt = conn
        .prepare(
            "SELECT symbol, trade_date, short_vol_share, short_exempt_share, ats_share_of_total
             FROM daily_features ORDER BY trade_date, symbol",
        )
        .expect("daily_features exists");
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

/// A synthetic mirror of `symbols` over `from..=to` (every file published), at `root`.
pub fn synth_mirror(root: &Path, from: &str, to: &str, symbols: usize) {
    let (mut plan, _, _) = offx_synth::sample_plan(symbols, 7);
    plan.missing.clear();
    plan.short_over_total.clear();
    let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("a date");
    offx_synth::mirror(root, day(from), day(to), &plan).expect("mirror");
}

/// Writes the synthetic sample mirror into `dir` and returns its path.
pub fn sample_mirror(dir: &Path) -> PathBuf {
    let root = dir.join("mirror");
    let (plan, from, to) = offx_synth::sample_plan(300, 20240401);
    offx_synth::mirror(&root, from, to, &plan).expect("sample mirror written");
    root
}

pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A row of `ats_weekly`: (symbol, week_start, tier, ats_shares, otc_shares, last_update_date,
/// initial_published_date, source), every value as SQLite holds it (text).
pub type WeeklyRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

pub fn stored_ats_weekly(db: &Path) -> Vec<WeeklyRow> {
    let conn = Connection::open(db).expect("open sqlite");
    let mut stmt = conn
        .prepare(
            "SELECT symbol, week_start, tier, ats_shares, otc_shares, last_update_date,
                    initial_published_date, source
             FROM ats_weekly ORDER BY week_start, symbol",
        )
        .expect("ats_weekly exists");
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

/// The text of a weekly ZIP's one member, and the member's name.
pub fn zip_member(zip_path: &Path) -> (String, String) {
    use std::io::Read;
    let file = std::fs::File::open(zip_path).expect("the weekly ZIP");
    let mut archive = zip::ZipArchive::new(file).expect("a ZIP");
    let mut member = archive.by_index(0).expect("one member");
    let mut text = String::new();
    member.read_to_string(&mut text).expect("text");
    (member.name().to_string(), text)
}

/// Writes `text` as the one member `name` of a ZIP at `zip_path`.
pub fn write_zip(zip_path: &Path, name: &str, text: &str) {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut out);
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .expect("a member");
        writer.write_all(text.as_bytes()).expect("written");
        writer.finish().expect("finished");
    }
    std::fs::write(zip_path, out.into_inner()).expect("the ZIP written");
}

/// Every row of a weekly ZIP as a Query API row (firm breakdowns included: the API query's
/// domain filter must keep them out, as the ZIP parser does).
pub fn api_rows_from_zip(zip_path: &Path) -> Vec<offx_testkit::ApiRow> {
    let (_, text) = zip_member(zip_path);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split('|').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (week, tier, symbol, kind, shares, updated) = (
        col("weekStartDate"),
        col("tierIdentifier"),
        col("issueSymbolIdentifier"),
        col("summaryTypeCode"),
        col("totalWeeklyShareQuantity"),
        col("lastUpdateDate"),
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            offx_testkit::ApiRow::new(f[week], f[tier], f[symbol], f[kind], f[shares])
                .with("lastUpdateDate", &format!("\"{}\"", f[updated]))
        })
        .collect()
}

pub const ACCESS_DENIED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";

/// A CDN stand-in whose files can be (re-)posted, each with its `Last-Modified`.
pub struct Cdn {
    server: MockServer,
    files: Mutex<BTreeMap<String, (Vec<u8>, String)>>,
}

impl Cdn {
    pub async fn start() -> Cdn {
        let cdn = Cdn {
            server: MockServer::start().await,
            files: Mutex::new(BTreeMap::new()),
        };
        cdn.mount().await;
        cdn
    }

    pub fn base_url(&self) -> String {
        format!("{}/equity", self.server.uri())
    }

    pub async fn post(&self, relative: &str, body: Vec<u8>, last_modified: &str) {
        self.files.lock().expect("files").insert(
            format!("/equity/{relative}"),
            (body, last_modified.to_string()),
        );
        self.mount().await;
    }

    /// Every posted file, and S3's 403 AccessDenied for anything else (FINRA's "not published").
    pub async fn mount(&self) {
        self.server.reset().await;
        let files = self.files.lock().expect("files").clone();
        for (at, (body, last_modified)) in files {
            Mock::given(method("GET"))
                .and(path(at))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_bytes(body)
                        .insert_header("Last-Modified", last_modified.as_str()),
                )
                .with_priority(1)
                .mount(&self.server)
                .await;
        }
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(403).set_body_raw(ACCESS_DENIED, "application/xml"))
            .with_priority(10)
            .mount(&self.server)
            .await;
    }
}
