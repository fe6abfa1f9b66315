//! Login, logout, me.

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared_types::dto::{LoginRequest, LoginResponse, MeResponse, RedeemLink};
use shared_types::error::ErrorCode;
use std::net::SocketAddr;

fn wrong_login() -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, "email or password is wrong")
}

pub async fn login(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    audit: Audit,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let email = req.email.trim().to_lowercase();
    audit.target(email.chars().take(254).collect::<String>());
    app.limiter.check_ip(peer.ip()).await?;
    if email.is_empty() || email.len() > 254 || req.password.len() > 1024 {
        return Err(wrong_login());
    }
    let record = app.store.user_by_email(&email).await?;
    if let Some(r) = &record {
        // The account's school sees attempts on it, failed ones too.
        audit.tenant(r.user.tenant_id).actor(r.user.id);
    }
    app.limiter.check_account(&email).await?;
    // A user who has not chosen a password yet (invited) costs the same as an unknown one.
    let stored = record.as_ref().map(|r| r.hashed_password.clone()).filter(|h| h != studio_store::NO_PASSWORD);
    // Bounded: a storm of logins queues for a hashing slot, then gets 503 + Retry-After.
    let ok = app.hashing.verify(req.password, stored, app.hash_wait()).await.map_err(|_| {
        app.metrics.login_shed();
        ApiError::busy(2)
    })?;
    // A deactivated account answers exactly like a wrong password (after the same hashing work).
    let Some(record) = record.filter(|r| ok && r.active) else {
        app.limiter.record_failure(&email).await?;
        tracing::info!("failed login");
        return Err(wrong_login());
    };
    app.limiter.record_success(&email).await?;
    // A school that signs in only through its own provider refuses the password (after it was
    // checked, so this says nothing about accounts to someone who does not know the password).
    let sso_only = app.store.sso_settings(record.user.tenant_id).await?.is_some_and(|s| !s.password_sign_in);
    if sso_only && !record.platform_admin {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "your school signs in with its own accounts: choose \"Sign in with your school\"",
        ));
    }
    sign_in(&app, &headers, record.user).await
}

/// A fresh token for `user`, in the answer and as the `studio_token` cookie.
pub(crate) async fn sign_in(
    app: &AppState,
    headers: &HeaderMap,
    user: shared_types::dto::UserDto,
) -> ApiResult<Response> {
    let (token, hash) = auth::new_token();
    let expires_at = chrono::Utc::now() + chrono::Duration::hours(app.config.token_ttl_hours);
    app.store.insert_token(&hash, &user, expires_at).await?;
    let secure = if app.config.tls_public() || forwarded_https(headers) { "; Secure" } else { "" };
    let cookie = format!(
        "studio_token={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        app.config.token_ttl_hours * 3600
    );
    let mut resp = Json(LoginResponse { token, expires_at, user }).into_response();
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Use an invite or reset link: set the password chosen and sign in. A used, expired or unknown
/// link is `422 link_invalid` (and the password is not checked against anything).
pub async fn redeem(
    State(app): State<AppState>,
    audit: Audit,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RedeemLink>,
) -> ApiResult<Response> {
    crate::http::admin::validate_password(&req.password)?;
    if req.token.is_empty() || req.token.len() > 100 {
        return Err(link_invalid());
    }
    let hash = crate::http::onboarding::hash(&app, req.password).await?;
    let record = app.store.redeem_link(&auth::token_hash(&req.token), &hash).await?.ok_or_else(link_invalid)?;
    audit.tenant(record.user.tenant_id).actor(record.user.id).target(format!("user:{}", record.user.id));
    app.limiter.record_success(&record.user.email).await?;
    sign_in(&app, &headers, record.user).await
}

/// How long a hand-off link is good for.
pub const HANDOFF_SECS: i64 = 60;

/// `POST /api/auth/handoff`: a link that signs the caller in once, within a minute, in a browser —
/// the studio opens it for the present view (the Linux window has no WebRTC). `next` must be a route
/// of the app (`#/…`); the link lands there.
pub async fn handoff(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    headers: HeaderMap,
    ApiJson(req): ApiJson<shared_types::dto::HandoffRequest>,
) -> ApiResult<(StatusCode, Json<shared_types::dto::HandoffLink>)> {
    let next = next_route(req.next.as_deref())?;
    audit.tenant(caller.user.tenant_id).target(format!("user:{}", caller.user.id));
    let (link, expires_at) = handoff_link(&app, &headers, caller.user.tenant_id, caller.user.id, &next)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok((StatusCode::CREATED, Json(shared_types::dto::HandoffLink { link, expires_at })))
}

/// The app route a link lands on: `#/…` only (never another site); none → `#/`.
pub fn next_route(next: Option<&str>) -> ApiResult<String> {
    let next = next.unwrap_or("#/");
    if !next.starts_with("#/") || next.len() > 200 || next.chars().any(|c| c.is_whitespace() || c == '&') {
        return Err(ApiError::validation("next", "a route of the app, like #/present/<sessionId>"));
    }
    Ok(next.to_string())
}

/// A link that signs `user` in once, within [`HANDOFF_SECS`], and lands on `next` (checked by
/// [`next_route`]); `None` when the user is not the tenant's. The studio's hand-off and a school's
/// single sign-on both end here.
pub async fn handoff_link(
    app: &AppState,
    headers: &HeaderMap,
    tenant: shared_types::TenantId,
    user: shared_types::UserId,
    next: &str,
) -> ApiResult<Option<(String, chrono::DateTime<chrono::Utc>)>> {
    let (token, token_hash) = auth::new_token();
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(HANDOFF_SECS);
    let link =
        studio_store::NewLink { token_hash, purpose: studio_store::LinkPurpose::Handoff, expires_at, challenge: None };
    if app.store.create_link(tenant, user, &link).await?.is_none() {
        return Ok(None);
    }
    let base = crate::http::onboarding::public_base(app, headers);
    Ok(Some((format!("{base}/app/#/handoff?token={token}&next={}", next.trim_start_matches('#')), expires_at)))
}

/// `POST /api/auth/handoff/redeem`: spend a hand-off link and sign in (cookie and token). Used,
/// expired or unknown: `422 link_invalid`.
pub async fn redeem_handoff(
    State(app): State<AppState>,
    audit: Audit,
    headers: HeaderMap,
    ApiJson(req): ApiJson<shared_types::dto::RedeemHandoff>,
) -> ApiResult<Response> {
    if req.token.is_empty() || req.token.len() > 100 {
        return Err(link_invalid());
    }
    let record = app.store.redeem_handoff(&auth::token_hash(&req.token)).await?.ok_or_else(link_invalid)?;
    audit.tenant(record.user.tenant_id).actor(record.user.id).target(format!("user:{}", record.user.id));
    sign_in(&app, &headers, record.user).await
}

fn link_invalid() -> ApiError {
    ApiError::new(ErrorCode::LinkInvalid, "this link was used already or has expired; ask your school for a new one")
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
