//! Session lifecycle (spec §4.2): schedule, start, join, leave, end — each one event.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::idempotency::IdemKey;
use crate::http::{authorize, ensure, session_target};
use crate::store::{AppendOutcome, NewEvent};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use shared_types::dto::*;
use shared_types::error::ErrorCode;
use shared_types::policy::{Action, Target};
use shared_types::{EventEnvelope, LessonId, Permissions, Role, SessionActor, SessionCommand, SessionId, SessionState};

/// Turn one append outcome into the envelope or the error the client sees.
pub fn outcome(o: AppendOutcome) -> ApiResult<EventEnvelope> {
    match o {
        AppendOutcome::Appended(e) | AppendOutcome::Replayed(e) => Ok(e),
        AppendOutcome::Rejected(r) => Err(r.into()),
        AppendOutcome::KeyReused => Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "this key was already used in this session by another participant",
        )),
    }
}

/// The session-log key for an event written by an HTTP request. HTTP keys belong to one user, while
/// log keys are unique per session, so the user id namespaces them.
pub fn event_key(caller: &Caller, http_key: &str) -> String {
    format!("{}/{http_key}", caller.user.id)
}

/// Decide the caller's command (`shared_types::decide`) and append what it becomes. The state
/// half of the decision runs in the append, under the session's row lock.
pub async fn submit(
    app: &AppState,
    caller: &Caller,
    target: &Target,
    key: &str,
    command: SessionCommand,
) -> ApiResult<EventEnvelope> {
    Ok(submit_as(app, caller, target, key, command, false).await?.0)
}

/// [`submit`], with the session's state right after the write (for answers that show the object
/// the write changed, without reading the state again).
pub async fn submit_then(
    app: &AppState,
    caller: &Caller,
    target: &Target,
    key: &str,
    command: SessionCommand,
) -> ApiResult<(EventEnvelope, std::sync::Arc<SessionState>)> {
    let (event, _, state) = submit_as(app, caller, target, key, command, false).await?;
    Ok((event, state))
}

/// [`submit`], also saying whether the event is new (`false`: this key wrote it before), with the
/// state after the write. With
/// `by_server`, a fact this server records for the caller's request after its side effect happened
/// (a stream egress started, a recording stored): decided as the system, attributed to the caller.
pub async fn submit_as(
    app: &AppState,
    caller: &Caller,
    target: &Target,
    key: &str,
    command: SessionCommand,
    by_server: bool,
) -> ApiResult<(EventEnvelope, bool, std::sync::Arc<SessionState>)> {
    let session = target.session.ok_or_else(|| ApiError::not_found("session"))?;
    let actor = SessionActor::participant(&caller.actor, target);
    let actor = if by_server { actor.on_behalf() } else { actor };
    let event = shared_types::decide::authorize(&actor, command).inspect_err(|_| app.metrics.appended(0, 1))?;
    let ne = NewEvent {
        idempotency_key: event_key(caller, key),
        actor_id: actor.user,
        actor_role: actor.role,
        occurred_at: None,
        event,
    };
    let (mut outcomes, state) = app.append(target.tenant, session, vec![ne]).await?;
    let first = outcomes.remove(0);
    let fresh = matches!(first, AppendOutcome::Appended(_));
    let result = outcome(first);
    app.metrics.appended(result.is_ok() as u64, result.is_err() as u64);
    Ok((result?, fresh, state))
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<SessionDto>)> {
    let tenant = caller.user.tenant_id;
    let lesson = app.store.lesson(tenant, req.lesson_id).await?.ok_or_else(|| ApiError::not_found("lesson"))?;
    let key = event_key(&caller, &key);
    let session = schedule(&app, &caller.actor, &lesson, (req.scheduled_start, req.scheduled_end), key).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Schedule a session of `lesson` as `actor` (decided against the empty state: the times are the
/// reducer's rule), its first event written under `key`.
pub async fn schedule(
    app: &AppState,
    actor: &shared_types::policy::Actor,
    lesson: &LessonDto,
    (scheduled_start, scheduled_end): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    key: String,
) -> ApiResult<SessionDto> {
    let tenant = actor.tenant;
    let target = Target::course(tenant, lesson.course_id);
    let actor = SessionActor::participant(actor, &target);
    let command = SessionCommand::Schedule { scheduled_start, scheduled_end };
    let event = shared_types::decide(&SessionState::default(), &actor, command)?.remove(0);
    let ne = NewEvent { idempotency_key: key, actor_id: actor.user, actor_role: actor.role, occurred_at: None, event };
    match app.store.create_session(tenant, lesson, scheduled_start, scheduled_end, ne).await? {
        Ok((session, _)) => Ok(session),
        Err(refused) => Err(outcome(refused).err().unwrap_or_else(ApiError::internal)),
    }
}

pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<SessionId>,
) -> ApiResult<Json<SessionDto>> {
    let (s, target) = session_target(&app, &caller, id).await?;
    ensure(&caller, Action::ViewSession, &target)?;
    Ok(Json(s))
}

pub async fn lesson_sessions(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(lesson_id): ApiPath<LessonId>,
) -> ApiResult<Json<Vec<SessionDto>>> {
    let tenant = caller.user.tenant_id;
    let lesson = app.store.lesson(tenant, lesson_id).await?.ok_or_else(|| ApiError::not_found("lesson"))?;
    ensure(&caller, Action::ViewCourse, &Target::course(tenant, lesson.course_id))?;
    Ok(Json(app.store.sessions_of_lesson(tenant, lesson_id).await?))
}

pub async fn start(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<SessionAction>,
) -> ApiResult<Json<StartResponse>> {
    let t = std::time::Instant::now();
    let started = start_class(app.clone(), caller, key, req).await;
    if started.is_ok() {
        app.metrics.session_start.observe(t.elapsed());
    }
    started.map(Json)
}

/// Start the class: the event, the LiveKit room and grant, the recording asked for.
async fn start_class(app: AppState, caller: Caller, key: String, req: SessionAction) -> ApiResult<StartResponse> {
    let target = authorize(&app, &caller, req.session_id, Action::StartSession).await?;
    let room = crate::livekit::room_name(req.session_id);
    // Decide first: a second Start (another tab, a double click) is refused here and creates
    // nothing. Media side effects follow only a start that happened.
    let (event, fresh, _) =
        submit_as(&app, &caller, &target, &key, SessionCommand::Start { room: Some(room.clone()) }, false).await?;
    // If LiveKit is down the class still runs, and the teacher is told why media is off. Creating
    // the room again for a replayed start is harmless (LiveKit returns the existing room).
    let mut livekit = None;
    let mut livekit_error = None;
    if let Some(lk) = &app.livekit {
        app.metrics.room_created();
        match lk.create_room(&room).await.and_then(|_| media_grant(lk, &room, &caller, Role::Teacher)) {
            Ok(g) => livekit = Some(g),
            Err(e) => {
                tracing::warn!(error = %e, "starting a class without media");
                livekit_error = Some(livekit_unavailable(&e).problem.as_ref().clone());
            }
        }
    }
    // The class recording starts when the teacher first publishes (see `crate::egress`): the egress
    // follows the teacher's own tracks, so it needs them in the room.
    let recording = (app.config.livekit_record && app.config.s3.is_some() && livekit.is_some() && fresh).then(
        || serde_json::json!({ "status": "armed", "startsWhen": "the teacher publishes a microphone or camera" }),
    );
    let (session, _) = session_target(&app, &caller, req.session_id).await?;
    Ok(StartResponse { session, event, livekit, livekit_error, recording })
}

pub fn livekit_unavailable(e: &crate::livekit::Unavailable) -> ApiError {
    ApiError::new(
        ErrorCode::LivekitUnavailable,
        "live audio and video are unavailable right now; chat, polls and slides still work",
    )
    .details(serde_json::json!({ "reason": e.0 }))
}

fn media_grant(
    lk: &crate::livekit::LiveKit,
    room: &str,
    caller: &Caller,
    role: Role,
) -> Result<LiveKitGrant, crate::livekit::Unavailable> {
    let name = caller.user.display_name.clone().unwrap_or_else(|| caller.user.email.clone());
    Ok(LiveKitGrant {
        url: lk.cfg.url.clone(),
        token: lk.token(room, caller.user.id, &name, role)?,
        room: room.to_string(),
    })
}

pub async fn join(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<SessionAction>,
) -> ApiResult<Json<JoinResponse>> {
    let target = authorize(&app, &caller, req.session_id, Action::JoinSession).await?;
    let actor = SessionActor::participant(&caller.actor, &target);
    let role = actor.role.ok_or_else(ApiError::forbidden)?;
    // Decide before the media side effects: joining a class that is not live creates no room.
    let state = app.store.state(target.tenant, req.session_id, None).await?;
    shared_types::decide(&state, &actor, SessionCommand::Join)?;
    // With LiveKit configured but unreachable, joining fails clearly (503) and writes nothing.
    let mut livekit = None;
    if let Some(lk) = &app.livekit {
        let room = crate::livekit::room_name(req.session_id);
        let rooms = lk.rooms(vec![room.clone()]).await.map_err(|e| {
            app.metrics.join(false);
            livekit_unavailable(&e)
        })?;
        if rooms.is_empty() {
            lk.create_room(&room).await.map_err(|e| livekit_unavailable(&e))?;
        }
        livekit = Some(media_grant(lk, &room, &caller, role).map_err(|e| livekit_unavailable(&e))?);
    }
    let event = submit(&app, &caller, &target, &key, SessionCommand::Join).await;
    app.metrics.join(event.is_ok());
    let event = event?;
    let permissions = Permissions::of(role);
    Ok(Json(JoinResponse {
        participant: ParticipantDto { user_id: caller.user.id, role, permissions },
        event,
        livekit,
    }))
}

pub async fn leave(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<SessionAction>,
) -> ApiResult<Json<SessionEventResponse>> {
    let target = authorize(&app, &caller, req.session_id, Action::LeaveSession).await?;
    let event = submit(&app, &caller, &target, &key, SessionCommand::Leave).await?;
    let (session, _) = session_target(&app, &caller, req.session_id).await?;
    Ok(Json(SessionEventResponse { session, event }))
}

pub async fn end(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<SessionAction>,
) -> ApiResult<Json<SessionEventResponse>> {
    let target = authorize(&app, &caller, req.session_id, Action::EndSession).await?;
    let event = submit(&app, &caller, &target, &key, SessionCommand::End).await?;
    crate::egress::close_room(&app, req.session_id).await;
    let (session, _) = session_target(&app, &caller, req.session_id).await?;
    Ok(Json(SessionEventResponse { session, event }))
}
