//! `/metrics` answers the questions the runbooks ask: histograms for session start, event append,
//! fan-out lag (record → socket send) and HTTP latency by route; counters for job failures by kind,
//! webhook signature failures and LiveKit call errors. The text passes `promtool check metrics`.

use serde_json::json;
use std::time::Duration;
use studio_tests::*;

async fn scrape(app: &TestApp) -> String {
    app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap()
}

/// The value of the sample `series` (name with labels, exactly as rendered).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.parse().ok()))
        .unwrap_or_else(|| panic!("{series} is not in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_measure_what_the_runbooks_ask() {
    // LiveKit configured but down (nothing listens on port 9): the class starts without media.
    let cfg = cloud_api::livekit::LiveKitConfig {
        url: "ws://127.0.0.1:9".into(),
        api_key: "devkey".into(),
        api_secret: "a-secret-of-at-least-thirty-two-chars".into(),
        previous: None,
    };
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.livekit = Some(cfg)).await;
    let s = app.school("Metrics").await;
    let before = scrape(&app).await;
    assert_eq!(sample(&before, "studio_session_start_seconds_count"), 0.0);

    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
    assert_eq!(start.status, 200, "{:?}", start.body);
    assert!(start.body["livekitError"].is_object(), "LiveKit is down: {:?}", start.body);
    let mut sock = app.live_socket(&s.student.token, &s.session, 0).await.unwrap();
    sock.events(1).await;
    for i in 0..3 {
        let c = app
            .post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": format!("hi {i}")}))
            .await;
        assert_eq!(c.status, 201, "{:?}", c.body);
    }
    assert_eq!(sock.events(3).await.len(), 3);
    // A webhook signed with the wrong secret; a path that is no route.
    let bad = app
        .http
        .post(format!("{}/api/webhooks/livekit", app.base))
        .header("authorization", "not-a-jwt")
        .header("content-type", "application/webhook+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(app.get("/api/no/such/route", &s.admin.token).await.status, 404);
    // A pipeline job that fails once.
    let sid: shared_types::SessionId = s.session.parse().unwrap();
    let payload = json!({});
    let job = cloud_api::store::NewJob {
        kind: shared_types::jobs::JobKind::ProcessRecording,
        payload: &payload,
        dedupe_key: Some("metrics"),
    };
    app.store.enqueue(s.tenant, sid, job).await.unwrap();
    let claimed = app.store.claim_job("w1", Duration::from_secs(30)).await.unwrap().expect("a job");
    app.store.fail_job(claimed.id, "w1", "boom", Duration::from_millis(1)).await.unwrap();

    // The live socket's sends are observed after they happen: wait until the three chats are counted.
    let t = std::time::Instant::now();
    let text = loop {
        let text = scrape(&app).await;
        if sample(&text, "studio_fanout_lag_seconds_count") >= 3.0 || t.elapsed() > Duration::from_secs(10) {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sample(&text, "studio_session_start_seconds_count"), 1.0);
    assert!(sample(&text, "studio_session_start_seconds_sum") > 0.0);
    // session.started and three chats.
    assert!(sample(&text, "studio_event_append_seconds_count") >= 4.0, "{text}");
    assert!(sample(&text, "studio_fanout_lag_seconds_count") >= 3.0, "three chats reached the socket");
    assert_eq!(
        sample(&text, "studio_fanout_lag_seconds_bucket{le=\"+Inf\"}"),
        sample(&text, "studio_fanout_lag_seconds_count")
    );
    assert_eq!(sample(&text, "studio_http_request_duration_seconds_count{method=\"POST\",route=\"/api/chat\"}"), 3.0);
    assert!(
        sample(&text, "studio_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/chat\",le=\"30\"}")
            <= 3.0
    );
    assert!(sample(&text, "studio_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\"}") >= 1.0);
    assert_eq!(sample(&text, "studio_webhook_signature_failures_total"), 1.0);
    assert!(sample(&text, "studio_livekit_errors_total{call=\"create_room\"}") >= 1.0, "{text}");
    assert_eq!(sample(&text, "studio_job_failures_total{kind=\"process_recording\"}"), 1.0);

    // Every metric the Grafana dashboard queries is one this server exposes (the alert rules':
    // bad_input.rs `alert_rules_use_exported_metrics`).
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/grafana/studio.json");
    let json = std::fs::read_to_string(&file).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&json).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10, "the dashboard has its panels");
    let mut names: Vec<String> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_string()))
        .flat_map(|e| {
            e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("studio_"))
                .map(|w| w.trim_end_matches("_bucket").trim_end_matches("_count").trim_end_matches("_sum").to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 10, "the dashboard queries {names:?}");
    for n in names {
        let exposed = text.lines().any(|l| l.starts_with(&format!("# TYPE {n} ")));
        assert!(exposed, "the dashboard queries {n}, which /metrics does not have");
    }

    // The exposition format is valid, as Prometheus's own linter reads it.
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(text.as_bytes())?;
            c.wait_with_output()
        })
        .expect("promtool (Debian package prometheus; scripts/install-deps.sh installs it)");
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    // Its lint is strict too (counters end in _total, units in the name, HELP on every metric).
    assert!(out.status.success(), "promtool check metrics: {said}");
}
