//! The media pages as yew components: the teacher's broadcast page and the students' watch page.
//! Each shows the connection state (connecting, connected, reconnecting, disconnected) and says
//! plainly when media is unavailable, since chat, polls and slides keep working without it.

use crate::media;
use js_sys::Reflect;
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

#[derive(Properties, PartialEq, Clone)]
pub struct PageProps {
    pub session: String,
}

/// Expose a value to page scripts and tests as `window.__studio[key]`.
fn expose(key: &str, value: &JsValue) {
    let Some(window) = web_sys::window() else { return };
    let studio = Reflect::get(&window, &"__studio".into()).ok().filter(|v| v.is_object()).unwrap_or_else(|| {
        let o: JsValue = js_sys::Object::new().into();
        let _ = Reflect::set(&window, &"__studio".into(), &o);
        o
    });
    let _ = Reflect::set(&studio, &key.into(), value);
}

fn state_callback(handle: UseStateHandle<String>) -> js_sys::Function {
    Closure::<dyn FnMut(String)>::new(move |s: String| handle.set(s)).into_js_value().into()
}

#[function_component(Broadcast)]
pub fn broadcast(props: &PageProps) -> Html {
    let state = use_state(|| "not connected".to_string());
    let rec = use_state(|| "off".to_string());
    let error = use_state(|| None::<String>);
    let live = use_state(|| false);
    let busy = use_state(|| false);
    let camera = use_state(|| true);
    let room = use_mut_ref(|| None::<JsValue>);
    let recorder = use_mut_ref(|| None::<JsValue>);

    let toggle_camera = {
        let camera = camera.clone();
        Callback::from(move |_| camera.set(!*camera))
    };
    let go = {
        let with_camera = *camera;
        let (session, state, rec, error, live, busy, room, recorder) = (
            props.session.clone(),
            state.clone(),
            rec.clone(),
            error.clone(),
            live.clone(),
            busy.clone(),
            room.clone(),
            recorder.clone(),
        );
        Callback::from(move |_| {
            let (session, state, rec, error, live, busy, room, recorder) = (
                session.clone(),
                state.clone(),
                rec.clone(),
                error.clone(),
                live.clone(),
                busy.clone(),
                room.clone(),
                recorder.clone(),
            );
            busy.set(true);
            error.set(None);
            spawn_local(async move {
                let result: Result<(), String> = async {
                    let joined = media::api("/api/sessions/join", json!({ "sessionId": session })).await?;
                    let lk = joined
                        .get("livekit")
                        .filter(|v| !v.is_null())
                        .ok_or("live media is not available on this server")?;
                    let (url, token) =
                        (lk["url"].as_str().unwrap_or_default(), lk["token"].as_str().unwrap_or_default());
                    let r = media::broadcast(url, token, with_camera, &state_callback(state.clone())).await?;
                    let handle = media::record(&r);
                    expose("room", &r);
                    *room.borrow_mut() = Some(r);
                    *recorder.borrow_mut() = Some(handle);
                    rec.set("on (saved to this computer, uploaded when the class ends)".into());
                    live.set(true);
                    Ok(())
                }
                .await;
                if let Err(e) = result {
                    error.set(Some(e));
                }
                busy.set(false);
            });
        })
    };

    let end = {
        let (session, rec, error, live, busy, room, recorder) = (
            props.session.clone(),
            rec.clone(),
            error.clone(),
            live.clone(),
            busy.clone(),
            room.clone(),
            recorder.clone(),
        );
        Callback::from(move |_| {
            let (session, rec, error, live, busy, room, recorder) = (
                session.clone(),
                rec.clone(),
                error.clone(),
                live.clone(),
                busy.clone(),
                room.clone(),
                recorder.clone(),
            );
            busy.set(true);
            spawn_local(async move {
                let handle = recorder.borrow().clone();
                let result: Result<(), String> = async {
                    let handle = handle.ok_or("nothing is being recorded")?;
                    rec.set("uploading…".into());
                    let uploaded = media::stop_and_upload(&session, &handle).await?;
                    expose("uploaded", &media::to_js(&uploaded).unwrap_or(JsValue::TRUE));
                    rec.set("uploaded; the transcript will follow".into());
                    let r = room.borrow().clone();
                    if let Some(r) = r {
                        media::disconnect(&r).await;
                    }
                    media::api("/api/sessions/end", json!({ "sessionId": session })).await?;
                    live.set(false);
                    expose("ended", &JsValue::TRUE);
                    Ok(())
                }
                .await;
                if let Err(e) = result {
                    error.set(Some(e));
                }
                busy.set(false);
            });
        })
    };

    html! {
        <main>
            <h1>{ "Broadcast" }</h1>
            <p>
                { "Media: " }<span class="state" id="state" data-s={(*state).clone()}>{ (*state).clone() }</span>
                { " · Recording: " }<span id="rec">{ (*rec).clone() }</span>
            </p>
            <p>
                <label><input id="camera" type="checkbox" checked={*camera} onclick={toggle_camera} disabled={*live} />{ " Camera" }</label>
            </p>
            <p>
                <button id="go" onclick={go} disabled={*live || *busy}>{ "Go live" }</button>
                <button id="end" onclick={end} disabled={!*live || *busy}>{ "End class" }</button>
            </p>
            <p id="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
        </main>
    }
}

#[function_component(Watch)]
pub fn watch(props: &PageProps) -> Html {
    let state = use_state(|| "connecting…".to_string());
    let hearing = use_state(|| "waiting for the teacher".to_string());
    let error = use_state(|| None::<String>);
    let container = use_node_ref();
    {
        let (session, state, hearing, error, container) =
            (props.session.clone(), state.clone(), hearing.clone(), error.clone(), container.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                let result: Result<(), String> = async {
                    let joined = media::api("/api/sessions/join", json!({ "sessionId": session })).await?;
                    let Some(lk) = joined.get("livekit").filter(|v| !v.is_null()) else {
                        state.set("unavailable".into());
                        return Err("Audio and video are unavailable; chat and slides still work.".into());
                    };
                    let el: JsValue = container.get().map(JsValue::from).ok_or("the page is not ready")?;
                    // Which kinds of track arrived so far: (audio, video).
                    let mut got = (false, false);
                    let on_track: js_sys::Function = Closure::<dyn FnMut(String)>::new(move |kind: String| {
                        if kind == "audio" {
                            got.0 = true;
                        } else {
                            got.1 = true;
                        }
                        hearing.set(
                            match got {
                                (true, true) => "hearing and seeing the teacher",
                                (true, false) => "hearing the teacher",
                                _ => "seeing the teacher",
                            }
                            .into(),
                        )
                    })
                    .into_js_value()
                    .into();
                    let (url, token) =
                        (lk["url"].as_str().unwrap_or_default(), lk["token"].as_str().unwrap_or_default());
                    let room = media::watch(url, token, &el, &state_callback(state.clone()), &on_track).await?;
                    expose("room", &room);
                    Ok(())
                }
                .await;
                if let Err(e) = result {
                    error.set(Some(e));
                }
            });
            || ()
        });
    }
    html! {
        <main>
            <h1>{ "Class" }</h1>
            <p>
                { "Media: " }<span class="state" id="state" data-s={(*state).clone()}>{ (*state).clone() }</span>
                { " · " }<span id="hearing">{ (*hearing).clone() }</span>
            </p>
            <p id="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
            <div id="media" ref={container}></div>
        </main>
    }
}

fn root() -> web_sys::Element {
    let doc = web_sys::window().and_then(|w| w.document()).expect("a document");
    doc.get_element_by_id("app").expect("an element with id app")
}

/// Mount the broadcast page for `session` into `#app`.
#[wasm_bindgen]
pub fn start_broadcast(session: String) {
    yew::Renderer::<Broadcast>::with_root_and_props(root(), PageProps { session }).render();
}

/// Mount the watch page for `session` into `#app`.
#[wasm_bindgen]
pub fn start_watch(session: String) {
    yew::Renderer::<Watch>::with_root_and_props(root(), PageProps { session }).render();
}
