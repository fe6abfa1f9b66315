//! Studio (spec §4.3): scenes, slides and the whiteboard. Presenters write; everyone reads the state.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::authorize;
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::idempotency::IdemKey;
use crate::http::sessions::submit;
use crate::store::Owned;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use shared_types::dto::{EventAnswer, SceneAnswer, SceneDto};
use shared_types::policy::{Action, Target};
use shared_types::requests::{BoardOnly, CreateScene, Erase, PatchScene, ShowSlide, Strokes};
use shared_types::{SceneId, SessionCommand, SessionId};

async fn scene_dto(app: &AppState, target: &Target, id: SceneId) -> ApiResult<SceneDto> {
    let state = app.store.state(target.tenant, target.session.expect("session"), None).await?;
    let sc = state.scenes.get(&id).ok_or_else(|| ApiError::not_found("scene"))?;
    Ok(SceneDto {
        id,
        name: sc.name.clone(),
        layout: sc.layout.clone(),
        assets: sc.assets.clone(),
        metadata: sc.metadata.clone(),
        active: state.active_scene == Some(id),
    })
}

pub async fn create_scene(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<CreateScene>,
) -> ApiResult<(StatusCode, Json<SceneAnswer>)> {
    let target = authorize(&app, &caller, req.session_id, Action::Present).await?;
    let id = SceneId(uuid::Uuid::new_v5(&caller.user.id.0, key.as_bytes()));
    let command =
        SessionCommand::CreateScene { scene_id: id, name: req.name, layout: req.layout, metadata: req.metadata };
    let event = submit(&app, &caller, &target, &key, command).await?;
    let scene = scene_dto(&app, &target, id).await?;
    Ok((StatusCode::CREATED, Json(SceneAnswer { scene, events: Vec::new(), event: Some(event) })))
}

pub async fn update_scene(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SceneId>,
    ApiJson(req): ApiJson<PatchScene>,
) -> ApiResult<Json<SceneAnswer>> {
    let _ = req.idempotency_key;
    let session = app
        .store
        .owner_session(caller.user.tenant_id, Owned::Scene, id.0)
        .await?
        .ok_or_else(|| ApiError::not_found("scene"))?;
    let target = authorize(&app, &caller, session, Action::Present).await?;
    let mut events = Vec::new();
    if req.name.is_some() || req.layout.is_some() || req.assets.is_some() {
        let c = SessionCommand::UpdateScene { scene_id: id, name: req.name, layout: req.layout, assets: req.assets };
        events.push(submit(&app, &caller, &target, &key, c).await?);
    }
    if req.active == Some(true) {
        let c = SessionCommand::ActivateScene { scene_id: id };
        events.push(submit(&app, &caller, &target, &format!("{key}#active"), c).await?);
    }
    if events.is_empty() {
        return Err(ApiError::validation("body", "give at least one of name, layout, assets, active: true"));
    }
    let event = events.last().cloned();
    Ok(Json(SceneAnswer { scene: scene_dto(&app, &target, id).await?, events, event }))
}

/// A slide or board route: its body becomes one command, answered as `{event}`.
macro_rules! board_route {
    ($(#[$m:meta])* $name:ident, $req:ty, |$r:ident| $command:expr) => {
        $(#[$m])*
        pub async fn $name(
            State(app): State<AppState>,
            caller: Caller,
            Extension(IdemKey(key)): Extension<IdemKey>,
            ApiJson($r): ApiJson<$req>,
        ) -> ApiResult<Json<EventAnswer>> {
            let session = $r.session_id;
            Ok(Json(board_event(&app, &caller, &key, session, $command).await?))
        }
    };
}

board_route!(show_slide, ShowSlide, |r| SessionCommand::ShowSlide { asset_id: r.asset_id, page: r.page });
board_route!(erase, Erase, |r| SessionCommand::EraseStrokes { board_id: r.board_id, stroke_ids: r.stroke_ids });
board_route!(clear, BoardOnly, |r| SessionCommand::ClearBoard { board_id: r.board_id });
board_route!(
    /// Undo the last stroke batch on a board.
    undo,
    BoardOnly,
    |r| SessionCommand::UndoStroke { board_id: r.board_id }
);

/// A batch of strokes (senders batch points at ~30–60 Hz).
pub async fn add_strokes(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<Strokes>,
) -> ApiResult<(StatusCode, Json<EventAnswer>)> {
    let c = SessionCommand::AddStrokes { board_id: req.board_id, strokes: req.strokes };
    Ok((StatusCode::CREATED, Json(board_event(&app, &caller, &key, req.session_id, c).await?)))
}

/// Slides and whiteboard: the command decided and appended, answered as `{event}`.
async fn board_event(
    app: &AppState,
    caller: &Caller,
    key: &str,
    session: SessionId,
    command: SessionCommand,
) -> ApiResult<EventAnswer> {
    let target = authorize(app, caller, session, Action::Present).await?;
    Ok(EventAnswer { event: submit(app, caller, &target, key, command).await? })
}
