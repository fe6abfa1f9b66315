//! Who may cause each kind of event: one table, used by every write path. An event a client may
//! cause needs its policy action (HTTP routes and the studio's journal batch alike); a system fact
//! (lifecycle with media side effects, presence, recordings, streams, artifacts) is written only by
//! the server's own code, never accepted from a client's batch.

use crate::events::SessionEvent;
use crate::policy::Action;

/// Where an event may come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A participant may cause it with this policy action.
    Client(Action),
    /// Only the server records it (from a route that has side effects, LiveKit, the worker).
    System,
}

/// The table. A `match` without a wildcard: a new event type does not compile without a row.
pub fn origin(event: &SessionEvent) -> Origin {
    use Action::*;
    use Origin::*;
    use SessionEvent as E;
    match event {
        // Lifecycle carries side effects (room, egress) that only its routes perform.
        E::SessionScheduled { .. } | E::SessionStarted { .. } | E::SessionEnded {} => System,
        // Presence is what the server saw: its join/leave routes and LiveKit's webhooks.
        E::ParticipantJoined { .. } | E::ParticipantLeft { .. } => System,
        E::HandRaised {} => Client(RaiseHand),
        // Lowering one's own hand is one's own business; someone else's is moderation.
        E::HandLowered { user_id: None } => Client(RaiseHand),
        E::HandLowered { user_id: Some(_) } => Client(Moderate),
        E::SceneCreated { .. } | E::SceneUpdated { .. } | E::SceneChanged { .. } => Client(Present),
        // A deck exists once its upload is stored: the upload route records it.
        E::SlideDeckAdded { .. } => System,
        E::SlideShown { .. } => Client(Present),
        E::WhiteboardStrokeAdded { .. }
        | E::WhiteboardStrokeErased { .. }
        | E::WhiteboardCleared { .. }
        | E::WhiteboardUndone { .. } => Client(Present),
        E::ChatPosted { .. } => Client(Chat),
        E::ChatHidden { .. } => Client(Moderate),
        E::QuestionAsked { .. } => Client(AskQuestion),
        E::QuestionUpvoted { .. } => Client(Vote),
        E::QuestionAnswered { .. } | E::QuestionDismissed { .. } => Client(Moderate),
        E::PollOpened { .. } | E::PollClosed { .. } => Client(Present),
        E::PollVoted { .. } => Client(Vote),
        E::HighlightMarked { .. } => Client(MarkHighlight),
        E::RecordingStarted { .. } | E::RecordingStopped { .. } | E::RecordingAdded { .. } => System,
        E::StreamStarted { .. } | E::StreamStopped {} => System,
        E::ArtifactReady { .. } => System,
    }
}

/// The policy action a client needs to cause `event`; `None` for system facts.
pub fn client_action(event: &SessionEvent) -> Option<Action> {
    match origin(event) {
        Origin::Client(a) => Some(a),
        Origin::System => None,
    }
}
