//! Passwords (argon2id), opaque bearer tokens stored hashed, login rate limits, and the caller.

use crate::app::AppState;
use crate::error::ApiError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared_types::dto::UserDto;
use shared_types::policy::Actor;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
fn argon() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("argon2 params"))
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(argon().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("{e}"))?.to_string())
}

/// Verify against the stored hash, or against a dummy hash when there is no user, so both
/// failures cost the same time.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not-a-real-password").expect("dummy hash"));
    let hash = stored.unwrap_or(dummy);
    let ok = PasswordHash::new(hash).is_ok_and(|h| argon().verify_password(password.as_bytes(), &h).is_ok());
    ok && stored.is_some()
}

/// A fresh 256-bit token (base64url) and its sha256, which is all the store keeps.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// In-process login limits: failed attempts per account and all attempts per IP.
pub struct LoginLimiter {
    account_limit: usize,
    account_window: Duration,
    ip_limit: u32,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
    ips: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl LoginLimiter {
    pub fn new(account_limit: u32, ip_limit_per_min: u32) -> Self {
        Self {
            account_limit: account_limit as usize,
            account_window: Duration::from_secs(15 * 60),
            ip_limit: ip_limit_per_min,
            failures: Mutex::default(),
            ips: Mutex::default(),
        }
    }

    /// Count an attempt from `ip`; `Err(retry_after_secs)` when over the per-minute limit.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let mut ips = self.ips.lock().expect("ip limiter");
        if ips.len() > 100_000 {
            ips.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let (start, count) = ips.entry(ip).or_insert((now, 0));
        if now.duration_since(*start) >= Duration::from_secs(60) {
            *start = now;
            *count = 0;
        }
        *count += 1;
        if *count > self.ip_limit {
            return Err(60 - now.duration_since(*start).as_secs());
        }
        Ok(())
    }

    /// `Err(retry_after_secs)` while the account has too many recent failures.
    pub fn check_account(&self, email: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut f = self.failures.lock().expect("account limiter");
        let Some(q) = f.get_mut(email) else { return Ok(()) };
        while q.front().is_some_and(|t| now.duration_since(*t) >= self.account_window) {
            q.pop_front();
        }
        if q.len() >= self.account_limit {
            let oldest = *q.front().expect("non-empty");
            return Err((self.account_window - now.duration_since(oldest)).as_secs() + 1);
        }
        Ok(())
    }

    pub fn record_failure(&self, email: &str) {
        let mut f = self.failures.lock().expect("account limiter");
        let q = f.entry(email.to_string()).or_default();
        q.push_back(Instant::now());
        if q.len() > self.account_limit * 2 {
            q.pop_front();
        }
    }

    pub fn record_success(&self, email: &str) {
        self.failures.lock().expect("account limiter").remove(email);
    }
}

/// The authenticated caller, resolved once per request by [`resolve_caller`].
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: UserDto,
    pub actor: Actor,
    pub token_hash: String,
}

fn bearer(parts: &axum::http::HeaderMap) -> Option<String> {
    if let Some(v) = parts.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    let cookies = parts.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|c| c.trim().strip_prefix("studio_token=").map(str::to_string))
}

/// Middleware: when the request carries a token, look it up and attach the [`Caller`].
pub async fn resolve_caller(State(app): State<AppState>, mut req: Request, next: Next) -> Result<Response, ApiError> {
    if let Some(token) = bearer(req.headers()) {
        let hash = token_hash(&token);
        if let Some(owner) = app.store.token_owner(&hash).await? {
            let actor = Actor {
                user: owner.user.id,
                tenant: owner.user.tenant_id,
                platform_admin: owner.platform_admin,
                grants: owner.grants,
            };
            req.extensions_mut().insert(Caller { user: owner.user, actor, token_hash: hash });
        }
    }
    Ok(next.run(req).await)
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(ApiError::unauthenticated)
    }
}
