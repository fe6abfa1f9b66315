//! The studio window's bridge to its Rust core (Tauri v2, `withGlobalTauri`): `invoke` a command
//! with typed arguments and answer, `listen` to the core's events. Refusals arrive as
//! `shared_types::studio::AppError` (`{code, message}`).

use serde::{de::DeserializeOwned, Serialize};
use shared_types::studio::AppError;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

fn global(path: &[&str]) -> Option<JsValue> {
    let mut v: JsValue = web_sys::window()?.into();
    for p in path {
        v = js_sys::Reflect::get(&v, &JsValue::from_str(p)).ok()?;
        if v.is_undefined() || v.is_null() {
            return None;
        }
    }
    Some(v)
}

fn bridge_error(what: &str) -> AppError {
    AppError::new("bridge", format!("the studio window could not {what}"))
}

/// Call a `#[tauri::command]`.
pub async fn invoke<T: DeserializeOwned>(cmd: &str, args: &impl Serialize) -> Result<T, AppError> {
    let f: js_sys::Function =
        global(&["__TAURI__", "core", "invoke"]).ok_or_else(|| bridge_error("reach its core"))?.unchecked_into();
    let args = args.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|_| bridge_error("send"))?;
    let promise: js_sys::Promise =
        f.call2(&JsValue::NULL, &JsValue::from_str(cmd), &args).map_err(|_| bridge_error("call"))?.unchecked_into();
    match JsFuture::from(promise).await {
        Ok(v) => serde_wasm_bindgen::from_value(v).map_err(|_| bridge_error("read the answer")),
        Err(e) => Err(serde_wasm_bindgen::from_value(e.clone())
            .unwrap_or_else(|_| AppError::new("error", e.as_string().unwrap_or_else(|| "failed".into())))),
    }
}

/// Listen to a core event for the life of the page; `f` gets its payload.
pub fn listen<T: DeserializeOwned + 'static>(event: &str, f: impl Fn(T) + 'static) {
    let Some(listen) = global(&["__TAURI__", "event", "listen"]) else { return };
    let listen: js_sys::Function = listen.unchecked_into();
    let cb = Closure::<dyn Fn(JsValue)>::new(move |e: JsValue| {
        let payload = js_sys::Reflect::get(&e, &JsValue::from_str("payload")).unwrap_or(JsValue::NULL);
        match serde_wasm_bindgen::from_value::<T>(payload) {
            Ok(v) => f(v),
            Err(err) => web_sys::console::error_1(&JsValue::from_str(&format!("studio event unreadable: {err}"))),
        }
    });
    let _ = listen.call2(&JsValue::NULL, &JsValue::from_str(event), cb.as_ref());
    cb.forget();
}
