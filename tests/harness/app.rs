//! A real cloud-api on 127.0.0.1:0, started through `App::build` like `main`, and calling it as
//! a client does.

use crate::*;
use cloud_api::app::App;
use cloud_api::config::Config;
use cloud_api::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared_types::{Role, RoleGrant, Scope, TenantId, UserId};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery";

pub fn test_config(database_url: String) -> Config {
    Config {
        bind_addr: "127.0.0.1:0".parse().expect("addr"),
        database_url,
        data_dir: std::env::temp_dir(),
        bootstrap_admin: None,
        login_ip_limit_per_min: 10_000,
        login_account_limit: 10,
        write_limit_per_min: 100_000,
        token_ttl_hours: 1,
        idempotency_keep_hours: 24,
        student_web_dir: None,
        s3: None,
        max_upload_bytes: 20 * 1024 * 1024,
        max_recording_bytes: 1024 * 1024 * 1024,
        upload_keep_days: 7,
        upload_grace_secs: 120,
        livekit: None,
        livekit_record: false,
        secrets_key: None,
        media_dir: None,
        password_hash_concurrency: 4,
        password_hash_queue_secs: 10,
        live_channel_capacity: cloud_api::fanout::CHANNEL_CAPACITY,
        live_seats_per_writer: cloud_api::rooms::SEATS_PER_WRITER,
        header_read_timeout_secs: 10,
        body_idle_timeout_secs: 20,
        max_connections: 12_000,
        public_url: None,
        web_origins: Vec::new(),
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
    /// Removes the test's directories (SQLite file, DATA_DIR) once the last node sharing them goes.
    dirs: Arc<TempDirs>,
}

/// Directories a test made under the system temp dir, removed when dropped (thousands of runs on a
/// reused CI machine would otherwise fill `/tmp`).
#[derive(Default)]
struct TempDirs(std::sync::Mutex<Vec<PathBuf>>);

impl TempDirs {
    fn add(&self, dir: PathBuf) {
        // Only what lives under the temp dir: a test that points DATA_DIR elsewhere keeps it.
        if dir.starts_with(std::env::temp_dir()) && dir != std::env::temp_dir() {
            self.0.lock().expect("dirs").push(dir);
        }
    }
}

impl Drop for TempDirs {
    fn drop(&mut self) {
        for d in self.0.lock().expect("dirs").drain(..) {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The directory of a `sqlite://…/t.db?…` URL.
fn sqlite_dir(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    PathBuf::from(path).parent().map(PathBuf::from)
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
        Self::node(db, url, tweak, None, Arc::default()).await
    }

    /// The app serving the web app as built (`scripts/build-web.sh`), for the browser tests.
    pub async fn spawn_web(db: Db) -> TestApp {
        let dist = crate::media_dir().join("dist");
        assert!(dist.join("index.html").exists(), "build the app first: bash scripts/build-web.sh");
        Self::spawn_with(db, move |c| {
            c.student_web_dir = Some(dist.clone());
            c.media_dir = Some(dist);
        })
        .await
    }

    /// A node on a database of the test's own making (a cluster it restarts, say).
    pub async fn spawn_on(db: Db, url: String) -> TestApp {
        Self::node(db, url, |_| {}, None, Arc::default()).await
    }

    /// Another cloud-api node on this one's database and blobs (multi-node tests).
    pub async fn second_node(&self) -> TestApp {
        self.second_node_with(|_| {}).await
    }

    /// [`TestApp::second_node`] with its configuration changed like the first's was.
    pub async fn second_node_with(&self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = self.data_dir.clone();
        let tweak = move |c: &mut Config| {
            c.data_dir = dir;
            tweak(c);
        };
        Self::node(self.db, self.store_url.clone(), tweak, None, self.dirs.clone()).await
    }

    /// A node whose live channels hold only `capacity` events, so sockets lag quickly.
    pub async fn spawn_small_channels(db: Db, capacity: usize) -> TestApp {
        let url = fresh_db(db).await;
        Self::node(db, url, |_| {}, Some(capacity), Arc::default()).await
    }

    async fn node(
        db: Db,
        url: String,
        tweak: impl FnOnce(&mut Config),
        capacity: Option<usize>,
        dirs: Arc<TempDirs>,
    ) -> TestApp {
        let mut config = test_config(url.clone());
        if let Some(c) = capacity {
            config.live_channel_capacity = c;
        }
        tweak(&mut config);
        if config.data_dir == std::env::temp_dir() {
            config.data_dir = std::env::temp_dir().join(format!("studio-test-{}", uuid::Uuid::new_v4()));
        }
        let data_dir = config.data_dir.clone();
        if let Some(d) = sqlite_dir(&url) {
            dirs.add(d);
        }
        dirs.add(data_dir.clone());
        // The same start-up path as `main`.
        let app = App::build(config).await.expect("build the app");
        let addr = app.addr;
        let store = app.state.store.clone();
        let state = app.state.clone();
        tokio::spawn(app.run_until(std::future::pending()));
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client");
        let t =
            TestApp { addr, base: format!("http://{addr}"), store, http, db, store_url: url, data_dir, state, dirs };
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
        Answer::checked(method.as_str(), path, req.send().await.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body), None).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(token), Some(body), None).await
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
        Answer::checked("POST", path, req.send().await.expect("request")).await
    }

    /// POST JSON without an `Idempotency-Key` header (the key may be in the body, or missing).
    pub async fn post_unkeyed(&self, path: &str, token: &str, body: Value) -> Answer {
        let req = self.http.post(format!("{}{path}", self.base)).bearer_auth(token).json(&body);
        Answer::checked("POST", path, req.send().await.expect("request")).await
    }

    /// POST a WAV recording of the session under `key`.
    pub async fn post_recording(&self, token: &str, session: &str, key: &str, wav: Vec<u8>) -> Answer {
        let path = format!("/api/sessions/{session}/recordings");
        self.post_body(&path, token, key, &[("content-type", "audio/wav")], wav).await
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

impl Answer {
    /// Read the answer and check it against `/api/openapi.json` (see `harness/contract.rs`).
    pub async fn checked(method: &str, path: &str, resp: reqwest::Response) -> Answer {
        let status = resp.status();
        let headers = resp.headers().clone();
        let raw = resp.bytes().await.expect("body").to_vec();
        let ct = headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        crate::harness::contract::check(method, path, status.as_u16(), ct, &raw);
        Answer { status, headers, body: serde_json::from_slice(&raw).unwrap_or(Value::Null), raw }
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
        Answer::checked("POST", "/api/studio/assets", resp).await
    }

    /// GET an absolute URL or one relative to the API (signed blob URLs), without auth.
    pub async fn fetch(&self, url: &str) -> (u16, Vec<u8>) {
        let url = if url.starts_with("http") { url.to_string() } else { format!("{}{url}", self.base) };
        let r = self.http.get(url).send().await.expect("fetch");
        (r.status().as_u16(), r.bytes().await.expect("bytes").to_vec())
    }
}
