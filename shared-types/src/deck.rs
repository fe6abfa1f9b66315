//! PDF decks: count and render pages with hayro (pure Rust, no C dependencies) — on the server at
//! upload, and in the studio when a deck is imported offline — so every client just shows a PNG per
//! page, and both sides count the same pages. Behind the `pdf` feature (not in the browser's wasm).

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::Pdf;
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

/// Render every page to a PNG `width_px` wide. CPU-heavy: call from a blocking task.
pub fn render_deck(bytes: Vec<u8>, width_px: f32) -> Result<Deck, DeckError> {
    if !bytes.starts_with(b"%PDF-") {
        return Err(DeckError::Unreadable);
    }
    let pdf = Pdf::new(bytes).map_err(|_| DeckError::Unreadable)?;
    let pages = pdf.pages();
    match pages.len() {
        0 => return Err(DeckError::Empty),
        n if n > MAX_PAGES => return Err(DeckError::TooLong(n)),
        _ => {}
    }
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

/// A small valid PDF with one line of Helvetica text per page (400×300 pt): the demo class's deck
/// and the tests' uploads.
pub fn simple_pdf(pages: &[impl AsRef<str>]) -> Vec<u8> {
    let n = pages.len();
    let mut objs: Vec<String> = Vec::new();
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objs.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    objs.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")));
    objs.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for (i, page) in pages.iter().enumerate() {
        objs.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 300] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        // PDF string literals escape backslashes and parentheses.
        let escaped = page.as_ref().replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        let text = format!("BT /F1 28 Tf 30 140 Td ({escaped}) Tj ET");
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
