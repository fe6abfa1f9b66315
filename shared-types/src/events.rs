//! Session events: facts in the past tense, named `noun.verb`, each with a version.

use crate::ids::*;
use crate::roles::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A whiteboard stroke: points in board coordinates (0..1 of the board's width/height).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stroke {
    pub id: String,
    pub points: Vec<[f64; 2]>,
    pub color: String,
    pub width: f64,
}

/// One source placed in a scene layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LayoutItem {
    /// camera | screen | slide | whiteboard | image
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

macro_rules! session_events {
    ($( $(#[$meta:meta])* $variant:ident = $name:literal { $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)? } ),* $(,)?) => {
        /// Every kind of fact the session log records. Serialised as `{"type": …, "payload": {…}}`.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(tag = "type", content = "payload")]
        pub enum SessionEvent {
            $( $(#[$meta])* #[serde(rename = $name, rename_all = "camelCase")] $variant { $( $(#[$fmeta])* $field: $ty ),* } ),*
        }

        impl SessionEvent {
            /// The wire name, e.g. `chat.posted`.
            pub fn event_type(&self) -> &'static str {
                match self { $( SessionEvent::$variant { .. } => $name ),* }
            }

            /// Every known wire name.
            pub const TYPES: &'static [&'static str] = &[$($name),*];
        }
    };
}

session_events! {
    SessionScheduled = "session.scheduled" { scheduled_start: DateTime<Utc>, scheduled_end: DateTime<Utc> },
    SessionStarted = "session.started" { #[serde(default)] room: Option<String> },
    SessionEnded = "session.ended" {},
    /// The language the class is taught in (an ISO 639-1 code the recogniser knows): what its
    /// transcript and captions are made in. Unset, the school's default.
    SessionLanguageSet = "session.language_set" { language: String },
    ParticipantJoined = "participant.joined" { user_id: UserId, role: Role },
    ParticipantLeft = "participant.left" { user_id: UserId },
    HandRaised = "hand.raised" {},
    /// `userId` lets a presenter lower someone else's hand; absent means the actor's own.
    HandLowered = "hand.lowered" { #[serde(default)] user_id: Option<UserId> },
    SceneCreated = "scene.created" { scene_id: SceneId, name: String, #[serde(default)] layout: Vec<LayoutItem>, #[serde(default)] metadata: Value },
    SceneUpdated = "scene.updated" { scene_id: SceneId, #[serde(default)] name: Option<String>, #[serde(default)] layout: Option<Vec<LayoutItem>>, #[serde(default)] assets: Option<Vec<AssetId>> },
    /// The scene on air changed (activation).
    SceneChanged = "scene.changed" { scene_id: SceneId },
    SlideDeckAdded = "slide.deck_added" { asset_id: AssetId, page_count: u32, #[serde(default)] title: Option<String> },
    SlideShown = "slide.shown" { asset_id: AssetId, page: u32 },
    /// An image (or a whiteboard background) was uploaded and stored; `kind` is image | whiteboard.
    AssetAdded = "asset.added" { asset_id: AssetId, kind: String, #[serde(default)] title: Option<String> },
    WhiteboardStrokeAdded = "whiteboard.stroke_added" { board_id: String, strokes: Vec<Stroke> },
    WhiteboardStrokeErased = "whiteboard.stroke_erased" { board_id: String, stroke_ids: Vec<String> },
    WhiteboardCleared = "whiteboard.cleared" { board_id: String },
    /// Undo the last stroke batch added to the board.
    WhiteboardUndone = "whiteboard.undone" { board_id: String },
    ChatPosted = "chat.posted" { message_id: MessageId, content: String },
    ChatHidden = "chat.hidden" { message_id: MessageId },
    QuestionAsked = "question.asked" { question_id: QuestionId, content: String },
    QuestionUpvoted = "question.upvoted" { question_id: QuestionId },
    QuestionAnswered = "question.answered" { question_id: QuestionId },
    QuestionDismissed = "question.dismissed" { question_id: QuestionId },
    PollOpened = "poll.opened" { poll_id: PollId, prompt: String, options: Vec<String> },
    PollVoted = "poll.voted" { poll_id: PollId, option: u32 },
    PollClosed = "poll.closed" { poll_id: PollId },
    HighlightMarked = "highlight.marked" { label: String },
    RecordingStarted = "recording.started" { #[serde(default)] recording_id: Option<RecordingId> },
    RecordingStopped = "recording.stopped" { #[serde(default)] recording_id: Option<RecordingId> },
    /// A recording of the class was stored (egress, the studio's upload, or a manual upload);
    /// `startedAt` is the event-log time of its first sample when known.
    RecordingAdded = "recording.added" { recording_id: RecordingId, #[serde(default)] started_at: Option<DateTime<Utc>>, #[serde(default)] duration_s: Option<f64> },
    StreamStarted = "stream.started" { #[serde(default)] destination_ids: Vec<String> },
    StreamStopped = "stream.stopped" {},
    /// The stream egress died or LiveKit gave up on it; `reason` is LiveKit's (or "egress not responding").
    StreamFailed = "stream.failed" { reason: String },
    ArtifactReady = "artifact.ready" { artifact_type: String, #[serde(default)] artifact_id: Option<ArtifactId> },
    /// A live caption, transcribed while the class runs; times from the recording's first sample.
    CaptionAdded = "caption.added" { recording_id: RecordingId, start_s: f64, end_s: f64, text: String },
}

/// The schema version every event is written with today.
pub const CURRENT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("unknown event type `{0}`")]
    UnknownType(String),
    #[error("event version {0} is newer than this build understands")]
    FutureVersion(u32),
    #[error("invalid payload for `{ty}`: {reason}")]
    Payload { ty: String, reason: String },
}

impl SessionEvent {
    /// Build an event from its stored or wire parts, upcasting old versions on read.
    pub fn from_parts(ty: &str, version: u32, payload: Value) -> Result<Self, DecodeError> {
        if !Self::TYPES.contains(&ty) {
            return Err(DecodeError::UnknownType(ty.to_string()));
        }
        if version > CURRENT_VERSION {
            return Err(DecodeError::FutureVersion(version));
        }
        // Version 1 is the first; upcasters for later versions go here, keyed by (ty, version).
        let payload = if payload.is_null() { Value::Object(Default::default()) } else { payload };
        serde_json::from_value(serde_json::json!({ "type": ty, "payload": payload }))
            .map_err(|e| DecodeError::Payload { ty: ty.to_string(), reason: e.to_string() })
    }

    /// The payload alone, as stored in the log.
    pub fn payload(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => m.remove("payload").unwrap_or(Value::Object(Default::default())),
            _ => Value::Object(Default::default()),
        }
    }
}

/// One entry of the authoritative per-session log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    pub session_id: SessionId,
    /// 1, 2, 3… per session with no gaps; assigned by the server.
    pub sequence: u64,
    pub idempotency_key: String,
    pub version: u32,
    pub actor_id: Option<UserId>,
    /// The actor's role inside the session when the event was written (extra to API.md).
    #[serde(default)]
    pub actor_role: Option<Role>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: SessionEvent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_is_type_and_payload() {
        let env = EventEnvelope {
            session_id: SessionId::new(),
            sequence: 3,
            idempotency_key: "k".into(),
            version: 1,
            actor_id: None,
            actor_role: Some(Role::Teacher),
            occurred_at: Utc::now(),
            recorded_at: Utc::now(),
            event: SessionEvent::SlideShown { asset_id: AssetId::new(), page: 2 },
        };
        let v = serde_json::to_value(&env).unwrap();
        assert_eq!(v["type"], "slide.shown");
        assert_eq!(v["payload"]["page"], 2);
        assert!(v["payload"]["assetId"].is_string());
        let back: EventEnvelope = serde_json::from_value(v).unwrap();
        assert_eq!(back, env);
    }

    #[test]
    fn from_parts_rejects_unknown_and_bad_payloads() {
        assert_eq!(
            SessionEvent::from_parts("nope.done", 1, Value::Null),
            Err(DecodeError::UnknownType("nope.done".into()))
        );
        assert!(matches!(
            SessionEvent::from_parts("poll.voted", 1, serde_json::json!({"pollId": "x", "option": 1})),
            Err(DecodeError::Payload { .. })
        ));
        assert_eq!(SessionEvent::from_parts("session.ended", 1, Value::Null), Ok(SessionEvent::SessionEnded {}));
        assert_eq!(SessionEvent::from_parts("session.ended", 9, Value::Null), Err(DecodeError::FutureVersion(9)));
    }
}
