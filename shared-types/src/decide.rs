//! `decide`: may this happen, and what happened. Every write to a session — an HTTP route, a studio
//! journal entry, the server itself — is a [`SessionCommand`] decided here against the folded state,
//! by the server, the browser and the offline studio alike.
//!
//! Where each rule lives: *who* may ask is the policy table ([`SessionCommand::action`] →
//! `policy::roles_for`); *what the state allows* is the reducer's `validate` (an event that `apply`
//! would refuse is never decided); *what is derived from the actor* (the joining role, permissions)
//! is here. Handlers only adapt HTTP to commands.

use crate::events::{EventEnvelope, LayoutItem, SessionEvent, Stroke, CURRENT_VERSION};
use crate::ids::*;
use crate::policy::{roles_for, Action, Actor, Target};
use crate::reducer::{validate, Rejection};
use crate::roles::Role;
use crate::state::SessionState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

/// Everything a participant or the system can ask of a session.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionCommand {
    Schedule {
        scheduled_start: DateTime<Utc>,
        scheduled_end: DateTime<Utc>,
    },
    Start {
        room: Option<String>,
    },
    End,
    /// The language the class is taught in (what it is transcribed in).
    SetLanguage {
        language: String,
    },
    /// The caller joins with their own role in the session.
    Join,
    Leave,
    RaiseHand,
    /// Lower one's own hand (`None`) or, moderating, someone else's.
    LowerHand {
        user_id: Option<UserId>,
    },
    CreateScene {
        scene_id: SceneId,
        name: String,
        layout: Vec<LayoutItem>,
        metadata: Value,
    },
    UpdateScene {
        scene_id: SceneId,
        name: Option<String>,
        layout: Option<Vec<LayoutItem>>,
        assets: Option<Vec<AssetId>>,
    },
    ActivateScene {
        scene_id: SceneId,
    },
    /// A stored upload became a deck (the upload route, after the asset is stored).
    AddDeck {
        asset_id: AssetId,
        page_count: u32,
        title: Option<String>,
    },
    /// A stored image or whiteboard background (the upload route, after the asset is stored).
    AddAsset {
        asset_id: AssetId,
        kind: String,
        title: Option<String>,
    },
    ShowSlide {
        asset_id: AssetId,
        page: u32,
    },
    AddStrokes {
        board_id: String,
        strokes: Vec<Stroke>,
    },
    EraseStrokes {
        board_id: String,
        stroke_ids: Vec<String>,
    },
    ClearBoard {
        board_id: String,
    },
    UndoStroke {
        board_id: String,
    },
    PostChat {
        message_id: MessageId,
        content: String,
    },
    HideChat {
        message_id: MessageId,
    },
    AskQuestion {
        question_id: QuestionId,
        content: String,
    },
    UpvoteQuestion {
        question_id: QuestionId,
    },
    AnswerQuestion {
        question_id: QuestionId,
    },
    DismissQuestion {
        question_id: QuestionId,
    },
    OpenPoll {
        poll_id: PollId,
        prompt: String,
        options: Vec<String>,
    },
    Vote {
        poll_id: PollId,
        option: u32,
    },
    ClosePoll {
        poll_id: PollId,
    },
    MarkHighlight {
        label: String,
    },
    /// What the system saw: LiveKit presence, recordings, streams, the pipeline's artifacts.
    RecordPresence {
        user_id: UserId,
        role: Role,
        joined: bool,
    },
    RecordingStarted {
        recording_id: Option<RecordingId>,
    },
    AddRecording {
        recording_id: RecordingId,
        started_at: Option<DateTime<Utc>>,
        duration_s: Option<f64>,
    },
    StreamStarted {
        destination_ids: Vec<String>,
    },
    StreamStopped,
    StreamFailed {
        reason: String,
    },
    ArtifactReady {
        artifact_type: String,
        artifact_id: Option<ArtifactId>,
    },
    AddCaption {
        recording_id: RecordingId,
        start_s: f64,
        end_s: f64,
        text: String,
    },
}

/// Who asks: a participant with the actions the policy gives them on this session, or the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionActor {
    pub user: Option<UserId>,
    /// The role inside the session (teacher over assistant over student).
    pub role: Option<Role>,
    allowed: BTreeSet<Action>,
    system: bool,
}

impl SessionActor {
    /// A participant, with every action the policy allows them on `target`.
    pub fn participant(actor: &Actor, target: &Target) -> Self {
        SessionActor {
            user: Some(actor.user),
            role: actor.session_role(target),
            allowed: Action::ALL.iter().copied().filter(|a| actor.may(*a, target)).collect(),
            system: false,
        }
    }

    /// The server itself (webhooks, background egress, the artifact worker).
    pub fn system() -> Self {
        SessionActor { user: None, role: None, allowed: BTreeSet::new(), system: true }
    }

    /// The server recording a fact for this participant's request (after its side effect).
    pub fn on_behalf(mut self) -> Self {
        self.system = true;
        self
    }

    pub fn may(&self, action: Action) -> bool {
        self.allowed.contains(&action)
    }
}

/// What a participant may do with media and the room, derived from the policy table once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
    pub can_publish: bool,
    pub can_present: bool,
    pub can_chat: bool,
    pub can_ask: bool,
    pub can_vote: bool,
    pub can_raise_hand: bool,
    pub can_moderate: bool,
}

impl Permissions {
    pub fn of(role: Role) -> Self {
        let has = |a: Action| roles_for(a).contains(&role);
        Permissions {
            can_publish: has(Action::Present),
            can_present: has(Action::Present),
            can_chat: has(Action::Chat),
            can_ask: has(Action::AskQuestion),
            can_vote: has(Action::Vote),
            can_raise_hand: has(Action::RaiseHand),
            can_moderate: has(Action::Moderate),
        }
    }
}

impl SessionCommand {
    /// The policy action a participant needs; `None`: only the system may ask.
    pub fn action(&self) -> Option<Action> {
        use Action::*;
        use SessionCommand as C;
        Some(match self {
            C::Schedule { .. } => ScheduleSession,
            C::Start { .. } => StartSession,
            C::End => EndSession,
            C::SetLanguage { .. } => SetLanguage,
            C::Join => JoinSession,
            C::Leave => LeaveSession,
            C::RaiseHand | C::LowerHand { user_id: None } => RaiseHand,
            C::LowerHand { user_id: Some(_) } => Moderate,
            C::CreateScene { .. } | C::UpdateScene { .. } | C::ActivateScene { .. } => Present,
            C::AddDeck { .. } | C::AddAsset { .. } | C::ShowSlide { .. } => Present,
            C::AddStrokes { .. } | C::EraseStrokes { .. } | C::ClearBoard { .. } | C::UndoStroke { .. } => Present,
            C::PostChat { .. } => Chat,
            C::HideChat { .. } => Moderate,
            C::AskQuestion { .. } => AskQuestion,
            C::UpvoteQuestion { .. } => Vote,
            C::AnswerQuestion { .. } | C::DismissQuestion { .. } => Moderate,
            C::OpenPoll { .. } | C::ClosePoll { .. } => Present,
            C::Vote { .. } => Vote,
            C::MarkHighlight { .. } => MarkHighlight,
            C::RecordPresence { .. }
            | C::RecordingStarted { .. }
            | C::AddRecording { .. }
            | C::StreamStarted { .. }
            | C::StreamStopped
            | C::StreamFailed { .. }
            | C::ArtifactReady { .. }
            | C::AddCaption { .. } => return None,
        })
    }

    /// A studio journal entry as the command it asks for. Facts the server records itself (and the
    /// lifecycle, whose routes have side effects) are refused: a journal can only ask what its
    /// author could ask through the matching route.
    pub fn from_journal(event: SessionEvent) -> Result<SessionCommand, Rejection> {
        use SessionCommand as C;
        use SessionEvent as E;
        let ty = event.event_type();
        let system = || Rejection::Forbidden(format!("{ty} is recorded by the server, not sent by clients"));
        Ok(match event {
            E::HandRaised {} => C::RaiseHand,
            E::SessionLanguageSet { language } => C::SetLanguage { language },
            E::HandLowered { user_id } => C::LowerHand { user_id },
            E::SceneCreated { scene_id, name, layout, metadata } => C::CreateScene { scene_id, name, layout, metadata },
            E::SceneUpdated { scene_id, name, layout, assets } => C::UpdateScene { scene_id, name, layout, assets },
            E::SceneChanged { scene_id } => C::ActivateScene { scene_id },
            E::SlideShown { asset_id, page } => C::ShowSlide { asset_id, page },
            E::WhiteboardStrokeAdded { board_id, strokes } => C::AddStrokes { board_id, strokes },
            E::WhiteboardStrokeErased { board_id, stroke_ids } => C::EraseStrokes { board_id, stroke_ids },
            E::WhiteboardCleared { board_id } => C::ClearBoard { board_id },
            E::WhiteboardUndone { board_id } => C::UndoStroke { board_id },
            E::ChatPosted { message_id, content } => C::PostChat { message_id, content },
            E::ChatHidden { message_id } => C::HideChat { message_id },
            E::QuestionAsked { question_id, content } => C::AskQuestion { question_id, content },
            E::QuestionUpvoted { question_id } => C::UpvoteQuestion { question_id },
            E::QuestionAnswered { question_id } => C::AnswerQuestion { question_id },
            E::QuestionDismissed { question_id } => C::DismissQuestion { question_id },
            E::PollOpened { poll_id, prompt, options } => C::OpenPoll { poll_id, prompt, options },
            E::PollVoted { poll_id, option } => C::Vote { poll_id, option },
            E::PollClosed { poll_id } => C::ClosePoll { poll_id },
            E::HighlightMarked { label } => C::MarkHighlight { label },
            E::SessionScheduled { .. }
            | E::SessionStarted { .. }
            | E::SessionEnded {}
            | E::ParticipantJoined { .. }
            | E::ParticipantLeft { .. }
            | E::SlideDeckAdded { .. }
            | E::AssetAdded { .. }
            | E::RecordingStarted { .. }
            | E::RecordingStopped { .. }
            | E::RecordingAdded { .. }
            | E::StreamStarted { .. }
            | E::StreamStopped {}
            | E::StreamFailed { .. }
            | E::ArtifactReady { .. }
            | E::CaptionAdded { .. } => return Err(system()),
        })
    }

    /// The event this command becomes when allowed (`actor` supplies what derives from them).
    fn into_event(self, actor: &SessionActor) -> Result<SessionEvent, Rejection> {
        use SessionCommand as C;
        use SessionEvent as E;
        Ok(match self {
            C::Schedule { scheduled_start, scheduled_end } => E::SessionScheduled { scheduled_start, scheduled_end },
            C::Start { room } => E::SessionStarted { room },
            C::End => E::SessionEnded {},
            C::SetLanguage { language } => E::SessionLanguageSet { language },
            C::Join => {
                let (user_id, role) = actor.user.zip(actor.role).ok_or(Rejection::NotParticipant)?;
                E::ParticipantJoined { user_id, role }
            }
            C::Leave => E::ParticipantLeft { user_id: actor.user.ok_or(Rejection::NotParticipant)? },
            C::RaiseHand => E::HandRaised {},
            C::LowerHand { user_id } => E::HandLowered { user_id },
            C::CreateScene { scene_id, name, layout, metadata } => E::SceneCreated { scene_id, name, layout, metadata },
            C::UpdateScene { scene_id, name, layout, assets } => E::SceneUpdated { scene_id, name, layout, assets },
            C::ActivateScene { scene_id } => E::SceneChanged { scene_id },
            C::AddDeck { asset_id, page_count, title } => E::SlideDeckAdded { asset_id, page_count, title },
            C::AddAsset { asset_id, kind, title } => E::AssetAdded { asset_id, kind, title },
            C::ShowSlide { asset_id, page } => E::SlideShown { asset_id, page },
            C::AddStrokes { board_id, strokes } => E::WhiteboardStrokeAdded { board_id, strokes },
            C::EraseStrokes { board_id, stroke_ids } => E::WhiteboardStrokeErased { board_id, stroke_ids },
            C::ClearBoard { board_id } => E::WhiteboardCleared { board_id },
            C::UndoStroke { board_id } => E::WhiteboardUndone { board_id },
            C::PostChat { message_id, content } => E::ChatPosted { message_id, content },
            C::HideChat { message_id } => E::ChatHidden { message_id },
            C::AskQuestion { question_id, content } => E::QuestionAsked { question_id, content },
            C::UpvoteQuestion { question_id } => E::QuestionUpvoted { question_id },
            C::AnswerQuestion { question_id } => E::QuestionAnswered { question_id },
            C::DismissQuestion { question_id } => E::QuestionDismissed { question_id },
            C::OpenPoll { poll_id, prompt, options } => E::PollOpened { poll_id, prompt, options },
            C::Vote { poll_id, option } => E::PollVoted { poll_id, option },
            C::ClosePoll { poll_id } => E::PollClosed { poll_id },
            C::MarkHighlight { label } => E::HighlightMarked { label },
            C::RecordPresence { user_id, role, joined: true } => E::ParticipantJoined { user_id, role },
            C::RecordPresence { user_id, joined: false, .. } => E::ParticipantLeft { user_id },
            C::RecordingStarted { recording_id } => E::RecordingStarted { recording_id },
            C::AddRecording { recording_id, started_at, duration_s } => {
                E::RecordingAdded { recording_id, started_at, duration_s }
            }
            C::StreamStarted { destination_ids } => E::StreamStarted { destination_ids },
            C::StreamStopped => E::StreamStopped {},
            C::StreamFailed { reason } => E::StreamFailed { reason },
            C::ArtifactReady { artifact_type, artifact_id } => E::ArtifactReady { artifact_type, artifact_id },
            C::AddCaption { recording_id, start_s, end_s, text } => {
                E::CaptionAdded { recording_id, start_s, end_s, text }
            }
        })
    }
}

/// May `actor` ask `command` of a session in `state`, and what happens if so. Pure: the same answer
/// on the server, in the browser and in the offline studio.
pub fn decide(
    state: &SessionState,
    actor: &SessionActor,
    command: SessionCommand,
) -> Result<Vec<SessionEvent>, Rejection> {
    let event = authorize(actor, command)?;
    // The state rules are the reducer's: an event `apply` would refuse is never decided.
    validate(state, &envelope(state, actor, &event))?;
    Ok(vec![event])
}

/// The half of [`decide`] that needs no state: the policy (may this actor ask this?) and the event
/// the command becomes. The server runs it in the handler and the other half — the reducer's
/// state rules — inside the append's transaction, under the session's row lock, where concurrent
/// writers are serialised; the offline studio and the browser run [`decide`] whole.
pub fn authorize(actor: &SessionActor, command: SessionCommand) -> Result<SessionEvent, Rejection> {
    match command.action() {
        Some(action) if !actor.system && !actor.may(action) => {
            return Err(Rejection::Forbidden(format!("your role in this session may not {}", describe(action))))
        }
        None if !actor.system => return Err(Rejection::Forbidden("only the server records this".into())),
        _ => {}
    }
    command.into_event(actor)
}

/// The envelope `event` would get as the next entry, for validation.
pub fn envelope(state: &SessionState, actor: &SessionActor, event: &SessionEvent) -> EventEnvelope {
    EventEnvelope {
        session_id: SessionId(uuid::Uuid::nil()),
        sequence: state.head + 1,
        idempotency_key: String::new(),
        version: CURRENT_VERSION,
        actor_id: actor.user,
        actor_role: actor.role,
        occurred_at: Utc::now(),
        recorded_at: Utc::now(),
        event: event.clone(),
    }
}

fn describe(action: Action) -> &'static str {
    use Action::*;
    match action {
        ScheduleSession => "schedule sessions",
        StartSession => "start the class",
        EndSession => "end the class",
        SetLanguage => "set the class's language",
        JoinSession => "join",
        LeaveSession => "leave",
        Present => "present",
        Moderate => "moderate",
        Chat => "chat",
        AskQuestion => "ask questions",
        Vote => "vote",
        RaiseHand => "raise a hand",
        MarkHighlight => "mark highlights",
        _ => "do this",
    }
}
