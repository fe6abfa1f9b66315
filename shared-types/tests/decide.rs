//! `decide` as given/when/then, and its promise: whatever it decides, `apply` accepts.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use shared_types::policy::{Actor, Target};
use shared_types::*;

fn uid(n: u128) -> UserId {
    UserId(uuid::Uuid::from_u128(n))
}

const TENANT: u128 = 100;
const COURSE: u128 = 200;
const SESSION: u128 = 300;

fn target() -> Target {
    Target::session(
        TenantId(uuid::Uuid::from_u128(TENANT)),
        CourseId(uuid::Uuid::from_u128(COURSE)),
        SessionId(uuid::Uuid::from_u128(SESSION)),
    )
}

/// A participant of the course with `role` (user id `n`).
fn actor(n: u128, role: Role) -> SessionActor {
    let a = Actor {
        user: uid(n),
        tenant: TenantId(uuid::Uuid::from_u128(TENANT)),
        platform_admin: false,
        grants: vec![RoleGrant { role, scope: Scope::Course, scope_id: Some(uuid::Uuid::from_u128(COURSE)) }],
    };
    SessionActor::participant(&a, &target())
}

/// Apply what `decide` decided, as the server would log it.
fn commit(state: &mut SessionState, by: &SessionActor, events: Vec<SessionEvent>) -> Result<(), Rejection> {
    for event in events {
        let mut env = shared_types::decide::envelope(state, by, &event);
        env.occurred_at = Utc.timestamp_opt(1_700_000_000 + state.head as i64, 0).unwrap();
        apply(state, &env)?;
    }
    Ok(())
}

fn run(state: &mut SessionState, by: &SessionActor, cmd: SessionCommand) -> Result<(), Rejection> {
    let events = decide(state, by, cmd)?;
    commit(state, by, events).map_err(|r| panic!("decide allowed what apply refused: {r}"))
}

fn live_class() -> (SessionState, SessionActor, SessionActor, SessionActor) {
    let (teacher, assistant, student) = (actor(1, Role::Teacher), actor(2, Role::Assistant), actor(3, Role::Student));
    let mut s = SessionState::default();
    let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    run(
        &mut s,
        &teacher,
        SessionCommand::Schedule { scheduled_start: start, scheduled_end: start + Duration::hours(1) },
    )
    .unwrap();
    run(&mut s, &teacher, SessionCommand::Start { room: None }).unwrap();
    run(&mut s, &student, SessionCommand::Join).unwrap();
    (s, teacher, assistant, student)
}

#[test]
fn an_assistant_may_not_end_the_class_and_nothing_changes() {
    let (s, _, assistant, _) = live_class();
    let before = s.clone();
    let r = decide(&s, &assistant, SessionCommand::End);
    assert!(matches!(r, Err(Rejection::Forbidden(_))), "{r:?}");
    assert_eq!(r.unwrap_err().status(), 403);
    assert_eq!(s, before);
}

#[test]
fn joining_takes_the_role_from_the_policy_not_the_request() {
    let (s, _, _, student) = live_class();
    let events = decide(&s, &student, SessionCommand::Join).unwrap();
    assert_eq!(events, vec![SessionEvent::ParticipantJoined { user_id: uid(3), role: Role::Student }]);
}

#[test]
fn students_do_not_present_or_moderate() {
    let (s, _, _, student) = live_class();
    for cmd in [
        SessionCommand::MarkHighlight { label: "x".into() },
        SessionCommand::OpenPoll { poll_id: PollId::new(), prompt: "?".into(), options: vec!["a".into(), "b".into()] },
        SessionCommand::LowerHand { user_id: Some(uid(1)) },
        SessionCommand::End,
    ] {
        assert!(matches!(decide(&s, &student, cmd.clone()), Err(Rejection::Forbidden(_))), "{cmd:?}");
    }
    // What students may do, they may.
    assert!(
        decide(&s, &student, SessionCommand::PostChat { message_id: MessageId::new(), content: "hi".into() }).is_ok()
    );
    assert!(decide(&s, &student, SessionCommand::RaiseHand).is_ok());
}

#[test]
fn system_facts_only_from_the_system() {
    let (s, teacher, _, _) = live_class();
    let cmd = SessionCommand::AddRecording { recording_id: RecordingId::new(), started_at: None, duration_s: None };
    assert!(matches!(decide(&s, &teacher, cmd.clone()), Err(Rejection::Forbidden(_))));
    assert!(decide(&s, &SessionActor::system(), cmd.clone()).is_ok());
    assert!(decide(&s, &teacher.clone().on_behalf(), cmd).is_ok(), "the server, for the teacher's upload");
}

#[test]
fn journals_carry_only_what_a_participant_may_ask() {
    for ty in SessionEvent::TYPES {
        let system = matches!(
            *ty,
            "session.scheduled"
                | "session.started"
                | "session.ended"
                | "participant.joined"
                | "participant.left"
                | "slide.deck_added"
                | "asset.added"
                | "recording.started"
                | "recording.stopped"
                | "recording.added"
                | "stream.started"
                | "stream.stopped"
                | "stream.failed"
                | "artifact.ready"
                | "caption.added"
        );
        let sample = SessionEvent::from_parts(ty, 1, sample_payload(ty)).unwrap_or_else(|e| panic!("{ty}: {e}"));
        let cmd = SessionCommand::from_journal(sample);
        assert_eq!(cmd.is_err(), system, "{ty}");
        if let Ok(c) = cmd {
            assert!(c.action().is_some(), "{ty}: a journal command has a policy action");
        }
    }
}

#[test]
fn the_teacher_sets_the_class_language_and_only_a_known_one() {
    let (mut s, teacher, _, student) = live_class();
    let set = |l: &str| SessionCommand::SetLanguage { language: l.into() };
    run(&mut s, &teacher, set("fr")).expect("the teacher sets French");
    assert_eq!(s.language.as_deref(), Some("fr"));
    assert!(matches!(decide(&s, &teacher, set("klingon")), Err(Rejection::Invalid(m)) if m.contains("klingon")));
    assert!(matches!(decide(&s, &student, set("de")), Err(Rejection::Forbidden(_))));
}

#[test]
fn live_captions_come_from_the_system_and_only_the_newest_are_kept() {
    let (mut s, teacher, _, student) = live_class();
    let caption = |i: u32| SessionCommand::AddCaption {
        recording_id: RecordingId(uuid::Uuid::from_u128(9)),
        start_s: i as f64,
        end_s: i as f64 + 0.5,
        text: format!("words {i}"),
    };
    for who in [&teacher, &student] {
        assert!(matches!(decide(&s, who, caption(0)), Err(Rejection::Forbidden(_))), "a caption is the worker's");
    }
    let system = SessionActor::system();
    let bad = SessionCommand::AddCaption {
        recording_id: RecordingId(uuid::Uuid::from_u128(9)),
        start_s: 2.0,
        end_s: 1.0,
        text: "x".into(),
    };
    assert!(decide(&s, &system, bad).is_err(), "a caption ends after it starts");
    for i in 0..8 {
        run(&mut s, &system, caption(i)).unwrap();
    }
    let kept: Vec<&str> = s.captions.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(kept, ["words 3", "words 4", "words 5", "words 6", "words 7"]);
}

fn sample_payload(ty: &str) -> serde_json::Value {
    use serde_json::json;
    let id = uuid::Uuid::from_u128(7);
    let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    match ty {
        "session.scheduled" => json!({"scheduledStart": now, "scheduledEnd": now + Duration::hours(1)}),
        "participant.joined" => json!({"userId": id, "role": "student"}),
        "participant.left" => json!({"userId": id}),
        "scene.created" => json!({"sceneId": id, "name": "S"}),
        "scene.updated" | "scene.changed" => json!({"sceneId": id}),
        "slide.deck_added" => json!({"assetId": id, "pageCount": 1}),
        "slide.shown" => json!({"assetId": id, "page": 1}),
        "asset.added" => json!({"assetId": id, "kind": "image"}),
        "whiteboard.stroke_added" => json!({"boardId": "b", "strokes": []}),
        "whiteboard.stroke_erased" => json!({"boardId": "b", "strokeIds": []}),
        "whiteboard.cleared" | "whiteboard.undone" => json!({"boardId": "b"}),
        "chat.posted" => json!({"messageId": id, "content": "x"}),
        "chat.hidden" => json!({"messageId": id}),
        "question.asked" => json!({"questionId": id, "content": "x"}),
        "question.upvoted" | "question.answered" | "question.dismissed" => json!({"questionId": id}),
        "poll.opened" => json!({"pollId": id, "prompt": "?", "options": []}),
        "poll.voted" => json!({"pollId": id, "option": 0}),
        "poll.closed" => json!({"pollId": id}),
        "highlight.marked" => json!({"label": "x"}),
        "session.language_set" => json!({"language": "fr"}),
        "recording.added" => json!({"recordingId": id}),
        "artifact.ready" => json!({"artifactType": "transcript"}),
        "stream.failed" => json!({"reason": "egress gone"}),
        "caption.added" => json!({"recordingId": id, "startS": 0.0, "endS": 1.0, "text": "x"}),
        _ => json!({}),
    }
}

/// A command from a small pool of ids, so that some refer to things that exist.
fn command(kind: u8, n: u8, text: bool) -> SessionCommand {
    let pick = |k: u8| uuid::Uuid::from_u128(1000 + (k % 3) as u128);
    let content = if text { format!("text {n}") } else { "  ".into() };
    let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    match kind % 24 {
        0 => {
            SessionCommand::Schedule { scheduled_start: start, scheduled_end: start + Duration::minutes(n as i64 - 3) }
        }
        1 => SessionCommand::Start { room: None },
        2 => SessionCommand::End,
        3 => SessionCommand::Join,
        4 => SessionCommand::Leave,
        5 => SessionCommand::RaiseHand,
        6 => SessionCommand::LowerHand { user_id: n.is_multiple_of(2).then(|| uid(3)) },
        7 => SessionCommand::CreateScene {
            scene_id: SceneId(pick(n)),
            name: content,
            layout: vec![],
            metadata: serde_json::Value::Null,
        },
        8 => SessionCommand::ActivateScene { scene_id: SceneId(pick(n)) },
        9 => SessionCommand::AddDeck { asset_id: AssetId(pick(n)), page_count: (n % 4) as u32, title: None },
        10 => SessionCommand::ShowSlide { asset_id: AssetId(pick(n)), page: (n % 5) as u32 },
        11 => SessionCommand::AddStrokes {
            board_id: "b".into(),
            strokes: vec![events::Stroke {
                id: format!("s{n}"),
                points: vec![[0.1, 0.2]],
                color: "#000".into(),
                width: 1.0,
            }],
        },
        12 => SessionCommand::EraseStrokes { board_id: "b".into(), stroke_ids: vec![format!("s{n}")] },
        13 => SessionCommand::UndoStroke { board_id: "b".into() },
        14 => SessionCommand::PostChat { message_id: MessageId(pick(n)), content },
        15 => SessionCommand::HideChat { message_id: MessageId(pick(n)) },
        16 => SessionCommand::AskQuestion { question_id: QuestionId(pick(n)), content },
        17 => SessionCommand::UpvoteQuestion { question_id: QuestionId(pick(n)) },
        18 => SessionCommand::AnswerQuestion { question_id: QuestionId(pick(n)) },
        19 => SessionCommand::OpenPoll {
            poll_id: PollId(pick(n)),
            prompt: content,
            options: (0..(n % 4)).map(|i| format!("o{i}")).collect(),
        },
        20 => SessionCommand::Vote { poll_id: PollId(pick(n)), option: (n % 3) as u32 },
        21 => SessionCommand::ClosePoll { poll_id: PollId(pick(n)) },
        22 => SessionCommand::MarkHighlight { label: content },
        _ => SessionCommand::AddRecording { recording_id: RecordingId(pick(n)), started_at: None, duration_s: None },
    }
}

proptest! {
    /// Whatever sequence of commands, by whoever: what `decide` allows, `apply` accepts (the
    /// `run` helper panics otherwise), a refusal changes nothing, and the state is the fold of
    /// exactly the decided events.
    #[test]
    fn what_decide_allows_apply_accepts(steps in prop::collection::vec((0u8..5, any::<u8>(), any::<u8>(), any::<bool>()), 1..60)) {
        let actors = [actor(1, Role::Teacher), actor(2, Role::Assistant), actor(3, Role::Student), actor(4, Role::Admin), SessionActor::system()];
        // Half the runs start from a live class, so most commands meet a state where they can happen.
        let mut state = SessionState::default();
        let mut log = Vec::new();
        if steps.len().is_multiple_of(2) {
            let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
            let prelude = [
                (0, SessionCommand::Schedule { scheduled_start: start, scheduled_end: start + Duration::hours(1) }),
                (0, SessionCommand::Start { room: None }),
                (2, SessionCommand::Join),
            ];
            for (who, cmd) in prelude {
                let by = &actors[who];
                for event in decide(&state, by, cmd).unwrap() {
                    let env = shared_types::decide::envelope(&state, by, &event);
                    apply(&mut state, &env).unwrap();
                    log.push(env);
                }
            }
        }
        let mut decided = 0;
        for (who, kind, n, text) in steps {
            let by = &actors[who as usize];
            let before = state.clone();
            match decide(&state, by, command(kind, n, text)) {
                Ok(events) => {
                    for event in events {
                        let mut env = shared_types::decide::envelope(&state, by, &event);
                        env.occurred_at = Utc.timestamp_opt(1_700_000_000 + state.head as i64, 0).unwrap();
                        env.recorded_at = env.occurred_at;
                        prop_assert!(apply(&mut state, &env).is_ok(), "decide allowed {:?}, apply refused", env.event);
                        log.push(env);
                        decided += 1;
                    }
                }
                Err(_) => prop_assert_eq!(&state, &before),
            }
        }
        prop_assert_eq!(fold(&log).unwrap(), state);
        let _ = decided;
    }
}
