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
