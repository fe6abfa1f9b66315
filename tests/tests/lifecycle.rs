//! The whole session lifecycle over HTTP, against the real router and a real database.

use serde_json::json;
use studio_tests::*;

async fn whole_lifecycle(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Lifecycle").await;
    let sid = &s.session;

    let got = app.get(&format!("/api/sessions/{sid}"), &s.student.token).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["status"], "scheduled");
    assert_eq!(got.body["head"], 1);
    let listed = app.get(&format!("/api/lessons/{}/sessions", s.lesson), &s.student.token).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    // Not before start.
    let early = app.post("/api/sessions/join", &s.student.token, json!({"sessionId": sid})).await;
    assert_eq!(early.status, 409);
    assert_eq!(early.code(), "session_not_live");

    let started = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": sid})).await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    assert_eq!(started.body["session"]["status"], "live");
    assert_eq!(started.body["event"]["type"], "session.started");
    assert_eq!(started.body["event"]["sequence"], 2);
    assert!(started.body["livekit"].is_null());

    let again = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": sid})).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "session_already_started");

    let joined = app.post("/api/sessions/join", &s.student.token, json!({"sessionId": sid})).await;
    assert_eq!(joined.status, 200, "{:?}", joined.body);
    assert_eq!(joined.body["participant"]["role"], "student");
    assert_eq!(joined.body["participant"]["permissions"]["canPublish"], false);
    assert_eq!(joined.body["event"]["payload"]["userId"], s.student.id.to_string());
    let tj = app.post("/api/sessions/join", &s.teacher.token, json!({"sessionId": sid})).await;
    assert_eq!(tj.body["participant"]["permissions"]["canPublish"], true);

    let state = app.get(&format!("/api/sessions/{sid}/state"), &s.student.token).await;
    assert_eq!(state.body["state"]["status"], "live");
    assert_eq!(state.body["state"]["participants"][s.student.id.to_string()]["present"], true);

    let left = app.post("/api/sessions/leave", &s.student.token, json!({"sessionId": sid})).await;
    assert_eq!(left.status, 200, "{:?}", left.body);
    assert_eq!(left.body["event"]["type"], "participant.left");

    let ended = app.post("/api/sessions/end", &s.teacher.token, json!({"sessionId": sid})).await;
    assert_eq!(ended.status, 200, "{:?}", ended.body);
    assert_eq!(ended.body["session"]["status"], "ended");

    let late = app.post("/api/sessions/join", &s.student.token, json!({"sessionId": sid})).await;
    assert_eq!(late.status, 409);
    assert_eq!(late.code(), "session_ended");

    let events = app.all_events(&s.student.token, sid).await;
    assert_gap_free(&events);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "session.scheduled",
            "session.started",
            "participant.joined",
            "participant.joined",
            "participant.left",
            "session.ended"
        ]
    );
    // The state at any sequence is the fold of that prefix.
    let at3 = app.get(&format!("/api/sessions/{sid}/state?at=3"), &s.student.token).await;
    assert_eq!(at3.body["state"]["head"], 3);
    assert_eq!(at3.body["state"]["participants"].as_object().unwrap().len(), 1);
    let beyond = app.get(&format!("/api/sessions/{sid}/state?at=99"), &s.student.token).await;
    assert_eq!(beyond.status, 422);
    let final_state = app.get(&format!("/api/sessions/{sid}/state"), &s.student.token).await;
    assert_eq!(final_state.body["state"]["status"], "ended");
    assert!(final_state.body["state"]["endedAt"].is_string());
}

async fn journal_batch(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Journal").await;
    app.live(&s).await;
    let path = format!("/api/sessions/{}/events:batch", s.session);
    // A journal time a little in the past (the studio records when the teacher acted).
    let earlier = (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
    let body = json!({"events": [
        {"idempotencyKey": "j1", "type": "highlight.marked", "payload": {"label": "intro"}},
        {"idempotencyKey": "j2", "type": "poll.voted", "payload": {"pollId": "not-a-uuid", "option": 0}},
        {"idempotencyKey": "j3", "type": "no.such", "payload": {}},
        {"idempotencyKey": "j4", "type": "slide.shown", "payload": {"assetId": uuid::Uuid::new_v4(), "page": 1}},
        {"idempotencyKey": "j5", "type": "highlight.marked", "occurredAt": earlier, "payload": {"label": "later"}},
    ]});
    let a = app.post(&path, &s.teacher.token, body.clone()).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let r = a.body["results"].as_array().unwrap();
    assert_eq!(r[0], json!({"idempotencyKey": "j1", "sequence": 4}));
    assert_eq!(r[1]["error"]["code"], "validation_failed");
    assert_eq!(r[2]["error"]["code"], "validation_failed");
    assert_eq!(r[3]["error"]["code"], "not_found");
    assert_eq!(r[4], json!({"idempotencyKey": "j5", "sequence": 5}));
    assert_eq!(a.body["head"], 5);
    // Re-sending the same batch under a new HTTP key appends nothing and answers the same sequences.
    let b = app.post(&path, &s.teacher.token, body).await;
    assert_eq!(b.body["results"][0], json!({"idempotencyKey": "j1", "sequence": 4}));
    assert_eq!(b.body["results"][4], json!({"idempotencyKey": "j5", "sequence": 5}));
    assert_eq!(b.body["head"], 5);
    let events = app.all_events(&s.teacher.token, &s.session).await;
    assert_gap_free(&events);
    assert_eq!(events.len(), 5);
    let kept: chrono::DateTime<chrono::Utc> = events[4]["occurredAt"].as_str().unwrap().parse().unwrap();
    let sent: chrono::DateTime<chrono::Utc> = earlier.parse().unwrap();
    assert!((kept - sent).num_milliseconds().abs() < 1, "the journal's time is kept: {kept} vs {sent}");
    // Students do not sync journals.
    let st = app
        .post(
            &path,
            &s.student.token,
            json!({"events": [{"idempotencyKey": "z", "type": "hand.raised", "payload": {}}]}),
        )
        .await;
    assert_eq!(st.status, 403);
    // Size limits.
    let empty = app.post(&path, &s.teacher.token, json!({"events": []})).await;
    assert_eq!(empty.status, 422);
}

async fn thousand_event_batch(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Big batch").await;
    app.live(&s).await;
    let events: Vec<_> = (0..1000)
        .map(|i| json!({"idempotencyKey": format!("k{i}"), "type": "highlight.marked", "payload": {"label": format!("h{i}")}}))
        .collect();
    let a = app
        .post(&format!("/api/sessions/{}/events:batch", s.session), &s.teacher.token, json!({"events": events}))
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["head"], 1003);
    let all = app.all_events(&s.teacher.token, &s.session).await;
    assert_eq!(all.len(), 1003);
    assert_gap_free(&all);
    let too_many: Vec<_> =
        (0..1001).map(|i| json!({"idempotencyKey": format!("x{i}"), "type": "hand.raised"})).collect();
    let b = app
        .post(&format!("/api/sessions/{}/events:batch", s.session), &s.teacher.token, json!({"events": too_many}))
        .await;
    assert_eq!(b.status, 422);
}

on_both!(whole_lifecycle, journal_batch, thousand_event_batch);
