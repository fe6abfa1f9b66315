//! Login, logout, me.

use crate::app::AppState;
use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared_types::dto::{LoginRequest, LoginResponse, MeResponse};
use shared_types::error::ErrorCode;
use std::net::SocketAddr;

fn wrong_login() -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, "email or password is wrong")
}

pub async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    app.limiter.check_ip(peer.ip()).map_err(ApiError::rate_limited)?;
    let email = req.email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 || req.password.len() > 1024 {
        return Err(wrong_login());
    }
    app.limiter.check_account(&email).map_err(ApiError::rate_limited)?;
    let record = app.store.user_by_email(&email).await?;
    let stored = record.as_ref().map(|r| r.hashed_password.clone());
    // Bounded: a storm of logins queues for a hashing slot, then gets 503 + Retry-After.
    let ok = app.hashing.verify(req.password, stored, app.hash_wait()).await.map_err(|_| {
        app.metrics.login_shed();
        ApiError::busy(2)
    })?;
    // A deactivated account answers exactly like a wrong password (after the same hashing work).
    let Some(record) = record.filter(|r| ok && r.active) else {
        app.limiter.record_failure(&email);
        tracing::info!("failed login");
        return Err(wrong_login());
    };
    app.limiter.record_success(&email);
    let (token, hash) = auth::new_token();
    let expires_at = chrono::Utc::now() + chrono::Duration::hours(app.config.token_ttl_hours);
    app.store.insert_token(&hash, &record.user, expires_at).await?;
    let secure = if app.config.tls_public() || forwarded_https(&headers) { "; Secure" } else { "" };
    let cookie = format!(
        "studio_token={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        app.config.token_ttl_hours * 3600
    );
    let mut resp = Json(LoginResponse { token, expires_at, user: record.user }).into_response();
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Behind a TLS-terminating proxy that says so.
fn forwarded_https(h: &HeaderMap) -> bool {
    h.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub async fn logout(State(app): State<AppState>, caller: Caller) -> ApiResult<(StatusCode, HeaderMap)> {
    // Revoking also closes this token's live sockets, on every node.
    app.store.revoke_token(&caller.token_hash).await?;
    let mut h = HeaderMap::new();
    h.insert(header::SET_COOKIE, "studio_token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0".parse().expect("cookie"));
    Ok((StatusCode::NO_CONTENT, h))
}

pub async fn me(caller: Caller) -> Json<MeResponse> {
    Json(MeResponse {
        id: caller.user.id,
        email: caller.user.email,
        tenant_id: caller.user.tenant_id,
        platform_admin: caller.actor.platform_admin,
        roles: caller.actor.grants,
    })
}
