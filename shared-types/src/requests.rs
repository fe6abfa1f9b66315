//! Request bodies and query strings of the classroom, studio, stream and replay routes (camelCase
//! JSON), shared with the clients so the browser and the studio send exactly what the server reads.
//! The older account and catalog requests live in [`crate::dto`].

use crate::events::{LayoutItem, Stroke};
use crate::ids::*;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/chat` and `POST /api/questions`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostText {
    pub session_id: SessionId,
    pub content: String,
}

/// `POST /api/polls`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenPoll {
    pub session_id: SessionId,
    pub prompt: String,
    pub options: Vec<String>,
}

/// `POST /api/polls/{pollId}/responses`: the option's index.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Vote {
    pub option: u32,
}

/// `POST /api/sessions/{id}/hand`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Hand {
    pub raised: bool,
}

/// `POST /api/sessions/{id}/hand/lower`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LowerHand {
    pub user_id: UserId,
}

/// `POST /api/sessions/{id}/highlights`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Mark {
    pub label: String,
}

/// `POST /api/sessions/{id}/language`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetLanguage {
    /// An ISO 639-1 code the recogniser knows (`en`, `fr`, `de`, …).
    pub language: String,
}

/// `POST /api/studio/scenes`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateScene {
    pub session_id: SessionId,
    pub name: String,
    #[serde(default)]
    pub layout: Vec<LayoutItem>,
    #[serde(default)]
    pub metadata: Value,
}

/// `PATCH /api/studio/scenes/{sceneId}`: only the fields given change.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchScene {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Vec<LayoutItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assets: Option<Vec<AssetId>>,
    /// `true` puts the scene on air.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Accepted for older studio builds that sent the key in the body; the header is what counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `POST /api/studio/slides/show`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShowSlide {
    pub session_id: SessionId,
    pub asset_id: AssetId,
    pub page: u32,
}

/// `POST /api/whiteboard/strokes`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Strokes {
    pub session_id: SessionId,
    pub board_id: String,
    pub strokes: Vec<Stroke>,
}

/// `POST /api/whiteboard/erase`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Erase {
    pub session_id: SessionId,
    pub board_id: String,
    pub stroke_ids: Vec<String>,
}

/// `POST /api/whiteboard/clear` and `POST /api/whiteboard/undo`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BoardOnly {
    pub session_id: SessionId,
    pub board_id: String,
}

/// `POST /api/sessions/{id}/destinations`: the stream key is sealed at rest and never returned.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewDestination {
    pub name: String,
    pub rtmp_url: String,
    pub stream_key: String,
}

/// `POST /api/sessions/{id}/stream`: send to these destinations (all of them when empty).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamTo {
    pub destination_ids: Vec<uuid::Uuid>,
}

/// `POST /api/sessions/{id}/recordings/uploads`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewUpload {
    /// The event-log time of the recording's first sample.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
}

/// `POST /api/artifacts/process`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub session_id: SessionId,
    pub recording_id: RecordingId,
}

/// `GET /api/sessions/{id}/events?after=SEQ&limit=N`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct EventsQuery {
    #[serde(default)]
    pub after: u64,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// `GET /api/sessions/{id}/state?at=SEQ`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct StateQuery {
    #[serde(default)]
    pub at: Option<u64>,
}

/// `GET /api/sessions/{id}/live?after=SEQ`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct LiveQuery {
    #[serde(default)]
    pub after: u64,
}

/// What a client may send on the live socket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LiveClientMessage {
    /// Re-read from the log after this sequence (after a gap the client noticed).
    Resume { after: u64 },
    /// The answer to a `ping`.
    Pong,
}

/// `GET /api/courses/{courseId}/search?q=…`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SearchQuery {
    pub q: String,
    /// `nextCursor` of the page before.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `?tenantId=`: a platform admin acting on another tenant (others: their own, the default).
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantQuery {
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
}

/// `GET /api/admin/audit?actor=&action=&from=&to=&cursor=`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct AuditQuery {
    /// Entries of this user only.
    #[serde(default)]
    pub actor: Option<UserId>,
    /// One action (`auth.login`, `user.create`, …; a denial is named `METHOD /route`).
    #[serde(default)]
    pub action: Option<String>,
    /// At or after this time (RFC 3339).
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// At or before this time (RFC 3339).
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// `nextCursor` of the page before.
    #[serde(default)]
    pub cursor: Option<uuid::Uuid>,
}

/// `GET /api/admin/users?q=&cursor=`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct UsersQuery {
    /// Part of an email or a name.
    #[serde(default)]
    pub q: Option<String>,
    /// `nextCursor` of the page before.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `GET /api/admin/jobs?state=failed`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct JobsQuery {
    /// `queued`, `running`, `done` or `failed`.
    #[serde(default)]
    pub state: Option<String>,
}

/// `GET /api/blobs/{key}?expires=…&signature=…`: a signed local-blob download.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SignedQuery {
    pub expires: i64,
    pub signature: String,
}
