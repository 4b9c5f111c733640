//! Looking at the data: `offx chart` (SVG file, terminal) and `offx report` (one HTML page) on a
//! stored backfill, their content checked against the store; then both rendered in headless
//! Chromium (Debian's `chromium`, which `.ci/run` installs) and the screenshots checked for ink.

mod common;

use std::path::{Path, PathBuf};

use common::{offx, stderr, stdout, synth_mirror};
use offx_testkit::FinraCdn;
use rusqlite::Connection;

const FROM: &str = "2024-01-02";
const DAY: &str = "2024-02-09";

/// A backfilled SQLite store of 60 synthetic symbols over FROM..DAY; (workdir, store URL, db).
async fn stored() -> (tempfile::TempDir, String, PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("mirror");
    synth_mirror(&root, FROM, DAY, 60);
    let cdn = FinraCdn::serve_dir(&root).await;
    let db = work.path().join("view.sqlite");
    let store = format!("sqlite:{}", db.display());
    let base = cdn.base_url();
    let env = [("FINRA_BASE_URL", base.as_str()), ("OFFX_CACHE_DIR", "off")];
    let done = offx(
        &["backfill", "--from", FROM, "--to", DAY, "--store", &store],
        &env,
        work.path(),
    )
    .await;
    assert!(done.status.success(), "{}", stderr(&done));
    (work, store, db)
}

/// A symbol with a null short_vol_share on some sessions (it did not trade: its row holds only
/// the week's ATS share) and its stored values.
fn gappy_symbol(db: &Path) -> (String, Vec<(String, Option<f64>)>) {
    let conn = Connection::open(db).unwrap();
    let symbol: String = conn
        .query_row(
            "SELECT symbol FROM daily_features GROUP BY symbol
             HAVING sum(short_vol_share IS NULL) > 0 AND count(*) = 28
             ORDER BY sum(short_vol_share IS NULL) DESC, symbol LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("a symbol with a null day");
    let mut stmt = conn
        .prepare("SELECT trade_date, short_vol_share FROM daily_features WHERE symbol = ?1 ORDER BY trade_date")
        .unwrap();
    let rows = stmt
        .query_map([&symbol], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    (symbol, rows)
}

#[tokio::test]
async fn charts_show_every_value_mark_gaps_and_draw_the_mean() {
    let (work, store, db) = stored().await;
    let (symbol, rows) = gappy_symbol(&db);
    let svg = work.path().join("chart.svg");
    let out = offx(
        &[
            "chart",
            &symbol,
            "--from",
            FROM,
            "--to",
            DAY,
            "--store",
            &store,
            "--out",
            svg.to_str().unwrap(),
        ],
        &[],
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") || text.contains("<svg"),
        "an SVG document"
    );
    assert!(
        text.contains(&format!("{symbol}  {FROM} .. {DAY}")),
        "the title"
    );
    for label in [
        "short_vol_share",
        "20-session mean",
        "ats_share_of_total (weekly)",
    ] {
        assert!(text.contains(label), "legend {label}");
    }
    // One blue point per stored value (+1 in the legend); a marker per session without one.
    assert_eq!(rows.len(), 28, "a row every session");
    let values = rows.iter().filter(|(_, v)| v.is_some()).count();
    assert_eq!(
        text.matches("fill=\"#1F77B4\"").count(),
        values + 1,
        "{symbol}"
    );
    let sessions = 28;
    let gaps = sessions - values;
    assert!(gaps > 0);
    // Stored rows with a null value: orange markers (+1 in the legend; grey would be a day with
    // no row at all, and this symbol has a row every day, so grey is neither drawn nor listed).
    assert_eq!(
        text.matches("fill=\"#FF7F0E\"").count(),
        gaps + 1,
        "null days marked"
    );
    assert!(text.contains("null or pending") && !text.contains("no row"));
    assert!(!text.contains("#969696"), "no grey marker");
    // The legend sits above the plot: every legend label's baseline is above the plot's top
    // (the y axis label "1.0", drawn at the top edge of the plot).
    let texts: Vec<(f64, &str)> = text
        .split("<text")
        .skip(1)
        .map(|el| {
            let y = el
                .split(" y=\"")
                .nth(1)
                .expect("y")
                .split('"')
                .next()
                .expect("y");
            let body = el.split_once('>').expect("tag").1;
            let body = body.split("</text>").next().expect("text").trim();
            (y.parse().expect("a number"), body)
        })
        .collect();
    let y_of = |label: &str| -> f64 {
        let found = texts.iter().find(|(_, t)| *t == label);
        found
            .unwrap_or_else(|| panic!("{label} drawn: {texts:?}"))
            .0
    };
    let plot_top = y_of("1.0");
    for label in [
        "short_vol_share",
        "20-session mean",
        "ats_share_of_total (weekly)",
        "null or pending",
    ] {
        assert!(y_of(label) < plot_top, "{label} above the plot");
    }
    assert!(
        text.contains("stroke=\"#D62728\""),
        "the rolling mean is drawn"
    );

    // In the terminal: one mark per session, gaps as ░.
    let out = offx(
        &[
            "chart", &symbol, "--from", FROM, "--to", DAY, "--store", &store,
        ],
        &[],
        work.path(),
    )
    .await;
    let text = stdout(&out);
    let line = text.lines().nth(1).expect("the short line");
    let marks: String = line
        .trim_start_matches("short_vol_share")
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert_eq!(marks.chars().count(), sessions, "{text}");
    assert_eq!(marks.chars().filter(|c| *c == '·').count(), gaps, "{text}");

    // As PNG: a real image of the chart's size, with ink in the chart's colours.
    let png = work.path().join("chart.png");
    let out = offx(
        &[
            "chart",
            &symbol,
            "--from",
            FROM,
            "--to",
            DAY,
            "--store",
            &store,
            "--out",
            png.to_str().unwrap(),
        ],
        &[],
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (size, colours, ink) = png_stats(&png);
    assert_eq!(size, (900, 420));
    assert!(colours > 8 && ink > 0.01, "{colours} colours, {ink:.4} ink");
    // Any other name is refused, naming what works.
    let out = offx(
        &["chart", &symbol, "--store", &store, "--out", "c.jpg"],
        &[],
        work.path(),
    )
    .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains(".svg or .png"), "{}", stderr(&out));
}

#[tokio::test]
async fn the_report_lists_ranks_filters_and_holds_every_symbol() {
    let (work, store, db) = stored().await;
    let html_path = work.path().join("report.html");
    let out = offx(
        &[
            "report",
            "--date",
            DAY,
            "--store",
            &store,
            "--out",
            html_path.to_str().unwrap(),
            "--min-total-volume",
            "1000000",
            "--limit",
            "5",
        ],
        &[],
        work.path(),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains(&format!("<h1>offexchange report {DAY}</h1>")));
    // Self-contained: nothing fetched from anywhere (the SVG namespace is a name, not a request).
    for outside in ["src=", "href=\"http", "<link", "@import", "url("] {
        assert!(!html.contains(outside), "{outside}");
    }
    assert!(html.contains("<td>regsho_daily</td>"), "coverage");
    // The week was backfilled from the mirror's ZIP, which holds every tier: stored, and no
    // tier "awaited" (offx's default source, FINRA's API, splits a week into three tiers).
    let week = html
        .split("<tr>")
        .find(|row| row.contains("<td>otc_weekly</td>"))
        .expect("an otc_weekly coverage row");
    assert!(
        week.contains("week of 2024-02-05 from ATS_W_Summary_20240205.zip"),
        "{week}"
    );
    assert!(!week.contains("awaited"), "{week}");
    assert_eq!(
        html.matches("<a href=\"#chart-").count(),
        15,
        "three lists of 5"
    );
    assert!(html.matches("<figure id=\"chart-").count() >= 5);

    // The lists respect the floor and the order; the table holds every stored symbol.
    let conn = Connection::open(&db).unwrap();
    let stored: i64 = conn
        .query_row(
            "SELECT count(*) FROM daily_features WHERE trade_date = ?1",
            [DAY],
            |r| r.get(0),
        )
        .unwrap();
    let table = &html[html.find("<table id=\"all\">").unwrap()..];
    assert_eq!(table.matches("<tr><td>").count() as i64, stored);
    let (best, share, total): (String, f64, String) = conn
        .query_row(
            "SELECT f.symbol, f.short_vol_share, v.total_volume FROM daily_features f
             JOIN regsho_daily v ON v.trade_date = f.trade_date AND v.symbol = f.symbol
             WHERE f.trade_date = ?1 AND CAST(v.total_volume AS REAL) >= 1000000
             ORDER BY f.short_vol_share DESC LIMIT 1",
            [DAY],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let first_list = &html[html.find("Highest short_vol_share").unwrap()..];
    let first_row = &first_list[first_list.find("<td>1</td>").unwrap()..];
    assert!(
        first_row.contains(&format!(">{best}</a></td><td>{share:.4}</td>")),
        "{first_row:.300}"
    );
    assert!(total.parse::<f64>().unwrap() >= 1_000_000.0);
    // Nulls show as a dash, never as 0: the z of a symbol with under 10 sessions is null.
    assert!(html.contains("&mdash;") || !html.contains(">0.0000<"));
}

/// Debian's Chromium, or None.
fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Renders `page` headless into a PNG screenshot and returns its decoded pixels' distinct
/// colours and the share of non-white pixels.
fn screenshot(browser: &Path, page: &Path, png: &Path) -> (usize, f64) {
    let done = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1100,900",
            &format!("--screenshot={}", png.display()),
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    let (_, colours, ink) = png_stats(png);
    (colours, ink)
}

/// A PNG's (width, height), its distinct colours and the share of its pixels that are not white.
fn png_stats(png: &Path) -> ((u32, u32), usize, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    let mut ink = 0usize;
    let pixels = bytes.len() / channels;
    for px in bytes.chunks(channels) {
        colours.insert(px[..3.min(channels)].to_vec());
        if px[..3.min(channels)].iter().any(|c| *c < 235) {
            ink += 1;
        }
    }
    (
        (info.width, info.height),
        colours.len(),
        ink as f64 / pixels as f64,
    )
}

#[tokio::test]
async fn chromium_renders_the_report_and_a_chart() {
    // Required, not skipped: `.ci/run` installs it (apt-get install chromium).
    let browser = chromium().expect("/usr/bin/chromium: apt-get install chromium (.ci/run does)");
    let (work, store, db) = stored().await;
    let (symbol, _) = gappy_symbol(&db);
    let html = work.path().join("report.html");
    let svg = work.path().join("chart.svg");
    let report = offx(
        &[
            "report",
            "--date",
            DAY,
            "--store",
            &store,
            "--out",
            html.to_str().unwrap(),
        ],
        &[],
        work.path(),
    )
    .await;
    assert!(report.status.success(), "{}", stderr(&report));
    let chart = offx(
        &[
            "chart",
            &symbol,
            "--from",
            FROM,
            "--to",
            DAY,
            "--store",
            &store,
            "--out",
            svg.to_str().unwrap(),
        ],
        &[],
        work.path(),
    )
    .await;
    assert!(chart.status.success(), "{}", stderr(&chart));
    for (page, name) in [(&html, "report.png"), (&svg, "chart.png")] {
        let (colours, ink) = screenshot(&browser, page, &work.path().join(name));
        assert!(colours > 8, "{name}: {colours} colours, a blank page");
        assert!(ink > 0.01, "{name}: {ink:.4} of the pixels are not white");
    }
}
