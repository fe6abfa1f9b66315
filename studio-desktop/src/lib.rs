//! studio-desktop: the teacher's studio. This library is its core, with no UI in it: the journal
//! (every action decided by the shared rules against the locally folded state, then kept in SQLite)
//! and the sync engine (drains the journal to the cloud API idempotently, records what the server said
//! of each entry, pulls what others wrote), the vault for the sign-in, and `app::Studio` — the worker
//! the Tauri window's commands are thin calls into (`src/main.rs`).

pub mod app;
pub mod journal;
pub mod school;
pub mod sync;
pub mod vault;

pub use journal::{Entry, Journal, JournalError, Remote, Status};
pub use sync::{Client, Live, Pushed, SyncError};

use shared_types::decide::SessionActor;
use shared_types::dto::{MeResponse, SessionDto};
use shared_types::policy::{Actor, Target};

/// The teacher as the session's rules see them, from `GET /api/auth/me` and the session — what the
/// studio decides with while offline (the server decides again with the same rules).
pub fn session_actor(me: &MeResponse, session: &SessionDto) -> SessionActor {
    let actor =
        Actor { user: me.id, tenant: me.tenant_id, platform_admin: me.platform_admin, grants: me.roles.clone() };
    SessionActor::participant(&actor, &Target::session(session.tenant_id, session.course_id, session.id))
}
