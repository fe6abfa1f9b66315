//! Throwaway real servers a test starts for itself (SeaweedFS S3, livekit-server), stopped on drop.

use std::path::PathBuf;

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
    start_script_with(script, dir_env, &[])
}

fn start_script_with(
    script: &str,
    dir_env: &str,
    env: &[(&str, &str)],
) -> (std::collections::HashMap<String, String>, PathBuf) {
    // Short: Egress puts a unix socket three levels under it (at most 107 bytes of path).
    let dir = std::env::temp_dir().join(format!(
        "studio-{}-{}",
        script.trim_end_matches(".sh"),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(script);
    let out = std::process::Command::new("bash")
        .arg(&path)
        .arg("start")
        .env(dir_env, &dir)
        .envs(env.iter().copied())
        .output()
        .expect("run the script");
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
    let _ = std::fs::remove_dir_all(dir);
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
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
                previous: None,
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

/// redis + livekit-server + LiveKit Egress (`scripts/media-stack.sh`), of this test's own, stopped on
/// drop. LiveKit's webhooks go to `webhook_url`; the port is chosen first so the app can be
/// configured with the URL before the stack starts.
pub struct MediaStack {
    pub config: cloud_api::livekit::LiveKitConfig,
    /// The egress service's pid (it leads its own session; its pipelines are its children).
    pub egress_pid: u32,
    dir: PathBuf,
}

impl MediaStack {
    /// A free port for livekit-server, to build the app's config before [`MediaStack::start`].
    pub fn port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// The config the stack on `port` will have (its keys are the script's).
    pub fn config_for(port: u16) -> cloud_api::livekit::LiveKitConfig {
        cloud_api::livekit::LiveKitConfig {
            url: format!("ws://127.0.0.1:{port}"),
            api_key: "devkey".into(),
            api_secret: "media-stack-secret-for-tests-0123456789".into(),
            previous: None,
        }
    }

    pub fn start(port: u16, webhook_url: &str) -> MediaStack {
        let port_s = port.to_string();
        let (vars, dir) = start_script_with(
            "media-stack.sh",
            "MEDIA_STACK_DIR",
            &[("LIVEKIT_PORT", &port_s), ("WEBHOOK_URL", webhook_url)],
        );
        let config = Self::config_for(port);
        assert_eq!(vars["LIVEKIT_URL"], config.url);
        assert_eq!(vars["LIVEKIT_API_SECRET"], config.api_secret);
        let egress_pid = vars["EGRESS_PID"].parse().expect("EGRESS_PID");
        MediaStack { config, egress_pid, dir }
    }

    /// Kill egress and its pipelines at once, as a crash would.
    pub fn kill_egress(&self) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/media-stack.sh");
        let ok = std::process::Command::new("bash")
            .arg(path)
            .arg("kill-egress")
            .env("MEDIA_STACK_DIR", &self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill-egress");
    }

    /// CPU time (user + system, seconds) used so far by egress and every pipeline it started.
    pub fn egress_cpu_s(&self) -> f64 {
        let tick = 100.0; // USER_HZ on Linux
        let mut total = 0.0;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // Fields after the command (which may hold spaces) in parentheses.
            let Some((_, rest)) = stat.rsplit_once(") ") else { continue };
            let f: Vec<&str> = rest.split(' ').collect();
            // f[0] state, f[1] parent, f[3] session id, f[11] utime, f[12] stime. Pipelines are the
            // service's children, each in a session of its own.
            let mine = |i: usize| f[i].parse::<u32>().ok() == Some(self.egress_pid);
            if f.len() > 12 && (mine(1) || mine(3)) {
                total += (f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0)) / tick;
            }
        }
        total
    }

    /// The egress log so far (for failure messages).
    pub fn egress_log(&self) -> String {
        self.log("egress.log")
    }

    /// livekit-server's log so far (webhooks it sent, for failure messages).
    pub fn livekit_log(&self) -> String {
        self.log("livekit.log")
    }

    fn log(&self, name: &str) -> String {
        let log = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for MediaStack {
    fn drop(&mut self) {
        stop_script("media-stack.sh", "MEDIA_STACK_DIR", &self.dir);
    }
}

/// A teacher speaking a WAV into a published microphone (`tests/support/lk_speak.py`, the official
/// Python SDK), staying in the room until [`Speaker::leave`].
pub struct Speaker {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Speaker {
    /// Join `url` with `token`, publish, and return once the track is published.
    pub async fn join(url: &str, token: &str, wav: &std::path::Path) -> Speaker {
        use std::io::BufRead;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/lk_speak.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .args([url, token])
            .arg(wav)
            .arg("stdin")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let speaker = Speaker { child, lines };
        let first = speaker.next_line(30).await;
        // The first line is `{"event":"published"}`; a speaker that failed prints its final report
        // (`{"published":false,…}`) instead, which names the field too: the value decides.
        let said: serde_json::Value = serde_json::from_str(&first).unwrap_or_default();
        assert_eq!(said["event"], "published", "the speaker could not publish: {first}");
        speaker
    }

    async fn next_line(&self, within_s: u64) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(within_s);
        loop {
            match self.lines.try_recv() {
                Ok(line) => return line,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return String::new(),
                Err(std::sync::mpsc::TryRecvError::Empty) if std::time::Instant::now() > deadline => {
                    panic!("the speaker said nothing for {within_s} s")
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    /// Leave the room (after the speech if it is still playing); the speaker's report.
    pub async fn leave(mut self) -> serde_json::Value {
        drop(self.child.stdin.take());
        let line = self.next_line(300).await;
        let _ = self.child.wait();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("speaker report: {line}"))
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sign and send a webhook with PyPI `livekit-api` (a client we did not write); (status, body).
pub fn python_webhook(url: &str, key: &str, secret: &str, signed: &str, sent: &str) -> (u16, serde_json::Value) {
    let script = r#"
import sys, hashlib, base64, urllib.request, urllib.error
from livekit import api
url, key, secret, signed, sent = sys.argv[1:6]
sha = base64.b64encode(hashlib.sha256(signed.encode()).digest()).decode()
token = api.AccessToken(key, secret).with_sha256(sha).to_jwt()
req = urllib.request.Request(url, data=sent.encode(), headers={"Authorization": token, "Content-Type": "application/webhook+json"})
try:
    r = urllib.request.urlopen(req); print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, url, key, secret, signed, sent])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (status, body) = text.split_once('\n').unwrap();
    (status.trim().parse().unwrap(), serde_json::from_str(body.trim()).unwrap_or_default())
}

/// A local RTMP server that takes one stream and writes it to `file` (`ffmpeg -listen 1`), behind a
/// small TCP relay that counts what arrives — the RTMP bytes themselves, not what ffmpeg writes after
/// probing them.
pub struct Receiver {
    child: std::process::Child,
    pub url: String,
    pub file: PathBuf,
    pub started: std::time::Instant,
    first: std::sync::Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    received: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Receiver {
    pub fn listen(dir: &std::path::Path, name: &str) -> Receiver {
        use std::io::{Read, Write};
        let ffmpeg_port = MediaStack::port();
        let file = dir.join(format!("{name}.flv"));
        let child = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-listen", "1", "-i"])
            .arg(format!("rtmp://127.0.0.1:{ffmpeg_port}/live/key-{name}"))
            .args(["-c", "copy", "-y"])
            .arg(&file)
            .stdin(std::process::Stdio::null())
            // It says "Input/output error" when its publisher goes away, which is how every stream ends.
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("ffmpeg");
        let relay = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("rtmp://127.0.0.1:{}/live", relay.local_addr().unwrap().port());
        let first = std::sync::Arc::new(std::sync::Mutex::new(None));
        let received = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (first2, received2) = (first.clone(), received.clone());
        std::thread::spawn(move || {
            let Ok((mut up, _)) = relay.accept() else { return };
            let t = std::time::Instant::now();
            let mut down = loop {
                match std::net::TcpStream::connect(("127.0.0.1", ffmpeg_port)) {
                    Ok(d) => break d,
                    Err(_) if t.elapsed() < std::time::Duration::from_secs(10) => {
                        std::thread::sleep(std::time::Duration::from_millis(50))
                    }
                    Err(_) => return,
                }
            };
            let (mut up2, mut down2) = (up.try_clone().unwrap(), down.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut down2, &mut up2);
                let _ = up2.shutdown(std::net::Shutdown::Write);
            });
            let mut buf = [0u8; 16 * 1024];
            loop {
                match up.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        first2.lock().unwrap().get_or_insert_with(std::time::Instant::now);
                        received2.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                        if down.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = down.shutdown(std::net::Shutdown::Both);
        });
        Receiver { child, url, file, started: std::time::Instant::now(), first, received }
    }

    /// RTMP bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// When the first RTMP byte arrived.
    pub fn first_byte(&self) -> Option<std::time::Instant> {
        *self.first.lock().unwrap()
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Wait until ffmpeg has ended (its publisher went away), at most `within`.
    pub async fn ended_within(&mut self, within: std::time::Duration) -> bool {
        let t = std::time::Instant::now();
        while t.elapsed() < within {
            if !self.running() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        false
    }

    /// Seconds of audio in what it received (ffprobe on ffmpeg's file).
    pub fn audio_seconds(&self) -> f64 {
        let out = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0"])
            .arg(&self.file)
            .output()
            .expect("ffprobe");
        let times: Vec<f64> =
            String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
        match (times.first(), times.last()) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A lecture of about `seconds`, spoken by espeak-ng.
pub fn long_speech(dir: &std::path::Path, seconds: u32) -> PathBuf {
    let line = "Today we look at waves. A wave carries energy from one place to another without carrying matter. ";
    let text = line.repeat((seconds / 6).max(1) as usize);
    let wav = dir.join("speech.wav");
    assert!(std::process::Command::new("espeak-ng")
        .args(["-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .unwrap()
        .success());
    wav
}

/// A real OpenID provider of this test's own (`scripts/oidc-op.sh`: zitadel/oidc's example provider
/// with one web client and the users given), stopped on drop.
pub struct OidcOp {
    pub issuer: String,
    dir: PathBuf,
}

impl OidcOp {
    /// `env`: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USERS_FILE.
    pub fn start(env: &[(&str, &str)]) -> OidcOp {
        let (vars, dir) = start_script_with("oidc-op.sh", "OIDC_TEST_DIR", env);
        OidcOp { issuer: vars["OIDC_ISSUER"].clone(), dir }
    }

    /// A new signing key signs from now on; the old one stays published.
    pub async fn rotate(&self) -> String {
        let r = reqwest::Client::new().post(format!("{}_test/rotate", self.issuer)).send().await.expect("rotate");
        assert!(r.status().is_success(), "rotate: {}", r.status());
        r.text().await.expect("kid").trim().to_string()
    }
}

impl OidcOp {
    /// An ID token with these claims, signed by the provider's signing key (`stranger`: by a key it
    /// does not publish) — claims the provider would never issue itself.
    pub async fn sign(&self, claims: &serde_json::Value, stranger: bool) -> String {
        let url = format!("{}_test/sign{}", self.issuer, if stranger { "?key=stranger" } else { "" });
        let r = reqwest::Client::new().post(url).body(claims.to_string()).send().await.expect("sign");
        assert!(r.status().is_success(), "sign: {}", r.status());
        r.text().await.expect("token")
    }
}

impl OidcOp {
    /// A browser (no cookies, each redirect looked at) at the provider's authorization URL
    /// `to_provider`: its login page, its form filled as `username` with the test password, its
    /// redirects followed until one leaves the provider — that URL, not fetched.
    pub async fn log_in(&self, to_provider: &str, username: &str) -> String {
        let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let location = |r: &reqwest::Response| {
            let loc = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
            if loc.starts_with("http") {
                loc.to_string()
            } else {
                format!("{}{}", self.issuer.trim_end_matches('/'), loc)
            }
        };
        // The provider sends the browser to its login page, whose form names the auth request.
        let r = b.get(to_provider).send().await.unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap_or_default());
        let login = location(&r);
        let id =
            url::Url::parse(&login).unwrap().query_pairs().find(|(k, _)| k == "authRequestID").unwrap().1.into_owned();
        let form = b.get(&login).send().await.unwrap().text().await.unwrap();
        assert!(form.contains("name=\"password\""), "{form}");
        let r = b
            .post(format!("{}login/username", self.issuer))
            .form(&[("id", id.as_str()), ("username", username), ("password", "verysecure")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap_or_default());
        let mut hop = location(&r);
        // The provider's own callback, then out.
        while hop.starts_with(&self.issuer) {
            let r = b.get(&hop).send().await.unwrap();
            assert_eq!(r.status(), 302, "{hop}: {}", r.text().await.unwrap_or_default());
            hop = location(&r);
        }
        hop
    }
}

impl Drop for OidcOp {
    fn drop(&mut self) {
        stop_script("oidc-op.sh", "OIDC_TEST_DIR", &self.dir);
    }
}

/// A real LTI 1.3 platform (`tests/support/lti_platform.py`: PyPI `lti1p3platform`, which signs its
/// launches, behind a small HTTP server), configured with this tool's addresses; stopped on drop.
pub struct LtiPlatform {
    /// PLATFORM_URL, LTI_ISS, LTI_CLIENT_ID, LTI_DEPLOYMENT_ID, LTI_AUTH_URL, LTI_TOKEN_URL, LTI_JWKS_URL.
    pub vars: std::collections::HashMap<String, String>,
    child: std::process::Child,
}

impl LtiPlatform {
    /// The platform for the tool at `tool_base` (its `/api/lti/…` addresses).
    pub fn start(tool_base: &str) -> LtiPlatform {
        use std::io::BufRead;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/lti_platform.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .env("TOOL_LOGIN_URL", format!("{tool_base}/api/lti/login"))
            .env("TOOL_LAUNCH_URL", format!("{tool_base}/api/lti/launch"))
            .env("TOOL_JWKS_URL", format!("{tool_base}/api/lti/jwks"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut vars = std::collections::HashMap::new();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // The script prints its addresses once it listens, then `ready` (or dies, ending the output).
        while out.read_line(&mut line).unwrap_or(0) > 0 && line.trim() != "ready" {
            if let Some((k, v)) = line.trim().split_once('=') {
                vars.insert(k.to_string(), v.to_string());
            }
            line.clear();
        }
        assert_eq!(line.trim(), "ready", "the LTI platform did not start (pip install lti1p3platform==0.1.8?)");
        LtiPlatform { vars, child }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.vars["PLATFORM_URL"])
    }
}

impl Drop for LtiPlatform {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OidcOp {
    /// A scripted system browser for a native app's sign-in (RFC 8252): from the URL the app opened
    /// (our `/api/auth/sso/start`), through the provider's login form as `username`, back through our
    /// callback to the app's loopback address — first knocking there once with a forged state when
    /// `knock` — and the page that address answers.
    pub async fn browse_to_app(&self, start: &str, username: &str, knock: bool) -> String {
        let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let location = |r: &reqwest::Response| {
            r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
        };
        let r = b.get(start).send().await.unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap_or_default());
        let back = self.log_in(&location(&r), username).await;
        let r = b.get(&back).send().await.unwrap();
        assert_eq!(
            r.status(),
            302,
            "our callback sends the browser to the app: {}",
            r.text().await.unwrap_or_default()
        );
        let app = location(&r);
        assert!(app.starts_with("http://127.0.0.1:"), "{app}");
        if knock {
            let forged = url::Url::parse(&app).unwrap();
            let forged = format!("{}://{}{}?code=x&state=forged", forged.scheme(), forged.authority(), forged.path());
            let r = b.get(&forged).send().await.unwrap();
            assert_eq!(r.status(), 400, "another state is not this sign-in");
        }
        let r = b.get(&app).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }
}
