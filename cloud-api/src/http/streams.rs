//! Multistream (beyond the spec): RTMP destinations per session — stream keys sealed at rest and
//! never returned — and one LiveKit stream egress per session, updated live as destinations change.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::authorize;
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::idempotency::IdemKey;
use crate::http::sessions::submit_as;
use crate::store::{Destination, NewEvent, Write};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::json;
use shared_types::dto::{DestinationDto, DestinationList};
use shared_types::error::ErrorCode;
use shared_types::media::StreamAnswer;
use shared_types::policy::Action;
use shared_types::requests::{NewDestination, StreamTo};
use shared_types::{SessionCommand, SessionId};

fn public(d: &Destination, live: Option<bool>) -> DestinationDto {
    DestinationDto {
        id: d.id,
        name: d.name.clone(),
        rtmp_url: d.rtmp_url.clone(),
        stream_key_hint: d.key_hint.clone(),
        created_at: d.created_at,
        live,
    }
}

pub async fn add(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SessionId>,
    ApiJson(req): ApiJson<NewDestination>,
) -> ApiResult<(StatusCode, Json<DestinationDto>)> {
    let target = authorize(&app, &caller, id, Action::ManageStreams).await?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("name", "must be 1 to 100 characters"));
    }
    let url = req.rtmp_url.trim();
    if !(url.starts_with("rtmp://") || url.starts_with("rtmps://"))
        || url.len() > 500
        || url.contains(char::is_whitespace)
    {
        return Err(ApiError::validation("rtmpUrl", "must be an rtmp:// or rtmps:// URL"));
    }
    let stream_key = req.stream_key.trim();
    if stream_key.is_empty() || stream_key.len() > 500 {
        return Err(ApiError::validation("streamKey", "must be 1 to 500 characters"));
    }
    let tail: String = stream_key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let d = Destination {
        id: uuid::Uuid::new_v5(&caller.user.id.0, format!("destination/{key}").as_bytes()),
        name: name.to_string(),
        rtmp_url: url.to_string(),
        key_sealed: app.sealer.seal(stream_key),
        key_hint: format!("••••{tail}"),
        created_at: chrono::Utc::now(),
    };
    app.store.add_destination(target.tenant, id, &d).await?;
    Ok((StatusCode::CREATED, Json(public(&d, None))))
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<SessionId>,
) -> ApiResult<Json<DestinationList>> {
    let target = authorize(&app, &caller, id, Action::ManageStreams).await?;
    let all = app.store.destinations(target.tenant, id).await?;
    let live = app.store.stream(id).await?.map(|(_, ids)| ids).unwrap_or_default();
    let destinations = all.iter().map(|d| public(d, Some(live.contains(&d.id)))).collect();
    Ok(Json(DestinationList { destinations }))
}

/// The full RTMP URL LiveKit pushes to: the destination's URL and its (unsealed) key.
fn push_url(app: &AppState, d: &Destination) -> ApiResult<String> {
    let key = app.sealer.open_sealed(&d.key_sealed).ok_or_else(|| {
        tracing::error!(destination = %d.id, "a stream key could not be unsealed");
        ApiError::internal()
    })?;
    Ok(format!("{}/{key}", d.rtmp_url.trim_end_matches('/')))
}

fn egress_unavailable(e: crate::livekit::Unavailable) -> ApiError {
    ApiError::new(ErrorCode::EgressUnavailable, "streaming is unavailable right now; the class goes on")
        .details(json!({ "reason": e.0 }))
}

pub async fn remove(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, dest)): ApiPath<(SessionId, uuid::Uuid)>,
) -> ApiResult<StatusCode> {
    let target = authorize(&app, &caller, id, Action::ManageStreams).await?;
    let all = app.store.destinations(target.tenant, id).await?;
    let d = all.iter().find(|d| d.id == dest).ok_or_else(|| ApiError::not_found("destination"))?;
    // Live: stop sending there first (UpdateStream), then forget it.
    if let (Some((egress, ids)), Some(lk)) = (app.store.stream(id).await?, &app.livekit) {
        if ids.contains(&dest) {
            lk.update_stream(&egress, vec![], vec![push_url(&app, d)?]).await.map_err(egress_unavailable)?;
            let rest: Vec<uuid::Uuid> = ids.into_iter().filter(|i| *i != dest).collect();
            app.store.set_stream(target.tenant, id, &egress, &rest).await?;
        }
    }
    app.store.delete_destination(target.tenant, id, dest).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/sessions/{id}/stream` — start the stream, or change where a running one goes.
pub async fn start(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SessionId>,
    ApiJson(req): ApiJson<StreamTo>,
) -> ApiResult<Json<StreamAnswer>> {
    let target = authorize(&app, &caller, id, Action::ManageStreams).await?;
    if req.destination_ids.is_empty() {
        return Err(ApiError::validation("destinationIds", "choose at least one destination"));
    }
    let all = app.store.destinations(target.tenant, id).await?;
    let mut chosen = Vec::new();
    for d in &req.destination_ids {
        chosen.push(all.iter().find(|x| x.id == *d).ok_or_else(|| ApiError::not_found("destination"))?);
    }
    // Decide before asking LiveKit for anything: a stream needs a live class and a presenter.
    let state = app.store.state(target.tenant, id, None).await?;
    let actor = shared_types::SessionActor::participant(&caller.actor, &target).on_behalf();
    let ids: Vec<String> = req.destination_ids.iter().map(|d| d.to_string()).collect();
    shared_types::decide(&state, &actor, SessionCommand::StreamStarted { destination_ids: ids.clone() })?;
    let lk = app
        .livekit
        .clone()
        .ok_or_else(|| egress_unavailable(crate::livekit::Unavailable("LiveKit is not configured".into())))?;
    let urls = |ds: &[&Destination]| ds.iter().map(|d| push_url(&app, d)).collect::<ApiResult<Vec<_>>>();
    let (egress, changed) = match app.store.stream(id).await? {
        Some((egress, current)) => {
            let add: Vec<&Destination> = chosen.iter().copied().filter(|d| !current.contains(&d.id)).collect();
            let remove: Vec<&Destination> =
                all.iter().filter(|d| current.contains(&d.id) && !req.destination_ids.contains(&d.id)).collect();
            lk.update_stream(&egress, urls(&add)?, urls(&remove)?).await.map_err(egress_unavailable)?;
            (egress, false)
        }
        None => {
            let room = crate::livekit::room_name(id);
            let (who, tracks) = streamed(&lk, &room, &caller, &state).await?;
            (lk.start_stream(&room, &who, &tracks, urls(&chosen)?).await.map_err(egress_unavailable)?, true)
        }
    };
    let stream = Write::Stream { egress: &egress, destinations: &req.destination_ids };
    let event = if changed {
        // A new stream: its row and `stream.started` commit together.
        let ne = NewEvent {
            idempotency_key: crate::http::sessions::event_key(&caller, &key),
            actor_id: actor.user,
            actor_role: actor.role,
            occurred_at: None,
            event: shared_types::decide::authorize(&actor, SessionCommand::StreamStarted { destination_ids: ids })?,
        };
        match app.store.commit(target.tenant, id, &[stream], vec![ne]).await? {
            Ok(mut events) => Some(events.remove(0)),
            Err(refused) => {
                return Err(crate::http::sessions::outcome(refused).err().unwrap_or_else(ApiError::internal))
            }
        }
    } else {
        app.store.set_stream(target.tenant, id, &egress, &req.destination_ids).await?;
        None
    };
    Ok(Json(StreamAnswer { egress_id: Some(egress), destination_ids: req.destination_ids, event }))
}

/// How long going live waits for a track that was just published to be listed by LiveKit (the
/// publisher's SDK has its acknowledgement a moment before the room lists the track).
const PUBLISH_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Whose tracks the stream carries: the caller's if they publish, else the first presenter who does.
async fn streamed(
    lk: &crate::livekit::LiveKit,
    room: &str,
    caller: &Caller,
    state: &shared_types::SessionState,
) -> ApiResult<(String, crate::livekit::Published)> {
    let me = caller.user.id.to_string();
    let presenter = |identity: &str| {
        identity
            .parse::<shared_types::UserId>()
            .ok()
            .and_then(|u| state.participants.get(&u))
            .is_some_and(|p| shared_types::policy::presents(p.role))
    };
    let until = tokio::time::Instant::now() + PUBLISH_GRACE;
    loop {
        let publishers = lk.publishers(room).await.map_err(egress_unavailable)?;
        let found = publishers
            .iter()
            .find(|(identity, _)| *identity == me)
            .or_else(|| publishers.iter().find(|(identity, _)| presenter(identity)))
            .cloned();
        match found {
            Some(f) => return Ok(f),
            None if tokio::time::Instant::now() < until => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await
            }
            None => {
                return Err(ApiError::new(
                    ErrorCode::NothingToStream,
                    "nothing to stream yet: turn on your microphone or camera in the present view, then go live",
                ))
            }
        }
    }
}

/// `DELETE /api/sessions/{id}/stream`.
pub async fn stop(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SessionId>,
) -> ApiResult<StatusCode> {
    let target = authorize(&app, &caller, id, Action::ManageStreams).await?;
    let Some((egress, _)) = app.store.stream(id).await? else { return Err(ApiError::not_found("stream")) };
    if let Some(lk) = &app.livekit {
        lk.stop_egress(&egress).await.map_err(egress_unavailable)?;
    }
    app.store.clear_stream(id).await?;
    submit_as(&app, &caller, &target, &key, SessionCommand::StreamStopped, true).await?;
    Ok(StatusCode::NO_CONTENT)
}
