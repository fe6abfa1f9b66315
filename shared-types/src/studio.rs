//! What the studio's core tells its window and the window asks of it (the Tauri commands' answers):
//! the snapshot the UI draws from, and errors as `{code, message}`. Shared by `studio-desktop` (native)
//! and its yew UI (wasm), so both sides read and write the same shapes.

use crate::dto::{CourseDto, LessonDto, MeResponse, SessionDto};
use crate::state::SessionState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An error as the window shows it: `{code, message}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppError {
    pub code: String,
    pub message: String,
}

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> AppError {
        AppError { code: code.into(), message: message.into() }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A lesson and its sessions, as the picker lists them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonEntry {
    pub lesson: LessonDto,
    pub sessions: Vec<SessionDto>,
}

/// A course with its lessons (kept in the journal for choosing a session offline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseEntry {
    pub course: CourseDto,
    pub lessons: Vec<LessonEntry>,
    /// Who is in the course, by name: chat, questions and hands name people with it, offline too.
    #[serde(default)]
    pub people: Vec<crate::dto::PersonDto>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub key: String,
    pub event_type: String,
    pub code: String,
    pub message: String,
}

/// The sync indicator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    /// Entries the server does not hold yet (all sessions).
    pub pending: u64,
    pub online: bool,
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, when it did.
    pub problem: Option<String>,
    /// The open session's refused entries, newest first.
    pub refused: Vec<Refusal>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    pub server: String,
    pub email: String,
    pub me: MeResponse,
}

/// Everything the window draws from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Bumped on every change.
    pub version: u64,
    /// `keychain` or `file`: where the sign-in is kept.
    pub vault: String,
    pub signed_in: Option<SignedIn>,
    pub catalog: Vec<CourseEntry>,
    pub session: Option<SessionDto>,
    pub state: Option<SessionState>,
    pub sync: SyncView,
    /// When the studio last opened the browser's present view for this session (camera and
    /// microphone are published there where the window has no WebRTC).
    #[serde(default)]
    pub browser_opened_at: Option<DateTime<Utc>>,
}

/// When the pen's points leave the board while a stroke is drawn. Each piece becomes one event in
/// the session's log (and one journal entry, and one message to every student), so pieces are few;
/// the first goes soon after the pen touches down, so students see a stroke begin at once.
/// Measured by `cargo bench -p studio-desktop --bench drawing` (docs/benchmarks.md).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InkPacing {
    /// After the pen goes down: the first piece.
    pub first_ms: f64,
    /// Then one piece this often while the pen moves (the rest at pen up).
    pub every_ms: f64,
}

impl InkPacing {
    /// What the studio does.
    pub const STUDIO: InkPacing = InkPacing { first_ms: 33.0, every_ms: 100.0 };
    /// The pacing before (a piece every 33 ms, ≈30 events a second): the benchmark's baseline.
    pub const EVERY_33_MS: InkPacing = InkPacing { first_ms: 33.0, every_ms: 33.0 };

    /// Whether the points gathered since the last piece go out now: `sent` pieces so far, `since_ms`
    /// since the last one (or since the pen went down).
    pub fn due(&self, sent: usize, since_ms: f64) -> bool {
        since_ms >= if sent == 0 { self.first_ms } else { self.every_ms }
    }
}
