//! The journal and the sync engine against a real cloud-api, as a state machine with a reference
//! model: random interleavings of teacher actions (chat, strokes, open and close polls), going offline
//! and online (a server address nothing answers on), pushes, pushes whose answer is lost (the batch
//! reached the server; the studio sends it again), pulls, app restarts (the journal reopened from its
//! file), and an assistant closing a poll on the server behind the studio's back (so the studio's own
//! close is refused there). Afterwards: the server log holds exactly the journal's accepted entries,
//! once each, in journal order, with their original `occurredAt`; refused entries are marked with the
//! server's reason and are not in the log; and `GET …/state` equals the studio's folded state.

use proptest::prelude::*;
use serde_json::json;
use shared_types::decide::SessionCommand;
use shared_types::events::Stroke;
use shared_types::{MessageId, PollId, SessionEvent, SessionId};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use studio_desktop::{Client, Journal, JournalError, Status, SyncError};
use studio_tests::*;

#[derive(Clone, Debug)]
enum Op {
    Chat,
    Stroke,
    OpenPoll,
    ClosePoll,
    /// An assistant closes the poll open on the server (the studio does not know yet).
    OtherClosesPoll,
    Offline,
    Online,
    Push,
    /// One batch reaches the server; its answer is lost.
    PushLoseAnswer,
    Pull,
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Chat),
        4 => Just(Op::Stroke),
        2 => Just(Op::OpenPoll),
        2 => Just(Op::ClosePoll),
        1 => Just(Op::OtherClosesPoll),
        2 => Just(Op::Offline),
        2 => Just(Op::Online),
        3 => Just(Op::Push),
        2 => Just(Op::PushLoseAnswer),
        1 => Just(Op::Pull),
        2 => Just(Op::Restart),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Accepted,
    Refused,
}

/// What the server must end up with, decided entry by entry when the server first receives it.
#[derive(Default)]
struct Model {
    expect: HashMap<String, Expect>,
    received: HashSet<String>,
    open_on_server: Vec<PollId>,
    closed_on_server: HashSet<PollId>,
}

impl Model {
    /// The server receives these entries (in order), for the first time or again.
    fn receive(&mut self, entries: &[studio_desktop::Entry]) {
        for e in entries {
            if !self.received.insert(e.idempotency_key.clone()) {
                continue;
            }
            let outcome = match &e.event {
                SessionEvent::PollClosed { poll_id } if self.closed_on_server.contains(poll_id) => Expect::Refused,
                SessionEvent::PollClosed { poll_id } => {
                    self.closed_on_server.insert(*poll_id);
                    Expect::Accepted
                }
                SessionEvent::PollOpened { poll_id, .. } => {
                    self.open_on_server.push(*poll_id);
                    Expect::Accepted
                }
                _ => Expect::Accepted,
            };
            self.expect.insert(e.idempotency_key.clone(), outcome);
        }
    }
}

/// The teacher as the studio decides for them: `GET /api/auth/me` and the session, as the app reads them.
async fn teacher_of(app: &TestApp, s: &School) -> (shared_types::decide::SessionActor, shared_types::dto::SessionDto) {
    let me: shared_types::dto::MeResponse =
        serde_json::from_value(app.get("/api/auth/me", &s.teacher.token).await.body).unwrap();
    let dto: shared_types::dto::SessionDto =
        serde_json::from_value(app.get(&format!("/api/sessions/{}", s.session), &s.teacher.token).await.body).unwrap();
    (studio_desktop::session_actor(&me, &dto), dto)
}

async fn run(ops: Vec<Op>) {
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("Studio").await;
    app.live(&s).await;
    let (actor, _) = teacher_of(&app, &s).await;
    let session: SessionId = s.session.parse().unwrap();
    let scratch = cloud_api::spawned::Scratch::new("studio-journal");
    let file = scratch.join("journal.db");
    let open = |p: &Path| Journal::open(p).expect("journal");
    let mut journal = open(&file);
    let online_client = Client::new(&app.base, &s.teacher.token);
    // Offline: an address where nothing answers (a real refused connection).
    let offline_client = Client::new("http://127.0.0.1:9", &s.teacher.token);
    let mut online = true;
    let mut model = Model::default();
    online_client.pull(&journal, session).await.unwrap();
    let mut n = 0;

    for op in ops {
        n += 1;
        let client = if online { &online_client } else { &offline_client };
        let before = journal.pending_count().unwrap();
        let recorded = |r: Result<studio_desktop::Entry, JournalError>| match r {
            Ok(_) => true,
            Err(JournalError::Refused(_)) => false,
            Err(e) => panic!("journal: {e}"),
        };
        match op {
            Op::Chat => {
                let c = SessionCommand::PostChat { message_id: MessageId::new(), content: format!("note {n}") };
                assert!(recorded(journal.record(session, &actor, c)), "a teacher may chat");
            }
            Op::Stroke => {
                let stroke = Stroke {
                    id: format!("s{n}"),
                    points: vec![[0.1, 0.2], [0.3, 0.4 + n as f64 / 1000.0]],
                    color: "#1b2230".into(),
                    width: 2.0,
                };
                let c = SessionCommand::AddStrokes { board_id: "main".into(), strokes: vec![stroke] };
                assert!(recorded(journal.record(session, &actor, c)), "a teacher may draw");
            }
            Op::OpenPoll => {
                let c = SessionCommand::OpenPoll {
                    poll_id: PollId::new(),
                    prompt: format!("Q{n}?"),
                    options: vec!["a".into(), "b".into()],
                };
                recorded(journal.record(session, &actor, c));
            }
            Op::ClosePoll => {
                let state = journal.state(session).unwrap();
                let open: Vec<PollId> = state.polls.iter().filter(|(_, p)| !p.closed).map(|(id, _)| *id).collect();
                match open.first() {
                    Some(p) => {
                        assert!(recorded(journal.record(session, &actor, SessionCommand::ClosePoll { poll_id: *p })))
                    }
                    None => {
                        // No open poll here: the shared rules refuse it locally and nothing is written.
                        let r = journal.record(session, &actor, SessionCommand::ClosePoll { poll_id: PollId::new() });
                        assert!(!recorded(r));
                        assert_eq!(journal.pending_count().unwrap(), before);
                    }
                }
            }
            Op::OtherClosesPoll => {
                let open: Vec<PollId> =
                    model.open_on_server.iter().filter(|p| !model.closed_on_server.contains(p)).copied().collect();
                if let Some(p) = open.first() {
                    let a = app.post(&format!("/api/polls/{p}/close"), &s.assistant.token, json!({})).await;
                    // The assistant is a presenter too.
                    assert_eq!(a.status, 200, "{:?}", a.body);
                    model.closed_on_server.insert(*p);
                }
            }
            Op::Offline => online = false,
            Op::Online => online = true,
            Op::Push => match client.push(&journal, session).await {
                Ok(_) => {
                    // (With nothing pending a push asks nothing of the server, online or not.)
                    assert!(online || before == 0);
                    // Everything pending was received (in batches of 200).
                    let all: Vec<_> = journal.entries(session).unwrap();
                    model.receive(&all);
                    assert_eq!(journal.pending_count().unwrap(), 0);
                }
                Err(SyncError::Offline(_)) => {
                    assert!(!online);
                    assert_eq!(journal.pending_count().unwrap(), before, "offline changes nothing");
                }
                Err(e) => panic!("push: {e}"),
            },
            Op::PushLoseAnswer => {
                let batch = journal.pending(session, studio_desktop::sync::BATCH).unwrap();
                if !batch.is_empty() {
                    match client.send(session, &batch).await {
                        Ok(_) => model.receive(&batch),
                        Err(SyncError::Offline(_)) => assert!(!online),
                        Err(e) => panic!("send: {e}"),
                    }
                    assert_eq!(journal.pending_count().unwrap(), before, "the answer was lost: still pending");
                }
            }
            Op::Pull => match client.pull(&journal, session).await {
                Ok(_) => assert!(online),
                Err(SyncError::Offline(_)) => assert!(!online),
                Err(e) => panic!("pull: {e}"),
            },
            Op::Restart => {
                drop(journal);
                journal = open(&file);
                assert_eq!(journal.pending_count().unwrap(), before, "the journal survives a restart");
            }
        }
    }

    // Back online for good: pull what others did, drain, and compare.
    online_client.pull(&journal, session).await.unwrap();
    let pending = journal.entries(session).unwrap();
    model.receive(&pending.into_iter().filter(|e| e.status == Status::Pending).collect::<Vec<_>>());
    online_client.push_until_synced(&journal, session, std::time::Duration::from_secs(30)).await.unwrap();
    assert_eq!(journal.pending_count().unwrap(), 0);

    let entries = journal.entries(session).unwrap();
    let log = app.all_events(&s.teacher.token, &s.session).await;
    let by_key: HashMap<&str, &serde_json::Value> =
        log.iter().filter_map(|e| e["idempotencyKey"].as_str().map(|k| (k, e))).collect();
    let studio_in_log =
        log.iter().filter(|e| e["idempotencyKey"].as_str().is_some_and(|k| k.starts_with("studio-"))).count();
    let mut last_seq = 0;
    let mut accepted = 0;
    for e in &entries {
        let expect = model.expect.get(&e.idempotency_key).copied().unwrap_or(Expect::Accepted);
        match (&e.status, expect) {
            (Status::Synced { sequence }, Expect::Accepted) => {
                let ev = by_key
                    .get(e.idempotency_key.as_str())
                    .unwrap_or_else(|| panic!("{} is in the log", e.idempotency_key));
                assert_eq!(ev["sequence"].as_u64(), Some(*sequence));
                assert_eq!(ev["type"], e.event.event_type());
                let at: chrono::DateTime<chrono::Utc> = ev["occurredAt"].as_str().unwrap().parse().unwrap();
                assert_eq!(at, e.occurred_at, "the original occurredAt");
                assert!(*sequence > last_seq, "in journal order");
                last_seq = *sequence;
                accepted += 1;
            }
            (Status::Refused { code, .. }, Expect::Refused) => {
                assert_eq!(code, "poll_closed");
                assert!(!by_key.contains_key(e.idempotency_key.as_str()), "a refused entry is not in the log");
            }
            (status, expect) => panic!("{}: {:?} is {status:?}, expected {expect:?}", e.idempotency_key, e.event),
        }
    }
    assert_eq!(studio_in_log, accepted, "the log holds each accepted entry once, and nothing else of the studio's");
    eprintln!("{} entries: {accepted} in the log, {} refused by the server", entries.len(), entries.len() - accepted);
    let server: shared_types::dto::StateResponse =
        serde_json::from_value(app.get(&format!("/api/sessions/{}/state", s.session), &s.teacher.token).await.body)
            .unwrap();
    assert_eq!(journal.state(session).unwrap(), server.state, "the studio's folded state is the server's");
    drop(journal);
    let _ = std::fs::remove_file(&file);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        max_shrink_iters: 50,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_server_log_is_the_journal(ops in proptest::collection::vec(op(), 5..45)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}

/// A long offline stretch, restarts in it, then one reconnect: 300 actions, none lost, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_offline_class_arrives_once() {
    let mut ops = vec![Op::Offline];
    for i in 0..300 {
        ops.push(if i % 3 == 0 { Op::Stroke } else { Op::Chat });
        if i % 97 == 0 {
            ops.push(Op::Restart);
        }
    }
    ops.extend([Op::Online, Op::PushLoseAnswer, Op::Restart, Op::Push]);
    run(ops).await;
}

/// Preparing before class, offline: on a scheduled session the studio records a scene and a drawing
/// with the server unreachable; once it is back they arrive once, and the class starts with them —
/// while a chat, which waits for the start, is refused by the same rules locally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_prepared_offline_arrives_before_it_starts() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("Prepared").await;
    let me: shared_types::dto::MeResponse =
        serde_json::from_value(app.get("/api/auth/me", &s.teacher.token).await.body).unwrap();
    let dto: shared_types::dto::SessionDto =
        serde_json::from_value(app.get(&format!("/api/sessions/{}", s.session), &s.teacher.token).await.body).unwrap();
    assert_eq!(dto.status, "scheduled");
    let actor = studio_desktop::session_actor(&me, &dto);
    let session: SessionId = s.session.parse().unwrap();
    let scratch = cloud_api::spawned::Scratch::new("studio-prep");
    let file = scratch.join("journal.db");
    let journal = Journal::open(&file).unwrap();
    let client = Client::new(&app.base, &s.teacher.token);
    client.pull(&journal, session).await.unwrap();

    let scene = shared_types::SceneId::new();
    let layout =
        vec![shared_types::events::LayoutItem { source: "slide".into(), ref_id: None, x: 0.0, y: 0.0, w: 1.0, h: 1.0 }];
    let c = SessionCommand::CreateScene { scene_id: scene, name: "Lecture".into(), layout, metadata: json!({}) };
    journal.record(session, &actor, c).unwrap();
    let stroke =
        Stroke { id: "prep-1".into(), points: vec![[0.2, 0.2], [0.8, 0.8]], color: "#2a4fd6".into(), width: 3.0 };
    journal
        .record(session, &actor, SessionCommand::AddStrokes { board_id: "main".into(), strokes: vec![stroke] })
        .unwrap();
    let chat = SessionCommand::PostChat { message_id: MessageId::new(), content: "too early".into() };
    assert!(matches!(journal.record(session, &actor, chat), Err(JournalError::Refused(_))), "chat waits for the start");

    // Offline: nothing leaves; online: both arrive, once.
    let offline = Client::new("http://127.0.0.1:9", &s.teacher.token);
    assert!(matches!(offline.push(&journal, session).await, Err(SyncError::Offline(_))));
    assert_eq!(journal.pending_count().unwrap(), 2);
    let pushed = client.push_until_synced(&journal, session, std::time::Duration::from_secs(20)).await.unwrap();
    assert_eq!((pushed.synced, pushed.refused), (2, 0));
    client.push(&journal, session).await.unwrap();
    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
    assert_eq!(start.status, 200, "{:?}", start.body);
    let state = app.get(&format!("/api/sessions/{}/state", s.session), &s.student.token).await;
    assert_eq!(state.body["state"]["status"], "live");
    assert_eq!(state.body["state"]["scenes"][scene.to_string()]["name"], "Lecture");
    let strokes = &state.body["state"]["boards"]["main"];
    assert!(strokes.to_string().contains("prep-1"), "the drawing is on the board: {strokes}");
    let log = app.all_events(&s.teacher.token, &s.session).await;
    assert_eq!(
        log.iter().filter(|e| e["idempotencyKey"].as_str().is_some_and(|k| k.starts_with("studio-"))).count(),
        2
    );
    drop(journal);
    let _ = std::fs::remove_file(&file);
}

/// What others write reaches the studio through the live socket: a student's chat and question join
/// the base as they happen, the studio's own pushed entries come back marked synced, old events are
/// ignored, and a gap says "pull first".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_socket_brings_what_others_write() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("Listening").await;
    app.live(&s).await;
    let (actor, _) = teacher_of(&app, &s).await;
    let session: SessionId = s.session.parse().unwrap();
    let scratch = cloud_api::spawned::Scratch::new("studio-live");
    let file = scratch.join("journal.db");
    let journal = Journal::open(&file).unwrap();
    let client = Client::new(&app.base, &s.teacher.token);
    let head = client.pull(&journal, session).await.unwrap();
    let mut live = client.listen(session, head).await.unwrap();

    let chat = app
        .post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": "Can you repeat that?"}))
        .await;
    assert_eq!(chat.status, 201);
    let q = app
        .post("/api/questions", &s.student.token, json!({"sessionId": s.session, "content": "Is it on the test?"}))
        .await;
    assert_eq!(q.status, 201);
    journal
        .record(session, &actor, SessionCommand::PostChat { message_id: MessageId::new(), content: "Yes.".into() })
        .unwrap();
    client.send(session, &journal.pending(session, 10).unwrap()).await.unwrap(); // the answer is lost
    assert_eq!(journal.pending_count().unwrap(), 1);
    for _ in 0..3 {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), live.next()).await.unwrap().unwrap();
        assert_eq!(journal.apply_remote(&e).unwrap(), studio_desktop::Remote::Applied);
    }
    let state = journal.state(session).unwrap();
    assert!(state.chat.iter().any(|m| m.content == "Can you repeat that?"), "the student's chat is in the studio");
    assert_eq!(state.questions.len(), 1);
    assert_eq!(journal.pending_count().unwrap(), 0, "our own entry came back over the socket: synced");
    assert!(matches!(journal.entries(session).unwrap()[0].status, Status::Synced { .. }));
    // An old event changes nothing; one from beyond a gap asks for a pull.
    let log = app.all_events(&s.teacher.token, &s.session).await;
    let first: shared_types::EventEnvelope = serde_json::from_value(log[0].clone()).unwrap();
    assert_eq!(journal.apply_remote(&first).unwrap(), studio_desktop::Remote::Old);
    let mut ahead: shared_types::EventEnvelope = serde_json::from_value(log.last().unwrap().clone()).unwrap();
    ahead.sequence += 5;
    assert_eq!(journal.apply_remote(&ahead).unwrap(), studio_desktop::Remote::Gap);
    let server: shared_types::dto::StateResponse =
        serde_json::from_value(app.get(&format!("/api/sessions/{}/state", s.session), &s.teacher.token).await.body)
            .unwrap();
    assert_eq!(journal.state(session).unwrap(), server.state, "the studio sees what the server has");
    drop(journal);
    let _ = std::fs::remove_file(&file);
}
