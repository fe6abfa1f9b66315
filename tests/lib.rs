//! Test harness: a real cloud-api router on 127.0.0.1:0 over a fresh SQLite file or a fresh
//! PostgreSQL database, plus helpers to make users and call the API like a client does.

use cloud_api::app::App;
use cloud_api::config::Config;
use cloud_api::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared_types::{CourseId, Role, RoleGrant, Scope, TenantId, UserId};
use sqlx::Executor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub const BOTH: [Db; 2] = [Db::Sqlite, Db::Postgres];

/// A fresh, empty database URL for one test.
pub async fn fresh_db(db: Db) -> String {
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join(format!("studio-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}?mode=rwc", dir.join("t.db").display())
        }
        Db::Postgres => {
            let admin = std::env::var("TEST_DATABASE_URL").expect(
                "TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
            );
            sqlx::any::install_default_drivers();
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.expect("connect to postgres");
            conn.execute(format!("create database {name}").as_str()).await.expect("create database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).expect("url with a database");
            format!("{base}/{name}")
        }
    }
}

pub async fn fresh_store(db: Db) -> Store {
    Store::connect(&fresh_db(db).await).await.expect("store")
}

pub fn test_config(database_url: String) -> Config {
    Config {
        bind_addr: "127.0.0.1:0".parse().expect("addr"),
        database_url,
        data_dir: std::env::temp_dir(),
        bootstrap_admin: None,
        login_ip_limit_per_min: 10_000,
        login_account_limit: 10,
        token_ttl_hours: 1,
        idempotency_keep_hours: 24,
        student_web_dir: None,
        s3: None,
        max_upload_bytes: 20 * 1024 * 1024,
        max_recording_bytes: 1024 * 1024 * 1024,
        upload_keep_days: 7,
        livekit: None,
        livekit_record: false,
        secrets_key: None,
        media_dir: None,
        password_hash_concurrency: 4,
        password_hash_queue_secs: 10,
        live_channel_capacity: cloud_api::fanout::CHANNEL_CAPACITY,
        header_read_timeout_secs: 10,
        body_idle_timeout_secs: 20,
        max_connections: 12_000,
        public_url: None,
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub store: Arc<Store>,
    pub http: reqwest::Client,
    pub db: Db,
    pub store_url: String,
    /// The node's DATA_DIR (its local blobs live in `blobs/` under it).
    pub data_dir: PathBuf,
    /// The running app's state (for background tasks a test drives by hand).
    pub state: cloud_api::app::AppState,
}

pub struct TestUser {
    pub id: UserId,
    pub email: String,
    pub token: String,
}

/// A caller's answer, body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Answer {
    /// The problem+json `code`, asserting the content type.
    pub fn code(&self) -> &str {
        let ct = self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(ct, "application/problem+json", "error answers are problem+json: {:?}", self.body);
        assert_eq!(self.body["status"].as_u64(), Some(self.status.as_u16() as u64));
        for f in ["type", "title", "message"] {
            assert!(self.body[f].is_string(), "problem field {f} missing in {:?}", self.body);
        }
        self.body["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn spawn(db: Db) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let url = fresh_db(db).await;
        Self::node(db, url, tweak, None).await
    }

    /// Another cloud-api node on this one's database and blobs (multi-node tests).
    pub async fn second_node(&self) -> TestApp {
        let dir = self.data_dir.clone();
        Self::node(self.db, self.store_url.clone(), move |c| c.data_dir = dir, None).await
    }

    /// A node whose live channels hold only `capacity` events, so sockets lag quickly.
    pub async fn spawn_small_channels(db: Db, capacity: usize) -> TestApp {
        let url = fresh_db(db).await;
        Self::node(db, url, |_| {}, Some(capacity)).await
    }

    async fn node(db: Db, url: String, tweak: impl FnOnce(&mut Config), capacity: Option<usize>) -> TestApp {
        let mut config = test_config(url.clone());
        if let Some(c) = capacity {
            config.live_channel_capacity = c;
        }
        tweak(&mut config);
        if config.data_dir == std::env::temp_dir() {
            config.data_dir = std::env::temp_dir().join(format!("studio-test-{}", uuid::Uuid::new_v4()));
        }
        let data_dir = config.data_dir.clone();
        // The same start-up path as `main`.
        let app = App::build(config).await.expect("build the app");
        let addr = app.addr;
        let store = app.state.store.clone();
        let state = app.state.clone();
        tokio::spawn(app.run_until(std::future::pending()));
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client");
        let t = TestApp { addr, base: format!("http://{addr}"), store, http, db, store_url: url, data_dir, state };
        // Ready when /readyz says so (no sleeping).
        for _ in 0..200 {
            if t.http.get(format!("{}/readyz", t.base)).send().await.is_ok_and(|r| r.status().is_success()) {
                return t;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("app did not become ready");
    }

    /// Send a request; writes get a fresh Idempotency-Key unless `key` is given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Answer {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if method != Method::GET {
            let k = key.map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.bytes().await.expect("body").to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Answer { status, headers, body, raw }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body), None).await
    }

    /// POST a raw body with extra headers (a fresh client: the server may close a connection whose
    /// body it refused unread).
    pub async fn post_body(
        &self,
        path: &str,
        token: &str,
        key: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let mut req = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.bytes().await.expect("body").to_vec();
        Answer { status, headers, body: serde_json::from_slice(&raw).unwrap_or(Value::Null), raw }
    }

    pub async fn post_key(&self, path: &str, token: &str, body: Value, key: &str) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body), Some(key)).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.call(Method::POST, "/api/auth/login", None, Some(json!({ "email": email, "password": password })), None)
            .await
    }

    /// A user made directly in the store, with grants, logged in over HTTP.
    pub async fn user(&self, tenant: TenantId, email: &str, grants: &[(Role, Scope, uuid::Uuid)]) -> TestUser {
        let hash = cloud_api::auth::hash_password(PASSWORD).expect("hash");
        let u = self.store.create_user(tenant, email, None, &hash, false).await.expect("user");
        for (role, scope, id) in grants {
            self.store
                .grant(tenant, u.id, RoleGrant { role: *role, scope: *scope, scope_id: Some(*id) })
                .await
                .expect("grant");
        }
        let a = self.login(email, PASSWORD).await;
        assert_eq!(a.status, 200, "login failed: {:?}", a.body);
        TestUser { id: u.id, email: email.to_string(), token: a.body["token"].as_str().expect("token").to_string() }
    }
}

/// A school: tenant, course, lesson, a scheduled session, and one user per role.
pub struct School {
    pub tenant: TenantId,
    pub course: CourseId,
    pub lesson: String,
    pub session: String,
    pub admin: TestUser,
    pub teacher: TestUser,
    pub assistant: TestUser,
    pub student: TestUser,
    /// A student of the same tenant with no grant on this course.
    pub outsider: TestUser,
}

impl TestApp {
    pub async fn school(&self, name: &str) -> School {
        let tenant = self.store.create_tenant(name).await.expect("tenant").id;
        let course = self.store.create_course(tenant, "Course").await.expect("course").id;
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let admin = self.user(tenant, &format!("admin-{tag}@x.test"), &[(Role::Admin, Scope::Tenant, tenant.0)]).await;
        let teacher =
            self.user(tenant, &format!("teacher-{tag}@x.test"), &[(Role::Teacher, Scope::Course, course.0)]).await;
        let assistant =
            self.user(tenant, &format!("assistant-{tag}@x.test"), &[(Role::Assistant, Scope::Course, course.0)]).await;
        let student =
            self.user(tenant, &format!("student-{tag}@x.test"), &[(Role::Student, Scope::Course, course.0)]).await;
        let other_course = self.store.create_course(tenant, "Other").await.expect("course").id;
        let outsider = self
            .user(tenant, &format!("outsider-{tag}@x.test"), &[(Role::Student, Scope::Course, other_course.0)])
            .await;
        let lesson = self
            .post(&format!("/api/courses/{course}/lessons"), &teacher.token, json!({"title": "L1", "order": 1}))
            .await;
        assert_eq!(lesson.status, 201, "{:?}", lesson.body);
        let lesson = lesson.body["id"].as_str().expect("lesson id").to_string();
        let session = self.schedule(&teacher.token, &lesson).await;
        School { tenant, course, lesson, session, admin, teacher, assistant, student, outsider }
    }

    pub async fn schedule(&self, token: &str, lesson: &str) -> String {
        let start = chrono::Utc::now();
        let s = self
            .post(
                "/api/sessions",
                token,
                json!({"lessonId": lesson, "scheduledStart": start, "scheduledEnd": start + chrono::Duration::hours(1)}),
            )
            .await;
        assert_eq!(s.status, 201, "{:?}", s.body);
        s.body["id"].as_str().expect("session id").to_string()
    }

    /// Start (teacher) and join (student) in one go.
    pub async fn live(&self, school: &School) {
        let a = self.post("/api/sessions/start", &school.teacher.token, json!({"sessionId": school.session})).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        let a = self.post("/api/sessions/join", &school.student.token, json!({"sessionId": school.session})).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
    }

    /// All events of a session, read page by page.
    pub async fn all_events(&self, token: &str, session: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let a = self.get(&format!("/api/sessions/{session}/events?after={after}&limit=1000"), token).await;
            assert_eq!(a.status, 200, "{:?}", a.body);
            let page = a.body["events"].as_array().expect("events").clone();
            if page.is_empty() {
                return out;
            }
            after = page.last().expect("last")["sequence"].as_u64().expect("seq");
            out.extend(page);
        }
    }
}

/// Assert `events` carry sequences exactly 1..=n.
pub fn assert_gap_free(events: &[Value]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence"].as_u64(), Some(i as u64 + 1), "gap or duplicate at index {i}");
    }
}

/// Run each listed `async fn name(db: Db)` of the calling file once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::Db::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name($crate::Db::Postgres).await } )*
        }
    };
}

/// A live-socket client, as a browser would hold one.
pub struct Live {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl TestApp {
    /// Open `/api/sessions/{session}/live?after=…`; Err is the HTTP status of a refused upgrade.
    pub async fn live_socket(&self, token: &str, session: &str, after: u64) -> Result<Live, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("ws://{}/api/sessions/{session}/live?after={after}", self.addr);
        let mut req = url.into_client_request().expect("ws request");
        req.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("header"));
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(Live { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("websocket: {e}"),
        }
    }
}

impl Live {
    /// The next server message (skipping pings), or `None` after `secs` of silence.
    pub async fn next_within(&mut self, secs: u64) -> Option<Value> {
        use futures::StreamExt;
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(secs), self.ws.next()).await.ok()??.ok()?;
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).expect("json message");
                if v["kind"] != "ping" {
                    return Some(v);
                }
            }
        }
    }

    /// Read events until `n` have arrived (skipping `ready`), failing after 10 s of silence.
    pub async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < n {
            let v = self.next_within(10).await.unwrap_or_else(|| panic!("only {} of {n} events arrived", out.len()));
            if v["kind"] == "event" {
                out.push(v["event"].clone());
            }
        }
        out
    }

    pub async fn send(&mut self, v: Value) {
        use futures::SinkExt;
        self.ws.send(tokio_tungstenite::tungstenite::Message::Text(v.to_string().into())).await.expect("send");
    }

    /// Wait up to `secs` for the server to close the socket; its close code (1005 when none).
    pub async fn closed_within(&mut self, secs: u64) -> Option<u16> {
        use futures::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(1006),
                Ok(Some(Ok(Message::Close(frame)))) => return Some(frame.map(|f| u16::from(f.code)).unwrap_or(1005)),
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// A WAV file of `secs` seconds of a 440 Hz tone at 16 kHz.
pub fn wav(secs: f64) -> Vec<u8> {
    let n = (secs * 16000.0) as u32;
    let mut out = Vec::new();
    out.extend(b"RIFF");
    out.extend((36 + n * 2).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(16000u32.to_le_bytes());
    out.extend(32000u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend((n * 2).to_le_bytes());
    for i in 0..n {
        let v = ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / 16000.0).sin() * 8000.0) as i16;
        out.extend(v.to_le_bytes());
    }
    out
}

/// A small valid PDF with `pages` pages, each saying "Slide N" in Helvetica (for deck uploads).
pub fn pdf(pages: usize) -> Vec<u8> {
    let mut objs: Vec<String> = Vec::new();
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objs.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    objs.push(format!("<< /Type /Pages /Kids [{}] /Count {pages} >>", kids.join(" ")));
    objs.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for i in 0..pages {
        objs.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 300] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        let text = format!("BT /F1 36 Tf 60 140 Td (Slide {}) Tj ET", i + 1);
        objs.push(format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for off in offsets {
        out.extend(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objs.len() + 1).as_bytes());
    out
}

/// A throwaway SeaweedFS S3 server of this test's own (`scripts/s3-test-server.sh`), stopped on drop.
pub struct S3Server {
    pub config: cloud_api::blob::S3Config,
    dir: PathBuf,
}

impl S3Server {
    pub fn start() -> S3Server {
        let (vars, dir) = start_script("s3-test-server.sh", "S3_TEST_DIR");
        S3Server {
            config: cloud_api::blob::S3Config {
                endpoint: vars["S3_ENDPOINT"].clone(),
                bucket: vars["S3_BUCKET"].clone(),
                access_key: vars["S3_ACCESS_KEY"].clone(),
                secret_key: vars["S3_SECRET_KEY"].clone(),
                region: "us-east-1".into(),
            },
            dir,
        }
    }

    pub fn stop(&self) {
        stop_script("s3-test-server.sh", "S3_TEST_DIR", &self.dir);
    }
}

/// Run `scripts/<script> start` with its state in a fresh `<dir_env>` folder; the KEY=VALUE lines it
/// prints, and the folder (for `stop`).
fn start_script(script: &str, dir_env: &str) -> (std::collections::HashMap<String, String>, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "studio-{}-{}",
        script.trim_end_matches(".sh"),
        uuid::Uuid::new_v4().simple()
    ));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(script);
    let out =
        std::process::Command::new("bash").arg(&path).arg("start").env(dir_env, &dir).output().expect("run the script");
    assert!(out.status.success(), "{script} start failed: {}", String::from_utf8_lossy(&out.stderr));
    let vars: std::collections::HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    (vars, dir)
}

fn stop_script(script: &str, dir_env: &str, dir: &std::path::Path) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(script);
    let _ = std::process::Command::new("bash").arg(&path).arg("stop").env(dir_env, dir).status();
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl TestApp {
    /// Upload a file to `/api/studio/assets` as multipart.
    pub async fn upload(&self, token: &str, fields: &[(&str, &str)], file: Vec<u8>, name: &str) -> Answer {
        let mut form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(file).file_name(name.to_string()));
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let resp = self
            .http
            .post(format!("{}/api/studio/assets", self.base))
            .bearer_auth(token)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .multipart(form)
            .send()
            .await
            .expect("upload");
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.bytes().await.expect("body").to_vec();
        Answer { status, headers, body: serde_json::from_slice(&raw).unwrap_or(Value::Null), raw }
    }

    /// GET an absolute URL or one relative to the API (signed blob URLs), without auth.
    pub async fn fetch(&self, url: &str) -> (u16, Vec<u8>) {
        let url = if url.starts_with("http") { url.to_string() } else { format!("{}{url}", self.base) };
        let r = self.http.get(url).send().await.expect("fetch");
        (r.status().as_u16(), r.bytes().await.expect("bytes").to_vec())
    }
}

/// A real livekit-server (`scripts/livekit-server.sh`, --dev keys) of this test's own, stopped on drop.
pub struct LiveKitServer {
    pub config: cloud_api::livekit::LiveKitConfig,
    dir: PathBuf,
}

impl LiveKitServer {
    pub fn start() -> LiveKitServer {
        let (vars, dir) = start_script("livekit-server.sh", "LIVEKIT_TEST_DIR");
        LiveKitServer {
            config: cloud_api::livekit::LiveKitConfig {
                url: vars["LIVEKIT_URL"].clone(),
                api_key: vars["LIVEKIT_API_KEY"].clone(),
                api_secret: vars["LIVEKIT_API_SECRET"].clone(),
            },
            dir,
        }
    }

    pub fn stop(&self) {
        stop_script("livekit-server.sh", "LIVEKIT_TEST_DIR", &self.dir);
    }
}

impl Drop for LiveKitServer {
    fn drop(&mut self) {
        self.stop();
    }
}
