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

/// What a course search hit is: something said, a slide page shown, or a question asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    #[default]
    Speech,
    Slide,
    Question,
}

impl HitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HitKind::Speech => "speech",
            HitKind::Slide => "slide",
            HitKind::Question => "question",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [HitKind::Speech, HitKind::Slide, HitKind::Question].into_iter().find(|k| k.as_str() == s)
    }
}

/// Text of a lecture searchable beside its transcript: a slide page (from when it was first
/// shown) or a question (when it was asked); seconds from the recording's first sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LectureText {
    pub kind: HitKind,
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    pub slide: Option<SlideRef>,
}

/// A deck page's text, by deck and page (1-based).
pub type PageTexts = std::collections::BTreeMap<(AssetId, u32), String>;

/// The slide pages and questions of a class as course search finds them, on a recording's clock
/// (`start`: its first sample; `duration`: its length in seconds). Each page that has text, from
/// when it was first shown during the recording to when another page was; each question not
/// dismissed, from when it was asked (to when it was answered). `events` in time order.
pub fn lecture_texts(
    events: &[EventEnvelope],
    start: DateTime<Utc>,
    duration: f64,
    pages: &PageTexts,
) -> Vec<LectureText> {
    let rel = |t: DateTime<Utc>| ((t - start).num_milliseconds() as f64 / 1000.0).clamp(0.0, duration);
    let mut out = Vec::new();
    // Slides: the showings, each closed by the next page shown (the last by the recording's end).
    let mut showings: Vec<((AssetId, u32), f64, f64)> = Vec::new();
    for e in events {
        if let crate::SessionEvent::SlideShown { asset_id, page } = &e.event {
            let at = rel(e.occurred_at);
            if let Some(last) = showings.last_mut() {
                if last.0 == (*asset_id, *page) {
                    continue;
                }
                last.2 = at;
            }
            showings.push(((*asset_id, *page), at, duration));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (key, from, to) in showings {
        // Shown only before the recording began (or after it ended): not in this recording.
        if to <= from || seen.contains(&key) {
            continue;
        }
        let Some(text) = pages.get(&key).filter(|t| !t.trim().is_empty()) else { continue };
        seen.insert(key);
        let slide = Some(SlideRef { asset_id: key.0.to_string(), page: Some(key.1) });
        out.push(LectureText { kind: HitKind::Slide, start_s: from, end_s: to, text: text.clone(), slide });
    }
    // Questions, unless the teacher dismissed them.
    let dismissed: std::collections::BTreeSet<_> = events
        .iter()
        .filter_map(|e| match &e.event {
            crate::SessionEvent::QuestionDismissed { question_id } => Some(*question_id),
            _ => None,
        })
        .collect();
    for e in events {
        let crate::SessionEvent::QuestionAsked { question_id, content } = &e.event else { continue };
        if dismissed.contains(question_id) {
            continue;
        }
        let at = rel(e.occurred_at);
        let answered = events.iter().find_map(|a| match &a.event {
            crate::SessionEvent::QuestionAnswered { question_id: q } if q == question_id => Some(rel(a.occurred_at)),
            _ => None,
        });
        let text = content.clone();
        out.push(LectureText {
            kind: HitKind::Question,
            start_s: at,
            end_s: answered.unwrap_or(at).max(at),
            text,
            slide: None,
        });
    }
    out.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    out
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

/// A hit of a course search, best first: something said, a slide page, or a question.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    #[serde(default)]
    pub kind: HitKind,
    pub session_id: SessionId,
    /// Where it starts in the lecture (seconds from the recording's first sample): the segment's
    /// start, when the slide page was first shown, when the question was asked.
    pub at_s: f64,
    pub end_s: f64,
    /// The whole segment, slide page or question.
    pub text: String,
    /// A slide hit's page (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The words around the match, each matched word between `«` and `»`.
    pub snippet: String,
    /// The language the class was held in (ISO 639-1): what the text is written in.
    #[serde(default = "crate::speech::english")]
    pub language: String,
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
