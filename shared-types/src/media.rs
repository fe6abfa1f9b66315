//! Answers of the media routes: assets, recordings and their resumable uploads, the replay with its
//! artifacts (chapters, highlights, question links — the very types the pipeline writes), course
//! search, streams, and the process's own health answers.

use crate::events::EventEnvelope;
use crate::ids::*;
use crate::jobs::{ArtifactKind, ArtifactStatus};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An uploaded asset (a slide deck, an image, a whiteboard background) with fresh signed URLs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetDto {
    pub id: AssetId,
    pub session_id: SessionId,
    pub scene_id: Option<SceneId>,
    /// `slide_deck`, `image` or `whiteboard_background`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: Option<String>,
    pub content_type: String,
    pub content_url: String,
    pub page_count: Option<u32>,
    /// One rendered PNG per page of a deck (empty for images).
    pub pages: Vec<String>,
    pub urls_expire_in_s: u64,
    /// On upload: the `asset.added` (or `slide.deck_added`) event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventEnvelope>,
}

/// `POST /api/sessions/{id}/recordings` (and completing an upload) → 201.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingAnswer {
    pub id: RecordingId,
    pub session_id: SessionId,
    pub content_type: String,
    pub size_bytes: i64,
    pub started_at: Option<DateTime<Utc>>,
    /// `queued`: the pipeline will transcribe it.
    pub processing: String,
    pub event: EventEnvelope,
}

/// `POST /api/sessions/{id}/recordings/uploads` → 201.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadStarted {
    pub upload_id: uuid::Uuid,
    pub max_part_bytes: u64,
}

/// `PUT …/uploads/{uploadId}/parts/{n}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartStored {
    pub upload_id: uuid::Uuid,
    pub part: u32,
    pub size_bytes: i64,
}

/// One part a resumable upload has received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartDto {
    pub n: u32,
    pub size_bytes: i64,
}

/// `GET …/uploads/{uploadId}`: what arrived, so a client re-sends only what is missing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadDto {
    pub upload_id: uuid::Uuid,
    pub session_id: SessionId,
    pub parts: Vec<PartDto>,
    /// Set once completed.
    pub recording_id: Option<RecordingId>,
}

/// `POST /api/artifacts/process` → 202.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessQueued {
    pub queued: bool,
    pub recording_id: RecordingId,
}

/// A chapter of the replay: it opens at a slide or scene change, or splits a long stretch by topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chapter {
    pub start_s: f64,
    pub end_s: f64,
    pub title: String,
    /// `slide`, `scene` or `topic`: what opened the chapter.
    pub reason: String,
}

/// A moment worth returning to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Highlight {
    pub at_s: f64,
    pub label: String,
    /// `marked` (by the teacher) or `activity` (a burst of questions, votes, chat or hands).
    pub reason: String,
}

/// A student's question linked to where the teacher answered it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QaLink {
    pub question_id: String,
    pub question: String,
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
}

/// A recording of the replay, with a signed URL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayRecording {
    pub id: RecordingId,
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub duration_s: Option<f64>,
    pub content_type: String,
    pub started_at: Option<DateTime<Utc>>,
}

/// The slide page on screen while a segment was spoken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlideRef {
    pub asset_id: String,
    pub page: Option<u32>,
}

/// A transcript segment (seconds from the recording's first sample).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    pub scene_id: Option<String>,
    pub slide: Option<SlideRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Transcript {
    pub segments: Vec<Segment>,
}

/// Where one artifact of the pipeline is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactDto {
    #[serde(rename = "type")]
    pub kind: ArtifactKind,
    pub status: ArtifactStatus,
    pub error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /api/replays/{sessionId}`: the state at the end, the recordings, and every ready artifact
/// (`transcript` is null and the lists are empty until the pipeline has made them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayDto {
    pub session: crate::dto::SessionDto,
    pub state: crate::state::SessionState,
    pub recordings: Vec<ReplayRecording>,
    pub transcript: Option<Transcript>,
    pub chapters: Vec<Chapter>,
    pub highlights: Vec<Highlight>,
    pub qa_links: Vec<QaLink>,
    pub captions_url: Option<String>,
    pub artifacts: Vec<ArtifactDto>,
}

/// A transcript hit of a course search, best first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub session_id: SessionId,
    /// Where the segment starts in the lecture (seconds from the recording's first sample).
    pub at_s: f64,
    pub end_s: f64,
    /// The whole segment.
    pub text: String,
    /// The words around the match, each matched word between `«` and `»`.
    pub snippet: String,
    /// Relevance: higher is better (comparable within one answer).
    pub score: f64,
    pub lesson_id: LessonId,
    pub lesson_title: String,
    /// When the class was held (its start, else when it was scheduled).
    pub held_at: chrono::DateTime<chrono::Utc>,
    /// The replay at this second: `/app/#/sessions/{sessionId}/replay?at={atS}` (`at`: on the
    /// recording's clock, as transcript times are; `t` counts from the class start).
    pub replay_url: String,
}

impl SearchHit {
    /// The replay link for a moment of a session (the web app's route).
    pub fn replay_url(session: SessionId, at_s: f64) -> String {
        format!("/app/#/sessions/{session}/replay?at={at_s:.1}")
    }
}

/// `GET /api/courses/{courseId}/search`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHits {
    pub hits: Vec<SearchHit>,
    /// Asks for the next page (`?cursor=`); none after the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `GET /api/admin/jobs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobList {
    pub jobs: Vec<crate::jobs::Job>,
}

/// `POST /api/admin/jobs/{id}/retry`: the job, back in the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobAnswer {
    pub job: Option<crate::jobs::Job>,
}

/// `POST /api/sessions/{id}/stream`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamAnswer {
    pub egress_id: Option<String>,
    pub destination_ids: Vec<uuid::Uuid>,
    pub event: Option<EventEnvelope>,
}

/// `POST /api/webhooks/livekit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookAnswer {
    pub received: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
    /// What the server did with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<String>,
}

/// `GET /healthz` and `GET /readyz`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// `ok` (the process is up) or `ready` (and the store answers).
    pub status: String,
    /// `sqlite` or `postgres`, on `/readyz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

fn vtt_time(t: f64) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// WebVTT captions, one cue per `(startS, endS, text)` — the pipeline's and the demo class's.
pub fn webvtt<'a>(cues: impl IntoIterator<Item = (f64, f64, &'a str)>) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for (i, (start, end, text)) in cues.into_iter().enumerate() {
        let end = if end > start { end } else { start + 0.5 };
        // A cue's text may not contain "-->" or a blank line.
        let text = text.replace("-->", "->").replace("\n\n", "\n");
        out.push_str(&format!("{}\n{} --> {}\n{}\n\n", i + 1, vtt_time(start), vtt_time(end), text.trim()));
    }
    out
}
