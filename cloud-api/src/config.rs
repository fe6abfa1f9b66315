//! Runtime configuration from the environment (API.md "Running").

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Config {
    pub bind_addr: SocketAddr,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub bootstrap_admin: Option<(String, String)>,
    /// Per-IP login attempts per minute (a school behind one NAT logs in at once).
    pub login_ip_limit_per_min: u32,
    /// Failed logins per account per 15 minutes before 429.
    pub login_account_limit: u32,
    /// Writes per user per minute, counted across every node (`WRITE_LIMIT_PER_MIN`).
    pub write_limit_per_min: u32,
    pub token_ttl_hours: i64,
    /// How long stored idempotent responses are kept (at least 24 h).
    pub idempotency_keep_hours: i64,
    /// The built browser app (`index.html`, default `student-web/media/dist`), served at `/app/`.
    pub student_web_dir: Option<PathBuf>,
    /// S3 for blobs; `None` keeps them in `DATA_DIR/blobs`.
    pub s3: Option<crate::blob::S3Config>,
    /// Largest accepted upload held in memory (slides, images), bytes.
    pub max_upload_bytes: usize,
    /// Largest class recording in one request, bytes (streamed to disk, never held in memory).
    pub max_recording_bytes: usize,
    /// Parts of resumable uploads older than this are swept (abandoned uploads forgotten).
    pub upload_keep_days: i64,
    /// After a class ends, how long its recording uploads may still be completed by their page;
    /// then the server finishes them from the parts it holds (`UPLOAD_GRACE_SECS`).
    pub upload_grace_secs: u64,
    /// LiveKit for media; `None` runs every non-media feature and reports media as unavailable.
    pub livekit: Option<crate::livekit::LiveKitConfig>,
    /// Record each class into the S3 bucket with LiveKit Egress, from the teacher's first published track (`LIVEKIT_RECORD=1`).
    pub livekit_record: bool,
    /// Base64 32-byte key sealing stream keys; default: a key file in `DATA_DIR`.
    pub secrets_key: Option<String>,
    /// The built browser media pages (`student-web/media/dist`), served at `/media`.
    pub media_dir: Option<PathBuf>,
    /// Password hashes (argon2id, 19 MiB each) running at once; more logins wait in line.
    pub password_hash_concurrency: usize,
    /// How long a login waits for a hashing slot before answering 503 with `Retry-After`.
    pub password_hash_queue_secs: u64,
    /// Events a live socket may fall behind before it is re-fed from the store.
    pub live_channel_capacity: usize,
    /// Live sockets of a session one writer task sends to (a class's sockets over several writers).
    pub live_seats_per_writer: usize,
    /// A client must send its request headers within this many seconds.
    pub header_read_timeout_secs: u64,
    /// A request body that sends nothing for this many seconds is cut off (408).
    pub body_idle_timeout_secs: u64,
    /// Open connections at most; more clients wait to be accepted.
    pub max_connections: usize,
    /// Where users reach the API (`PUBLIC_URL`); `https://…` marks the login cookie `Secure`.
    pub public_url: Option<String>,
    /// Other origins whose pages may call the API with the login cookie (`WEB_ORIGINS`, comma-separated,
    /// e.g. a separately hosted web app); empty: same origin only.
    pub web_origins: Vec<String>,
}

use studio_store::config::var;

/// Where `scripts/build-web.sh` puts the browser app, relative to the repository root: served at
/// `/app/` (the student and teacher app) and `/media` (the media bundle).
pub const DEFAULT_WEB_DIR: &str = "student-web/media/dist";

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| anyhow::anyhow!("{name}={v} is not valid")),
    }
}

impl Config {
    pub fn from_env() -> anyhow::Result<Config> {
        let store = studio_store::config::StoreConfig::from_env()?;
        let (database_url, data_dir) = (store.database_url, store.data_dir);
        let bootstrap_admin = match (var("BOOTSTRAP_ADMIN_EMAIL"), var("BOOTSTRAP_ADMIN_PASSWORD")) {
            (Some(e), Some(p)) => Some((e, p)),
            _ => None,
        };
        let token_ttl_hours: i64 = parsed("TOKEN_TTL_HOURS", 12)?;
        anyhow::ensure!(
            (1..=24 * 90).contains(&token_ttl_hours),
            "TOKEN_TTL_HOURS={token_ttl_hours} is not valid: tokens must live 1 hour to 90 days"
        );
        let public_url = var("PUBLIC_URL");
        if let Some(u) = &public_url {
            anyhow::ensure!(
                u.starts_with("http://") || u.starts_with("https://"),
                "PUBLIC_URL={u} must start with http:// or https://"
            );
        }
        let config = Config {
            bind_addr: parsed("BIND_ADDR", "127.0.0.1:8080".parse()?)?,
            database_url,
            data_dir,
            bootstrap_admin,
            login_ip_limit_per_min: parsed("LOGIN_IP_LIMIT_PER_MIN", 300)?,
            login_account_limit: parsed("LOGIN_ACCOUNT_LIMIT", 10)?,
            write_limit_per_min: parsed("WRITE_LIMIT_PER_MIN", 1200)?,
            token_ttl_hours,
            idempotency_keep_hours: parsed::<i64>("IDEMPOTENCY_KEEP_HOURS", 48)?.max(24),
            student_web_dir: var("STUDENT_WEB_DIR")
                .map(PathBuf::from)
                .or_else(|| Some(PathBuf::from(DEFAULT_WEB_DIR)).filter(|d| d.join("index.html").exists())),
            s3: store.s3,
            max_upload_bytes: parsed("MAX_UPLOAD_MB", 50usize)? * 1024 * 1024,
            max_recording_bytes: parsed("MAX_RECORDING_MB", 8192usize)? * 1024 * 1024,
            upload_keep_days: parsed("UPLOAD_KEEP_DAYS", 7)?,
            upload_grace_secs: parsed("UPLOAD_GRACE_SECS", 120)?,
            livekit: match (var("LIVEKIT_URL"), var("LIVEKIT_API_KEY"), var("LIVEKIT_API_SECRET")) {
                (Some(url), Some(api_key), Some(api_secret)) => {
                    let previous = previous_livekit_key(&api_key)?;
                    Some(crate::livekit::LiveKitConfig { url, api_key, api_secret, previous })
                }
                (None, None, None) => None,
                _ => anyhow::bail!("set all of LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, or none"),
            },
            livekit_record: matches!(var("LIVEKIT_RECORD").as_deref(), Some("1" | "true" | "yes")),
            secrets_key: match var("SECRETS_KEY") {
                Some(k) => {
                    use base64::Engine;
                    let ok = base64::engine::general_purpose::STANDARD.decode(k.trim()).is_ok_and(|b| b.len() == 32);
                    anyhow::ensure!(ok, "SECRETS_KEY must be 32 bytes, base64-encoded");
                    Some(k)
                }
                None => None,
            },
            media_dir: var("MEDIA_DIR")
                .map(PathBuf::from)
                .or_else(|| Some(PathBuf::from(DEFAULT_WEB_DIR)).filter(|d| d.join("media.js").exists())),
            password_hash_concurrency: parsed("PASSWORD_HASH_CONCURRENCY", default_hash_concurrency())?,
            password_hash_queue_secs: parsed("PASSWORD_HASH_QUEUE_SECS", 10)?,
            live_channel_capacity: parsed("LIVE_CHANNEL_CAPACITY", crate::fanout::CHANNEL_CAPACITY)?,
            live_seats_per_writer: parsed("LIVE_SEATS_PER_WRITER", crate::rooms::SEATS_PER_WRITER)?,
            header_read_timeout_secs: parsed("HEADER_READ_TIMEOUT_SECS", 10)?,
            body_idle_timeout_secs: parsed("BODY_IDLE_TIMEOUT_SECS", 20)?,
            max_connections: parsed("MAX_CONNECTIONS", 12_000)?,
            public_url,
            web_origins: var("WEB_ORIGINS")
                .map(|v| {
                    v.split(',').map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect()
                })
                .unwrap_or_default(),
        };
        config.validate()?;
        Ok(config)
    }

    /// Limits that would make the server useless or unsafe are refused at start-up.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.login_ip_limit_per_min > 0, "LOGIN_IP_LIMIT_PER_MIN must be at least 1");
        anyhow::ensure!(self.login_account_limit > 0, "LOGIN_ACCOUNT_LIMIT must be at least 1");
        anyhow::ensure!(self.write_limit_per_min > 0, "WRITE_LIMIT_PER_MIN must be at least 1");
        anyhow::ensure!(self.max_upload_bytes > 0, "MAX_UPLOAD_MB must be at least 1");
        anyhow::ensure!(
            (1..=64).contains(&self.password_hash_concurrency),
            "PASSWORD_HASH_CONCURRENCY must be 1 to 64"
        );
        anyhow::ensure!(self.live_channel_capacity > 0, "LIVE_CHANNEL_CAPACITY must be at least 1");
        anyhow::ensure!(self.live_seats_per_writer > 0, "LIVE_SEATS_PER_WRITER must be at least 1");
        anyhow::ensure!(self.header_read_timeout_secs > 0, "HEADER_READ_TIMEOUT_SECS must be at least 1");
        anyhow::ensure!(self.body_idle_timeout_secs > 0, "BODY_IDLE_TIMEOUT_SECS must be at least 1");
        anyhow::ensure!(self.max_connections > 0, "MAX_CONNECTIONS must be at least 1");
        anyhow::ensure!(self.upload_keep_days >= 1, "UPLOAD_KEEP_DAYS must be at least 1");
        Ok(())
    }

    /// Whether the login cookie must be `Secure` (the API is reached over TLS).
    pub fn tls_public(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

/// Two hashes per core: enough to keep the cores busy, few enough to bound memory (19 MiB each).
fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism().map(|n| n.get() * 2).unwrap_or(2).min(16)
}

/// The LiveKit key being rotated out, if `LIVEKIT_PREVIOUS_API_SECRET` is set: its key (default: the
/// current key) and `LIVEKIT_PREVIOUS_UNTIL`, the RFC 3339 time its webhooks stop counting.
fn previous_livekit_key(current_key: &str) -> anyhow::Result<Option<crate::livekit::PreviousKey>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let Some(api_secret) = var("LIVEKIT_PREVIOUS_API_SECRET") else { return Ok(None) };
    let until = var("LIVEKIT_PREVIOUS_UNTIL").ok_or_else(|| {
        anyhow::anyhow!("LIVEKIT_PREVIOUS_API_SECRET needs LIVEKIT_PREVIOUS_UNTIL (an RFC 3339 time)")
    })?;
    let until = chrono::DateTime::parse_from_rfc3339(until.trim())
        .map_err(|e| anyhow::anyhow!("LIVEKIT_PREVIOUS_UNTIL is not an RFC 3339 time: {e}"))?
        .with_timezone(&chrono::Utc);
    let api_key = var("LIVEKIT_PREVIOUS_API_KEY").unwrap_or_else(|| current_key.to_string());
    Ok(Some(crate::livekit::PreviousKey { api_key, api_secret, until }))
}
