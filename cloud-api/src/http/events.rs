//! Reading the log, the folded state, and the studio's journal sync.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{authorize, ensure, session_target};
use crate::store::{AppendOutcome, NewEvent};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use shared_types::dto::*;
use shared_types::policy::Action;
use shared_types::{SessionEvent, SessionId};

pub const MAX_BATCH: usize = 1_000;
const MAX_PAGE: u64 = 1_000;

#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    after: u64,
    limit: Option<u64>,
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    let target = authorize(&app, &caller, id, Action::ReadEvents).await?;
    let limit = q.limit.unwrap_or(500).clamp(1, MAX_PAGE);
    let (events, head) = app.store.events_after(target.tenant, id, q.after, limit).await?;
    Ok(Json(EventsPage { events, head }))
}

#[derive(Deserialize)]
pub struct StateQuery {
    at: Option<u64>,
}

pub async fn state(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<StateQuery>,
) -> ApiResult<Json<StateResponse>> {
    let (session, target) = session_target(&app, &caller, id).await?;
    ensure(&caller, Action::ReadEvents, &target)?;
    if q.at.is_some_and(|at| at > session.head) {
        return Err(ApiError::validation("at", format!("must be at most the head ({})", session.head)));
    }
    let state = app.store.state(target.tenant, id, q.at).await?;
    Ok(Json(StateResponse { session_id: id, state }))
}

/// Journal sync: each entry keeps its own idempotency key, so re-sending a batch is harmless.
pub async fn batch(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<SessionId>,
    ApiJson(req): ApiJson<BatchRequest>,
) -> ApiResult<Json<BatchResponse>> {
    let target = authorize(&app, &caller, id, Action::SyncJournal).await?;
    if req.events.is_empty() || req.events.len() > MAX_BATCH {
        return Err(ApiError::validation("events", format!("must hold 1 to {MAX_BATCH} events")));
    }
    let role = caller.actor.session_role(&target);
    // Decode every entry first; those that fail get their error and are not sent to the store.
    let mut decoded: Vec<Result<NewEvent, BatchError>> = Vec::with_capacity(req.events.len());
    for e in &req.events {
        let key_ok = !e.idempotency_key.is_empty() && e.idempotency_key.len() <= 255;
        decoded.push(if !key_ok {
            Err(BatchError {
                code: "validation_failed".into(),
                message: "idempotencyKey must be 1–255 characters".into(),
            })
        } else {
            SessionEvent::from_parts(&e.event_type, shared_types::events::CURRENT_VERSION, e.payload.clone())
                .map(|event| NewEvent {
                    idempotency_key: e.idempotency_key.clone(),
                    actor_id: Some(caller.user.id),
                    actor_role: role,
                    occurred_at: e.occurred_at,
                    event,
                })
                .map_err(|err| BatchError { code: "validation_failed".into(), message: err.to_string() })
        });
    }
    let valid: Vec<NewEvent> = decoded.iter().filter_map(|d| d.as_ref().ok().cloned()).collect();
    let (mut outcomes, head) = if valid.is_empty() {
        (Vec::new(), session_target(&app, &caller, id).await?.0.head)
    } else {
        app.store.append(target.tenant, id, valid).await?
    };
    outcomes.reverse();
    let results = req
        .events
        .iter()
        .zip(decoded)
        .map(|(e, d)| {
            let key = e.idempotency_key.clone();
            let err = |code: &str, message: String| BatchResult::Err {
                idempotency_key: key.clone(),
                error: BatchError { code: code.into(), message },
            };
            match d {
                Err(error) => BatchResult::Err { idempotency_key: key.clone(), error },
                Ok(_) => match outcomes.pop() {
                    Some(AppendOutcome::Appended(env)) | Some(AppendOutcome::Replayed(env)) => {
                        BatchResult::Ok { idempotency_key: key.clone(), sequence: env.sequence }
                    }
                    Some(AppendOutcome::Rejected(r)) => err(r.code(), r.to_string()),
                    Some(AppendOutcome::KeyReused) => {
                        err("idempotency_key_reused", "the key was used by another participant".into())
                    }
                    None => err("internal", "no outcome".into()),
                },
            }
        })
        .collect();
    Ok(Json(BatchResponse { results, head }))
}
