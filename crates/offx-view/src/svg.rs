//! A symbol's series as an SVG chart: short volume share (points), its 20-session mean (line),
//! ATS share of total as weekly steps, and each session without a value marked on the axis
//! (grey: no row stored; orange: stored, but the value is null or pending).

use chrono::{Duration, NaiveDate};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw(root: &Area<'_>, s: &Series) -> DrawResult {
    root.fill(&WHITE)?;
    // The title and the legend sit in a strip above the plot, never over the data (a legend
    // drawn inside the plot hides whatever points fall under it).
    let width = root.dim_in_pixel().0;
    let legend = legend_layout(&entries(s), width);
    let rows = legend.iter().map(|(_, _, row)| row + 1).max().unwrap_or(0);
    let header = TITLE_HEIGHT + rows * LEGEND_ROW;
    let (top, plot) = root.split_vertically(header);
    top.draw(&Text::new(
        format!("{}  {} .. {}", s.symbol, s.from, s.to),
        (MARGIN, 8),
        ("sans-serif", 18).into_font(),
    ))?;
    for (entry, x, row) in &legend {
        draw_entry(
            &top,
            *entry,
            *x,
            TITLE_HEIGHT + row * LEGEND_ROW + LEGEND_ROW / 2,
        )?;
    }

    let (from, to) = (s.from, s.to.max(s.from + Duration::days(1)));
    let mut chart = ChartBuilder::on(&plot)
        .margin(MARGIN)
        .margin_top(10)
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
    for run in steps.iter().filter(|r| !r.is_empty()) {
        let (first, v) = run[0];
        let last = run[run.len() - 1].0;
        chart.draw_series(LineSeries::new(
            [(first, v), (last + Duration::hours(20), v)],
            ATS.stroke_width(3),
        ))?;
    }

    chart.draw_series(
        s.points
            .iter()
            .filter_map(|p| Some(Circle::new((p.date, p.short_vol_share?), 3, SHORT.filled()))),
    )?;

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
    for r in runs.into_iter().filter(|r| !r.is_empty()) {
        chart.draw_series(LineSeries::new(r, MEAN.stroke_width(2)))?;
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
    Ok(())
}

const MARGIN: i32 = 12;
const TITLE_HEIGHT: u32 = 32;
const LEGEND_ROW: u32 = 18;
const LEGEND_FONT: u32 = 12;
/// The swatch and the gaps around it, in pixels.
const SWATCH: i32 = 22;
const GAP: i32 = 14;

/// What the legend can show; each entry only when the chart draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Short,
    Mean,
    Ats,
    NullDay,
    MissingDay,
}

impl Entry {
    fn label(self) -> &'static str {
        match self {
            Entry::Short => "short_vol_share",
            Entry::Mean => "20-session mean",
            Entry::Ats => "ats_share_of_total (weekly)",
            Entry::NullDay => "null or pending",
            Entry::MissingDay => "no row",
        }
    }
}

fn entries(s: &Series) -> Vec<Entry> {
    let any = |f: &dyn Fn(&crate::series::Point) -> bool| s.points.iter().any(f);
    let mut out = vec![Entry::Short];
    if any(&|p| p.short_vol_mean20.is_some()) {
        out.push(Entry::Mean);
    }
    if any(&|p| p.ats_share_of_total.is_some()) {
        out.push(Entry::Ats);
    }
    if any(&|p| p.short_vol_share.is_none() && p.stored) {
        out.push(Entry::NullDay);
    }
    if any(&|p| p.short_vol_share.is_none() && !p.stored) {
        out.push(Entry::MissingDay);
    }
    out
}

/// Each entry's left edge and row: left to right, wrapping to a new row where the chart's width
/// ends. Text width is estimated (the SVG names a font family, the viewer picks the face).
fn legend_layout(entries: &[Entry], width: u32) -> Vec<(Entry, i32, u32)> {
    let right = width as i32 - MARGIN;
    let (mut x, mut row) = (MARGIN, 0);
    let mut out = Vec::with_capacity(entries.len());
    for &e in entries {
        let w = SWATCH + (e.label().len() as i32 * LEGEND_FONT as i32 * 3) / 5;
        if x > MARGIN && x + w > right {
            (x, row) = (MARGIN, row + 1);
        }
        out.push((e, x, row));
        x += w + GAP;
    }
    out
}

fn draw_entry(area: &Area<'_>, e: Entry, x: i32, y: u32) -> DrawResult {
    let y = y as i32;
    match e {
        Entry::Short => area.draw(&Circle::new((x + 8, y), 3, SHORT.filled()))?,
        Entry::Mean => area.draw(&PathElement::new(
            [(x, y), (x + 16, y)],
            MEAN.stroke_width(2),
        ))?,
        Entry::Ats => area.draw(&PathElement::new(
            [(x, y), (x + 16, y)],
            ATS.stroke_width(3),
        ))?,
        Entry::NullDay => area.draw(&TriangleMarker::new((x + 8, y), 5, NULL.filled()))?,
        Entry::MissingDay => area.draw(&TriangleMarker::new((x + 8, y), 5, MISSING.filled()))?,
    }
    let style = TextStyle::from(("sans-serif", LEGEND_FONT).into_font())
        .pos(Pos::new(HPos::Left, VPos::Center));
    area.draw(&Text::new(e.label(), (x + SWATCH, y), style))?;
    Ok(())
}
