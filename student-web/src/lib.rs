//! student-web: the students' browser client (yew, wasm). A skeleton until the live-classroom issue
//! builds it; the live room will fold events with `shared_types::apply`, the same reducer as the
//! server, so a student's view can never disagree with the log.

pub use shared_types::{apply, SessionState};
