//! student-web: the browser client in yew (wasm). The media pages — the teacher's broadcast page
//! (which the desktop studio opens when its webview lacks WebRTC) and the students' watch page — call
//! livekit-client through `media.rs`'s wasm-bindgen bindings to the bundled `StudioMedia` module.
//! Session state is folded with `shared_types::apply`, the same reducer as the server.

pub use shared_types::{apply, SessionState};

#[cfg(target_arch = "wasm32")]
mod media;
#[cfg(target_arch = "wasm32")]
mod pages;
