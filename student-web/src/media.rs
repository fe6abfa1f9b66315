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
    #[wasm_bindgen(js_namespace = StudioMedia, js_name = recordMicrophone)]
    fn record_js(room: &JsValue) -> JsValue;
    #[wasm_bindgen(js_namespace = StudioMedia, js_name = uploadRecording)]
    fn upload_js(session: &str, blob: &JsValue, started_at: &str) -> Promise;
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

/// Start recording the local microphone; returns the recorder handle.
pub fn record(room: &JsValue) -> JsValue {
    record_js(room)
}

/// Stop the recorder and upload what it recorded.
pub async fn stop_and_upload(session: &str, recorder: &JsValue) -> Result<serde_json::Value, String> {
    let stop: Function = Reflect::get(recorder, &"stop".into()).map_err(|e| message(&e))?.into();
    let started = Reflect::get(recorder, &"startedAt".into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
    let blob =
        JsFuture::from(Promise::from(stop.call0(recorder).map_err(|e| message(&e))?)).await.map_err(|e| message(&e))?;
    let v = JsFuture::from(upload_js(session, &blob, &started)).await.map_err(|e| message(&e))?;
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
