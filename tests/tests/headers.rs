//! Security headers on every answer — API, problems, the app's files: a Content-Security-Policy that
//! allows no inline script and no framing, nosniff, no framing; HSTS only behind an https public URL.
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
    let tls = TestApp::spawn_with(Db::Sqlite, |c| c.public_url = Some("https://school.example".into())).await;
    let h = headers_of(&tls, "/healthz").await;
    assert_eq!(h["strict-transport-security"], "max-age=31536000; includeSubDomains");
}
