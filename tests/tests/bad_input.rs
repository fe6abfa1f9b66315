//! Bad input gets a clear problem+json 4xx and changes nothing.

use reqwest::Method;
use serde_json::json;
use studio_tests::*;

async fn raw_post(app: &TestApp, path: &str, token: &str, ct: &str, body: Vec<u8>) -> Answer {
    app.post_body(path, token, &uuid::Uuid::new_v4().to_string(), &[("content-type", ct)], body).await
}

async fn rejected_cleanly(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Bad").await;
    app.live(&s).await;
    let t = &s.teacher.token;
    let events_before = app.all_events(t, &s.session).await.len();

    let a = raw_post(&app, "/api/sessions/start", t, "application/json", b"{not json".to_vec()).await;
    assert_eq!((a.status.as_u16(), a.code()), (400, "bad_request"));
    let a = raw_post(&app, "/api/sessions/start", t, "text/plain", b"{}".to_vec()).await;
    assert_eq!((a.status.as_u16(), a.code()), (415, "unsupported_media_type"));
    let a = app.post("/api/sessions/start", t, json!({"sessionId": 42})).await;
    assert_eq!((a.status.as_u16(), a.code()), (422, "validation_failed"));
    assert!(a.body["details"]["fields"].is_object());
    let a = app.post("/api/sessions/start", t, json!({"sessionId": "not-a-uuid"})).await;
    assert_eq!((a.status.as_u16(), a.code()), (422, "validation_failed"));
    let a = app
        .post("/api/admin/roles", &s.admin.token, json!({"userId": s.student.id, "role": "king", "scope": "tenant"}))
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (422, "validation_failed"), "unknown enum value");
    let a = app.get("/api/sessions/not-a-uuid", t).await;
    assert_eq!((a.status.as_u16(), a.code()), (400, "bad_request"));
    let a = app.get(&format!("/api/sessions/{}/events?after=-1", s.session), t).await;
    assert_eq!((a.status.as_u16(), a.code()), (400, "bad_request"));
    let a = app.get(&format!("/api/sessions/{}", uuid::Uuid::new_v4()), t).await;
    assert_eq!((a.status.as_u16(), a.code()), (404, "not_found"));
    let a = app.get("/api/no/such/route", t).await;
    assert_eq!((a.status.as_u16(), a.code()), (404, "not_found"));
    let a = app.call(Method::PATCH, "/api/sessions/start", Some(t), Some(json!({})), None).await;
    assert_eq!((a.status.as_u16(), a.code()), (405, "method_not_allowed"));

    // Oversized body: 2 MiB of JSON.
    let big = format!("{{\"sessionId\":\"{}\",\"pad\":\"{}\"}}", s.session, "x".repeat(2 * 1024 * 1024));
    let a = raw_post(&app, "/api/sessions/start", t, "application/json", big.into_bytes()).await;
    assert_eq!((a.status.as_u16(), a.code()), (413, "payload_too_large"));

    // Reducer rules: a bad event in the body is a 4xx.
    let a = app.post("/api/sessions", t, json!({"lessonId": s.lesson, "scheduledStart": "2026-01-01T10:00:00Z", "scheduledEnd": "2026-01-01T09:00:00Z"})).await;
    assert_eq!((a.status.as_u16(), a.code()), (422, "validation_failed"));
    let a = app
        .post("/api/sessions", t, json!({"lessonId": s.lesson, "scheduledStart": "yesterday", "scheduledEnd": "today"}))
        .await;
    assert_eq!(a.status, 422);
    let a =
        app.post("/api/admin/users", &s.admin.token, json!({"email": "no-at-sign", "password": "long enough"})).await;
    assert_eq!((a.status.as_u16(), a.code()), (422, "validation_failed"));
    assert!(a.body["details"]["fields"]["email"].is_string());
    let a = app.post("/api/admin/users", &s.admin.token, json!({"email": "a@b.test", "password": "short"})).await;
    assert_eq!(a.status, 422);
    let a = app.post("/api/courses", &s.admin.token, json!({"title": "   "})).await;
    assert_eq!(a.status, 422);

    assert_eq!(app.all_events(t, &s.session).await.len(), events_before, "nothing was written");
    assert!(app.login("a@b.test", "short").await.status == 401, "no user was created");
    // Internal errors never leak: the error bodies above carry only problem fields.
    let a = app.get("/api/sessions/not-a-uuid", t).await;
    let keys: Vec<_> = a.body.as_object().unwrap().keys().cloned().collect();
    assert!(keys.iter().all(|k| ["type", "title", "status", "code", "message", "details"].contains(&k.as_str())));
}

async fn meta_endpoints(db: Db) {
    let app = TestApp::spawn(db).await;
    let h = app.call(Method::GET, "/healthz", None, None, None).await;
    assert_eq!(h.body["status"], "ok");
    let r = app.call(Method::GET, "/readyz", None, None, None).await;
    assert_eq!(r.body["status"], "ready");
    let o = app.call(Method::GET, "/api/openapi.json", None, None, None).await;
    assert_eq!(o.body["openapi"], "3.1.0");
    let paths = o.body["paths"].as_object().unwrap();
    for p in ["/api/auth/login", "/api/sessions/start", "/api/sessions/{id}/events:batch", "/api/admin/roles"] {
        assert!(paths.contains_key(p), "{p} missing from openapi");
    }
    assert!(o.body["paths"]["/api/admin/roles"]["delete"].is_object());
    let idem = &o.body["paths"]["/api/sessions/start"]["post"]["parameters"];
    assert!(idem.as_array().unwrap().iter().any(|p| p["name"] == "Idempotency-Key"));
}

/// Text answers are gzipped for clients that ask (the replay of a class is mostly repeated JSON keys);
/// media is sent as it is, with byte ranges intact.
async fn answers_are_compressed_when_asked(db: Db) {
    use std::io::Read;
    let app = TestApp::spawn(db).await;
    let s = app.school("Gzip").await;
    app.live(&s).await;
    let t = &s.teacher.token;
    for i in 0..40 {
        let chat = json!({"sessionId": s.session, "content": format!("message number {i} about velocity")});
        assert_eq!(app.post("/api/chat", t, chat).await.status, 201);
    }
    let rec = app.post_recording(t, &s.session, "gz-rec", wav(1.0)).await;
    assert_eq!(rec.status, 201);
    let path = format!("/api/replays/{}", s.session);
    let plain = app.get(&path, t).await;
    let resp =
        app.http.get(format!("{}{path}", app.base)).bearer_auth(t).header("accept-encoding", "gzip").send().await;
    let resp = resp.unwrap();
    assert_eq!(resp.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    let wire = resp.bytes().await.unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&wire[..]).read_to_end(&mut json).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(body["state"], plain.body["state"], "the same answer, compressed");
    assert!(wire.len() * 3 < plain.raw.len(), "gzip: {} → {} bytes", plain.raw.len(), wire.len());
    // The recording itself: not compressed, and a range still answers 206 with those bytes.
    let url = plain.body["recordings"][0]["url"].as_str().unwrap();
    let media = app
        .http
        .get(if url.starts_with("http") { url.to_string() } else { format!("{}{url}", app.base) })
        .header("accept-encoding", "gzip")
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 206);
    assert!(media.headers().get("content-encoding").is_none());
    assert_eq!(media.bytes().await.unwrap().len(), 100);
}

on_both!(rejected_cleanly, meta_endpoints, answers_are_compressed_when_asked);

/// Every metric the alert rules use is exported, so no alert watches a name that does not exist.
#[tokio::test]
async fn alert_rules_use_exported_metrics() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let metrics = app.call(Method::GET, "/metrics", None, None, None).await;
    let text = String::from_utf8_lossy(&metrics.raw).to_string();
    let rules =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/alerts.yml")).unwrap();
    let mut checked = 0;
    for line in rules.lines().filter(|l| l.trim_start().starts_with("expr:")) {
        for name in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("studio_"))
        {
            // A sample, or the TYPE line of a labelled family with no sample yet (no LiveKit error so far).
            let base = name.trim_end_matches("_bucket");
            let exported = text.lines().any(|l| l.starts_with(name) || l.starts_with(&format!("# TYPE {base} ")));
            assert!(exported, "alert uses {name}, which /metrics does not export");
            checked += 1;
        }
    }
    assert!(checked >= 6);
    let runbooks =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/runbooks.md")).unwrap();
    // GitHub-style anchors of the runbook headings.
    let anchors: Vec<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| {
            h.to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
                .collect::<String>()
                .replace(' ', "-")
        })
        .collect();
    for anchor in rules.lines().filter_map(|l| l.split("runbooks.md#").nth(1)).map(|a| a.split('"').next().unwrap()) {
        assert!(anchors.iter().any(|a| a == anchor), "no runbook section for #{anchor} (have {anchors:?})");
    }
}
