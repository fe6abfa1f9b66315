//! Every Idempotency-Key case of API.md, plus a retry storm.

use reqwest::Method;
use serde_json::json;
use studio_tests::*;

async fn key_cases(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Idem").await;
    let start = json!({"sessionId": s.session});

    // Missing key → 400, nothing written.
    let resp = app.post_unkeyed("/api/sessions/start", &s.teacher.token, start.clone()).await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.code(), "idempotency_key_missing");
    assert_eq!(app.all_events(&s.teacher.token, &s.session).await.len(), 1);

    // Malformed key → 400.
    let long = "k".repeat(300);
    let a = app.post_key("/api/sessions/start", &s.teacher.token, start.clone(), &long).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.code(), "bad_request");

    // First use runs; the same request again replays the stored response byte for byte.
    let first = app.post_key("/api/sessions/start", &s.teacher.token, start.clone(), "k-start").await;
    assert_eq!(first.status, 200);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let second = app.post_key("/api/sessions/start", &s.teacher.token, start.clone(), "k-start").await;
    assert_eq!(second.status, 200);
    assert_eq!(second.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(second.raw, first.raw);
    assert_eq!(app.all_events(&s.teacher.token, &s.session).await.len(), 2);

    // Same key, different request → 422.
    let other = app.post_key("/api/sessions/end", &s.teacher.token, start.clone(), "k-start").await;
    assert_eq!(other.status, 422);
    assert_eq!(other.code(), "idempotency_key_reused");

    // Key in the body is accepted.
    let chat_like = json!({"sessionId": s.session, "idempotencyKey": "in-body"});
    let a = app.post_unkeyed("/api/sessions/join", &s.student.token, chat_like.clone()).await;
    assert_eq!(a.status, 200);
    let a2 = app.post_unkeyed("/api/sessions/join", &s.student.token, chat_like.clone()).await;
    assert_eq!(a2.headers.get("idempotent-replayed").unwrap(), "true");

    // Keys are scoped per user: the assistant may use the teacher's key for its own request.
    let mine = app.post_key("/api/sessions/join", &s.assistant.token, start.clone(), "k-start").await;
    assert_eq!(mine.status, 200, "{:?}", mine.body);
    assert!(mine.headers.get("idempotent-replayed").is_none());

    // A refusal of the request itself is its answer: a malformed body replays its 422.
    let bad = json!({"sessionId": "not-a-uuid"});
    let refused = app.post_key("/api/sessions/end", &s.student.token, bad.clone(), "k-refused").await;
    assert_eq!(refused.status, 422);
    let refused2 = app.post_key("/api/sessions/end", &s.student.token, bad, "k-refused").await;
    assert_eq!(refused2.status, 422);
    assert_eq!(refused2.headers.get("idempotent-replayed").unwrap(), "true");
    // Who may do it can change (a role granted later): a 403 is decided afresh on retry.
    let denied = app.post_key("/api/sessions/end", &s.student.token, start.clone(), "k-denied").await;
    assert_eq!(denied.status, 403);
    let denied2 = app.post_key("/api/sessions/end", &s.student.token, start.clone(), "k-denied").await;
    assert_eq!(denied2.status, 403);
    assert!(denied2.headers.get("idempotent-replayed").is_none(), "a 403 is not stored under its key");

    // While the first request is still running → 409.
    let (_, _busy_claim) = app.store.idem_begin(s.tenant, s.teacher.id, "k-busy", "whatever").await.unwrap();
    let busy = app.post_key("/api/sessions/end", &s.teacher.token, start.clone(), "k-busy").await;
    assert_eq!(busy.status, 409);
    assert_eq!(busy.code(), "idempotency_key_in_flight");

    // GET needs no key.
    let g = app.call(Method::GET, &format!("/api/sessions/{}", s.session), Some(&s.teacher.token), None, None).await;
    assert_eq!(g.status, 200);
}

/// The same keys re-sent concurrently: every event exactly once.
async fn retry_storm(db: Db) {
    let app = std::sync::Arc::new(TestApp::spawn(db).await);
    let s = app.school("Storm").await;
    app.live(&s).await;
    let token = s.teacher.token.clone();
    let sid = s.session.clone();
    let mut tasks = Vec::new();
    for copy in 0..5 {
        for i in 0..20 {
            let app = app.clone();
            let token = token.clone();
            let sid = sid.clone();
            tasks.push(tokio::spawn(async move {
                let path = format!("/api/sessions/{sid}/events:batch");
                let body = json!({"events": [{"idempotencyKey": format!("e{i}"), "type": "highlight.marked", "payload": {"label": format!("{i}")}}]});
                // Half the copies reuse the HTTP key too; all reuse the event key.
                let http_key = if copy % 2 == 0 { format!("h{i}") } else { uuid::Uuid::new_v4().to_string() };
                loop {
                    let a = app.post_key(&path, &token, body.clone(), &http_key).await;
                    if a.status == 409 {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        continue; // still in flight: a client retries
                    }
                    assert_eq!(a.status, 200, "{:?}", a.body);
                    return (i, a.body["results"][0]["sequence"].as_u64().unwrap());
                }
            }));
        }
    }
    let mut by_key = std::collections::BTreeMap::new();
    for t in tasks {
        let (i, seq) = t.await.unwrap();
        let prev = by_key.insert(i, seq);
        assert!(prev.is_none_or(|p| p == seq), "key e{i} got two sequences");
    }
    let events = app.all_events(&token, &sid).await;
    assert_gap_free(&events);
    let highlights = events.iter().filter(|e| e["type"] == "highlight.marked").count();
    assert_eq!(highlights, 20, "each event exactly once");
}

/// 50 concurrent writers on one session: sequences 1..N, no gap, no duplicate.
async fn fifty_writers(db: Db) {
    let app = std::sync::Arc::new(TestApp::spawn(db).await);
    let s = app.school("Fifty").await;
    app.live(&s).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = app.clone();
        let token = if i % 2 == 0 { s.teacher.token.clone() } else { s.assistant.token.clone() };
        let sid = s.session.clone();
        tasks.push(tokio::spawn(async move {
            let a = app
                .post(
                    &format!("/api/sessions/{sid}/events:batch"),
                    &token,
                    json!({"events": [{"idempotencyKey": format!("w{i}"), "type": "highlight.marked", "payload": {"label": "x"}}]}),
                )
                .await;
            assert_eq!(a.status, 200, "{:?}", a.body);
            a.body["results"][0]["sequence"].as_u64().unwrap()
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (4..=53).collect::<Vec<_>>());
    let events = app.all_events(&s.teacher.token, &s.session).await;
    assert_eq!(events.len(), 53);
    assert_gap_free(&events);
}

on_both!(key_cases, retry_storm, fifty_writers);
