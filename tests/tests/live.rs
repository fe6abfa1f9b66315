//! The live WebSocket: late joiners, resume after a gap, lagging sockets, two nodes, access.

use serde_json::{json, Value};
use studio_tests::*;

/// `n` highlight events through the teacher's journal sync; returns the new head.
async fn marks(app: &TestApp, s: &School, from: usize, n: usize) -> u64 {
    let events: Vec<Value> = (from..from + n)
        .map(|i| json!({"idempotencyKey": format!("m{i}"), "type": "highlight.marked", "payload": {"label": format!("mark {i}")}}))
        .collect();
    let a = app
        .post(&format!("/api/sessions/{}/events:batch", s.session), &s.teacher.token, json!({"events": events}))
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    a.body["head"].as_u64().unwrap()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["sequence"].as_u64().unwrap()).collect()
}

async fn late_joiner_gets_everything_then_live(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Live").await;
    app.live(&s).await;
    let head = marks(&app, &s, 0, 30).await;
    assert_eq!(head, 33);
    let mut sock = app.live_socket(&s.student.token, &s.session, 0).await.expect("socket");
    let caught = sock.events(33).await;
    assert_eq!(seqs(&caught), (1..=33).collect::<Vec<_>>());
    assert_eq!(caught[0]["type"], "session.scheduled");
    let ready = sock.next_within(5).await.unwrap();
    assert_eq!(ready, json!({"kind": "ready", "head": 33}));
    // Live events arrive in order, through the interaction endpoints too.
    marks(&app, &s, 30, 5).await;
    let chat = app.post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": "hello"})).await;
    assert_eq!(chat.status, 201);
    let live = sock.events(6).await;
    assert_eq!(seqs(&live), (34..=39).collect::<Vec<_>>());
    assert_eq!(live[5]["type"], "chat.posted");
    assert_eq!(live[5]["payload"]["content"], "hello");
    assert!(sock.next_within(1).await.is_none(), "nothing more, nothing twice");
    sock.close().await;
}

async fn resume_gets_exactly_the_missing(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Resume").await;
    app.live(&s).await;
    let mut sock = app.live_socket(&s.student.token, &s.session, 0).await.unwrap();
    let first = sock.events(3).await;
    let last = first.last().unwrap()["sequence"].as_u64().unwrap();
    sock.close().await;
    // 100 events while the student is away.
    marks(&app, &s, 0, 100).await;
    let mut back = app.live_socket(&s.student.token, &s.session, last).await.unwrap();
    let missed = back.events(100).await;
    assert_eq!(seqs(&missed), (last + 1..=last + 100).collect::<Vec<_>>());
    assert_eq!(back.next_within(5).await.unwrap()["kind"], "ready");
    // `resume` on an open socket re-sends from that point.
    back.send(json!({"kind": "resume", "after": last + 98})).await;
    let again = back.events(2).await;
    assert_eq!(seqs(&again), vec![last + 99, last + 100]);
    assert!(back.next_within(1).await.is_none());
}

/// A socket whose channel overflows is re-fed from the store, in order, with nothing skipped.
async fn lagging_socket_is_refed(db: Db) {
    let app = TestApp::spawn_small_channels(db, 4).await;
    let s = app.school("Lag").await;
    app.live(&s).await;
    let mut sock = app.live_socket(&s.student.token, &s.session, 0).await.unwrap();
    let _ = sock.events(3).await;
    for round in 0..5 {
        marks(&app, &s, round * 200, 200).await;
    }
    let got = sock.events(1000).await;
    assert_eq!(seqs(&got), (4..=1003).collect::<Vec<_>>());
    assert!(sock.next_within(1).await.is_none());
    assert!(refed(&app).await > 0, "the socket lagged and was re-fed from the store");
}

/// `studio_ws_refed_total` from the node's metrics.
async fn refed(app: &TestApp) -> u64 {
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    metrics.lines().find_map(|l| l.strip_prefix("studio_ws_refed_total ")).and_then(|v| v.parse().ok()).unwrap()
}

/// A session's sockets are served by several writers (two sockets each here). One socket stops
/// reading: once its buffers are full the writers leave it to its own task, and the others still get
/// every event as it comes; when it reads again it gets everything after what it had, in order,
/// nothing twice, and then live events with the rest.
async fn stalled_socket_holds_nobody_back(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.live_seats_per_writer = 2).await;
    let s = app.school("Stalled").await;
    app.live(&s).await;
    // A small receive window, so the socket's buffers fill after a few hundred kilobytes.
    let mut stalled = app.live_socket_buffered(&s.student.token, &s.session, 3, Some(4096)).await.unwrap();
    assert_eq!(stalled.next_within(5).await.unwrap(), json!({"kind": "ready", "head": 3}));
    let mut others = Vec::new();
    for _ in 0..5 {
        let mut o = app.live_socket(&s.student.token, &s.session, 3).await.unwrap();
        assert_eq!(o.next_within(5).await.unwrap()["kind"], "ready");
        others.push(o);
    }
    let before = refed(&app).await;
    // Batches of 200 long highlights (≈ 2 KB a frame) until a writer has had to leave the stalled
    // socket to its task (its send buffer grows with the connection: a few MB at most).
    let label = "x".repeat(1_900);
    let mut head = 3;
    let mut batches = 0;
    while refed(&app).await == before {
        assert!(batches < 40, "the stalled socket never filled its buffers");
        let events: Vec<Value> = (0..200)
            .map(|i| {
                json!({"idempotencyKey": format!("long{batches}-{i}"), "type": "highlight.marked",
                       "payload": {"label": format!("{batches}-{i} {label}")}})
            })
            .collect();
        let a = app
            .post(&format!("/api/sessions/{}/events:batch", s.session), &s.teacher.token, json!({"events": events}))
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        head = a.body["head"].as_u64().unwrap();
        batches += 1;
        // The others keep up, batch by batch, while the stalled socket reads nothing.
        for o in &mut others {
            assert_eq!(seqs(&o.events(200).await), (head - 199..=head).collect::<Vec<_>>());
        }
    }
    let got = stalled.events((head - 3) as usize).await;
    assert_eq!(seqs(&got), (4..=head).collect::<Vec<_>>());
    assert!(stalled.next_within(1).await.is_none(), "nothing twice");
    // Back with the writers: a live event reaches every socket.
    let chat = app.post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": "back"})).await;
    assert_eq!(chat.status, 201);
    for o in others.iter_mut().chain(std::iter::once(&mut stalled)) {
        let e = o.events(1).await;
        assert_eq!(seqs(&e), vec![head + 1]);
        assert_eq!(e[0]["payload"]["content"], "back");
    }
}

async fn only_participants_listen(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Access").await;
    let other = app.school("Other").await;
    assert_eq!(app.live_socket("nope", &s.session, 0).await.err(), Some(401));
    assert_eq!(app.live_socket(&s.outsider.token, &s.session, 0).await.err(), Some(403));
    assert_eq!(app.live_socket(&other.teacher.token, &s.session, 0).await.err(), Some(404));
    assert!(app.live_socket(&s.assistant.token, &s.session, 0).await.is_ok());
}

on_both!(
    late_joiner_gets_everything_then_live,
    resume_gets_exactly_the_missing,
    lagging_socket_is_refed,
    stalled_socket_holds_nobody_back,
    only_participants_listen
);

/// Two cloud-api nodes on one PostgreSQL: a write on node A reaches a socket on node B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_fan_out() {
    let a = TestApp::spawn(Db::Postgres).await;
    let b = a.second_node().await;
    let s = a.school("Two nodes").await;
    a.live(&s).await;
    let mut on_b = b.live_socket(&s.student.token, &s.session, 0).await.unwrap();
    let _ = on_b.events(3).await;
    assert_eq!(on_b.next_within(5).await.unwrap()["kind"], "ready");
    for i in 0..20 {
        let r = a
            .post(
                &format!("/api/sessions/{}/highlights", s.session),
                &s.teacher.token,
                json!({"label": format!("h{i}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let got = on_b.events(20).await;
    assert_eq!(seqs(&got), (4..=23).collect::<Vec<_>>());
    // And the other way round, through a batch on B to a socket on A.
    let mut on_a = a.live_socket(&s.teacher.token, &s.session, 23).await.unwrap();
    assert_eq!(on_a.next_within(5).await.unwrap()["kind"], "ready");
    marks(&b, &s, 0, 10).await;
    assert_eq!(seqs(&on_a.events(10).await), (24..=33).collect::<Vec<_>>());
    // A commit nobody NOTIFYs (its node died right after it): the listeners' catch-up finds it
    // within a few seconds.
    let pool = sqlx::AnyPool::connect(&a.store_url).await.unwrap();
    let tenant = s.tenant.to_string();
    sqlx::query(
        "insert into session_state_events (id, tenant_id, session_id, sequence, idempotency_key, event_type, version, \
         actor_id, actor_role, event_payload, occurred_at, created_at) values ($1, $2, $3, 34, 'silent', \
         'highlight.marked', 1, null, null, '{\"label\":\"silent\"}', $4, $4)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&tenant)
    .bind(&s.session)
    .bind(cloud_api::store::ts(chrono::Utc::now()))
    .execute(&pool)
    .await
    .unwrap();
    let t0 = std::time::Instant::now();
    assert_eq!(seqs(&on_a.events(1).await), vec![34]);
    assert_eq!(seqs(&on_b.events(11).await), (24..=34).collect::<Vec<_>>());
    assert!(t0.elapsed() < cloud_api::store::CATCH_UP * 3, "caught up in {:?}", t0.elapsed());
}
