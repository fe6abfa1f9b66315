//! PDF decks: count and render pages with hayro (pure Rust, no C dependencies) — on the server at
//! upload, and in the studio when a deck is imported offline — so every client just shows a PNG per
//! page, and both sides count the same pages. Behind the `pdf` feature (not in the browser's wasm).

use hayro::hayro_interpret::font::{Glyph, GlyphRun};
use hayro::hayro_interpret::hayro_cmap::BfString;
use hayro::hayro_interpret::{
    interpret_page, BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image, ImageDrawProps, InterpreterCache,
    InterpreterSettings, SoftMask,
};
use hayro::hayro_syntax::Pdf;
use hayro::kurbo::{Affine, BezPath, Point, Rect};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{render, PixmapSettings, RenderCache, RenderSettings};

/// Decks larger than this are refused rather than rendered.
pub const MAX_PAGES: usize = 300;

pub struct Deck {
    /// One PNG per page, in order.
    pub pages: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeckError {
    #[error("the file is not a PDF this server can read (encrypted PDFs are not supported)")]
    Unreadable,
    #[error("the PDF has no pages")]
    Empty,
    #[error("the PDF has {0} pages; at most {MAX_PAGES} are accepted")]
    TooLong(usize),
}

/// A deck this server accepts: a readable PDF of 1 to [`MAX_PAGES`] pages.
fn open(bytes: Vec<u8>) -> Result<Pdf, DeckError> {
    if !bytes.starts_with(b"%PDF-") {
        return Err(DeckError::Unreadable);
    }
    let pdf = Pdf::new(bytes).map_err(|_| DeckError::Unreadable)?;
    match pdf.pages().len() {
        0 => Err(DeckError::Empty),
        n if n > MAX_PAGES => Err(DeckError::TooLong(n)),
        _ => Ok(pdf),
    }
}

/// Render every page to a PNG `width_px` wide. CPU-heavy: call from a blocking task.
pub fn render_deck(bytes: Vec<u8>, width_px: f32) -> Result<Deck, DeckError> {
    let pdf = open(bytes)?;
    let pages = pdf.pages();
    let cache = RenderCache::new();
    let mut out = Vec::with_capacity(pages.len());
    for page in pages.iter() {
        let (w, _) = page.render_dimensions();
        let scale = if w > 0.0 { (width_px / w).clamp(0.1, 8.0) } else { 1.0 };
        let pix = render(
            page,
            &cache,
            &InterpreterSettings::default(),
            &RenderSettings::default(),
            &PixmapSettings { x_scale: scale, y_scale: scale, bg_color: WHITE },
        );
        out.push(pix.into_png().map_err(|_| DeckError::Unreadable)?);
    }
    Ok(Deck { pages: out })
}

/// The text of every page, in order (an empty string for a page without text, e.g. a scanned
/// one): words as the page shows them, a space between words and a line break between lines.
/// Characters come from the fonts' Unicode maps; a glyph with none is left out.
pub fn deck_text(bytes: Vec<u8>) -> Result<Vec<String>, DeckError> {
    let pdf = open(bytes)?;
    let cache = InterpreterCache::new();
    let mut out = Vec::new();
    for page in pdf.pages().iter() {
        // Only glyph positions matter here: any initial transform and box do.
        let mut ctx = Context::new(
            Affine::IDENTITY,
            Rect::new(0.0, 0.0, 1.0, 1.0),
            &cache,
            pdf.xref(),
            InterpreterSettings::default(),
        );
        let mut text = PageText::default();
        interpret_page(page, &mut ctx, &mut text);
        out.push(text.finish());
    }
    Ok(out)
}

/// Collects a page's characters, putting a space where glyphs leave a gap (PDFs often place words
/// apart without a space character) and a line break where the baseline moves.
#[derive(Default)]
struct PageText {
    text: String,
    /// Where the last glyph ended and its em size, in page space.
    last: Option<(Point, f64)>,
}

impl PageText {
    fn finish(self) -> String {
        let lines = self.text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
        lines.filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
    }
}

impl Device<'_> for PageText {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'_>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'_>>, _: BlendMode) {}
    fn draw_image(&mut self, _: Image<'_, '_>, _: ImageDrawProps<'_>) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}

    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, '_>, props: DrawProps<'_>, _: &DrawMode) {
        for g in run.glyphs() {
            let Some(ch) = g.as_unicode() else { continue };
            // Glyph space: 1,000 units to the em.
            let t = props.transform * g.transform();
            let origin = t * Point::ZERO;
            let em = (t * Point::new(0.0, 1000.0) - origin).hypot().max(f64::EPSILON);
            let advance = match &**g {
                Glyph::Outline(o) => o.advance_width(),
                Glyph::Type3(t3) => t3.advance_width(),
            };
            let end = t * Point::new(f64::from(advance.unwrap_or(500.0)), 0.0);
            if let Some((prev, prev_em)) = self.last {
                let size = em.max(prev_em);
                if (origin.y - prev.y).abs() > 0.5 * size {
                    self.text.push('\n');
                } else if (origin.x - prev.x).abs() > 0.15 * size {
                    self.text.push(' ');
                }
            }
            match ch {
                BfString::Char(c) => self.text.push(if c.is_whitespace() { ' ' } else { c }),
                BfString::String(s) => self.text.push_str(&s),
            }
            self.last = Some((end, em));
        }
    }
}

/// A small valid PDF with one line of Helvetica text per page (400×300 pt): the demo class's deck
/// and the tests' uploads.
pub fn simple_pdf(pages: &[impl AsRef<str>]) -> Vec<u8> {
    let streams = pages.iter().map(|page| {
        // PDF string literals escape backslashes and parentheses.
        let escaped = page.as_ref().replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        format!("BT /F1 28 Tf 30 140 Td ({escaped}) Tj ET")
    });
    pdf_of_streams(streams.collect())
}

/// A PDF whose pages draw these content streams, with Helvetica as `/F1`.
fn pdf_of_streams(streams: Vec<String>) -> Vec<u8> {
    let n = streams.len();
    let mut objs: Vec<String> = Vec::new();
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objs.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    objs.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")));
    objs.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for (i, text) in streams.iter().enumerate() {
        objs.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 300] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        objs.push(format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for off in offsets {
        out.extend(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objs.len() + 1).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_each_page_in_order() {
        let pdf = simple_pdf(&["The light reactions (Part 1)", "", "Calvin cycle: 3 CO2 to sugar"]);
        let text = deck_text(pdf).unwrap();
        assert_eq!(text.len(), 3);
        assert_eq!(text[0], "The light reactions (Part 1)");
        assert_eq!(text[1], "");
        assert_eq!(text[2], "Calvin cycle: 3 CO2 to sugar");
    }

    #[test]
    fn words_set_apart_by_position_and_lines_by_baseline() {
        // As slide tools write text: kerning inside a word (-40/1000 em), words moved apart with no
        // space character (-600), a second line below the first.
        let stream = "BT /F1 28 Tf 30 200 Td [(Photo) 40 (syn) -40 (thesis)] TJ \
                      0 -40 Td [(chloro)(phyll) -600 (grana)] TJ 0 -40 Td (stroma   thylakoid) Tj ET";
        let text = deck_text(pdf_of_streams(vec![stream.into()])).unwrap();
        assert_eq!(text, vec!["Photosynthesis\nchlorophyll grana\nstroma thylakoid".to_string()]);
    }

    #[test]
    fn not_a_deck() {
        assert_eq!(deck_text(b"hello".to_vec()).unwrap_err(), DeckError::Unreadable);
        assert_eq!(deck_text(pdf_of_streams(vec![])).unwrap_err(), DeckError::Empty);
    }
}
