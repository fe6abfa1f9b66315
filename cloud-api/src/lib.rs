//! cloud-api: the HTTP/WebSocket API, auth, idempotency, the event log store and its fan-out.

pub mod app;
pub mod auth;
pub mod blob;
pub mod config;
pub mod demo;
pub mod error;
pub mod fanout;
pub mod http;
pub mod keyfile;
pub mod livekit;
pub mod metrics;
pub mod secrets;
pub mod serve;
pub mod slides;
pub mod spawned;
pub mod spool;
pub mod store;
