//! `Idempotency-Key` for every POST/PATCH/DELETE: missing → 400, same request → stored response
//! replayed with `Idempotent-Replayed: true`, different request → 422, still running → 409.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::store::{IdemBegin, StoredResponse};
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use shared_types::error::ErrorCode;

/// The key the request was made under, for handlers that derive event keys from it.
#[derive(Clone, Debug)]
pub struct IdemKey(pub String);

/// Routes that authenticate differently and dedupe by their own means.
const EXEMPT: &[&str] = &[
    "/api/auth/login",
    "/api/auth/logout",
    "/api/auth/redeem",
    "/api/auth/handoff/redeem",
    "/api/auth/sso/token",
    "/api/lti/",
    "/api/webhooks/",
];

/// Writes not replayed by key: signing in and out, a one-time link (its token is the key), webhooks.
pub fn exempt(path: &str) -> bool {
    EXEMPT.iter().any(|p| path.starts_with(p))
}

pub const MAX_BODY: usize = 1024 * 1024;

/// Routes whose bodies are spooled to disk as they arrive (class recordings, up to
/// `Config::max_recording_bytes`); handlers find the file as an `Arc<Spooled>` extension.
pub fn is_streamed(path: &str) -> bool {
    path.starts_with("/api/sessions/") && (path.ends_with("/recordings") || is_part(path))
}

/// A part of a resumable recording upload (`…/recordings/uploads/{id}/parts/{n}`).
fn is_part(path: &str) -> bool {
    path.contains("/recordings/uploads/") && path.rsplit('/').nth(1) == Some("parts")
}

/// The most a streamed route takes.
pub fn streamed_limit(config: &crate::config::Config, path: &str) -> usize {
    if is_part(path) {
        crate::http::replay::MAX_PART_BYTES
    } else {
        config.max_recording_bytes
    }
}

/// Routes that take uploads up to `Config::max_upload_bytes` (registered with `post_upload`).
pub fn is_upload(path: &str) -> bool {
    path == "/api/studio/assets"
        || (path.starts_with("/api/sessions/")
            && (path.ends_with("/recordings") || path.contains("/recordings/uploads/")))
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic())
}

pub async fn idempotency(State(app): State<AppState>, req: Request, next: Next) -> Result<Response, ApiError> {
    let writes = matches!(*req.method(), Method::POST | Method::PATCH | Method::DELETE | Method::PUT);
    let path = req.uri().path().to_string();
    if !writes || exempt(&path) {
        return Ok(next.run(req).await);
    }
    let Some(caller) = req.extensions().get::<Caller>().cloned() else {
        return Ok(next.run(req).await); // the handler answers 401
    };
    let (mut parts, body) = req.into_parts();
    let (bytes, spooled) = if is_streamed(&path) {
        let dir = crate::spool::dir(&app.config.data_dir);
        let limit = streamed_limit(&app.config, &path) as u64;
        let got = crate::spool::spool(&dir, body, limit).await.map_err(|e| match e {
            crate::spool::SpoolError::TooLarge(_) => {
                ApiError::new(ErrorCode::PayloadTooLarge, "the recording is larger than the server accepts")
            }
            crate::spool::SpoolError::Read(e) if crate::serve::is_timeout(e.as_ref()) => {
                ApiError::new(ErrorCode::RequestTimeout, "the request body stopped arriving")
            }
            crate::spool::SpoolError::Read(_) => ApiError::bad_request("the request body could not be read"),
            crate::spool::SpoolError::Write(e) => {
                tracing::error!(error = %e, "could not spool an upload");
                ApiError::internal()
            }
        })?;
        (Bytes::new(), Some(std::sync::Arc::new(got)))
    } else {
        let limit = if is_upload(&path) { app.config.max_upload_bytes } else { MAX_BODY };
        let bytes = to_bytes(body, limit).await.map_err(|e| {
            if crate::serve::is_timeout(&e) {
                ApiError::new(ErrorCode::RequestTimeout, "the request body stopped arriving")
            } else {
                ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
            }
        })?;
        (bytes, None)
    };
    let header_key = match parts.headers.get("idempotency-key") {
        Some(v) => {
            Some(v.to_str().map_err(|_| ApiError::bad_request("Idempotency-Key must be printable ASCII"))?.to_string())
        }
        None => None,
    };
    let key = match header_key {
        Some(k) => k,
        None => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("idempotencyKey").and_then(|k| k.as_str()).map(str::to_string))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::IdempotencyKeyMissing,
                    "send an Idempotency-Key header (or idempotencyKey in the body)",
                )
            })?,
    };
    if !valid_key(&key) {
        return Err(ApiError::bad_request("Idempotency-Key must be 1–255 printable ASCII characters"));
    }
    let mut h = Sha256::new();
    h.update(parts.method.as_str());
    h.update(b"\n");
    h.update(parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or(""));
    h.update(b"\n");
    match &spooled {
        Some(s) => h.update(s.sha256.as_bytes()),
        None => h.update(&bytes),
    }
    let fingerprint = hex::encode(h.finalize());

    let user = caller.user.id;
    // A claim held by another node is waited on briefly: either that request finishes (its answer
    // is replayed) or its node turns out dead and this request takes over — so a client retrying
    // after a crash gets its answer, not a 409.
    let patience = tokio::time::Instant::now() + crate::store::NODE_DEAD_AFTER + std::time::Duration::from_secs(1);
    let (begin, _claim) = loop {
        let got = app.store.idem_begin(caller.user.tenant_id, user, &key, &fingerprint).await?;
        match got.0 {
            IdemBegin::InFlight { elsewhere: true } if tokio::time::Instant::now() < patience => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            _ => break got,
        }
    };
    match begin {
        IdemBegin::Replay(stored) => return Ok(replayed(stored)),
        IdemBegin::Mismatch => {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used for a different request",
            ))
        }
        IdemBegin::InFlight { .. } => {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyInFlight,
                "a request with this Idempotency-Key is still running",
            ))
        }
        IdemBegin::Proceed => {}
    }
    // A new write (a replay above is not one) counts against the caller's limit, on every node.
    if let Err(e) = app.limiter.check_writes(user).await {
        app.store.idem_release_or_later(user, &key).await;
        return Err(e);
    }
    parts.extensions.insert(IdemKey(key.clone()));
    if let Some(s) = spooled {
        parts.extensions.insert(s);
    }
    let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (rparts, rbody) = resp.into_parts();
    let body = match to_bytes(rbody, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "could not buffer a response");
            app.store.idem_release_or_later(user, &key).await;
            return Err(ApiError::internal());
        }
    };
    if stored_for_retries(rparts.status.as_u16()) {
        let stored = StoredResponse {
            status: rparts.status.as_u16(),
            content_type: rparts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string),
            body: body.to_vec(),
        };
        if let Err(e) = app.store.idem_finish(user, &key, &stored).await {
            // The write itself is done (its events are deduplicated by key); the client gets its answer.
            tracing::warn!(error = %e, "could not store an idempotent response");
            app.store.idem_release_or_later(user, &key).await;
        }
    } else {
        // Not the request's final answer: a retry with the same key runs again.
        app.store.idem_release_or_later(user, &key).await;
    }
    Ok(Response::from_parts(rparts, Body::from(body)))
}

/// Which answers a retry must see again (Stripe's rule): successes and refusals of the request
/// itself (400, 404, 405, 410, 413, 415, 422). Not our failures (5xx), nor answers that depend on the
/// moment — who you are (401/403), the session's state (409), timeouts (408) and limits (429): a
/// retry after the state changed must be decided afresh.
pub fn stored_for_retries(status: u16) -> bool {
    matches!(status, 200..=299 | 400 | 404 | 405 | 410 | 413 | 415 | 422)
}

fn replayed(stored: StoredResponse) -> Response {
    let status = axum::http::StatusCode::from_u16(stored.status).unwrap_or(axum::http::StatusCode::OK);
    let mut resp = (status, stored.body).into_response();
    let h = resp.headers_mut();
    if let Some(ct) = stored.content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::CONTENT_TYPE, ct);
    }
    h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}
