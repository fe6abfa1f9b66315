//! PDF decks: count and render pages server-side with hayro (pure Rust, no C dependencies), so
//! every client just shows a PNG per page.

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
