//! The real `cloud-api` binary in its own process: what only a process shows — its memory under a
//! login storm, a SIGKILL in the middle of writes, and refusing to start on bad configuration.

use cloud_api::spawned::Spawned;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The binary under test: this build's, or another one named by `STUDIO_API_BIN` (to show that a
/// finding reproduces on an older build).
fn exe() -> PathBuf {
    std::env::var_os("STUDIO_API_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cloud-api")))
}

fn temp_dir(tag: &str) -> cloud_api::spawned::Scratch {
    cloud_api::spawned::Scratch::new(&format!("studio-{tag}"))
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
    let server = Spawned::start(&exe(), &dir, &[("LOGIN_IP_LIMIT_PER_MIN", "100000")]).unwrap();
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
    let mut server = Spawned::start(&exe(), &dir, &env).unwrap();
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
    // Kill it mid-stream: once every writer has had a few writes answered.
    let t = std::time::Instant::now();
    while answered.lock().unwrap().len() < 60 {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "writes are not getting in: {:?}",
            answered.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    for w in writers {
        w.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    let unanswered = unanswered.lock().unwrap().clone();
    assert!(answered.iter().all(|(_, c)| *c == 201), "before the crash every write succeeded");
    assert_eq!(unanswered.len(), 20, "each writer had one request in flight at the kill");

    let server = Spawned::start(&exe(), &dir, &env).unwrap();
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
    let page =
        get_json(&http, format!("{}/api/sessions/{session}/events?after=0&limit=1000", server.base), &token).await;
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

/// GET `url` with the bearer token, as JSON.
async fn get_json(http: &reqwest::Client, url: String, token: &str) -> Value {
    http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
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

/// A deterministic "recording" of `len` bytes: a WAV header, then pseudo-random bytes, produced a
/// MiB at a time (so the test never holds it whole either).
struct Recording {
    len: u64,
}

impl Recording {
    fn chunk(&self, i: u64) -> Vec<u8> {
        let start = i * (1 << 20);
        let end = (start + (1 << 20)).min(self.len);
        let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ i.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let mut out: Vec<u8> = (start..end)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        if i == 0 {
            // A 16 kHz mono 16-bit PCM header for the rest of the bytes.
            let data = (self.len - 44) as u32;
            let fmt: [&[u8]; 4] =
                [&16u32.to_le_bytes(), &[1, 0, 1, 0], &16000u32.to_le_bytes(), &32000u32.to_le_bytes()];
            let size = (36 + data).to_le_bytes();
            let header: Vec<u8> =
                [&b"RIFF"[..], &size, &b"WAVEfmt "[..], &fmt.concat(), &[2, 0, 16, 0], &b"data"[..]].concat();
            out[..40].copy_from_slice(&header);
            out[40..44].copy_from_slice(&data.to_le_bytes());
        }
        out
    }

    fn chunks(&self) -> u64 {
        self.len.div_ceil(1 << 20)
    }

    fn sha256(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for i in 0..self.chunks() {
            h.update(self.chunk(i));
        }
        hex::encode(h.finalize())
    }
}

/// POST the recording as one raw body over a plain socket, chunk by chunk; the answer's JSON.
async fn post_streamed(base: &str, path: &str, token: &str, key: &str, rec: &Recording) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: {key}\r\n\
         Content-Type: audio/wav\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        rec.len
    );
    c.write_all(head.as_bytes()).await.unwrap();
    for i in 0..rec.chunks() {
        c.write_all(&rec.chunk(i)).await.unwrap();
    }
    let mut answer = Vec::new();
    c.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    if status != 201 {
        println!("answer: {}", &text[..text.len().min(600)]);
    }
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // The body may be chunk-encoded: take the JSON object inside.
    let json = body.find('{').and_then(|a| body.rfind('}').map(|b| &body[a..=b])).unwrap_or("null");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

/// sha256 of a download, streamed.
async fn download_sha256(http: &reqwest::Client, url: &str) -> (u64, String) {
    use sha2::Digest;
    let mut resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "download {url}");
    let mut h = sha2::Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    (n, hex::encode(h.finalize()))
}

/// A 500 MB recording, sent in one request and as a resumable upload of 8 MiB parts: the server's
/// peak memory grows by less than 64 MB, and the bytes read back are the bytes sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_recordings_stream_through_without_memory() {
    let dir = temp_dir("big");
    let server = Spawned::start(&exe(), &dir, &[("LOGIN_IP_LIMIT_PER_MIN", "100000")]).unwrap();
    let http = reqwest::Client::new();
    let token = server.login(&http, "teacher@demo.school").await.unwrap();
    let session = server.demo_session(&http, &token).await.unwrap();
    let start = http
        .post(format!("{}/api/sessions/start", server.base))
        .bearer_auth(&token)
        .header("idempotency-key", "start")
        .json(&json!({"sessionId": session}))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 200);
    let path = format!("/api/sessions/{session}/recordings");
    // Warm every code path once with a small recording, then take the baseline.
    let small = Recording { len: 3 << 20 };
    let (status, _) = post_streamed(&server.base, &path, &token, "warm", &small).await;
    assert_eq!(status, 201);
    let baseline = server.rss_mb();

    let big = Recording { len: 500 << 20 };
    let expected = big.sha256();
    let (status, one) = post_streamed(&server.base, &path, &token, "big-single", &big).await;
    assert_eq!(status, 201, "{one}");
    assert_eq!(one["sizeBytes"].as_u64(), Some(big.len));
    let after_single = server.peak_rss_mb();

    // Resumable: 8 MiB parts, then complete.
    let up: Value = http
        .post(format!("{}{path}/uploads", server.base))
        .bearer_auth(&token)
        .header("idempotency-key", "big-resumable")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = up["uploadId"].as_str().unwrap().to_string();
    let part_mib = (up["maxPartBytes"].as_u64().unwrap() >> 20).max(1);
    let mut n = 0;
    for first in (0..big.chunks()).step_by(part_mib as usize) {
        n += 1;
        let mut part = Vec::with_capacity((part_mib << 20) as usize);
        for i in first..(first + part_mib).min(big.chunks()) {
            part.extend(big.chunk(i));
        }
        let r = http
            .put(format!("{}{path}/uploads/{upload}/parts/{n}", server.base))
            .bearer_auth(&token)
            .header("idempotency-key", format!("part-{n}"))
            .body(part)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "part {n}: {}", r.status());
    }
    let done = http
        .post(format!("{}{path}/uploads/{upload}/complete", server.base))
        .bearer_auth(&token)
        .header("idempotency-key", "big-complete")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201);
    let peak = server.peak_rss_mb();
    println!(
        "500 MB recordings: baseline {baseline:.1} MB, peak after the single upload {after_single:.1} MB, \
         after the resumable one {peak:.1} MB ({n} parts)"
    );
    assert!(after_single - baseline < 64.0, "single upload grew RSS by {:.1} MB", after_single - baseline);
    assert!(peak - baseline < 64.0, "resumable upload grew RSS by {:.1} MB", peak - baseline);

    // Read both back through the replay's signed URLs.
    let replay = get_json(&http, format!("{}/api/replays/{session}", server.base), &token).await;
    let urls: Vec<String> = replay["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["durationS"].is_null() || r["url"].is_string())
        .map(|r| r["url"].as_str().unwrap().to_string())
        .collect();
    let mut big_ones = 0;
    for url in urls {
        let full = if url.starts_with('/') { format!("{}{url}", server.base) } else { url };
        let (len, sum) = download_sha256(&http, &full).await;
        if len == big.len {
            assert_eq!(sum, expected, "the bytes read back are the bytes sent");
            big_ones += 1;
        }
    }
    assert_eq!(big_ones, 2, "both 500 MB recordings are there");
    assert!(server.peak_rss_mb() - baseline < 64.0, "downloads stream too");
    std::fs::remove_dir_all(&dir).ok();
}
