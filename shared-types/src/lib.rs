//! Wire types, the session event model and its reducer, and the RBAC policy table.
//!
//! Shared by cloud-api, artifact-worker, student-web and studio-desktop; compiles for native and
//! `wasm32-unknown-unknown` and does no I/O.

pub mod decide;
#[cfg(feature = "pdf")]
pub mod deck;
pub mod dto;
pub mod error;
pub mod events;
pub mod ids;
pub mod jobs;
pub mod media;
pub mod origin;
pub mod policy;
pub mod reducer;
pub mod requests;
pub mod roles;
pub mod speech;
pub mod state;
pub mod studio;

pub use decide::{decide, Permissions, SessionActor, SessionCommand};
pub use events::{EventEnvelope, SessionEvent};
pub use ids::*;
pub use reducer::{apply, fold, Rejection};
pub use roles::{Role, RoleGrant, Scope};
pub use state::SessionState;
