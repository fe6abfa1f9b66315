//! Reading the log, the folded state, and the studio's journal sync.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::{authorize, ensure, session_target};
use crate::store::{AppendOutcome, NewEvent};
use axum::extract::State;
use axum::Json;
use shared_types::dto::*;
use shared_types::error::ErrorCode;
use shared_types::policy::Action;
use shared_types::requests::{EventsQuery, StateQuery};
use shared_types::{SessionActor, SessionCommand, SessionEvent, SessionId};

pub const MAX_BATCH: usize = 1_000;
const MAX_PAGE: u64 = 1_000;

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
    let (session, target) = session_target(&app, &caller, id).await?;
    ensure(&caller, Action::SyncJournal, &target)?;
    if req.events.is_empty() || req.events.len() > MAX_BATCH {
        return Err(ApiError::validation("events", format!("must hold 1 to {MAX_BATCH} events")));
    }
    let actor = SessionActor::participant(&caller.actor, &target);
    let window = occurred_window(&session);
    // Decode and authorise every entry first; those refused get their error and are not sent to
    // the store. Each entry needs the same policy action as the route that writes its event type.
    let mut keys = Vec::with_capacity(req.events.len());
    let mut refusals = Vec::with_capacity(req.events.len());
    let mut valid = Vec::with_capacity(req.events.len());
    for e in req.events {
        keys.push(e.idempotency_key.clone());
        match admit(&actor, &window, e) {
            Ok(ne) => {
                valid.push(ne);
                refusals.push(None);
            }
            Err(error) => refusals.push(Some(error)),
        }
    }
    let (mut outcomes, head) = if valid.is_empty() {
        (Vec::new(), session.head)
    } else {
        let (outcomes, state) = app.append(target.tenant, id, valid).await?;
        (outcomes, state.head)
    };
    outcomes.reverse();
    let results = keys
        .into_iter()
        .zip(refusals)
        .map(|(idempotency_key, refused)| {
            let err = |idempotency_key, code: ErrorCode, message: String| BatchResult::Err {
                idempotency_key,
                error: BatchError { code: code.as_str().into(), message },
            };
            match refused {
                Some(error) => BatchResult::Err { idempotency_key, error },
                None => match outcomes.pop() {
                    Some(AppendOutcome::Appended(env)) | Some(AppendOutcome::Replayed(env)) => {
                        BatchResult::Ok { idempotency_key, sequence: env.sequence }
                    }
                    Some(AppendOutcome::Rejected(r)) => err(idempotency_key, r.error_code(), r.to_string()),
                    Some(AppendOutcome::KeyReused) => err(
                        idempotency_key,
                        ErrorCode::IdempotencyKeyReused,
                        "the key was used by another participant".into(),
                    ),
                    None => err(idempotency_key, ErrorCode::Internal, "no outcome".into()),
                },
            }
        })
        .collect();
    Ok(Json(BatchResponse { results, head }))
}

/// How far `occurredAt` may lie from the session: a day before it was scheduled to start (the
/// studio prepares offline), and no later than a few minutes from now (clock skew).
pub struct OccurredWindow {
    pub earliest: chrono::DateTime<chrono::Utc>,
    pub latest: chrono::DateTime<chrono::Utc>,
}

fn occurred_window(s: &SessionDto) -> OccurredWindow {
    OccurredWindow {
        earliest: s.scheduled_start - chrono::Duration::days(1),
        latest: chrono::Utc::now() + chrono::Duration::minutes(5),
    }
}

fn refused(code: ErrorCode, message: impl Into<String>) -> BatchError {
    BatchError { code: code.as_str().into(), message: message.into() }
}

/// One journal entry: decoded, its key and time checked, and allowed by the event-origin table.
fn admit(actor: &SessionActor, window: &OccurredWindow, e: BatchEvent) -> Result<NewEvent, BatchError> {
    let key = &e.idempotency_key;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refused(ErrorCode::ValidationFailed, "idempotencyKey must be 1–255 printable ASCII characters"));
    }
    // `/` is how the server namespaces its own keys (`<userId>/<key>` for HTTP writes, `egress/…`).
    if key.contains('/') {
        return Err(refused(
            ErrorCode::ValidationFailed,
            "idempotencyKey must not contain `/` (reserved for the server)",
        ));
    }
    if let Some(at) = e.occurred_at {
        if at < window.earliest || at > window.latest {
            return Err(refused(
                ErrorCode::ValidationFailed,
                format!(
                    "occurredAt must lie between {} and {}",
                    window.earliest.to_rfc3339(),
                    window.latest.to_rfc3339()
                ),
            ));
        }
    }
    let event = SessionEvent::from_parts(&e.event_type, shared_types::events::CURRENT_VERSION, e.payload)
        .map_err(|err| refused(ErrorCode::ValidationFailed, err.to_string()))?;
    // The entry asks for the command the matching route would: decided with the same policy (the
    // state half runs in the append, under the row lock, entry after entry).
    let rejected = |r: shared_types::Rejection| refused(r.error_code(), r.to_string());
    let command = SessionCommand::from_journal(event).map_err(rejected)?;
    let event = shared_types::decide::authorize(actor, command).map_err(rejected)?;
    Ok(NewEvent {
        idempotency_key: e.idempotency_key,
        actor_id: actor.user,
        actor_role: actor.role,
        occurred_at: e.occurred_at,
        event,
    })
}
