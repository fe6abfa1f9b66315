//! Drills (docs/runbooks.md names each): PostgreSQL restarted under load. Writers keep posting while
//! the database goes away and comes back; clients retry with the same Idempotency-Key, as the app does.
//! While it is down the API answers at once (problem+json, `/readyz` 503), never hangs; afterwards every
//! write is in the log exactly once, in one gap-free sequence. (LiveKit stopped mid-class, badly signed
//! webhooks and a worker killed mid-job are drilled in livekit.rs and artifact-worker's pipeline.rs.)

use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use studio_tests::*;

fn cluster(cmd: &str, dir: &std::path::Path, port: u16) -> String {
    let (ok, out) = try_cluster(cmd, dir, port);
    assert!(ok, "{cmd}: {out}");
    out
}

/// Run the cluster script: whether it succeeded, and its URL (or what it said on failure).
fn try_cluster(cmd: &str, dir: &std::path::Path, port: u16) -> (bool, String) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-test-cluster.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .args([cmd, &port.to_string()])
        .env("PG_TEST_DIR", dir)
        // Down longer than the pool waits for a connection (10 s): a write that comes meanwhile is
        // answered with an error for sure, not only one caught mid-statement by the crash.
        .env("PG_DOWN_SECS", "11")
        // A commit acknowledged is a commit kept, as on a production server (the test clusters
        // otherwise skip it for speed, and an immediate stop then drops the last commits).
        .env("PG_SYNCHRONOUS_COMMIT", "on")
        .output()
        .expect("pg-test-cluster.sh");
    if out.status.success() {
        (true, String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        (false, String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_loses_and_repeats_nothing() {
    // A cluster of this test's own: the shared one serves other tests meanwhile.
    let dir = cloud_api::spawned::Scratch::new("studio-pg-drill");
    // Its port is free when chosen; if something takes it before PostgreSQL binds it, another one.
    let (mut port, mut url) = (0, String::new());
    for attempt in 1..=3 {
        port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (ok, said) = try_cluster("start", &dir, port);
        if ok {
            url = said;
            break;
        }
        assert!(attempt < 3, "PostgreSQL did not start on three ports: {said}");
    }
    let app = Arc::new(TestApp::spawn_on(Db::Postgres, url).await);
    let s = Arc::new(app.school("Drill").await);
    app.live(&s).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (failed_answers, slow_answers) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let ok_answers = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (app, s, stop, failed, slow, ok) =
            (app.clone(), s.clone(), stop.clone(), failed_answers.clone(), slow_answers.clone(), ok_answers.clone());
        writers.push(tokio::spawn(async move {
            let mut written = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let key = format!("drill-{w}-{n}");
                let body = json!({"sessionId": s.session, "content": format!("message {w}/{n}")});
                // Retry with the same key until it is in (as the app does), for at most a minute.
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let t = Instant::now();
                    let a = app.post_key("/api/chat", &s.student.token, body.clone(), &key).await;
                    if t.elapsed() > Duration::from_secs(15) {
                        slow.fetch_add(1, Ordering::Relaxed);
                    }
                    if a.status == 201 {
                        ok.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    assert!(a.status.is_server_error() || a.status == 409, "{key}: {} {:?}", a.status, a.body);
                    a.code(); // problem+json even while the database is away
                    failed.fetch_add(1, Ordering::Relaxed);
                    assert!(Instant::now() < deadline, "{key} never got in");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                written.push(key);
            }
            written
        }));
    }
    // Writes are flowing (every writer has had some in) before the database goes away.
    let wait_for = |n: usize, what: &'static str| {
        let ok = ok_answers.clone();
        async move {
            let t = Instant::now();
            while ok.load(Ordering::Relaxed) < n {
                assert!(t.elapsed() < Duration::from_secs(60), "{what}: {} writes in 60 s", ok.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_for(300, "before the restart").await;
    // Down for eleven seconds, as a crash and a restart; /readyz says so meanwhile.
    let restart = {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || cluster("restart", &dir, port))
    };
    let mut saw_not_ready = false;
    let t = Instant::now();
    while !restart.is_finished() && t.elapsed() < Duration::from_secs(30) {
        let r = app.http.get(format!("{}/readyz", app.base)).send().await;
        if r.is_ok_and(|r| r.status() == 503) {
            saw_not_ready = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    restart.await.unwrap();
    // And flowing again after it: twenty more writes in.
    wait_for(ok_answers.load(Ordering::Relaxed) + 20, "after the restart").await;
    stop.store(true, Ordering::Relaxed);
    let mut keys = Vec::new();
    for w in writers {
        keys.extend(w.await.unwrap());
    }
    assert!(saw_not_ready, "/readyz answered 503 while PostgreSQL was down");
    assert!(failed_answers.load(Ordering::Relaxed) > 0, "some writes met the outage (else the drill drilled nothing)");
    assert_eq!(slow_answers.load(Ordering::Relaxed), 0, "no answer waited over 15 s");

    // Every write that was answered 201 is there once; nothing else is.
    let events = app.all_events(&s.teacher.token, &s.session).await;
    let seqs: Vec<u64> = events.iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "one gap-free sequence");
    let chats: Vec<&str> =
        events.iter().filter(|e| e["type"] == "chat.posted").map(|e| e["idempotencyKey"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = chats.iter().copied().collect();
    assert_eq!(unique.len(), chats.len(), "no chat twice");
    assert_eq!(chats.len(), keys.len(), "every acknowledged write once ({} written)", keys.len());
    for k in &keys {
        assert!(chats.iter().any(|c| c.ends_with(k.as_str())), "{k} is in the log");
    }
    assert!(keys.len() >= 20, "the writers kept writing after the restart: {}", keys.len());
    drop(app);
    cluster("stop", &dir, port);
}
