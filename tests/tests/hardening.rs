//! What a black-box attack found (issue "Hardening"), each pinned by a test that failed before the
//! fix: forged events through the journal batch, `occurredAt` out of bounds, reserved keys, slow
//! clients, sockets that outlived logout, a state-check 409 stored under its key, the `/live` route
//! without an upgrade, the blob signing key inside the blob directory, the login cookie behind TLS.

use serde_json::{json, Value};
use shared_types::SessionEvent;
use studio_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn batch(entries: Vec<Value>) -> Value {
    json!({ "events": entries })
}

fn entry(ty: &str, payload: Value) -> Value {
    json!({ "idempotencyKey": uuid::Uuid::new_v4().to_string(), "type": ty, "payload": payload })
}

/// One entry through `events:batch`; the code it was refused with, or `None` when appended.
async fn send_one(app: &TestApp, token: &str, session: &str, e: Value) -> Option<String> {
    let a = app.post(&format!("/api/sessions/{session}/events:batch"), token, batch(vec![e])).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let r = &a.body["results"][0];
    r["error"]["code"].as_str().map(str::to_string)
}

/// The probe's forgeries: as an assistant (and as the teacher), system facts are refused and
/// change nothing; the class stays live.
async fn forged_system_events_are_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Forge").await;
    app.live(&s).await;
    let before = app.all_events(&s.teacher.token, &s.session).await.len();
    let rid = uuid::Uuid::new_v4();
    let forged = [
        entry("session.ended", json!({})),
        entry("participant.joined", json!({"userId": s.student.id, "role": "teacher"})),
        entry("participant.joined", json!({"userId": uuid::Uuid::new_v4(), "role": "student"})),
        entry("participant.left", json!({"userId": s.student.id})),
        entry("recording.added", json!({"recordingId": rid})),
        entry("recording.started", json!({})),
        entry("stream.started", json!({"destinationIds": []})),
        entry("stream.stopped", json!({})),
        entry("stream.failed", json!({"reason": "forged failure"})),
        entry("artifact.ready", json!({"artifactType": "transcript"})),
        entry("caption.added", json!({"recordingId": rid, "startS": 0.0, "endS": 1.0, "text": "forged words"})),
        entry("slide.deck_added", json!({"assetId": uuid::Uuid::new_v4(), "pageCount": 3})),
        entry("asset.added", json!({"assetId": uuid::Uuid::new_v4(), "kind": "image"})),
    ];
    for who in [&s.assistant, &s.teacher] {
        for e in &forged {
            let code = send_one(&app, &who.token, &s.session, e.clone()).await;
            assert_eq!(code.as_deref(), Some("forbidden"), "{} by {} must be refused", e["type"], who.email);
        }
    }
    assert_eq!(app.all_events(&s.teacher.token, &s.session).await.len(), before, "nothing was appended");
    let state = app.get(&format!("/api/sessions/{}/state", s.session), &s.teacher.token).await;
    assert_eq!(state.body["state"]["status"], "live");
    // The HTTP route still ends the class for the teacher (and refuses the assistant).
    let end = app.post("/api/sessions/end", &s.assistant.token, json!({"sessionId": s.session})).await;
    assert_eq!(end.status, 403);
}

/// A sample of every event type, valid in shape, for the table test.
fn sample(ty: &str, s: &School) -> Value {
    let id = uuid::Uuid::new_v4();
    let now = chrono::Utc::now();
    match ty {
        "session.scheduled" => json!({"scheduledStart": now, "scheduledEnd": now + chrono::Duration::hours(1)}),
        "session.started" => json!({"room": "r"}),
        "participant.joined" => json!({"userId": s.student.id, "role": "student"}),
        "participant.left" | "hand.lowered" => json!({"userId": s.student.id}),
        "scene.created" => json!({"sceneId": id, "name": "Scene"}),
        "scene.updated" | "scene.changed" => json!({"sceneId": id}),
        "slide.deck_added" => json!({"assetId": id, "pageCount": 2}),
        "slide.shown" => json!({"assetId": id, "page": 1}),
        "asset.added" => json!({"assetId": id, "kind": "image"}),
        "whiteboard.stroke_added" => {
            json!({"boardId": "b", "strokes": [{"id": id.to_string(), "points": [[0.1, 0.1]], "color": "#000", "width": 2.0}]})
        }
        "whiteboard.stroke_erased" => json!({"boardId": "b", "strokeIds": ["x"]}),
        "whiteboard.cleared" | "whiteboard.undone" => json!({"boardId": "b"}),
        "chat.posted" | "question.asked" => json!({"messageId": id, "questionId": id, "content": "hello"}),
        "chat.hidden" => json!({"messageId": id}),
        "question.upvoted" | "question.answered" | "question.dismissed" => json!({"questionId": id}),
        "poll.opened" => json!({"pollId": id, "prompt": "Q?", "options": ["a", "b"]}),
        "poll.voted" => json!({"pollId": id, "option": 0}),
        "poll.closed" => json!({"pollId": id}),
        "highlight.marked" => json!({"label": "here"}),
        "session.language_set" => json!({"language": "es"}),
        "recording.started" | "recording.stopped" => json!({}),
        "recording.added" => json!({"recordingId": id}),
        "stream.started" => json!({"destinationIds": []}),
        "stream.failed" => json!({"reason": "egress gone"}),
        "artifact.ready" => json!({"artifactType": "transcript"}),
        "caption.added" => json!({"recordingId": id, "startS": 0.0, "endS": 1.0, "text": "words"}),
        _ => json!({}),
    }
}

/// Every event type × every role that may sync a journal: refused exactly when the origin table
/// says so (a system fact, or a client event whose policy action the role lacks). Students and
/// outsiders may not use the batch at all.
async fn batch_follows_the_origin_table(db: Db) {
    use shared_types::origin::{origin, Origin};
    use shared_types::policy::roles_for;
    let app = TestApp::spawn(db).await;
    let s = app.school("Table").await;
    app.live(&s).await;
    let mut checked = 0;
    for ty in SessionEvent::TYPES {
        let payload = sample(ty, &s);
        let event = SessionEvent::from_parts(ty, 1, payload.clone()).unwrap_or_else(|e| panic!("sample {ty}: {e}"));
        for (who, role) in [(&s.teacher, shared_types::Role::Teacher), (&s.assistant, shared_types::Role::Assistant)] {
            let code = send_one(&app, &who.token, &s.session, entry(ty, payload.clone())).await;
            let allowed = match origin(&event) {
                Origin::System => false,
                Origin::Client(action) => roles_for(action).contains(&role),
            };
            if allowed {
                assert_ne!(code.as_deref(), Some("forbidden"), "{ty} by {role:?} is allowed by the table");
            } else {
                assert_eq!(code.as_deref(), Some("forbidden"), "{ty} by {role:?} is not allowed by the table");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, SessionEvent::TYPES.len() * 2);
    for who in [&s.student, &s.outsider] {
        let a = app
            .post(
                &format!("/api/sessions/{}/events:batch", s.session),
                &who.token,
                batch(vec![entry("chat.posted", json!({"messageId": uuid::Uuid::new_v4(), "content": "x"}))]),
            )
            .await;
        assert_eq!(a.status, 403, "{:?}", a.body);
    }
}

/// `occurredAt` far from the session, and keys in the server's reserved `<userId>/<key>` form.
async fn batch_bounds_time_and_keys(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Bounds").await;
    app.live(&s).await;
    let path = format!("/api/sessions/{}/events:batch", s.session);
    for at in ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let mut e = entry("highlight.marked", json!({"label": "x"}));
        e["occurredAt"] = json!(at);
        let a = app.post(&path, &s.teacher.token, batch(vec![e])).await;
        assert_eq!(a.body["results"][0]["error"]["code"], "validation_failed", "{at}: {:?}", a.body);
    }
    let mut ok = entry("highlight.marked", json!({"label": "x"}));
    ok["occurredAt"] = json!(chrono::Utc::now() - chrono::Duration::minutes(3));
    let a = app.post(&path, &s.teacher.token, batch(vec![ok])).await;
    assert!(a.body["results"][0]["sequence"].is_u64(), "a recent time is fine: {:?}", a.body);

    // The teacher tries to poison the student's next chat retry: the student's HTTP key `k1` is
    // logged as `<studentId>/k1`.
    let poison = json!({"idempotencyKey": format!("{}/k1", s.student.id), "type": "highlight.marked", "payload": {"label": "x"}});
    let a = app.post(&path, &s.teacher.token, batch(vec![poison])).await;
    assert_eq!(a.body["results"][0]["error"]["code"], "validation_failed", "{:?}", a.body);
    let chat =
        app.post_key("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": "hi"}), "k1").await;
    assert_eq!(chat.status, 201, "the student's write is untouched: {:?}", chat.body);
}

/// A 409 from a state check is not stored: the same join, retried after the class started, joins.
async fn state_conflicts_are_not_replayed(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Early").await;
    let body = json!({"sessionId": s.session});
    let early = app.post_key("/api/sessions/join", &s.student.token, body.clone(), "join-1").await;
    assert_eq!(early.status, 409, "{:?}", early.body);
    assert_eq!(early.code(), "session_not_live");
    let start = app.post("/api/sessions/start", &s.teacher.token, body.clone()).await;
    assert_eq!(start.status, 200);
    let again = app.post_key("/api/sessions/join", &s.student.token, body, "join-1").await;
    assert_eq!(again.status, 200, "the retry is decided afresh: {:?}", again.body);
    assert!(again.headers.get("idempotent-replayed").is_none());
}

/// Logout, and a role taken away, close that user's open sockets at once (on PostgreSQL through
/// NOTIFY, so every node hears it — here a second node too; SQLite runs as one node).
async fn revocation_closes_sockets(db: Db) {
    let app = TestApp::spawn(db).await;
    let other = if db == Db::Postgres { app.second_node().await } else { TestApp::spawn(db).await };
    let s = app.school("Revoke").await;
    app.live(&s).await;
    let mut here = app.live_socket(&s.student.token, &s.session, 0).await.expect("socket");
    let there = if db == Db::Postgres {
        Some(other.live_socket(&s.student.token, &s.session, 0).await.expect("socket"))
    } else {
        None
    };
    let mut teacher = app.live_socket(&s.teacher.token, &s.session, 0).await.expect("socket");
    let out = app.post("/api/auth/logout", &s.student.token, json!({})).await;
    assert_eq!(out.status, 204);
    assert_eq!(here.closed_within(3).await, Some(4001), "this node closes the logged-out socket");
    if let Some(mut there) = there {
        assert_eq!(there.closed_within(3).await, Some(4001), "the other node too");
    }
    assert_eq!(teacher.closed_within(1).await, None, "others stay connected");
    let gone = app.live_socket(&s.student.token, &s.session, 0).await.err();
    assert_eq!(gone, Some(401), "the token no longer opens a socket");

    // A role revoked: the assistant's socket closes (a reconnect is authorised afresh).
    let mut asst = app.live_socket(&s.assistant.token, &s.session, 0).await.expect("socket");
    let revoke = app
        .call(
            reqwest::Method::DELETE,
            "/api/admin/roles",
            Some(&s.admin.token),
            Some(json!({"userId": s.assistant.id, "role": "assistant", "scope": "course", "scopeId": s.course})),
            None,
        )
        .await;
    assert_eq!(revoke.status, 204, "{:?}", revoke.body);
    assert_eq!(asst.closed_within(3).await, Some(4001));
    assert_eq!(app.live_socket(&s.assistant.token, &s.session, 0).await.err(), Some(403));
    assert_eq!(teacher.closed_within(1).await, None);
}

/// Raw TCP to the app: `bytes` sent, then what comes back within `secs` (and whether it closed).
async fn raw(app: &TestApp, bytes: &[u8], secs: u64) -> (String, bool) {
    let mut c = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    c.write_all(bytes).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, c.read(&mut chunk)).await {
            Err(_) => return (String::from_utf8_lossy(&buf).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&buf).into_owned(), true),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Partial headers are cut off; a short body gets 408; a declared 10 GB body 413 at once.
async fn slow_clients_are_cut_off(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.header_read_timeout_secs = 1;
        c.body_idle_timeout_secs = 1;
    })
    .await;
    let s = app.school("Slow").await;
    let t0 = std::time::Instant::now();
    let (_, closed) = raw(&app, b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Ty", 5).await;
    assert!(closed, "a connection with half its headers is closed");
    assert!(t0.elapsed().as_secs_f64() < 4.0, "within the header timeout: {:?}", t0.elapsed());

    let req = format!(
        "POST /api/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nIdempotency-Key: slow-1\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"sessionId\":",
        s.teacher.token
    );
    let (answer, _) = raw(&app, req.as_bytes(), 5).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "a body that stops arriving gets 408: {answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");

    let t0 = std::time::Instant::now();
    let req = format!(
        "POST /api/sessions/{}/recordings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nIdempotency-Key: big-1\r\n\
         Content-Type: audio/wav\r\nContent-Length: 10737418240\r\n\r\nRIFF",
        s.session, s.teacher.token
    );
    let (answer, _) = raw(&app, req.as_bytes(), 3).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "a declared length over the limit is refused: {answer}");
    assert!(t0.elapsed().as_secs_f64() < 1.0, "at once: {:?}", t0.elapsed());
    // The same on a route without uploads (limit 1 MiB), without even reading the body.
    let req = "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{";
    let (answer, _) = raw(&app, req.as_bytes(), 3).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

/// `/live` without an upgrade answers problem+json, like every other error.
async fn live_without_upgrade_is_problem_json(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("NoUpgrade").await;
    let a = app.get(&format!("/api/sessions/{}/live", s.session), &s.student.token).await;
    assert_eq!(a.status, 426, "{:?}", a.raw);
    assert_eq!(a.code(), "upgrade_required");
}

on_both!(
    forged_system_events_are_refused,
    batch_follows_the_origin_table,
    batch_bounds_time_and_keys,
    state_conflicts_are_not_replayed,
    revocation_closes_sockets,
    slow_clients_are_cut_off,
    live_without_upgrade_is_problem_json,
);

/// The blob signing key lives outside the served blob directory; an older one there is moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_signing_key_is_kept_out_of_the_blob_dir() {
    let dir = cloud_api::spawned::Scratch::new("studio-keys");
    std::fs::create_dir_all(dir.join("blobs")).unwrap();
    std::fs::write(dir.join("blobs/.signing-key"), [9u8; 32]).unwrap();
    let d = dir.to_path_buf();
    let _app = TestApp::spawn_with(Db::Sqlite, move |c| c.data_dir = d).await;
    assert!(!dir.join("blobs/.signing-key").exists(), "no key inside the blob directory");
    assert_eq!(std::fs::read(dir.join("keys/blob-signing.key")).unwrap(), vec![9u8; 32], "the old key, moved");
}

/// Behind TLS (PUBLIC_URL https, or a proxy saying X-Forwarded-Proto: https) the cookie is Secure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_cookie_is_secure_behind_tls() {
    let cookie = |a: &Answer| a.headers.get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let plain = TestApp::spawn(Db::Sqlite).await;
    let s = plain.school("Cookie").await;
    let a = plain.login(&s.student.email, PASSWORD).await;
    assert!(!cookie(&a).contains("Secure"), "plain http: {}", cookie(&a));
    let r = plain
        .http
        .post(format!("{}/api/auth/login", plain.base))
        .header("x-forwarded-proto", "https")
        .json(&json!({"email": s.student.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").unwrap().to_str().unwrap().contains("; Secure"));
    let tls = TestApp::spawn_with(Db::Sqlite, |c| c.public_url = Some("https://studio.example".into())).await;
    let s = tls.school("Cookie").await;
    let a = tls.login(&s.student.email, PASSWORD).await;
    assert!(cookie(&a).contains("; Secure"), "{}", cookie(&a));
}
