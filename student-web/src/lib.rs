//! student-web: the browser app in yew (wasm), served by cloud-api at `/app/`: sign-in, my courses,
//! the live room (scene, slides, whiteboard, chat, Q&A, polls, hands, "what you missed"), the
//! teacher's present view, and the replay page. Session state is folded with `shared_types::apply`,
//! the same reducer as the server; what pages compute from it lives in `view` (no I/O, tested
//! natively). In the teacher's studio window (Tauri) the same app starts in studio mode
//! (`start_studio`, `studio.rs`): it draws from the studio core's snapshot and sends actions there.
//! Media calls livekit-client through `media.rs`'s bindings to the bundled `StudioMedia`.

pub use shared_types::{apply, SessionState};

pub mod view;

#[cfg(target_arch = "wasm32")]
mod account;
#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod board;
#[cfg(target_arch = "wasm32")]
mod live;
#[cfg(target_arch = "wasm32")]
mod media;
#[cfg(target_arch = "wasm32")]
mod media_ui;
#[cfg(target_arch = "wasm32")]
mod replay;
#[cfg(target_arch = "wasm32")]
mod room;
#[cfg(target_arch = "wasm32")]
mod streams;
#[cfg(target_arch = "wasm32")]
mod studio;
#[cfg(target_arch = "wasm32")]
mod tauri;
