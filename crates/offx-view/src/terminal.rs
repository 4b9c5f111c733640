//! A compact chart for a terminal: one character per session, the height of a block its value on
//! a fixed 0..1 scale (`▁` 0 to `█` 1), so two symbols' lines compare at a glance.
//!
//! ```text
//! BRK/B  2024-01-02 .. 2024-02-09 (28 sessions)
//! short_vol_share   ▄▅▃▆▅▄▅▃▄▆▅▄▃▅▄▆▅▄▃▅▄▆·▄▃▅▄  last 0.4200  20d mean 0.4510
//! ats (weekly)      ▃▃▃▃▃▄▄▄▄▄▃▃▃▃▃▃▃▃▃▃▃▃▃▃▃▃▃▃  last 0.2610
//! · no value: ░ not stored, · stored but null or pending
//! ```

use crate::series::Series;

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The block for a share in [0, 1].
fn block(v: f64) -> char {
    let i = (v.clamp(0.0, 1.0) * (BLOCKS.len() - 1) as f64).round() as usize;
    BLOCKS[i.min(BLOCKS.len() - 1)]
}

/// The chart's lines.
pub fn chart_lines(s: &Series) -> Vec<String> {
    let line = |get: &dyn Fn(&crate::Point) -> Option<f64>| -> String {
        s.points
            .iter()
            .map(|p| match (get(p), p.stored) {
                (Some(v), _) => block(v),
                (None, true) => '·',
                (None, false) => '░',
            })
            .collect()
    };
    let last = |get: &dyn Fn(&crate::Point) -> Option<f64>| {
        s.points
            .iter()
            .rev()
            .find_map(get)
            .map_or("-".to_string(), |v| format!("{v:.4}"))
    };
    let mut out = vec![format!(
        "{}  {} .. {} ({} sessions)",
        s.symbol,
        s.from,
        s.to,
        s.points.len()
    )];
    out.push(format!(
        "short_vol_share  {}  last {}  20d mean {}",
        line(&|p| p.short_vol_share),
        last(&|p| p.short_vol_share),
        last(&|p| p.short_vol_mean20),
    ));
    out.push(format!(
        "ats (weekly)     {}  last {}",
        line(&|p| p.ats_share_of_total),
        last(&|p| p.ats_share_of_total),
    ));
    out.push("no value: ░ not stored, · stored but null or pending; scale ▁ 0 .. █ 1".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::Point;
    use chrono::NaiveDate;

    #[test]
    fn values_nulls_and_gaps_each_have_their_mark() {
        let d = |day| NaiveDate::from_ymd_opt(2024, 4, day).unwrap();
        let point = |day, stored, short: Option<f64>| Point {
            date: d(day),
            stored,
            short_vol_share: short,
            short_vol_mean20: None,
            ats_share_of_total: Some(0.25),
        };
        let s = Series {
            symbol: "BRK/B".into(),
            from: d(1),
            to: d(4),
            points: vec![
                point(1, true, Some(0.0)),
                point(2, true, Some(1.0)),
                point(3, true, None),
                point(4, false, None),
            ],
        };
        let lines = chart_lines(&s);
        assert!(
            lines[1].starts_with("short_vol_share  ▁█·░  last 1.0000"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("ats (weekly)     ▃▃▃▃"),
            "{}",
            lines[2]
        );
    }
}
