//! What the stage draws: the whiteboard on a canvas from its strokes, the slide page on screen and
//! uploaded images (fetched once per asset for their signed URLs, fetched again when they expire).

use crate::api;
use shared_types::events::Stroke;
use shared_types::media::AssetDto;
use shared_types::state::SlidePosition;
use shared_types::AssetId;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};
use yew::prelude::*;

/// The canvas's own resolution; strokes in 0..1 are scaled to it, larger ones are taken as pixels of it.
const W: f64 = 1600.0;
const H: f64 = 900.0;

#[derive(Properties, PartialEq)]
pub struct BoardProps {
    pub board: String,
    pub strokes: Rc<Vec<Stroke>>,
}

fn draw(canvas: &HtmlCanvasElement, strokes: &[Stroke]) {
    let Some(ctx) = canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    ctx.clear_rect(0.0, 0.0, W, H);
    let unit = strokes.iter().flat_map(|s| s.points.iter()).all(|[x, y]| *x <= 1.0 && *y <= 1.0);
    let (sx, sy) = if unit { (W, H) } else { (1.0, 1.0) };
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
    for s in strokes {
        let Some(first) = s.points.first() else { continue };
        ctx.set_stroke_style_str(&s.color);
        ctx.set_line_width(if unit && s.width <= 1.0 { s.width * W } else { s.width }.max(1.0));
        ctx.begin_path();
        ctx.move_to(first[0] * sx, first[1] * sy);
        if s.points.len() == 1 {
            ctx.line_to(first[0] * sx + 0.1, first[1] * sy);
        }
        for p in &s.points[1..] {
            ctx.line_to(p[0] * sx, p[1] * sy);
        }
        ctx.stroke();
    }
}

#[function_component(BoardCanvas)]
pub fn board_canvas(props: &BoardProps) -> Html {
    let canvas = use_node_ref();
    {
        let (canvas, strokes) = (canvas.clone(), props.strokes.clone());
        use_effect_with(strokes.clone(), move |_| {
            if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                draw(&c, &strokes);
            }
        });
    }
    let ids: Vec<&str> = props.strokes.iter().map(|s| s.id.as_str()).collect();
    html! {
        <canvas ref={canvas} class="board-canvas" width={W.to_string()} height={H.to_string()}
            data-board={props.board.clone()} data-strokes={props.strokes.len().to_string()} data-stroke-ids={ids.join(",")}
            role="img" aria-label={format!("Whiteboard with {} strokes", props.strokes.len())}></canvas>
    }
}

thread_local! {
    static ASSETS: RefCell<HashMap<AssetId, (AssetDto, f64)>> = RefCell::new(HashMap::new());
    /// In the studio window, pages and images come from its core (`studio://`), offline too.
    static STUDIO: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Take pages and images from the studio's core instead of the API.
pub fn use_studio_assets() {
    STUDIO.with(|s| s.set(true));
}

/// A page (1-based; 0 for an image) as the studio window loads it from its core.
pub fn studio_src(asset: AssetId, page: u32) -> String {
    format!("studio://localhost/asset/{asset}/{page}")
}

fn in_studio() -> bool {
    STUDIO.with(|s| s.get())
}

/// The asset with URLs that are still good, from the cache or the API.
async fn asset(id: AssetId) -> Option<AssetDto> {
    let now = js_sys::Date::now();
    if let Some((a, until)) = ASSETS.with(|m| m.borrow().get(&id).cloned()) {
        if until > now {
            return Some(a);
        }
    }
    let a = api::get::<AssetDto>(&format!("/api/studio/assets/{id}")).await.ok()?;
    let until = now + (a.urls_expire_in_s as f64 * 1000.0 * 0.8);
    ASSETS.with(|m| m.borrow_mut().insert(id, (a.clone(), until)));
    Some(a)
}

#[hook]
fn use_asset(id: Option<AssetId>) -> Option<AssetDto> {
    let got = use_state(|| None::<AssetDto>);
    {
        let got = got.clone();
        use_effect_with(id, move |id| {
            if let (Some(id), false) = (*id, in_studio()) {
                spawn_local(async move { got.set(asset(id).await) });
            }
        });
    }
    (*got).clone().filter(|a| Some(a.id) == id)
}

#[derive(Properties, PartialEq)]
pub struct SlideProps {
    pub slide: Option<SlidePosition>,
}

#[function_component(SlideImage)]
pub fn slide_image(props: &SlideProps) -> Html {
    let asset = use_asset(props.slide.map(|s| s.asset_id));
    let Some(pos) = props.slide else {
        return html! { <div id="slide" class="slide-blank" data-page="0"></div> };
    };
    let src = if in_studio() {
        Some(studio_src(pos.asset_id, pos.page))
    } else {
        asset.as_ref().and_then(|a| a.pages.get(pos.page.saturating_sub(1) as usize).cloned())
    };
    let title = asset.as_ref().and_then(|a| a.title.clone()).unwrap_or_else(|| "Slides".into());
    let count = asset.as_ref().and_then(|a| a.page_count).unwrap_or(0);
    html! {
        <div id="slide" class="slide-frame" data-asset={pos.asset_id.to_string()} data-page={pos.page.to_string()}>
            if let Some(src) = src {
                <img {src} alt={format!("{title}, slide {} of {count}", pos.page)} />
            } else {
                <p class="muted">{ format!("Slide {}", pos.page) }</p>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ImageProps {
    pub asset: Option<AssetId>,
}

#[function_component(AssetImage)]
pub fn asset_image(props: &ImageProps) -> Html {
    let asset = use_asset(props.asset);
    if let (Some(id), true) = (props.asset, in_studio()) {
        return html! { <img src={studio_src(id, 0)} alt="Image" /> };
    }
    match asset {
        Some(a) => {
            html! { <img src={a.content_url.clone()} alt={a.title.clone().unwrap_or_else(|| "Image".into())} /> }
        }
        None => html! {},
    }
}

/// What the pointer does on the studio's whiteboard.
#[derive(Clone, Debug, PartialEq)]
pub enum Tool {
    /// Width as a fraction of the board's width.
    Pen {
        color: String,
        width: f64,
    },
    Eraser,
}

#[derive(Properties, PartialEq)]
pub struct DrawProps {
    pub board: String,
    /// Where the board sits on the stage (fractions).
    pub place: shared_types::events::LayoutItem,
    pub tool: Tool,
    pub strokes: Rc<Vec<Stroke>>,
    /// A piece of the stroke being drawn (paced by `InkPacing::STUDIO` while the pen moves).
    pub on_strokes: Callback<Vec<Stroke>>,
    pub on_erase: Callback<Vec<String>>,
}

/// One gesture of the pen: its id (`g-…`), the segments sent so far, the points not sent yet.
struct Gesture {
    id: String,
    sent: usize,
    last: Option<[f64; 2]>,
    points: Vec<[f64; 2]>,
    flushed_at: f64,
    erased: std::collections::HashSet<String>,
}

/// A transparent layer over the board that turns pointer gestures into stroke segments (ids
/// `<gesture>~<n>`, so undo can take a whole gesture) or erasures; what is drawn shows once the
/// core folded it, like everything else.
#[function_component(DrawBoard)]
pub fn draw_board(props: &DrawProps) -> Html {
    let layer = use_node_ref();
    let gesture = use_mut_ref(|| None::<Gesture>);
    let at = {
        let layer = layer.clone();
        move |e: &PointerEvent| -> Option<[f64; 2]> {
            let r = layer.cast::<web_sys::Element>()?.get_bounding_client_rect();
            let x = ((e.client_x() as f64 - r.left()) / r.width().max(1.0)).clamp(0.0, 1.0);
            let y = ((e.client_y() as f64 - r.top()) / r.height().max(1.0)).clamp(0.0, 1.0);
            Some([(x * 10000.0).round() / 10000.0, (y * 10000.0).round() / 10000.0])
        }
    };
    let flush = {
        let (tool, on_strokes) = (props.tool.clone(), props.on_strokes.clone());
        move |g: &mut Gesture| {
            let Tool::Pen { color, width } = &tool else { return };
            if g.points.is_empty() {
                return;
            }
            // Each segment starts where the last one ended, so the line has no gaps.
            let mut points: Vec<[f64; 2]> = g.last.into_iter().collect();
            points.append(&mut g.points);
            g.last = points.last().copied();
            g.sent += 1;
            g.flushed_at = js_sys::Date::now();
            on_strokes.emit(vec![Stroke {
                id: format!("{}~{}", g.id, g.sent),
                points,
                color: color.clone(),
                width: *width,
            }]);
        }
    };
    let erase = {
        let (strokes, on_erase) = (props.strokes.clone(), props.on_erase.clone());
        move |g: &mut Gesture, p: [f64; 2]| {
            let hits: Vec<String> =
                crate::view::erase_hits(&strokes, p).into_iter().filter(|id| g.erased.insert(id.clone())).collect();
            if !hits.is_empty() {
                on_erase.emit(hits);
            }
        }
    };
    let down = {
        let (gesture, at, erase, tool) = (gesture.clone(), at.clone(), erase.clone(), props.tool.clone());
        Callback::from(move |e: PointerEvent| {
            e.prevent_default();
            if let Some(t) = e.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
                let _ = t.set_pointer_capture(e.pointer_id());
            }
            let Some(p) = at(&e) else { return };
            let mut g = Gesture {
                id: format!("g-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
                sent: 0,
                last: None,
                points: vec![p],
                flushed_at: js_sys::Date::now(),
                erased: Default::default(),
            };
            if tool == Tool::Eraser {
                erase(&mut g, p);
            }
            *gesture.borrow_mut() = Some(g);
        })
    };
    let moved = {
        let (gesture, at, flush, erase, tool) =
            (gesture.clone(), at.clone(), flush.clone(), erase.clone(), props.tool.clone());
        Callback::from(move |e: PointerEvent| {
            let mut slot = gesture.borrow_mut();
            let (Some(g), Some(p)) = (slot.as_mut(), at(&e)) else { return };
            if tool == Tool::Eraser {
                erase(g, p);
                return;
            }
            g.points.push(p);
            if shared_types::studio::InkPacing::STUDIO.due(g.sent, js_sys::Date::now() - g.flushed_at) {
                flush(g);
            }
        })
    };
    let up = {
        let (gesture, flush) = (gesture.clone(), flush.clone());
        Callback::from(move |_: PointerEvent| {
            if let Some(mut g) = gesture.borrow_mut().take() {
                flush(&mut g);
            }
        })
    };
    let p = &props.place;
    let style = format!("left:{}%;top:{}%;width:{}%;height:{}%", p.x * 100.0, p.y * 100.0, p.w * 100.0, p.h * 100.0);
    let cursor = if props.tool == Tool::Eraser { "eraser" } else { "pen" };
    html! {
        <div id="draw" ref={layer} class={classes!("draw-layer", cursor)} {style} data-board={props.board.clone()}
             onpointerdown={down} onpointermove={moved} onpointerup={up.clone()} onpointercancel={up}
             role="application" aria-label={format!("Draw on whiteboard {}", props.board)}></div>
    }
}
