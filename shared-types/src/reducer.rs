//! The one reducer: the server validates a command by applying it, clients fold the same events,
//! replay folds a prefix. `apply` checks everything first and mutates only when the event is valid.

use crate::events::{EventEnvelope, SessionEvent};
use crate::roles::Role;
use crate::state::*;
use serde::Serialize;

/// Limits that keep a single event from bloating the state.
pub const MAX_TEXT: usize = 2_000;
pub const MAX_POLL_OPTIONS: usize = 12;
pub const MAX_STROKES_PER_BATCH: usize = 500;
pub const MAX_POINTS_PER_STROKE: usize = 5_000;

/// Why an event cannot be applied to the current state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Rejection {
    #[error("event sequence {got} does not follow head {head}")]
    OutOfOrder { head: u64, got: u64 },
    #[error("the session is not live")]
    NotLive,
    #[error("the session has already started")]
    AlreadyStarted,
    #[error("the session has ended")]
    Ended,
    #[error("the session was already scheduled")]
    AlreadyScheduled,
    #[error("only a teacher or assistant may do this")]
    NotPresenter,
    #[error("the actor is not a participant of this session")]
    NotParticipant,
    #[error("{0} not found")]
    Unknown(&'static str),
    #[error("{0} already exists")]
    Duplicate(&'static str),
    #[error("the poll is closed")]
    PollClosed,
    #[error("this user has already voted in the poll")]
    AlreadyVoted,
    #[error("this user has already upvoted the question")]
    AlreadyUpvoted,
    #[error("invalid: {0}")]
    Invalid(String),
    /// The policy does not let this actor ask this.
    #[error("{0}")]
    Forbidden(String),
}

impl Rejection {
    /// The error code a server answers with (it carries the HTTP status).
    pub fn error_code(&self) -> crate::error::ErrorCode {
        use crate::error::ErrorCode as C;
        match self {
            Rejection::OutOfOrder { .. } => C::OutOfOrder,
            Rejection::NotLive => C::SessionNotLive,
            Rejection::AlreadyStarted => C::SessionAlreadyStarted,
            Rejection::Ended => C::SessionEnded,
            Rejection::AlreadyScheduled => C::SessionAlreadyScheduled,
            Rejection::NotPresenter | Rejection::Forbidden(_) => C::Forbidden,
            Rejection::NotParticipant => C::NotParticipant,
            Rejection::Unknown(_) => C::NotFound,
            Rejection::Duplicate(_) => C::Duplicate,
            Rejection::PollClosed => C::PollClosed,
            Rejection::AlreadyVoted => C::AlreadyVoted,
            Rejection::AlreadyUpvoted => C::AlreadyUpvoted,
            Rejection::Invalid(_) => C::ValidationFailed,
        }
    }

    /// Stable machine-readable code for the problem+json body.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The HTTP status a server answers with.
    pub fn status(&self) -> u16 {
        self.error_code().status()
    }
}

fn invalid(msg: impl Into<String>) -> Rejection {
    Rejection::Invalid(msg.into())
}

fn text(field: &str, s: &str) -> Result<(), Rejection> {
    let t = s.trim();
    if t.is_empty() {
        return Err(invalid(format!("{field} must not be empty")));
    }
    if s.chars().count() > MAX_TEXT {
        return Err(invalid(format!("{field} is longer than {MAX_TEXT} characters")));
    }
    Ok(())
}

fn live(s: &SessionState) -> Result<(), Rejection> {
    match s.status {
        SessionStatus::Live => Ok(()),
        SessionStatus::Ended => Err(Rejection::Ended),
        _ => Err(Rejection::NotLive),
    }
}

/// Preparing the class — scenes, decks, images, the slide to open on, whiteboards — may start once it
/// is scheduled (a teacher prepares before class, offline in the studio), and stops when it ends.
fn prepared(s: &SessionState) -> Result<(), Rejection> {
    match s.status {
        SessionStatus::Scheduled | SessionStatus::Live => Ok(()),
        SessionStatus::Ended => Err(Rejection::Ended),
        SessionStatus::New => Err(Rejection::NotLive),
    }
}

fn presenter(e: &EventEnvelope) -> Result<(), Rejection> {
    match e.actor_role {
        Some(r) if crate::policy::presents(r) => Ok(()),
        _ => Err(Rejection::NotPresenter),
    }
}

/// Check `e` against `s` without changing anything.
pub fn validate(s: &SessionState, e: &EventEnvelope) -> Result<(), Rejection> {
    use SessionEvent::*;
    if e.sequence != s.head + 1 {
        return Err(Rejection::OutOfOrder { head: s.head, got: e.sequence });
    }
    match &e.event {
        SessionScheduled { scheduled_start, scheduled_end } => {
            if s.status != SessionStatus::New {
                return Err(Rejection::AlreadyScheduled);
            }
            if scheduled_end <= scheduled_start {
                return Err(invalid("scheduledEnd must be after scheduledStart"));
            }
        }
        SessionStarted { .. } => match s.status {
            SessionStatus::Scheduled => {
                if e.actor_role != Some(Role::Teacher) {
                    return Err(Rejection::NotPresenter);
                }
            }
            SessionStatus::New => return Err(Rejection::Unknown("session")),
            SessionStatus::Live => return Err(Rejection::AlreadyStarted),
            SessionStatus::Ended => return Err(Rejection::Ended),
        },
        SessionEnded {} => live(s)?,
        SessionLanguageSet { language } => {
            if s.status == SessionStatus::New {
                return Err(Rejection::Unknown("session"));
            }
            if crate::speech::language_name(language).is_none() {
                return Err(invalid(format!(
                    "language `{language}` is not one the recogniser knows (ISO 639-1, e.g. en, fr, de)"
                )));
            }
        }
        ParticipantJoined { .. } => live(s)?,
        ParticipantLeft { user_id } => {
            live(s)?;
            if !s.participants.get(user_id).is_some_and(|p| p.present) {
                return Err(Rejection::NotParticipant);
            }
        }
        HandRaised {} => {
            live(s)?;
            let me = e.actor_id.and_then(|u| s.participants.get(&u));
            if !me.is_some_and(|p| p.present) {
                return Err(Rejection::NotParticipant);
            }
        }
        HandLowered { user_id } => {
            live(s)?;
            match user_id {
                Some(u) if Some(*u) != e.actor_id => {
                    presenter(e)?;
                    if !s.participants.contains_key(u) {
                        return Err(Rejection::Unknown("participant"));
                    }
                }
                _ => {
                    if !e.actor_id.is_some_and(|u| s.participants.contains_key(&u)) {
                        return Err(Rejection::NotParticipant);
                    }
                }
            }
        }
        SceneCreated { scene_id, name, .. } => {
            prepared(s)?;
            presenter(e)?;
            text("name", name)?;
            if s.scenes.contains_key(scene_id) {
                return Err(Rejection::Duplicate("scene"));
            }
        }
        SceneUpdated { scene_id, name, .. } => {
            prepared(s)?;
            presenter(e)?;
            if let Some(n) = name {
                text("name", n)?;
            }
            if !s.scenes.contains_key(scene_id) {
                return Err(Rejection::Unknown("scene"));
            }
        }
        SceneChanged { scene_id } => {
            prepared(s)?;
            presenter(e)?;
            if !s.scenes.contains_key(scene_id) {
                return Err(Rejection::Unknown("scene"));
            }
        }
        SlideDeckAdded { asset_id, page_count, .. } => {
            prepared(s)?;
            presenter(e)?;
            if *page_count == 0 {
                return Err(invalid("pageCount must be at least 1"));
            }
            if s.decks.contains_key(asset_id) {
                return Err(Rejection::Duplicate("deck"));
            }
        }
        AssetAdded { asset_id, kind, .. } => {
            prepared(s)?;
            presenter(e)?;
            if !matches!(kind.as_str(), "image" | "whiteboard") {
                return Err(invalid("kind must be image or whiteboard"));
            }
            if s.images.contains_key(asset_id) {
                return Err(Rejection::Duplicate("asset"));
            }
        }
        SlideShown { asset_id, page } => {
            prepared(s)?;
            presenter(e)?;
            let deck = s.decks.get(asset_id).ok_or(Rejection::Unknown("deck"))?;
            if *page == 0 || *page > deck.page_count {
                return Err(invalid(format!("page must be between 1 and {}", deck.page_count)));
            }
        }
        WhiteboardStrokeAdded { board_id, strokes } => {
            prepared(s)?;
            presenter(e)?;
            text("boardId", board_id)?;
            if strokes.is_empty() || strokes.len() > MAX_STROKES_PER_BATCH {
                return Err(invalid(format!("a batch holds 1 to {MAX_STROKES_PER_BATCH} strokes")));
            }
            let board = s.boards.get(board_id);
            let mut seen = std::collections::BTreeSet::new();
            for st in strokes {
                text("stroke id", &st.id)?;
                if st.points.is_empty() || st.points.len() > MAX_POINTS_PER_STROKE {
                    return Err(invalid(format!("a stroke holds 1 to {MAX_POINTS_PER_STROKE} points")));
                }
                if st.points.iter().flatten().any(|c| !c.is_finite()) {
                    return Err(invalid("stroke points must be finite numbers"));
                }
                if !(st.width.is_finite() && st.width > 0.0) {
                    return Err(invalid("stroke width must be positive"));
                }
                if !seen.insert(st.id.as_str()) || board.is_some_and(|b| b.stroke_ids().any(|i| i == st.id)) {
                    return Err(Rejection::Duplicate("stroke"));
                }
            }
        }
        WhiteboardStrokeErased { board_id, stroke_ids } => {
            prepared(s)?;
            presenter(e)?;
            let board = s.boards.get(board_id).ok_or(Rejection::Unknown("board"))?;
            if stroke_ids.is_empty() {
                return Err(invalid("strokeIds must not be empty"));
            }
            if let Some(missing) = stroke_ids.iter().find(|id| !board.stroke_ids().any(|b| b == id.as_str())) {
                return Err(invalid(format!("stroke {missing} is not on the board")));
            }
        }
        WhiteboardCleared { board_id } | WhiteboardUndone { board_id } => {
            prepared(s)?;
            presenter(e)?;
            if !s.boards.contains_key(board_id) {
                return Err(Rejection::Unknown("board"));
            }
        }
        ChatPosted { message_id, content } => {
            live(s)?;
            text("content", content)?;
            if s.chat.iter().any(|m| m.id == *message_id) {
                return Err(Rejection::Duplicate("message"));
            }
        }
        ChatHidden { message_id } => {
            live(s)?;
            presenter(e)?;
            if !s.chat.iter().any(|m| m.id == *message_id) {
                return Err(Rejection::Unknown("message"));
            }
        }
        QuestionAsked { question_id, content } => {
            live(s)?;
            text("content", content)?;
            if s.questions.iter().any(|q| q.id == *question_id) {
                return Err(Rejection::Duplicate("question"));
            }
        }
        QuestionUpvoted { question_id } => {
            live(s)?;
            let q = s.questions.iter().find(|q| q.id == *question_id).ok_or(Rejection::Unknown("question"))?;
            let voter = e.actor_id.ok_or(Rejection::NotParticipant)?;
            if q.upvoters.contains(&voter) {
                return Err(Rejection::AlreadyUpvoted);
            }
        }
        QuestionAnswered { question_id } | QuestionDismissed { question_id } => {
            live(s)?;
            presenter(e)?;
            if !s.questions.iter().any(|q| q.id == *question_id) {
                return Err(Rejection::Unknown("question"));
            }
        }
        PollOpened { poll_id, prompt, options } => {
            live(s)?;
            presenter(e)?;
            text("prompt", prompt)?;
            if options.len() < 2 || options.len() > MAX_POLL_OPTIONS {
                return Err(invalid(format!("a poll has 2 to {MAX_POLL_OPTIONS} options")));
            }
            for o in options {
                text("option", o)?;
            }
            if s.polls.contains_key(poll_id) {
                return Err(Rejection::Duplicate("poll"));
            }
        }
        PollVoted { poll_id, option } => {
            live(s)?;
            let p = s.polls.get(poll_id).ok_or(Rejection::Unknown("poll"))?;
            if p.closed {
                return Err(Rejection::PollClosed);
            }
            if *option as usize >= p.options.len() {
                return Err(invalid(format!("option must be between 0 and {}", p.options.len() - 1)));
            }
            let voter = e.actor_id.ok_or(Rejection::NotParticipant)?;
            if p.votes.contains_key(&voter) {
                return Err(Rejection::AlreadyVoted);
            }
        }
        PollClosed { poll_id } => {
            live(s)?;
            presenter(e)?;
            let p = s.polls.get(poll_id).ok_or(Rejection::Unknown("poll"))?;
            if p.closed {
                return Err(Rejection::PollClosed);
            }
        }
        HighlightMarked { label } => {
            live(s)?;
            presenter(e)?;
            text("label", label)?;
        }
        RecordingStarted { .. } | RecordingStopped { .. } | StreamStarted { .. } | StreamStopped {} => {
            live(s)?;
            // Presenters, or the server itself (an egress that started in the background).
            if e.actor_id.is_some() {
                presenter(e)?;
            }
        }
        RecordingAdded { recording_id, .. } => {
            if matches!(s.status, SessionStatus::New | SessionStatus::Scheduled) {
                return Err(Rejection::NotLive);
            }
            // Recordings come from presenters or from the server itself (LiveKit egress).
            if e.actor_id.is_some() {
                presenter(e)?;
            }
            if s.recordings.contains(recording_id) {
                return Err(Rejection::Duplicate("recording"));
            }
        }
        StreamFailed { reason } => {
            // Only the server sees a stream fail; it may be just after the class ended.
            if s.started_at.is_none() {
                return Err(Rejection::NotLive);
            }
            if e.actor_id.is_some() {
                presenter(e)?;
            }
            text("reason", reason)?;
        }
        ArtifactReady { artifact_type, .. } => {
            if s.status == SessionStatus::New {
                return Err(Rejection::Unknown("session"));
            }
            text("artifactType", artifact_type)?;
        }
        CaptionAdded { start_s, end_s, text: words, .. } => {
            if s.started_at.is_none() {
                return Err(Rejection::NotLive);
            }
            text("text", words)?;
            if !(start_s.is_finite() && end_s.is_finite() && *start_s >= 0.0 && end_s >= start_s) {
                return Err(invalid("a caption runs from startS to a later endS, both at least 0"));
            }
        }
    }
    Ok(())
}

/// A fingerprint of the fold rules (this file, the state and the events, as compiled): a state
/// folded and kept under other rules (a snapshot) is not trusted.
pub const RULES: u64 = {
    let h = fnv1a(0xcbf2_9ce4_8422_2325, include_bytes!("reducer.rs"));
    let h = fnv1a(h, include_bytes!("state.rs"));
    fnv1a(h, include_bytes!("events.rs"))
};

const fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
        i += 1;
    }
    h
}

/// Validate `e` against `s`, then fold it in. On `Err` the state is untouched.
pub fn apply(s: &mut SessionState, e: &EventEnvelope) -> Result<(), Rejection> {
    validate(s, e)?;
    mutate(s, e);
    Ok(())
}

/// Fold a whole event sequence from the empty state.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a EventEnvelope>) -> Result<SessionState, Rejection> {
    let mut s = SessionState::default();
    for e in events {
        apply(&mut s, e)?;
    }
    Ok(s)
}

fn mutate(s: &mut SessionState, e: &EventEnvelope) {
    use SessionEvent::*;
    s.head = e.sequence;
    let at = e.occurred_at;
    match &e.event {
        SessionScheduled { scheduled_start, scheduled_end } => {
            s.status = SessionStatus::Scheduled;
            s.scheduled_start = Some(*scheduled_start);
            s.scheduled_end = Some(*scheduled_end);
        }
        SessionStarted { room } => {
            s.status = SessionStatus::Live;
            s.started_at = Some(at);
            s.room = room.clone();
        }
        SessionLanguageSet { language } => s.language = Some(language.clone()),
        SessionEnded {} => {
            s.status = SessionStatus::Ended;
            s.ended_at = Some(at);
            s.recording = false;
            s.streaming = false;
            // Nobody can vote once the class is over: its polls read as closed (the live room, "what
            // you missed", the replay after the end).
            for p in s.polls.values_mut() {
                p.closed = true;
            }
            for p in s.participants.values_mut() {
                p.present = false;
                p.hand_raised = false;
                p.hand_raised_at = None;
            }
        }
        ParticipantJoined { user_id, role } => {
            let p = s.participants.entry(*user_id).or_insert(Participant {
                role: *role,
                present: true,
                hand_raised: false,
                joined_at: at,
                hand_raised_at: None,
            });
            p.role = *role;
            p.present = true;
        }
        ParticipantLeft { user_id } => {
            if let Some(p) = s.participants.get_mut(user_id) {
                p.present = false;
                p.hand_raised = false;
                p.hand_raised_at = None;
            }
        }
        HandRaised {} => set_hand(s, e.actor_id, Some(at)),
        HandLowered { user_id } => set_hand(s, user_id.or(e.actor_id), None),
        SceneCreated { scene_id, name, layout, metadata } => {
            s.scenes.insert(
                *scene_id,
                Scene { name: name.clone(), layout: layout.clone(), assets: Vec::new(), metadata: metadata.clone() },
            );
        }
        SceneUpdated { scene_id, name, layout, assets } => {
            if let Some(sc) = s.scenes.get_mut(scene_id) {
                if let Some(n) = name {
                    sc.name = n.clone();
                }
                if let Some(l) = layout {
                    sc.layout = l.clone();
                }
                if let Some(a) = assets {
                    sc.assets = a.clone();
                }
            }
        }
        SceneChanged { scene_id } => s.active_scene = Some(*scene_id),
        SlideDeckAdded { asset_id, page_count, title } => {
            s.decks.insert(*asset_id, Deck { page_count: *page_count, title: title.clone() });
        }
        AssetAdded { asset_id, kind, .. } => {
            s.images.insert(*asset_id, kind.clone());
        }
        SlideShown { asset_id, page } => {
            s.current_slide = Some(SlidePosition { asset_id: *asset_id, page: *page });
        }
        WhiteboardStrokeAdded { board_id, strokes } => {
            s.boards.entry(board_id.clone()).or_default().batches.push(strokes.clone());
        }
        WhiteboardStrokeErased { board_id, stroke_ids } => {
            if let Some(b) = s.boards.get_mut(board_id) {
                for batch in &mut b.batches {
                    batch.retain(|st| !stroke_ids.contains(&st.id));
                }
                b.batches.retain(|batch| !batch.is_empty());
            }
        }
        WhiteboardCleared { board_id } => {
            if let Some(b) = s.boards.get_mut(board_id) {
                b.batches.clear();
            }
        }
        WhiteboardUndone { board_id } => {
            if let Some(b) = s.boards.get_mut(board_id) {
                b.batches.pop();
            }
        }
        ChatPosted { message_id, content } => s.chat.push(ChatMessage {
            id: *message_id,
            author: e.actor_id,
            author_role: e.actor_role,
            content: content.clone(),
            hidden: false,
            sequence: e.sequence,
            at,
        }),
        ChatHidden { message_id } => {
            if let Some(m) = s.chat.iter_mut().find(|m| m.id == *message_id) {
                m.hidden = true;
            }
        }
        QuestionAsked { question_id, content } => s.questions.push(Question {
            id: *question_id,
            author: e.actor_id,
            author_role: e.actor_role,
            content: content.clone(),
            upvoters: Default::default(),
            answered: false,
            dismissed: false,
            sequence: e.sequence,
        }),
        QuestionUpvoted { question_id } => {
            if let (Some(q), Some(u)) = (s.questions.iter_mut().find(|q| q.id == *question_id), e.actor_id) {
                q.upvoters.insert(u);
            }
        }
        QuestionAnswered { question_id } => {
            if let Some(q) = s.questions.iter_mut().find(|q| q.id == *question_id) {
                q.answered = true;
            }
        }
        QuestionDismissed { question_id } => {
            if let Some(q) = s.questions.iter_mut().find(|q| q.id == *question_id) {
                q.dismissed = true;
            }
        }
        PollOpened { poll_id, prompt, options } => {
            s.polls.insert(
                *poll_id,
                Poll {
                    prompt: prompt.clone(),
                    options: options.clone(),
                    votes: Default::default(),
                    closed: false,
                    sequence: e.sequence,
                },
            );
        }
        PollVoted { poll_id, option } => {
            if let (Some(p), Some(u)) = (s.polls.get_mut(poll_id), e.actor_id) {
                p.votes.insert(u, *option);
            }
        }
        PollClosed { poll_id } => {
            if let Some(p) = s.polls.get_mut(poll_id) {
                p.closed = true;
            }
        }
        HighlightMarked { label } => {
            s.highlights.push(Highlight { label: label.clone(), by: e.actor_id, sequence: e.sequence, at })
        }
        RecordingStarted { .. } => s.recording = true,
        RecordingStopped { .. } => s.recording = false,
        StreamStarted { .. } => {
            s.streaming = true;
            s.stream_failure = None;
        }
        StreamStopped {} => s.streaming = false,
        StreamFailed { reason } => {
            s.streaming = false;
            s.stream_failure = Some(reason.clone());
        }
        RecordingAdded { recording_id, .. } => {
            s.recordings.insert(*recording_id);
        }
        ArtifactReady { artifact_type, .. } => {
            s.artifacts.insert(artifact_type.clone());
        }
        CaptionAdded { start_s, end_s, text, .. } => {
            s.captions.push(crate::state::Caption {
                start_s: *start_s,
                end_s: *end_s,
                text: text.clone(),
                sequence: e.sequence,
            });
            if s.captions.len() > SessionState::CAPTIONS_KEPT {
                s.captions.remove(0);
            }
        }
    }
}

/// Raise (at its time) or lower a hand; raising one already up keeps its place in the queue.
fn set_hand(s: &mut SessionState, user: Option<crate::ids::UserId>, raised_at: Option<chrono::DateTime<chrono::Utc>>) {
    if let Some(p) = user.and_then(|u| s.participants.get_mut(&u)) {
        if !(p.hand_raised && raised_at.is_some()) {
            p.hand_raised_at = raised_at;
        }
        p.hand_raised = raised_at.is_some();
    }
}
