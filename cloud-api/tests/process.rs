//! The real `cloud-api` binary in its own process: what only a process shows — its memory under a
//! login storm, a SIGKILL in the middle of writes, and refusing to start on bad configuration.

use cloud_api::spawned::Spawned;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_cloud-api"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("studio-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A fresh PostgreSQL database on the throwaway cluster of `scripts/test.sh`.
async fn fresh_postgres() -> String {
    use sqlx::{Connection, Executor};
    let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL (run through scripts/test.sh)");
    sqlx::any::install_default_drivers();
    let name = format!("p_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::AnyConnection::connect(&admin).await.unwrap();
    c.execute(format!("create database {name}").as_str()).await.unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// 100 logins at once (known and unknown emails), twice: the server answers every one and its
/// peak memory grows by less than 200 MB. Before hashing was bounded, 60 logins took 1.1 GB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_storm_keeps_memory_bounded() {
    let dir = temp_dir("storm");
    let server = Spawned::start(exe(), &dir, &[("LOGIN_IP_LIMIT_PER_MIN", "100000")]).unwrap();
    let http = reqwest::Client::builder().pool_max_idle_per_host(200).build().unwrap();
    // Warm: one login of each kind, so the baseline includes what every login needs once.
    server.login(&http, "student@demo.school").await.unwrap();
    let baseline = server.rss_mb();
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for wave in 0..2 {
        let mut tasks = Vec::new();
        for i in 0..100 {
            let (http, base) = (http.clone(), server.base.clone());
            tasks.push(tokio::spawn(async move {
                let (email, password) = match i % 4 {
                    0 => ("student@demo.school".to_string(), "demo-password"),
                    1 => ("teacher@demo.school".to_string(), "wrong-password"),
                    _ => (format!("nobody-{wave}-{i}@demo.school"), "demo-password"),
                };
                let r = http
                    .post(format!("{base}/api/auth/login"))
                    .json(&json!({"email": email, "password": password}))
                    .send()
                    .await
                    .expect("every login is answered");
                if r.status() == 503 || r.status() == 429 {
                    assert!(r.headers().get("retry-after").is_some(), "shed answers say when to come back");
                }
                r.status().as_u16()
            }));
        }
        for t in tasks {
            *codes.entry(t.await.unwrap()).or_default() += 1;
        }
    }
    let peak = server.peak_rss_mb();
    println!("login storm: baseline {baseline:.1} MB, peak {peak:.1} MB, answers {codes:?}");
    assert!(peak - baseline < 200.0, "peak RSS grew by {:.1} MB (baseline {baseline:.1})", peak - baseline);
    assert!(codes.keys().all(|c| [200, 401, 429, 503].contains(c)), "{codes:?}");
    assert!(codes.get(&200).copied().unwrap_or(0) >= 1, "known users still log in: {codes:?}");
}

/// 20 writers, SIGKILL mid-flight, restart, every unanswered request re-sent at once with its key:
/// each is answered 201 on its first try within 10 s (before: `409 idempotency_key_in_flight` for
/// five minutes), and every message is in the log exactly once.
async fn crash_and_retry(database_url: Option<String>) {
    let dir = temp_dir("crash");
    let mut env: Vec<(&str, &str)> = vec![("LOGIN_IP_LIMIT_PER_MIN", "100000")];
    if let Some(u) = &database_url {
        env.push(("DATABASE_URL", u));
    }
    let mut server = Spawned::start(exe(), &dir, &env).unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let token = server.login(&http, "teacher@demo.school").await.unwrap();
    let session = server.demo_session(&http, &token).await.unwrap();
    let client = http.clone();
    let post = move |base: String, token: String, key: String, body: Value, path: &'static str| {
        let http = client.clone();
        async move {
            http.post(format!("{base}{path}"))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    let started =
        post(server.base.clone(), token.clone(), "start".into(), json!({"sessionId": session}), "/api/sessions/start")
            .await;
    assert_eq!(started.unwrap(), 200);

    // 20 writers, each posting one message after another until the process dies.
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, u16)>::new()));
    let unanswered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..20 {
        let (base, token, session) = (server.base.clone(), token.clone(), session.clone());
        let (answered, unanswered, post) = (answered.clone(), unanswered.clone(), post.clone());
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let key = format!("w{w}-{n}");
                let body = json!({"sessionId": session, "content": key});
                match post(base.clone(), token.clone(), key.clone(), body, "/api/chat").await {
                    Ok(code) => answered.lock().unwrap().push((key, code)),
                    Err(_) => {
                        unanswered.lock().unwrap().push(key);
                        return;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    for w in writers {
        w.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    let unanswered = unanswered.lock().unwrap().clone();
    assert!(answered.iter().all(|(_, c)| *c == 201), "before the crash every write succeeded");
    assert_eq!(unanswered.len(), 20, "each writer had one request in flight at the kill");

    let server = Spawned::start(exe(), &dir, &env).unwrap();
    let t0 = Instant::now();
    let resent: Vec<_> = unanswered
        .iter()
        .map(|key| {
            let body = json!({"sessionId": session, "content": key});
            tokio::spawn(post(server.base.clone(), token.clone(), key.clone(), body, "/api/chat"))
        })
        .collect();
    let mut deadline_codes = Vec::new();
    for r in resent {
        deadline_codes.push(r.await.unwrap().expect("answered after the restart"));
    }
    let took = t0.elapsed();
    println!("retried {} unanswered writes in {took:?}: {deadline_codes:?}", unanswered.len());
    assert!(deadline_codes.iter().all(|c| *c == 201), "{deadline_codes:?}");
    assert!(took < Duration::from_secs(10), "answered within 10 s, took {took:?}");

    // Every message exactly once, the log gap-free.
    let page: Value = http
        .get(format!("{}/api/sessions/{session}/events?after=0&limit=1000", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = page["events"].as_array().unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence"].as_u64(), Some(i as u64 + 1), "gap-free");
    }
    let mut contents: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "chat.posted")
        .map(|e| e["payload"]["content"].as_str().unwrap())
        .collect();
    let total = contents.len();
    contents.sort();
    contents.dedup();
    assert_eq!(contents.len(), total, "no message twice");
    let expected = answered.len() + unanswered.len();
    assert_eq!(total, expected, "every acknowledged and every retried message is there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_crash_then_retry_answers_every_write_once() {
    crash_and_retry(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash_then_retry_answers_every_write_once() {
    crash_and_retry(Some(fresh_postgres().await)).await;
}

/// Run the binary to its exit; (success, stderr).
fn run_to_exit(dir: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = std::process::Command::new(exe());
    cmd.arg("serve").env("DATA_DIR", dir).env("BIND_ADDR", "127.0.0.1:0").env_remove("DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.success(), err);
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("cloud-api kept running though its configuration is unusable");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A corrupt `secrets.key` stops start-up with an error naming it, and is left as it was.
#[test]
fn corrupt_secrets_key_stops_startup() {
    let dir = temp_dir("badkey");
    let file = dir.join("secrets.key");
    std::fs::write(&file, b"not thirty-two bytes").unwrap();
    let (ok, err) = run_to_exit(&dir, &[]);
    assert!(!ok, "must not start");
    assert!(err.contains(&file.display().to_string()), "the error names the file: {err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"not thirty-two bytes", "never overwritten");
}

/// Configuration that would make the server useless is refused: tokens dead on arrival.
#[test]
fn token_ttl_zero_is_refused() {
    let dir = temp_dir("ttl");
    let (ok, err) = run_to_exit(&dir, &[("TOKEN_TTL_HOURS", "0")]);
    assert!(!ok);
    assert!(err.contains("TOKEN_TTL_HOURS"), "{err}");
}
