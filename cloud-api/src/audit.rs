//! The audit trail: one entry per login outcome, logout, admin action, stream change, job retry
//! (the routes the table in `http::api` marks with `.audited(…)`) and per permission denial on any
//! route. The middleware writes the entry after the handler ran, from what the request carried
//! (caller, IP, request id) and what the handler noted (tenant, actor, target).

use crate::app::AppState;
use crate::auth::Caller;
use crate::http::openapi::DescribeArg;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use shared_types::{TenantId, UserId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use studio_store::AuditEntry;

/// What a handler adds to its request's entry (every field optional: the caller and the path are
/// the defaults).
#[derive(Default, Debug)]
struct Note {
    tenant: Option<TenantId>,
    actor: Option<UserId>,
    target: Option<String>,
}

/// A handler's hold on its request's audit entry.
#[derive(Clone, Default, Debug)]
pub struct Audit(Arc<Mutex<Note>>);

impl Audit {
    /// The tenant the action was about (a platform admin acting on another tenant, a login).
    pub fn tenant(&self, t: TenantId) -> &Self {
        self.0.lock().expect("audit note").tenant = Some(t);
        self
    }

    /// Who acted, where there is no caller (a login names the account it tried).
    pub fn actor(&self, u: UserId) -> &Self {
        self.0.lock().expect("audit note").actor = Some(u);
        self
    }

    /// What the action was on (`user:<id>`, `course:<id>`, an email, …); defaults to the path.
    pub fn target(&self, t: impl std::fmt::Display) -> &Self {
        self.0.lock().expect("audit note").target = Some(t.to_string());
        self
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Audit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Outside the audit layer (a unit test calling a handler), notes go nowhere.
        Ok(parts.extensions.get::<Audit>().cloned().unwrap_or_default())
    }
}

impl DescribeArg for Audit {}

/// The audited routes: (method, route path) → action name.
pub type Actions = Arc<HashMap<(String, String), &'static str>>;

/// The outcome an answer's status stands for.
pub fn outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=399 => "ok",
        401 => "failed",
        403 => "denied",
        429 => "limited",
        400..=499 => "refused",
        _ => "error",
    }
}

/// The middleware (inside `resolve_caller`, so it sees the caller; outside idempotency, so a replayed
/// answer — the same request again — is not a second entry).
pub async fn record(State((app, actions)): State<(AppState, Actions)>, mut req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let action = route.as_ref().and_then(|r| actions.get(&(method.clone(), r.clone())).copied());
    let note = Audit::default();
    req.extensions_mut().insert(note.clone());
    let caller = req.extensions().get::<Caller>().map(|c| (c.user.id, c.user.tenant_id));
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let path = req.uri().path().to_string();

    let resp = next.run(req).await;
    let status = resp.status();
    if resp.headers().contains_key("idempotent-replayed") {
        return resp;
    }
    let action = match action {
        Some(a) => a.to_string(),
        // Any route's permission denial is audited, named by its method and route.
        None if status == StatusCode::FORBIDDEN => format!("{method} {}", route.unwrap_or(path.clone())),
        None => return resp,
    };
    let note = std::mem::take(&mut *note.0.lock().expect("audit note"));
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: chrono::Utc::now(),
        tenant_id: note.tenant.or(caller.map(|c| c.1)),
        actor_id: note.actor.or(caller.map(|c| c.0)),
        action,
        target: note.target.unwrap_or(path),
        outcome: outcome(status).to_string(),
        request_id,
        ip,
    };
    if let Err(e) = app.store.audit_append(&entry).await {
        app.metrics.audit_write_failed();
        tracing::error!(error = %e, action = %entry.action, "audit entry not written");
    }
    resp
}
