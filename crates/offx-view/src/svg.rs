//! A symbol's series as an SVG chart: short volume share (points), its 20-session mean (line),
//! ATS share of total as weekly steps, and each session without a value marked on the axis
//! (grey: no row stored; orange: stored, but the value is null or pending).

use chrono::{Duration, NaiveDate};
use plotters::prelude::*;

use crate::series::Series;
use crate::ViewError;

const SHORT: RGBColor = RGBColor(31, 119, 180);
const MEAN: RGBColor = RGBColor(214, 39, 40);
const ATS: RGBColor = RGBColor(44, 160, 44);
const MISSING: RGBColor = RGBColor(150, 150, 150);
const NULL: RGBColor = RGBColor(255, 127, 14);

/// The chart, `width` x `height` pixels, as an SVG document.
pub fn chart_svg(series: &Series, width: u32, height: u32) -> Result<String, ViewError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(&root, series).map_err(|e| ViewError::Draw(e.to_string()))?;
        root.present().map_err(|e| ViewError::Draw(e.to_string()))?;
    }
    Ok(out)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, s: &Series) -> DrawResult {
    root.fill(&WHITE)?;
    let (from, to) = (s.from, s.to.max(s.from + Duration::days(1)));
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{}  {} .. {}", s.symbol, s.from, s.to),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(48)
        .build_cartesian_2d(from..to, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|d: &NaiveDate| d.format("%Y-%m-%d").to_string())
        .y_desc("share")
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    // ATS: one flat step per week (the week's ratio holds on each of its sessions).
    let mut steps: Vec<Vec<(NaiveDate, f64)>> = Vec::new();
    for p in &s.points {
        match (p.ats_share_of_total, steps.last_mut()) {
            (Some(v), Some(run)) if run.last().is_some_and(|(_, last)| *last == v) => {
                run.push((p.date, v))
            }
            (Some(v), _) => steps.push(vec![(p.date, v)]),
            (None, _) => steps.push(Vec::new()),
        }
    }
    let mut ats_labelled = false;
    for run in steps.iter().filter(|r| !r.is_empty()) {
        let (first, v) = run[0];
        let last = run[run.len() - 1].0;
        let series = chart.draw_series(LineSeries::new(
            [(first, v), (last + Duration::hours(20), v)],
            ATS.stroke_width(3),
        ))?;
        if !ats_labelled {
            series
                .label("ats_share_of_total (weekly)")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], ATS.stroke_width(3)));
            ats_labelled = true;
        }
    }

    chart
        .draw_series(
            s.points
                .iter()
                .filter_map(|p| Some(Circle::new((p.date, p.short_vol_share?), 3, SHORT.filled()))),
        )?
        .label("short_vol_share")
        .legend(|(x, y)| Circle::new((x + 8, y), 3, SHORT.filled()));

    // The mean, broken where it is null.
    let mut run: Vec<(NaiveDate, f64)> = Vec::new();
    let mut runs: Vec<Vec<(NaiveDate, f64)>> = Vec::new();
    for p in &s.points {
        match p.short_vol_mean20 {
            Some(m) => run.push((p.date, m)),
            None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    runs.push(run);
    let mut mean_labelled = false;
    for r in runs.into_iter().filter(|r| !r.is_empty()) {
        let drawn = chart.draw_series(LineSeries::new(r, MEAN.stroke_width(2)))?;
        if !mean_labelled {
            drawn
                .label("20-session mean")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], MEAN.stroke_width(2)));
            mean_labelled = true;
        }
    }

    // Sessions without a short value, marked at the bottom.
    chart.draw_series(
        s.points
            .iter()
            .filter(|p| p.short_vol_share.is_none())
            .map(|p| {
                let color = if p.stored { NULL } else { MISSING };
                TriangleMarker::new((p.date, 0.02), 5, color.filled())
            }),
    )?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;
    Ok(())
}
