//! Passwords (argon2id), opaque bearer tokens stored hashed, login rate limits, and the caller.

use crate::app::AppState;
use crate::error::ApiError;
use crate::store::{Store, StoreError};
use argon2::password_hash::{PasswordHash, SaltString};
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
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
const M_COST_KIB: u32 = 19 * 1024;

fn params() -> Params {
    Params::new(M_COST_KIB, 2, 1, None).expect("argon2 params")
}

/// The working memory of one hash (19 MiB), allocated once per slot and reused.
type Memory = Vec<argon2::Block>;

fn new_memory() -> Memory {
    vec![argon2::Block::default(); M_COST_KIB as usize]
}

/// Hash a new password into a PHC string, using `memory` as argon2's working area.
fn hash_with(memory: &mut Memory, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.decode_b64(&mut salt_bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let p = params();
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p.clone())
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, &mut memory[..])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&p).map_err(|e| anyhow::anyhow!("{e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).map_err(|e| anyhow::anyhow!("{e}"))?),
    };
    Ok(hash.to_string())
}

/// Check `password` against a stored PHC string, using `memory` (hashes needing more are refused).
fn verify_with(memory: &mut Memory, password: &str, stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else { return false };
    let Ok(p) = Params::try_from(&hash) else { return false };
    if p.m_cost() as usize > memory.len() || Algorithm::try_from(hash.algorithm).is_err() {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else { return false };
    let expected = expected.as_bytes();
    let mut out = vec![0u8; expected.len()];
    let blocks = p.block_count();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
    if argon.hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, &mut memory[..blocks]).is_err() {
        return false;
    }
    // Constant time over the output.
    out.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Hash a password outside a request (seeding, bootstrap, tests): its own working memory.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    hash_with(&mut new_memory(), password)
}

/// Password hashing for requests: at most `slots` hashes run at once, each in working memory
/// allocated once and reused, so a login storm costs `slots × 19 MiB` and no more. Callers queue
/// for a slot up to a deadline, then get `Busy` (→ 503 with `Retry-After`).
pub struct HashPool {
    slots: tokio::sync::Semaphore,
    memory: Mutex<Vec<Memory>>,
    dummy: tokio::sync::OnceCell<String>,
}

/// Every hashing slot stayed taken until the deadline.
#[derive(Debug)]
pub struct Busy;

impl HashPool {
    pub fn new(slots: usize) -> Self {
        HashPool {
            slots: tokio::sync::Semaphore::new(slots.max(1)),
            memory: Mutex::default(),
            dummy: tokio::sync::OnceCell::new(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        wait: Duration,
        f: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let _permit = tokio::time::timeout(wait, self.slots.acquire()).await.map_err(|_| Busy)?.map_err(|_| Busy)?;
        let mut mem = self.memory.lock().expect("hash memory").pop().unwrap_or_else(new_memory);
        let (mem, out) = tokio::task::spawn_blocking(move || {
            let out = f(&mut mem);
            (mem, out)
        })
        .await
        .map_err(|_| Busy)?;
        self.memory.lock().expect("hash memory").push(mem);
        Ok(out)
    }

    /// Hash a new password.
    pub async fn hash(&self, password: String, wait: Duration) -> Result<anyhow::Result<String>, Busy> {
        self.run(wait, move |m| hash_with(m, &password)).await
    }

    /// Verify against the stored hash, or against a dummy hash when there is no user, so both
    /// failures cost the same time (and the same memory).
    pub async fn verify(&self, password: String, stored: Option<String>, wait: Duration) -> Result<bool, Busy> {
        let dummy = match self.dummy.get() {
            Some(d) => d.clone(),
            None => {
                let made = self.hash("not-a-real-password".into(), wait).await?.map_err(|_| Busy)?;
                self.dummy.get_or_init(|| async { made }).await.clone()
            }
        };
        let known = stored.is_some();
        let hash = stored.unwrap_or(dummy);
        let ok = self.run(wait, move |m| verify_with(m, &password, &hash)).await?;
        Ok(ok && known)
    }
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

/// Limits kept in the database, so every node counts the same attempts: failed logins per account
/// (a sliding 15 minutes), all logins per IP (a sliding minute), and writes per user (a sliding minute).
pub struct Limits {
    store: Arc<Store>,
    account_limit: u32,
    ip_limit: u32,
    write_limit: u32,
}

/// The account window, seconds.
const ACCOUNT_WINDOW: i64 = 15 * 60;

impl Limits {
    pub fn new(store: Arc<Store>, account_limit: u32, ip_limit_per_min: u32) -> Self {
        Self { store, account_limit, ip_limit: ip_limit_per_min, write_limit: u32::MAX }
    }

    pub fn with_write_limit(mut self, per_min: u32) -> Self {
        self.write_limit = per_min;
        self
    }

    /// Count one write of `user`; 429 with `Retry-After` over the per-minute limit (a runaway script,
    /// not a person: the default is 20 a second, sustained for a minute).
    pub async fn check_writes(&self, user: shared_types::UserId) -> Result<(), ApiError> {
        let w = self.store.rate_hit(&format!("writes:{user}"), 60).await?;
        if w.estimate() > self.write_limit as f64 {
            let mut e = ApiError::rate_limited(w.retry_after(self.write_limit));
            e.problem.message = "too many writes in a minute; slow down and try again".into();
            return Err(e);
        }
        Ok(())
    }

    fn account_key(email: &str) -> String {
        format!("login-failed:{email}")
    }

    /// Count an attempt from `ip`; 429 with `Retry-After` when over the per-minute limit.
    pub async fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        let w = self.store.rate_hit(&format!("login-ip:{ip}"), 60).await?;
        if w.estimate() > self.ip_limit as f64 {
            return Err(ApiError::rate_limited(w.retry_after(self.ip_limit)));
        }
        Ok(())
    }

    /// 429 with `Retry-After` while the account has too many recent failures.
    pub async fn check_account(&self, email: &str) -> Result<(), ApiError> {
        let w = self.store.rate_peek(&Self::account_key(email), ACCOUNT_WINDOW).await?;
        if w.estimate() >= self.account_limit as f64 {
            return Err(ApiError::rate_limited(w.retry_after(self.account_limit)));
        }
        Ok(())
    }

    pub async fn record_failure(&self, email: &str) -> Result<(), StoreError> {
        self.store.rate_hit(&Self::account_key(email), ACCOUNT_WINDOW).await.map(|_| ())
    }

    pub async fn record_success(&self, email: &str) -> Result<(), StoreError> {
        self.store.rate_clear(&Self::account_key(email)).await
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
