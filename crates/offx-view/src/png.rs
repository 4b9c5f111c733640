//! A chart as PNG: the SVG of [`crate::svg`] rasterized by resvg (pure Rust) with the system's
//! fonts for its text. Without any font installed the lines and points still render; the text
//! does not (a warning says so).

use resvg::{tiny_skia, usvg};

use crate::series::Series;
use crate::svg::chart_svg;
use crate::ViewError;

/// The chart, `width` x `height` pixels, as PNG bytes.
pub fn chart_png(series: &Series, width: u32, height: u32) -> Result<Vec<u8>, ViewError> {
    let svg = chart_svg(series, width, height)?;
    let mut options = usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    // The chart asks for `sans-serif`; fontdb maps it to Arial, rarely installed on Linux: use
    // a sans family that is.
    let families: Vec<String> = fonts
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .collect();
    let preferred = [
        "DejaVu Sans",
        "Liberation Sans",
        "Noto Sans",
        "Arial",
        "Helvetica",
    ];
    match preferred
        .iter()
        .find(|p| families.iter().any(|f| f == *p))
        .map(|p| p.to_string())
        .or_else(|| families.first().cloned())
    {
        Some(family) => fonts.set_sans_serif_family(family),
        None => {
            eprintln!("warning: no system fonts found: the PNG chart has no text (the SVG has it)")
        }
    }
    let tree = usvg::Tree::from_str(&svg, &options).map_err(|e| ViewError::Draw(e.to_string()))?;
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| ViewError::Draw(format!("cannot make a {width} x {height} image")))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|e| ViewError::Draw(e.to_string()))
}
