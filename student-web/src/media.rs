//! Bindings to the bundled livekit-client module (`student-web/media/src/media.js`, global
//! `StudioMedia`).

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = StudioMedia, js_name = broadcast)]
    fn broadcast_js(opts: &Object) -> Promise;
    #[wasm_bindgen(js_namespace = StudioMedia, js_name = watch)]
    fn watch_js(opts: &Object) -> Promise;
    #[wasm_bindgen(js_namespace = StudioMedia, js_name = recordClass)]
    fn record_js(room: &JsValue, opts: &Object) -> Promise;
    #[wasm_bindgen(js_namespace = StudioMedia, js_name = shareScreen)]
    fn share_js(room: &JsValue, on: bool) -> Promise;
    #[wasm_bindgen(js_namespace = StudioMedia, js_name = flushPending)]
    fn flush_js(session: &str, on_status: &Function) -> Promise;
}

/// serde → plain JS objects (not `Map`s), so `JSON.stringify` sees the fields.
pub fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, String> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| e.to_string())
}

/// A JS error's message (a problem+json `message` when the API refused).
pub fn message(e: &JsValue) -> String {
    Reflect::get(e, &"problem".into())
        .ok()
        .and_then(|p| Reflect::get(&p, &"message".into()).ok())
        .and_then(|m| m.as_string())
        .or_else(|| Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()))
        .unwrap_or_else(|| "something went wrong".into())
}

fn opts(pairs: &[(&str, &JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &(*k).into(), v);
    }
    o
}

/// Publish the microphone (and the camera when asked); `on_state` hears every connection state change.
pub async fn broadcast(url: &str, token: &str, camera: bool, on_state: &Function) -> Result<JsValue, String> {
    let o = opts(&[("url", &url.into()), ("token", &token.into()), ("camera", &camera.into()), ("onState", on_state)]);
    JsFuture::from(broadcast_js(&o)).await.map_err(|e| message(&e))
}

/// Subscribe and attach tracks into `container`.
pub async fn watch(
    url: &str,
    token: &str,
    container: &JsValue,
    on_state: &Function,
    on_track: &Function,
) -> Result<JsValue, String> {
    let o = opts(&[
        ("url", &url.into()),
        ("token", &token.into()),
        ("container", container),
        ("onState", on_state),
        ("onTrack", on_track),
    ]);
    JsFuture::from(watch_js(&o)).await.map_err(|e| message(&e))
}

/// What the class recording reports as it goes (`StudioMedia.recordClass`'s `onStatus`).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingStatus {
    /// Parts the server has.
    pub saved: u32,
    /// Parts kept in this browser, not yet acknowledged.
    pub waiting: u32,
    /// The last attempt to send failed; sending resumes on its own.
    pub offline: bool,
    pub upload_id: Option<String>,
    /// The recording is complete (by this page, or by the server after the class ended).
    pub finished: Option<String>,
    pub error: Option<String>,
    /// What the recorder records now: "camera", "screen" or "audio" (none while off).
    pub shows: Option<String>,
}

/// A JS callback that hands each status report to `f`.
pub fn on_status(f: impl Fn(RecordingStatus) + 'static) -> Function {
    Closure::<dyn Fn(JsValue)>::new(move |v: JsValue| {
        if let Ok(s) = serde_wasm_bindgen::from_value::<RecordingStatus>(v) {
            f(s)
        }
    })
    .into_js_value()
    .into()
}

/// Record what the teacher sends in slices kept in this browser until the server has them; the
/// recorder handle.
pub async fn record(room: &JsValue, session: &str, on_status: &Function) -> Result<JsValue, String> {
    let o = opts(&[("sessionId", &session.into()), ("onStatus", on_status)]);
    JsFuture::from(record_js(room, &o)).await.map_err(|e| message(&e))
}

/// Share the screen (or stop sharing it); whether it is shared now. The recording follows.
pub async fn share_screen(room: &JsValue, on: bool) -> Result<bool, String> {
    let v = JsFuture::from(share_js(room, on)).await.map_err(|e| message(&e))?;
    Ok(v.is_truthy())
}

/// Send what an earlier page of this session left in this browser; whether there was anything.
pub async fn flush_pending(session: &str, on_status: &Function) -> Result<bool, String> {
    let v = JsFuture::from(flush_js(session, on_status)).await.map_err(|e| message(&e))?;
    Ok(v.is_truthy())
}

/// Stop the recorder, send what is left and complete the upload: the recording's answer, or
/// `{waiting}` when parts could not be sent yet (they go up when the network returns).
pub async fn stop_recording(recorder: &JsValue) -> Result<serde_json::Value, String> {
    let stop: Function = Reflect::get(recorder, &"stop".into()).map_err(|e| message(&e))?.into();
    let v =
        JsFuture::from(Promise::from(stop.call0(recorder).map_err(|e| message(&e))?)).await.map_err(|e| message(&e))?;
    serde_wasm_bindgen::from_value(v).map_err(|e| e.to_string())
}

/// Leave the room.
pub async fn disconnect(room: &JsValue) {
    if let Ok(f) = Reflect::get(room, &"disconnect".into()) {
        let f: Function = f.into();
        if let Ok(p) = f.call0(room) {
            let _ = JsFuture::from(Promise::from(p)).await;
        }
    }
}
