//! The folded state of one session: what a late joiner, a replay and the server's validator all see.

use crate::events::{LayoutItem, Stroke};
use crate::ids::*;
use crate::roles::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// No event yet.
    #[default]
    New,
    Scheduled,
    Live,
    Ended,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub role: Role,
    pub present: bool,
    pub hand_raised: bool,
    pub joined_at: DateTime<Utc>,
    /// When the raised hand went up (the event's own time, so an offline studio and the server
    /// agree); a hand lowered and raised again goes up anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand_raised_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Scene {
    pub name: String,
    pub layout: Vec<LayoutItem>,
    pub assets: Vec<AssetId>,
    pub metadata: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deck {
    pub page_count: u32,
    pub title: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlidePosition {
    pub asset_id: AssetId,
    pub page: u32,
}

/// A board keeps its strokes grouped by the batch that added them, so undo removes a batch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    pub batches: Vec<Vec<Stroke>>,
}

impl Board {
    pub fn stroke_ids(&self) -> impl Iterator<Item = &str> {
        self.batches.iter().flatten().map(|s| s.id.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub id: MessageId,
    pub author: Option<UserId>,
    /// The author's role in the session when they wrote it (how clients name them).
    #[serde(default)]
    pub author_role: Option<Role>,
    pub content: String,
    pub hidden: bool,
    pub sequence: u64,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub id: QuestionId,
    pub author: Option<UserId>,
    #[serde(default)]
    pub author_role: Option<Role>,
    pub content: String,
    pub upvoters: BTreeSet<UserId>,
    pub answered: bool,
    pub dismissed: bool,
    pub sequence: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Poll {
    pub prompt: String,
    pub options: Vec<String>,
    /// voter → chosen option index
    pub votes: BTreeMap<UserId, u32>,
    pub closed: bool,
    /// Sequence of the `poll.opened` event (polls are listed in the order they opened).
    #[serde(default)]
    pub sequence: u64,
}

impl Poll {
    /// Votes per option, in option order.
    pub fn tally(&self) -> Vec<u32> {
        let mut t = vec![0; self.options.len()];
        for &o in self.votes.values() {
            if let Some(n) = t.get_mut(o as usize) {
                *n += 1;
            }
        }
        t
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Highlight {
    pub label: String,
    pub by: Option<UserId>,
    pub sequence: u64,
    pub at: DateTime<Utc>,
}

/// A live caption (the newest few are kept; the whole transcript is the replay's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Caption {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    pub sequence: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionState {
    /// Sequence of the last event folded in.
    pub head: u64,
    pub status: SessionStatus,
    pub scheduled_start: Option<DateTime<Utc>>,
    pub scheduled_end: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub room: Option<String>,
    /// The class's language when it set one (`session.language_set`); else the school's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub participants: BTreeMap<UserId, Participant>,
    pub scenes: BTreeMap<SceneId, Scene>,
    pub active_scene: Option<SceneId>,
    pub decks: BTreeMap<AssetId, Deck>,
    /// Images and whiteboard backgrounds, by id: their kind.
    #[serde(default)]
    pub images: BTreeMap<AssetId, String>,
    pub current_slide: Option<SlidePosition>,
    pub boards: BTreeMap<String, Board>,
    pub chat: Vec<ChatMessage>,
    pub questions: Vec<Question>,
    pub polls: BTreeMap<PollId, Poll>,
    pub highlights: Vec<Highlight>,
    pub recording: bool,
    pub streaming: bool,
    /// Why the last stream failed (LiveKit's reason), until the next stream starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_failure: Option<String>,
    pub artifacts: BTreeSet<String>,
    pub recordings: BTreeSet<RecordingId>,
    /// The newest live captions, oldest first (at most [`SessionState::CAPTIONS_KEPT`]).
    #[serde(default)]
    pub captions: Vec<Caption>,
}

impl SessionState {
    pub const CAPTIONS_KEPT: usize = 5;

    /// Raised hands in the order they are served: first raised first (then by who joined first).
    pub fn raised_hands(&self) -> Vec<UserId> {
        let mut hands: Vec<(&UserId, &Participant)> = self.participants.iter().filter(|(_, p)| p.hand_raised).collect();
        hands.sort_by_key(|(u, p)| (p.hand_raised_at, p.joined_at, **u));
        hands.into_iter().map(|(u, _)| *u).collect()
    }
}
