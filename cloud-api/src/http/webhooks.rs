//! `POST /api/webhooks/livekit`: verified over the raw body (JWT with the body's sha256, signed with
//! the LiveKit secret), applied once per webhook id. Participants joining and leaving become events
//! (never a second `participant.joined` for someone the API already let in); a finished room or
//! egress becomes pipeline work.

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::livekit::session_of_room;
use crate::store::{NewEvent, NewJob, Recording};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use chrono::{TimeZone, Utc};
use serde_json::json;
use shared_types::error::ErrorCode;
use shared_types::jobs::JobKind;
use shared_types::media::WebhookAnswer;
use shared_types::policy::{Actor, Target};
use shared_types::{RecordingId, Role, SessionActor, SessionCommand, UserId};

pub async fn livekit(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<WebhookAnswer>> {
    let lk = app.livekit.as_ref().ok_or_else(|| ApiError::not_found("LiveKit integration"))?;
    let body = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the webhook body is not UTF-8"))?;
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(ev) = lk.verify_webhook(body, auth) else {
        tracing::warn!("refused a LiveKit webhook with a bad signature");
        app.metrics.webhook_signature_failed();
        return Err(ApiError::new(ErrorCode::Unauthenticated, "the webhook signature is invalid"));
    };
    if ev.id.is_empty() {
        return Err(ApiError::bad_request("the webhook has no id"));
    }
    if app.store.webhook_seen(&ev.id).await? {
        return Ok(Json(WebhookAnswer { received: true, duplicate: Some(true), handled: None }));
    }
    let handled = handle(&app, &ev).await?;
    app.store.mark_webhook(&ev.id, &ev.event).await?;
    Ok(Json(WebhookAnswer { received: true, duplicate: None, handled: Some(handled.into()) }))
}

/// Apply one verified event; every write is keyed by the webhook id, so a concurrent duplicate
/// delivery changes nothing either.
async fn handle(app: &AppState, ev: &livekit_protocol::WebhookEvent) -> ApiResult<&'static str> {
    // Egress webhooks carry no `room`, only the egress info's room name.
    let room = ev.room.as_ref().map(|r| r.name.as_str()).or(ev.egress_info.as_ref().map(|e| e.room_name.as_str()));
    let Some(session_id) = room.and_then(session_of_room) else {
        return Ok("ignored: not one of our rooms");
    };
    let Some(session) = app.store.session_by_id(session_id).await? else { return Ok("ignored: unknown session") };
    let tenant = session.tenant_id;
    let key = format!("livekit/{}", ev.id);
    match ev.event.as_str() {
        "participant_joined" | "participant_left" => {
            let Some(user) = ev.participant.as_ref().and_then(|p| p.identity.parse::<UserId>().ok()) else {
                return Ok("ignored: not one of our users");
            };
            let state = app.store.state(tenant, session_id, None).await?;
            let present = state.participants.get(&user).is_some_and(|p| p.present);
            let command = if ev.event == "participant_joined" {
                if present {
                    return Ok("already joined through the API");
                }
                let Some(role) = role_in(app, &state, &session, user).await? else {
                    return Ok("ignored: not enrolled");
                };
                SessionCommand::RecordPresence { user_id: user, role, joined: true }
            } else {
                if !present {
                    return Ok("already left");
                }
                SessionCommand::RecordPresence { user_id: user, role: Role::Student, joined: false }
            };
            // What LiveKit saw, decided like any other command (as the system).
            let event = match shared_types::decide(&state, &SessionActor::system(), command) {
                Ok(mut events) => events.remove(0),
                Err(r) => {
                    tracing::info!(reason = %r, "LiveKit presence not recorded");
                    return Ok("ignored: not applicable to the session now");
                }
            };
            let ne = NewEvent { idempotency_key: key, actor_id: None, actor_role: None, occurred_at: None, event };
            app.store.append(tenant, session_id, vec![ne]).await?;
            Ok("event appended")
        }
        "room_finished" => {
            // The worker processes every recording of the session that has no job yet.
            let payload = json!({ "sessionId": session_id });
            let dedupe = format!("room_finished/{session_id}");
            let job = NewJob { kind: JobKind::FinalizeSession, payload: &payload, dedupe_key: Some(&dedupe) };
            app.store.enqueue(tenant, session_id, job).await?;
            Ok("job enqueued")
        }
        "track_published" => {
            let Some(user) = ev.participant.as_ref().and_then(|p| p.identity.parse::<UserId>().ok()) else {
                return Ok("ignored: not one of our users");
            };
            let state = app.store.state(tenant, session_id, None).await?;
            if state.status != shared_types::state::SessionStatus::Live {
                return Ok("ignored: the class is not live");
            }
            if !role_in(app, &state, &session, user).await?.is_some_and(shared_types::policy::presents) {
                return Ok("ignored: not a presenter");
            }
            crate::egress::on_track_published(app, tenant, session_id, user.to_string());
            Ok("recording checked")
        }
        "egress_ended" => {
            let Some(info) = ev.egress_info.as_ref() else { return Ok("ignored: no egress info") };
            use livekit_protocol::EgressStatus as S;
            let failed = matches!(info.status(), S::EgressFailed | S::EgressAborted | S::EgressLimitReached);
            if failed {
                crate::egress::stream_failed(app, tenant, session_id, &info.egress_id, &info.error).await;
            }
            // A failed or aborted egress may still have uploaded what it had: an Ogg file plays up to
            // where it stops, an MP4 cut off has no index and plays not at all.
            let usable = |f: &&livekit_protocol::FileInfo| {
                !f.filename.is_empty() && f.size > 0 && (!failed || f.filename.ends_with(".ogg"))
            };
            let Some(file) = info.file_results.first().filter(usable) else {
                if failed {
                    crate::egress::recording_failed(app, session_id, &info.egress_id, &info.error).await;
                }
                return Ok("ignored: no file");
            };
            let started_at = (file.started_at > 0).then(|| Utc.timestamp_nanos(file.started_at));
            let rid = RecordingId(uuid::Uuid::new_v5(&session_id.0, info.egress_id.as_bytes()));
            let content_type = if file.filename.ends_with(".ogg") {
                "audio/ogg"
            } else if file.filename.ends_with(".webm") {
                "video/webm"
            } else {
                "video/mp4"
            };
            let rec = Recording {
                id: rid,
                session_id,
                file_key: file.filename.trim_start_matches('/').to_string(),
                content_type: content_type.into(),
                size_bytes: file.size,
                started_at,
                duration_s: (file.duration > 0).then(|| file.duration as f64 / 1e9),
                created_at: Utc::now(),
                runs: Vec::new(),
            };
            let ne = NewEvent {
                idempotency_key: key,
                actor_id: None,
                actor_role: None,
                occurred_at: None,
                event: shared_types::decide::authorize(
                    &SessionActor::system(),
                    SessionCommand::AddRecording { recording_id: rid, started_at, duration_s: rec.duration_s },
                )?,
            };
            let system = UserId(uuid::Uuid::nil());
            match app.store.add_recording(tenant, &rec, system, ne).await? {
                Ok(_) => Ok("recording added"),
                Err(refused) => {
                    tracing::warn!(?refused, "egress recording refused");
                    Ok("ignored: refused")
                }
            }
        }
        _ => Ok("ignored"),
    }
}

/// `user`'s role in the session: as a participant, else from their grants (a webhook may come before
/// the join it follows; a teacher who started the class without joining it).
pub(crate) async fn role_in(
    app: &AppState,
    state: &shared_types::SessionState,
    session: &shared_types::dto::SessionDto,
    user: UserId,
) -> ApiResult<Option<Role>> {
    if let Some(p) = state.participants.get(&user) {
        return Ok(Some(p.role));
    }
    let tenant = session.tenant_id;
    let actor = Actor { user, tenant, platform_admin: false, grants: app.store.grants_of(user).await? };
    Ok(actor.session_role(&Target::session(tenant, session.course_id, session.id)))
}
