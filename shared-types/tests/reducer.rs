//! Session rules as given/when/then over events, plus properties of folding.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use shared_types::events::Stroke;
use shared_types::state::SessionStatus;
use shared_types::*;

struct Given {
    state: SessionState,
    session: SessionId,
}

const TEACHER: u128 = 1;
const STUDENT: u128 = 2;
const STUDENT2: u128 = 3;

fn uid(n: u128) -> UserId {
    UserId(uuid::Uuid::from_u128(n))
}

fn role_of(n: u128) -> Role {
    if n == TEACHER {
        Role::Teacher
    } else {
        Role::Student
    }
}

impl Given {
    fn new() -> Self {
        Given { state: SessionState::default(), session: SessionId(uuid::Uuid::from_u128(99)) }
    }

    fn env(&self, by: u128, event: SessionEvent) -> EventEnvelope {
        let at = Utc.timestamp_opt(1_700_000_000 + self.state.head as i64, 0).unwrap();
        EventEnvelope {
            session_id: self.session,
            sequence: self.state.head + 1,
            idempotency_key: format!("k{}", self.state.head + 1),
            version: 1,
            actor_id: Some(uid(by)),
            actor_role: Some(role_of(by)),
            occurred_at: at,
            recorded_at: at,
            event,
        }
    }

    /// Given: `event` by `by` was accepted.
    fn had(mut self, by: u128, event: SessionEvent) -> Self {
        let e = self.env(by, event);
        apply(&mut self.state, &e).expect("given event must apply");
        self
    }

    fn scheduled() -> Self {
        Given::new().had(
            TEACHER,
            SessionEvent::SessionScheduled {
                scheduled_start: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                scheduled_end: Utc.timestamp_opt(1_700_003_600, 0).unwrap(),
            },
        )
    }

    fn live() -> Self {
        Given::scheduled()
            .had(TEACHER, SessionEvent::SessionStarted { room: None })
            .had(STUDENT, SessionEvent::ParticipantJoined { user_id: uid(STUDENT), role: Role::Student })
            .had(STUDENT2, SessionEvent::ParticipantJoined { user_id: uid(STUDENT2), role: Role::Student })
    }

    /// When `event` by `by` arrives: the outcome, and the state must be unchanged on rejection.
    fn when(&self, by: u128, event: SessionEvent) -> Result<SessionState, Rejection> {
        let e = self.env(by, event);
        let mut s = self.state.clone();
        let r = apply(&mut s, &e);
        if r.is_err() {
            assert_eq!(s, self.state, "a rejected event must not change the state");
        }
        r.map(|_| s)
    }
}

fn poll(id: u128) -> PollId {
    PollId(uuid::Uuid::from_u128(id))
}

fn open_poll() -> SessionEvent {
    SessionEvent::PollOpened { poll_id: poll(7), prompt: "2+2?".into(), options: vec!["3".into(), "4".into()] }
}

#[test]
fn nothing_is_presented_before_start_or_after_end() {
    let g = Given::scheduled();
    assert_eq!(g.when(TEACHER, open_poll()), Err(Rejection::NotLive));
    let scene = SessionEvent::SceneCreated {
        scene_id: SceneId::new(),
        name: "Intro".into(),
        layout: vec![],
        metadata: serde_json::Value::Null,
    };
    // Preparing is not presenting: scenes and boards may be set up once the class is scheduled.
    assert!(g.when(TEACHER, scene.clone()).is_ok());
    assert_eq!(g.when(STUDENT, scene.clone()), Err(Rejection::NotPresenter));
    let chat = SessionEvent::ChatPosted { message_id: MessageId::new(), content: "early".into() };
    assert_eq!(g.when(TEACHER, chat), Err(Rejection::NotLive), "the class itself waits for the start");
    let ended = Given::live().had(TEACHER, SessionEvent::SessionEnded {});
    assert_eq!(ended.when(TEACHER, scene), Err(Rejection::Ended));
    assert_eq!(ended.when(TEACHER, open_poll()), Err(Rejection::Ended));
    assert_eq!(ended.when(TEACHER, SessionEvent::SessionStarted { room: None }), Err(Rejection::Ended));
}

#[test]
fn only_a_teacher_starts_and_only_once() {
    let g = Given::scheduled();
    assert_eq!(g.when(STUDENT, SessionEvent::SessionStarted { room: None }), Err(Rejection::NotPresenter));
    let s = g.when(TEACHER, SessionEvent::SessionStarted { room: Some("r".into()) }).unwrap();
    assert_eq!(s.status, SessionStatus::Live);
    let live = g.had(TEACHER, SessionEvent::SessionStarted { room: None });
    assert_eq!(live.when(TEACHER, SessionEvent::SessionStarted { room: None }), Err(Rejection::AlreadyStarted));
}

#[test]
fn students_cannot_present() {
    let g = Given::live();
    assert_eq!(g.when(STUDENT, open_poll()), Err(Rejection::NotPresenter));
    let strokes = SessionEvent::WhiteboardStrokeAdded {
        board_id: "b".into(),
        strokes: vec![Stroke { id: "s1".into(), points: vec![[0.1, 0.2]], color: "#000".into(), width: 2.0 }],
    };
    assert_eq!(g.when(STUDENT, strokes.clone()), Err(Rejection::NotPresenter));
    assert!(g.when(TEACHER, strokes).is_ok());
    assert_eq!(g.when(STUDENT, SessionEvent::HighlightMarked { label: "x".into() }), Err(Rejection::NotPresenter));
}

#[test]
fn one_vote_per_user_per_poll() {
    let g =
        Given::live().had(TEACHER, open_poll()).had(STUDENT, SessionEvent::PollVoted { poll_id: poll(7), option: 1 });
    assert_eq!(g.when(STUDENT, SessionEvent::PollVoted { poll_id: poll(7), option: 0 }), Err(Rejection::AlreadyVoted));
    let s = g.when(STUDENT2, SessionEvent::PollVoted { poll_id: poll(7), option: 1 }).unwrap();
    assert_eq!(s.polls[&poll(7)].tally(), vec![0, 2]);
    assert!(matches!(
        g.when(STUDENT2, SessionEvent::PollVoted { poll_id: poll(7), option: 5 }),
        Err(Rejection::Invalid(_))
    ));
    let closed = g.had(TEACHER, SessionEvent::PollClosed { poll_id: poll(7) });
    assert_eq!(
        closed.when(STUDENT2, SessionEvent::PollVoted { poll_id: poll(7), option: 1 }),
        Err(Rejection::PollClosed)
    );
    assert_eq!(
        closed.when(STUDENT2, SessionEvent::PollVoted { poll_id: poll(8), option: 1 }),
        Err(Rejection::Unknown("poll"))
    );
}

#[test]
fn ending_the_class_closes_its_polls_and_keeps_their_votes() {
    let g =
        Given::live().had(TEACHER, open_poll()).had(STUDENT, SessionEvent::PollVoted { poll_id: poll(7), option: 1 });
    assert!(!g.state.polls[&poll(7)].closed);
    let ended = g.when(TEACHER, SessionEvent::SessionEnded {}).unwrap();
    assert!(ended.polls[&poll(7)].closed, "nobody can vote after the end: the poll reads as closed");
    assert_eq!(ended.polls[&poll(7)].tally(), vec![0, 1]);
}

#[test]
fn one_upvote_per_user_per_question() {
    let q = QuestionId(uuid::Uuid::from_u128(5));
    let g = Given::live()
        .had(STUDENT, SessionEvent::QuestionAsked { question_id: q, content: "Why?".into() })
        .had(STUDENT2, SessionEvent::QuestionUpvoted { question_id: q });
    assert_eq!(g.when(STUDENT2, SessionEvent::QuestionUpvoted { question_id: q }), Err(Rejection::AlreadyUpvoted));
    let s = g.when(TEACHER, SessionEvent::QuestionUpvoted { question_id: q }).unwrap();
    assert_eq!(s.questions[0].upvoters.len(), 2);
    assert_eq!(g.when(STUDENT, SessionEvent::QuestionAnswered { question_id: q }), Err(Rejection::NotPresenter));
    assert!(g.when(TEACHER, SessionEvent::QuestionAnswered { question_id: q }).unwrap().questions[0].answered);
}

#[test]
fn slides_must_exist_and_pages_be_in_range() {
    let deck = AssetId(uuid::Uuid::from_u128(11));
    let g = Given::live();
    assert_eq!(g.when(TEACHER, SessionEvent::SlideShown { asset_id: deck, page: 1 }), Err(Rejection::Unknown("deck")));
    let g = g.had(TEACHER, SessionEvent::SlideDeckAdded { asset_id: deck, page_count: 3, title: None });
    assert!(matches!(
        g.when(TEACHER, SessionEvent::SlideShown { asset_id: deck, page: 4 }),
        Err(Rejection::Invalid(_))
    ));
    let s = g.when(TEACHER, SessionEvent::SlideShown { asset_id: deck, page: 3 }).unwrap();
    assert_eq!(s.current_slide.unwrap().page, 3);
}

#[test]
fn whiteboard_undo_erase_clear() {
    let st = |id: &str| Stroke { id: id.into(), points: vec![[0.0, 0.0], [1.0, 1.0]], color: "red".into(), width: 1.0 };
    let g = Given::live()
        .had(TEACHER, SessionEvent::WhiteboardStrokeAdded { board_id: "b".into(), strokes: vec![st("a"), st("b")] })
        .had(TEACHER, SessionEvent::WhiteboardStrokeAdded { board_id: "b".into(), strokes: vec![st("c")] });
    assert_eq!(
        g.when(TEACHER, SessionEvent::WhiteboardStrokeAdded { board_id: "b".into(), strokes: vec![st("a")] }),
        Err(Rejection::Duplicate("stroke"))
    );
    let undone = g.when(TEACHER, SessionEvent::WhiteboardUndone { board_id: "b".into() }).unwrap();
    assert_eq!(undone.boards["b"].stroke_ids().collect::<Vec<_>>(), vec!["a", "b"]);
    let erased = g
        .when(TEACHER, SessionEvent::WhiteboardStrokeErased { board_id: "b".into(), stroke_ids: vec!["b".into()] })
        .unwrap();
    assert_eq!(erased.boards["b"].stroke_ids().collect::<Vec<_>>(), vec!["a", "c"]);
    let cleared = g.when(TEACHER, SessionEvent::WhiteboardCleared { board_id: "b".into() }).unwrap();
    assert_eq!(cleared.boards["b"].stroke_ids().count(), 0);
    assert_eq!(
        g.when(TEACHER, SessionEvent::WhiteboardCleared { board_id: "zz".into() }),
        Err(Rejection::Unknown("board"))
    );
}

#[test]
fn chat_needs_text_and_hiding_needs_a_moderator() {
    let m = MessageId(uuid::Uuid::from_u128(3));
    let g = Given::live();
    assert!(matches!(
        g.when(STUDENT, SessionEvent::ChatPosted { message_id: m, content: "  ".into() }),
        Err(Rejection::Invalid(_))
    ));
    let g = g.had(STUDENT, SessionEvent::ChatPosted { message_id: m, content: "hi".into() });
    assert_eq!(g.when(STUDENT, SessionEvent::ChatHidden { message_id: m }), Err(Rejection::NotPresenter));
    assert!(g.when(TEACHER, SessionEvent::ChatHidden { message_id: m }).unwrap().chat[0].hidden);
}

#[test]
fn hands_and_leaving_need_presence() {
    let g = Given::live();
    assert!(g.when(STUDENT, SessionEvent::HandRaised {}).unwrap().participants[&uid(STUDENT)].hand_raised);
    assert_eq!(g.when(TEACHER, SessionEvent::HandRaised {}), Err(Rejection::NotParticipant));
    let left = g.had(STUDENT, SessionEvent::ParticipantLeft { user_id: uid(STUDENT) });
    assert_eq!(
        left.when(STUDENT, SessionEvent::ParticipantLeft { user_id: uid(STUDENT) }),
        Err(Rejection::NotParticipant)
    );
    assert_eq!(left.when(STUDENT, SessionEvent::HandRaised {}), Err(Rejection::NotParticipant));
}

#[test]
fn hands_are_served_first_raised_first() {
    // STUDENT joined first, but STUDENT2's hand went up first.
    let g = Given::live().had(STUDENT2, SessionEvent::HandRaised {}).had(STUDENT, SessionEvent::HandRaised {});
    assert_eq!(g.state.raised_hands(), vec![uid(STUDENT2), uid(STUDENT)]);
    // Raising a hand that is up keeps its place; lowered and raised again, it goes to the back.
    let g = g.had(STUDENT2, SessionEvent::HandRaised {});
    assert_eq!(g.state.raised_hands(), vec![uid(STUDENT2), uid(STUDENT)]);
    let g = g
        .had(TEACHER, SessionEvent::HandLowered { user_id: Some(uid(STUDENT2)) })
        .had(STUDENT2, SessionEvent::HandRaised {});
    assert_eq!(g.state.raised_hands(), vec![uid(STUDENT), uid(STUDENT2)]);
    // The order is the events' own times, not when they reached the log: a raise the offline
    // studio journaled earlier but synced later still comes first, on the studio and the server.
    let mut late = Given::live();
    let mut raise = |by: u128, secs: i64| {
        let mut e = late.env(by, SessionEvent::HandRaised {});
        e.occurred_at = Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap();
        apply(&mut late.state, &e).unwrap();
    };
    raise(STUDENT, 500);
    raise(STUDENT2, 100);
    assert_eq!(late.state.raised_hands(), vec![uid(STUDENT2), uid(STUDENT)]);
}

#[test]
fn sequence_must_follow_head() {
    let g = Given::live();
    let mut e = g.env(TEACHER, SessionEvent::SessionEnded {});
    e.sequence += 1;
    let mut s = g.state.clone();
    assert!(matches!(apply(&mut s, &e), Err(Rejection::OutOfOrder { .. })));
}

/// A random command from a small alphabet: some valid, many not, so the fold skips the rejected ones.
fn command() -> impl Strategy<Value = (u128, u8, u8)> {
    (prop_oneof![Just(TEACHER), Just(STUDENT), Just(STUDENT2)], 0u8..14, 0u8..4)
}

fn to_event(kind: u8, n: u8) -> SessionEvent {
    let p = poll(n as u128);
    let q = QuestionId(uuid::Uuid::from_u128(100 + n as u128));
    match kind {
        0 => SessionEvent::SessionStarted { room: None },
        1 => SessionEvent::ParticipantJoined { user_id: uid(STUDENT), role: Role::Student },
        2 => SessionEvent::PollOpened { poll_id: p, prompt: "p".into(), options: vec!["a".into(), "b".into()] },
        3 => SessionEvent::PollVoted { poll_id: p, option: (n % 3) as u32 },
        4 => SessionEvent::PollClosed { poll_id: p },
        5 => SessionEvent::QuestionAsked { question_id: q, content: "q".into() },
        6 => SessionEvent::QuestionUpvoted { question_id: q },
        7 => SessionEvent::ChatPosted { message_id: MessageId::new(), content: format!("m{n}") },
        8 => SessionEvent::WhiteboardStrokeAdded {
            board_id: format!("b{}", n % 2),
            strokes: vec![Stroke {
                id: uuid::Uuid::new_v4().to_string(),
                points: vec![[0.5, 0.5]],
                color: "#111".into(),
                width: 1.0,
            }],
        },
        9 => SessionEvent::WhiteboardUndone { board_id: format!("b{}", n % 2) },
        10 => SessionEvent::HandRaised {},
        11 => SessionEvent::HighlightMarked { label: "h".into() },
        12 => SessionEvent::ParticipantJoined { user_id: uid(STUDENT2), role: Role::Student },
        _ => SessionEvent::SessionEnded {},
    }
}

proptest! {
    #[test]
    fn folding_is_deterministic_and_prefixes_agree(cmds in proptest::collection::vec(command(), 0..80)) {
        // Build a log of the accepted events, as the server would.
        let mut g = Given::new();
        let mut log = vec![];
        let scheduled = g.env(TEACHER, SessionEvent::SessionScheduled {
            scheduled_start: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            scheduled_end: Utc.timestamp_opt(1_700_003_600, 0).unwrap(),
        });
        apply(&mut g.state, &scheduled).unwrap();
        log.push(scheduled);
        for (by, kind, n) in cmds {
            let e = g.env(by, to_event(kind, n));
            if apply(&mut g.state, &e).is_ok() {
                log.push(e);
            }
        }
        let once = fold(&log).unwrap();
        let twice = fold(&log).unwrap();
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(&once, &g.state);
        prop_assert_eq!(once.head, log.len() as u64);
        for k in 0..=log.len() {
            let prefix = fold(&log[..k]).unwrap();
            prop_assert_eq!(prefix.head, k as u64);
            // Folding the rest on top of the prefix reaches the same final state, also when the
            // prefix was kept as JSON (a stored snapshot) and read back.
            let mut rest = prefix.clone();
            for e in &log[k..] { apply(&mut rest, e).unwrap(); }
            prop_assert_eq!(&rest, &once);
            let mut snapshot: SessionState = serde_json::from_str(&serde_json::to_string(&prefix).unwrap()).unwrap();
            prop_assert_eq!(&snapshot, &prefix);
            for e in &log[k..] { apply(&mut snapshot, e).unwrap(); }
            prop_assert_eq!(&snapshot, &once);
        }
        // The wire round trip preserves every event.
        let json = serde_json::to_string(&log).unwrap();
        let back: Vec<EventEnvelope> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(fold(&back).unwrap(), once);
    }
}
