//! cloud-api: the HTTP/WebSocket API, auth, idempotency, live fan-out to sockets, LiveKit, metrics.
//! The store (event log, jobs, catalog, blobs) is the `studio-store` crate, re-exported here.

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod demo;
pub mod egress;
pub mod error;
pub mod http;
pub mod livekit;
pub mod lti;
pub mod lti_tool;
pub mod metrics;
pub mod recordings;
pub mod replays;
pub mod rooms;
pub mod secrets;
pub mod serve;
pub mod sso;
/// PDF decks (the renderer is shared with the studio).
pub use shared_types::deck as slides;
pub mod spawned;
pub mod spool;
pub mod sweep;
pub mod webm;

pub use studio_store as store;
pub use studio_store::{blob, fanout, keyfile};
