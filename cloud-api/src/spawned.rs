//! The real `cloud-api` binary in its own process, for benchmarks and tests that measure the
//! process (RSS) or kill it (SIGKILL): started with `demo`, ready when it prints its URL.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Spawned {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub data_dir: PathBuf,
}

impl Spawned {
    /// Start `exe demo` on a free port with `DATA_DIR=data_dir` and the given environment.
    pub fn start(exe: &Path, data_dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Spawned> {
        Self::start_logging(exe, data_dir, env, Stdio::inherit())
    }

    /// [`Spawned::start`] with the process's log (stderr) going to `log`.
    pub fn start_logging(exe: &Path, data_dir: &Path, env: &[(&str, &str)], log: Stdio) -> anyhow::Result<Spawned> {
        let mut cmd = Command::new(exe);
        cmd.arg("demo").env("DATA_DIR", data_dir).env("BIND_ADDR", "127.0.0.1:0").env("RUST_LOG", "warn");
        cmd.env_remove("DATABASE_URL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(log).spawn()?;
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(i) = line.find("http://") {
                    let _ = tx.send(line[i..].trim_end_matches('/').to_string());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                anyhow::bail!("cloud-api did not print its URL (exit: {:?})", child.try_wait().ok().flatten());
            }
        };
        Ok(Spawned { child, base, data_dir: data_dir.to_path_buf() })
    }

    /// Log in as a demo user; the bearer token.
    pub async fn login(&self, http: &reqwest::Client, email: &str) -> anyhow::Result<String> {
        let v: serde_json::Value = http
            .post(format!("{}/api/auth/login", self.base))
            .json(&serde_json::json!({"email": email, "password": crate::demo::PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        Ok(v["token"].as_str().ok_or_else(|| anyhow::anyhow!("login failed: {v}"))?.to_string())
    }

    /// The demo session's id (first course → first lesson → first session).
    pub async fn demo_session(&self, http: &reqwest::Client, token: &str) -> anyhow::Result<String> {
        let get = |path: String| async move {
            let v: serde_json::Value =
                http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await?.json().await?;
            anyhow::Ok(v)
        };
        let courses = get("/api/courses".into()).await?;
        let course = courses[0]["id"].as_str().unwrap_or_default().to_string();
        let lessons = get(format!("/api/courses/{course}/lessons")).await?;
        let lesson = lessons[0]["id"].as_str().unwrap_or_default().to_string();
        let sessions = get(format!("/api/lessons/{lesson}/sessions")).await?;
        sessions[0]["id"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("no demo session: {sessions}"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, MB.
    pub fn rss_mb(&self) -> f64 {
        proc_status_mb(self.pid(), "VmRSS:")
    }

    /// The highest resident memory so far, MB.
    pub fn peak_rss_mb(&self) -> f64 {
        proc_status_mb(self.pid(), "VmHWM:")
    }

    /// SIGKILL: no shutdown, no flush — a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

fn proc_status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A directory of a test's own under the temp dir, removed when dropped — however the test ends.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("{tag}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a test keeps its screenshots to be looked at: `<target dir>/screenshots/<name>`, emptied
/// first — outside the temp dir, which a test run leaves empty.
pub fn screenshots(name: &str) -> PathBuf {
    // …/target/debug/deps/<test>-<hash> → …/target
    let exe = std::env::current_exe().expect("the test's path");
    let target = exe.ancestors().nth(3).map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
    let dir = target.join("screenshots").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the screenshots dir");
    dir
}
