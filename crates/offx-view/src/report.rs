//! The daily report: one self-contained HTML page (inline CSS, SVG and a few lines of inline
//! script for the search box; no external script, font, stylesheet or request).
//!
//! Sections: the day's coverage per dataset; the top and bottom symbols by `short_vol_share`
//! and the top by `short_vol_z` among those with at least the volume floor; a searchable table
//! of every stored symbol with its features and signals; a small chart per listed symbol.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{Duration, NaiveDate};
use offexchange::store::Store;
use offexchange::{rank, signals, CoverageReport, RankBy, SymbolSignals};

use crate::series::series_many;
use crate::svg::chart_svg;
use crate::ViewError;

/// What to report.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// The session.
    pub date: NaiveDate,
    /// Only symbols with at least this Reg SHO total volume in the lists (the table has all).
    pub min_total_volume: Option<f64>,
    /// Rows per list.
    pub limit: usize,
    /// Calendar days each small chart covers, ending with the date.
    pub chart_days: i64,
}

impl ReportRequest {
    /// The defaults of `offx report`: lists of 10, charts of the last 90 days.
    pub fn new(date: NaiveDate) -> Self {
        ReportRequest {
            date,
            min_total_volume: None,
            limit: 10,
            chart_days: 90,
        }
    }
}

/// The page, as one HTML document. `coverage`: the day's coverage report, when the caller has
/// one (it needs the engine's settings).
pub async fn report_html(
    store: &dyn Store,
    request: &ReportRequest,
    coverage: Option<&CoverageReport>,
) -> Result<String, ViewError> {
    let day = signals(store, request.date).await?;
    let ranked = |by: RankBy, bottom: bool| {
        rank(
            request.date,
            day.iter().cloned(),
            by,
            request.min_total_volume,
            request.limit,
            bottom,
        )
        .rows
    };
    let top = ranked(RankBy::ShortVolShare, false);
    let bottom = ranked(RankBy::ShortVolShare, true);
    let unusual = ranked(RankBy::ShortVolZ, false);

    let mut html = String::with_capacity(64 * 1024 + day.len() * 200);
    let title = format!("offexchange report {}", request.date);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    let floor = request
        .min_total_volume
        .map_or("none".to_string(), |f| format!("{f:.0} shares"));
    let _ = writeln!(
        html,
        "<p class=\"meta\">{} symbols stored for the day; lists: at most {} rows, volume floor {}; \
         signals need 10 observations (null otherwise).</p>",
        day.len(),
        request.limit,
        floor
    );
    html.push_str("<h2>Coverage</h2>\n");
    match coverage.and_then(|c| c.days.iter().find(|d| d.date == request.date)) {
        Some(d) if d.closed.is_some() => {
            let _ = writeln!(
                html,
                "<p>Not an NYSE session ({}).</p>",
                escape(d.closed.as_deref().unwrap_or_default())
            );
        }
        Some(d) => {
            html.push_str("<table class=\"coverage\"><tr><th>dataset</th><th>period</th><th>state</th><th>detail</th></tr>\n");
            for x in &d.datasets {
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td class=\"state {state}\">{}</td><td>{}</td></tr>",
                    escape(&x.dataset),
                    x.period,
                    escape(x.state.label()),
                    escape(&x.detail),
                    state = x.state.label().replace([' ', ','], "-")
                );
            }
            html.push_str("</table>\n");
        }
        None => html.push_str("<p>No coverage report was given.</p>\n"),
    }

    html.push_str("<div class=\"lists\">\n");
    list(&mut html, "Highest short_vol_share", &top);
    list(&mut html, "Lowest short_vol_share", &bottom);
    list(
        &mut html,
        "Unusual short volume (highest short_vol_z)",
        &unusual,
    );
    html.push_str("</div>\n");

    html.push_str("<h2>Charts</h2>\n<div class=\"charts\">\n");
    let charted: BTreeSet<&str> = top
        .iter()
        .chain(&bottom)
        .chain(&unusual)
        .map(|s| s.symbol.as_str())
        .collect();
    let from = request.date - Duration::days(request.chart_days);
    let wanted: Vec<String> = charted.iter().map(|s| s.to_string()).collect();
    for s in series_many(store, &wanted, from, request.date).await? {
        let symbol = s.symbol.as_str();
        // 280 px: the plot keeps about 170 px under a legend wrapped to three rows.
        let svg = chart_svg(&s, 460, 280)?;
        let _ = writeln!(
            html,
            "<figure id=\"chart-{}\">{}<figcaption>{}</figcaption></figure>",
            anchor(symbol),
            strip_xml_declaration(&svg),
            escape(symbol)
        );
    }
    html.push_str("</div>\n");

    let _ = write!(
        html,
        "<h2>Every symbol</h2>\n<input id=\"search\" type=\"search\" placeholder=\"filter symbols\" \
         aria-label=\"filter symbols\"> <span id=\"shown\">{n} of {n}</span>\n\
         <table id=\"all\"><thead><tr><th>symbol</th><th>short_vol_share</th><th>20d mean</th>\
         <th>z</th><th>ats_share_of_total</th><th>12w mean</th><th>total volume</th></tr></thead><tbody>\n",
        n = day.len()
    );
    for s in &day {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.symbol),
            cell(s.short_vol_share, 4),
            cell(s.short_vol_mean20, 4),
            cell(s.short_vol_z, 2),
            cell(s.ats_share_of_total, 4),
            cell(s.ats_mean_12w, 4),
            cell(s.total_volume, 0),
        );
    }
    html.push_str("</tbody></table>\n");
    let _ = write!(html, "<script>{SCRIPT}</script>\n</body></html>\n");
    Ok(html)
}

fn list(html: &mut String, title: &str, rows: &[SymbolSignals]) {
    let _ = writeln!(
        html,
        "<section><h2>{}</h2><table><tr><th>#</th><th>symbol</th><th>short_vol_share</th>\
         <th>z</th><th>ats_share_of_total</th><th>total volume</th></tr>",
        escape(title)
    );
    if rows.is_empty() {
        html.push_str("<tr><td colspan=\"6\">nothing to rank</td></tr>\n");
    }
    for (i, s) in rows.iter().enumerate() {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td><a href=\"#chart-{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            anchor(&s.symbol),
            escape(&s.symbol),
            cell(s.short_vol_share, 4),
            cell(s.short_vol_z, 2),
            cell(s.ats_share_of_total, 4),
            cell(s.total_volume, 0),
        );
    }
    html.push_str("</table></section>\n");
}

/// A number with `decimals`, or an em dash for null (never a 0).
fn cell(v: Option<f64>, decimals: usize) -> String {
    v.map_or("&mdash;".to_string(), |v| format!("{v:.decimals$}"))
}

/// Text as HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A symbol as an element id (`BRK/B` -> `BRK-2FB`): letters and digits kept, the rest hex.
fn anchor(symbol: &str) -> String {
    symbol
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("-{b:02X}")
            }
        })
        .collect()
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

const STYLE: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}.meta{color:#555}\
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;text-align:right}\
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}\
thead th,tr:first-child th{border-bottom:2px solid #444}\
.lists{display:flex;flex-wrap:wrap;gap:28px}.charts{display:flex;flex-wrap:wrap;gap:12px}\
figure{margin:0}figcaption{font-size:12px;color:#555}\
.coverage td{text-align:left}.state.stored{color:#2a7a2a}.state{font-weight:600}\
#search{margin:8px 0;padding:4px 8px;font-size:14px}";

/// The search box: hides the rows of the big table whose symbol does not contain the text.
const SCRIPT: &str = "(function(){var q=document.getElementById('search'),rows=document.querySelectorAll('#all tbody tr'),\
shown=document.getElementById('shown');q.addEventListener('input',function(){var t=q.value.trim().toUpperCase(),n=0;\
rows.forEach(function(r){var ok=r.cells[0].textContent.toUpperCase().indexOf(t)>=0;r.style.display=ok?'':'none';if(ok)n++;});\
shown.textContent=n+' of '+rows.length;});})();";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_escaped_and_anchored() {
        assert_eq!(escape("A&B<\"x\">"), "A&amp;B&lt;&quot;x&quot;&gt;");
        assert_eq!(anchor("BRK/B"), "BRK-2FB");
        assert_eq!(cell(None, 4), "&mdash;");
        assert_eq!(cell(Some(0.0), 2), "0.00");
    }
}
