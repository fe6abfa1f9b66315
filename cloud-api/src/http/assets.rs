//! Studio assets: uploads into the blob store (PDF → a slide deck rendered to one PNG per page),
//! asset reads with fresh signed URLs, and the local blob store's signed download route.

use crate::app::AppState;
use crate::auth::Caller;
use crate::blob::{BlobError, BlobStore};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiMultipart, ApiPath, ApiQuery};
use crate::http::idempotency::IdemKey;
use crate::http::{authorize, ensure, session_target};
use crate::slides::{render_deck, DeckError};
use crate::store::{AssetRecord, NewEvent, Owned, Write};
use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use shared_types::error::ErrorCode;
use shared_types::media::AssetDto;
use shared_types::policy::{Action, Target};
use shared_types::requests::SignedQuery;
use shared_types::{AssetId, SceneId, SessionCommand, SessionId};
use std::time::Duration;

/// Signed URLs handed to clients live this long.
pub const URL_TTL: Duration = Duration::from_secs(3600);
/// Page images are rendered this many pixels wide.
const PAGE_WIDTH: f32 = 1600.0;

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound => ApiError::not_found("file"),
            BlobError::BadKey => ApiError::bad_request("invalid file key"),
            BlobError::Unavailable(reason) => {
                tracing::error!(%reason, "blob store unavailable");
                ApiError::new(
                    ErrorCode::BlobStoreUnavailable,
                    "file storage is unavailable; nothing was saved, try again shortly",
                )
            }
        }
    }
}

fn page_key(session: SessionId, asset: AssetId, page: usize) -> String {
    format!("sessions/{session}/assets/{asset}/page-{page:04}.png")
}

/// Sniff the few formats accepted, by their first bytes (the client's Content-Type is a hint only).
fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"%PDF-") {
        Some(("application/pdf", "pdf"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else if bytes.starts_with(b"GIF8") {
        Some(("image/gif", "gif"))
    } else {
        None
    }
}

struct Upload {
    file: Vec<u8>,
    file_name: Option<String>,
    scene: Option<SceneId>,
    session: Option<SessionId>,
    kind: String,
    title: Option<String>,
}

async fn read_upload(mut mp: Multipart) -> ApiResult<Upload> {
    let mut up =
        Upload { file: Vec::new(), file_name: None, scene: None, session: None, kind: String::new(), title: None };
    let bad = |m: &str| ApiError::bad_request(m.to_string());
    while let Some(field) = mp.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, "the file is too large")
        } else {
            bad("the multipart body could not be read")
        }
    })? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                up.file_name = field.file_name().map(str::to_string);
                up.file = field
                    .bytes()
                    .await
                    .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, "the file is too large"))?
                    .to_vec();
            }
            "sceneId" | "sessionId" | "type" | "title" => {
                let text = field.text().await.map_err(|_| bad("a text field could not be read"))?;
                match name.as_str() {
                    "sceneId" => {
                        up.scene =
                            Some(text.trim().parse().map_err(|_| ApiError::validation("sceneId", "must be a UUID"))?)
                    }
                    "sessionId" => {
                        up.session =
                            Some(text.trim().parse().map_err(|_| ApiError::validation("sessionId", "must be a UUID"))?)
                    }
                    "type" => up.kind = text.trim().to_string(),
                    _ => up.title = Some(text.trim().chars().take(200).collect()),
                }
            }
            _ => {}
        }
    }
    if up.file.is_empty() {
        return Err(ApiError::validation("file", "a non-empty file is required"));
    }
    if !matches!(up.kind.as_str(), "slide" | "whiteboard" | "image") {
        return Err(ApiError::validation("type", "must be slide, whiteboard or image"));
    }
    Ok(up)
}

async fn signed(blobs: &BlobStore, key: &str) -> ApiResult<String> {
    Ok(blobs.signed_url(key, URL_TTL).await?)
}

async fn asset_dto(app: &AppState, a: &AssetRecord) -> ApiResult<AssetDto> {
    let mut pages = Vec::new();
    for p in 1..=a.page_count.unwrap_or(0) as usize {
        pages.push(signed(&app.blobs, &page_key(a.session_id, a.id, p)).await?);
    }
    Ok(AssetDto {
        id: a.id,
        session_id: a.session_id,
        scene_id: a.scene_id,
        kind: a.kind.clone(),
        title: a.title.clone(),
        content_type: a.content_type.clone(),
        content_url: signed(&app.blobs, &a.content_key).await?,
        page_count: a.page_count,
        pages,
        urls_expire_in_s: URL_TTL.as_secs(),
        event: None,
    })
}

/// `POST /api/studio/assets` (multipart: `file`, `type`, and `sceneId` or `sessionId`, optional `title`).
pub async fn upload(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiMultipart(mp): ApiMultipart,
) -> ApiResult<(StatusCode, Json<AssetDto>)> {
    let up = read_upload(mp).await?;
    let tenant = caller.user.tenant_id;
    let session = match (up.scene, up.session) {
        (Some(scene), _) => {
            app.store.owner_session(tenant, Owned::Scene, scene.0).await?.ok_or_else(|| ApiError::not_found("scene"))?
        }
        (None, Some(s)) => s,
        (None, None) => return Err(ApiError::validation("sceneId", "give sceneId or sessionId")),
    };
    let target = authorize(&app, &caller, session, Action::Present).await?;
    let (content_type, ext) =
        sniff(&up.file).ok_or_else(|| ApiError::validation("file", "must be a PDF, PNG, JPEG, WebP or GIF"))?;
    let is_deck = up.kind == "slide" && content_type == "application/pdf";
    if content_type == "application/pdf" && !is_deck {
        return Err(ApiError::validation("type", "a PDF is uploaded as type slide"));
    }
    let id = AssetId(uuid::Uuid::new_v5(&caller.user.id.0, key.as_bytes()));
    // Decide before any work is done (rendering, storing): may this asset be added now? A deck's
    // page count is not known yet; the decision for "a deck of at least one page" is the same one.
    let actor = shared_types::SessionActor::participant(&caller.actor, &target);
    let command = |page_count: u32, title: Option<String>| {
        if is_deck {
            SessionCommand::AddDeck { asset_id: id, page_count, title }
        } else {
            let kind = if up.kind == "whiteboard" { "whiteboard" } else { "image" };
            SessionCommand::AddAsset { asset_id: id, kind: kind.into(), title }
        }
    };
    let state = app.store.state(tenant, session, None).await?;
    if let Err(r) = shared_types::decide(&state, &actor, command(1, None)) {
        // A retried upload finds its own asset already there: that is not a refusal.
        if !matches!(r, shared_types::Rejection::Duplicate(_)) {
            return Err(r.into());
        }
    }
    let content_key = format!("sessions/{session}/assets/{id}/source.{ext}");
    let title = up.title.clone().or_else(|| up.file_name.clone());
    let mut page_count = None;
    if is_deck {
        let bytes = up.file.clone();
        let deck = tokio::task::spawn_blocking(move || render_deck(bytes, PAGE_WIDTH))
            .await
            .map_err(|_| ApiError::internal())?
            .map_err(|e: DeckError| ApiError::validation("file", e.to_string()))?;
        page_count = Some(deck.pages.len() as u32);
        // Pages first, the source last: a deck whose source exists is complete.
        for (i, png) in deck.pages.into_iter().enumerate() {
            app.blobs.put(&page_key(session, id, i + 1), png, "image/png").await?;
        }
    }
    app.blobs.put(&content_key, up.file, content_type).await?;
    let record = AssetRecord {
        id,
        session_id: session,
        scene_id: up.scene,
        kind: up.kind.clone(),
        content_key,
        content_type: content_type.to_string(),
        title: title.clone(),
        page_count,
    };
    // The asset row and its event commit together (or neither does).
    let ne = NewEvent {
        idempotency_key: crate::http::sessions::event_key(&caller, &key),
        actor_id: actor.user,
        actor_role: actor.role,
        occurred_at: None,
        event: shared_types::decide::authorize(&actor, command(page_count.unwrap_or(1), title))?,
    };
    let committed = app.store.commit(tenant, session, &[Write::Asset(&record, caller.user.id)], vec![ne]).await?;
    let event = match committed {
        Ok(mut events) => events.remove(0),
        Err(refused) => return Err(crate::http::sessions::outcome(refused).err().unwrap_or_else(ApiError::internal)),
    };
    let mut body = asset_dto(&app, &record).await?;
    body.event = Some(event);
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn get_asset(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<AssetId>,
) -> ApiResult<Json<AssetDto>> {
    let a = app.store.asset(caller.user.tenant_id, id).await?.ok_or_else(|| ApiError::not_found("asset"))?;
    let (_, target): (_, Target) = session_target(&app, &caller, a.session_id).await?;
    ensure(&caller, Action::ReadEvents, &target)?;
    Ok(Json(asset_dto(&app, &a).await?))
}

fn content_type_of(key: &str) -> &'static str {
    match key.rsplit('.').next().unwrap_or("") {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "webm" => "video/webm",
        "mp4" => "video/mp4",
        "vtt" => "text/vtt",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// `GET /api/blobs/{*key}?expires=…&signature=…` — the local blob store's signed downloads.
pub async fn download(
    State(app): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(q): ApiQuery<SignedQuery>,
    req: axum::extract::Request,
) -> ApiResult<Response> {
    let BlobStore::Local(local) = &*app.blobs else {
        return Err(ApiError::not_found("route"));
    };
    if !local.verify(&key, q.expires, &q.signature) {
        return Err(ApiError::new(ErrorCode::SignatureInvalid, "this link is invalid or has expired"));
    }
    let path = local.path_of(&key).ok_or_else(|| ApiError::not_found("blob"))?;
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Err(ApiError::not_found("blob"));
    }
    // Streamed from the file, with Range support (players seek in recordings).
    let served = tower::ServiceExt::oneshot(tower_http::services::ServeFile::new(&path), req)
        .await
        .map_err(|_| ApiError::internal())?;
    let mut resp = served.map(axum::body::Body::new);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, axum::http::HeaderValue::from_static(content_type_of(&key)));
    h.insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, max-age=3600"));
    Ok(resp)
}
