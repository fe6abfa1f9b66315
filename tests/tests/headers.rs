//! Security headers on every answer — API, problems, the app's files: a Content-Security-Policy that
//! allows no inline script and no framing, nosniff, no framing; HSTS only behind an https public URL;
//! a request id on every answer.
//! (The browser tests assert that this policy blocks nothing the app, the replay or livekit-client need.)

use studio_tests::*;

async fn headers_of(app: &TestApp, path: &str) -> reqwest::header::HeaderMap {
    app.http.get(format!("{}{path}", app.base)).send().await.expect("request").headers().clone()
}

#[tokio::test]
async fn every_answer_carries_security_headers() {
    let app = TestApp::spawn(Db::Sqlite).await;
    for path in ["/", "/healthz", "/api/auth/me", "/api/openapi.json", "/api/no-such-route"] {
        let h = headers_of(&app, path).await;
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains(" 'unsafe-eval'") && !csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        assert!(h.get("strict-transport-security").is_none(), "no HSTS over plain http");
    }
    // A request id on every answer: the client's own, else a fresh one.
    let h = headers_of(&app, "/healthz").await;
    let id = h["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "a fresh UUID: {id}");
    let mine =
        app.http.get(format!("{}/healthz", app.base)).header("x-request-id", "school-ticket-42").send().await.unwrap();
    assert_eq!(mine.headers()["x-request-id"], "school-ticket-42");
    let tls = TestApp::spawn_with(Db::Sqlite, |c| c.public_url = Some("https://school.example".into())).await;
    let h = headers_of(&tls, "/healthz").await;
    assert_eq!(h["strict-transport-security"], "max-age=31536000; includeSubDomains");
}

/// `WEB_ORIGINS` lets a configured origin call the API with credentials; any other origin gets no
/// CORS grant (and without the setting, none at all).
#[tokio::test]
async fn cors_only_for_configured_origins() {
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.web_origins = vec!["https://studio.school.example".into()]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/api/chat", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,idempotency-key")
            .send()
    };
    let ok = preflight("https://studio.school.example").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://studio.school.example");
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let allowed = ok.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let plain = TestApp::spawn(Db::Sqlite).await;
    let r = plain
        .http
        .get(format!("{}/healthz", plain.base))
        .header("origin", "https://studio.school.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none(), "no origins configured: no CORS");
}
