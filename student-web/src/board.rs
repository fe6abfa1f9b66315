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
            if let Some(id) = *id {
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
    let src = asset.as_ref().and_then(|a| a.pages.get(pos.page.saturating_sub(1) as usize).cloned());
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
    match use_asset(props.asset) {
        Some(a) => {
            html! { <img src={a.content_url.clone()} alt={a.title.clone().unwrap_or_else(|| "Image".into())} /> }
        }
        None => html! {},
    }
}
