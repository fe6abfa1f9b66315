//! Recordings in, artifacts out (spec §4.4): recording uploads, manual processing, the replay,
//! course-wide transcript search, and the admin's view of pipeline jobs.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::idempotency::IdemKey;
use crate::http::{authorize, ensure, session_target};
use crate::recordings::{self, StoredFor};
use crate::replays;
use crate::spool::{self, Spooled};
use crate::store::{NewJob, Upload};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde_json::json;
use shared_types::error::ErrorCode;
use shared_types::jobs::{ArtifactKind, ArtifactStatus, JobKind, JobState};
use shared_types::media::{
    ArtifactDto, JobAnswer, JobList, PartDto, PartStored, ProcessQueued, RecordingAnswer, ReplayDto, ReplayRecording,
    SearchHits, Transcript, UploadDto, UploadStarted,
};
use shared_types::policy::{Action, Target};
use shared_types::requests::{JobsQuery, NewUpload, Process, SearchQuery};
use shared_types::{CourseId, JobId, SessionId};
use std::sync::Arc;

/// `POST /api/sessions/{id}/recordings`: the raw media as the body (or multipart `file`), with an
/// optional `X-Recording-Started-At` (the event-log time of the first sample).
pub async fn upload_recording(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SessionId>,
    req: Request,
) -> ApiResult<(StatusCode, Json<RecordingAnswer>)> {
    let target = authorize(&app, &caller, id, Action::UploadRecording).await?;
    let started_at = rfc3339_header(req.headers(), "X-Recording-Started-At")?;
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    // The idempotency layer has already spooled the body to a file (never held in memory).
    let spooled = req.extensions().get::<Arc<Spooled>>().cloned().ok_or_else(ApiError::internal)?;
    let file = if is_multipart {
        let (parts, _) = req.into_parts();
        let body = spool::body_of(&spooled).await.map_err(|_| ApiError::internal())?;
        let unreadable = || ApiError::bad_request("the multipart body could not be read");
        let mut mp = Multipart::from_request(Request::from_parts(parts, body), &()).await.map_err(|_| unreadable())?;
        let mut file = None;
        while let Some(f) = mp.next_field().await.map_err(|_| unreadable())? {
            if f.name() == Some("file") {
                let dir = spool::dir(&app.config.data_dir);
                let limit = app.config.max_recording_bytes as u64;
                let got = spool::spool_stream(&dir, f, limit).await.map_err(|e| match e {
                    spool::SpoolError::TooLarge(_) => {
                        ApiError::new(ErrorCode::PayloadTooLarge, "the file is too large")
                    }
                    _ => unreadable(),
                })?;
                file = Some(Arc::new(got));
            }
        }
        file.ok_or_else(|| ApiError::validation("file", "a file field is required"))?
    } else {
        spooled
    };
    let answer =
        recordings::store(&app, StoredFor::Caller(&caller, &target), &key, &file, started_at, Vec::new()).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Parts of a resumable upload are at most this large.
pub const MAX_PART_BYTES: usize = 8 * 1024 * 1024;

/// `POST /api/sessions/{id}/recordings/uploads` — start a resumable upload.
pub async fn start_upload(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SessionId>,
    ApiJson(req): ApiJson<NewUpload>,
) -> ApiResult<(StatusCode, Json<UploadStarted>)> {
    let target = authorize(&app, &caller, id, Action::UploadRecording).await?;
    let upload = uuid::Uuid::new_v5(&caller.user.id.0, format!("upload/{key}").as_bytes());
    app.store.create_upload(target.tenant, id, caller.user.id, upload, req.started_at).await?;
    Ok((StatusCode::CREATED, Json(UploadStarted { upload_id: upload, max_part_bytes: MAX_PART_BYTES as u64 })))
}

/// The upload, checked to be the caller's and this session's.
async fn my_upload(app: &AppState, caller: &Caller, id: SessionId, upload: uuid::Uuid) -> ApiResult<(Target, Upload)> {
    let target = authorize(app, caller, id, Action::UploadRecording).await?;
    let up = app
        .store
        .upload(target.tenant, upload)
        .await?
        .filter(|u| u.session_id == id && u.user_id == caller.user.id)
        .ok_or_else(|| ApiError::not_found("upload"))?;
    Ok((target, up))
}

/// Sweep what uploads leave behind: parts of uploads started more than `keep` ago (abandoned ones
/// are forgotten whole; completed ones keep their recording), and spool files older than an hour
/// (a crash can leave one). Returns (uploads swept, spool files removed).
pub async fn sweep_uploads(app: &AppState, keep: chrono::Duration) -> anyhow::Result<(usize, usize)> {
    let stale = app.store.stale_uploads(keep).await?;
    for (upload, session, completed, parts) in &stale {
        for n in parts {
            app.blobs.delete(&recordings::part_key(*session, *upload, *n)).await?;
        }
        app.store.forget_upload(*upload, *completed).await?;
    }
    let mut removed = 0;
    let dir = spool::dir(&app.config.data_dir);
    if let Ok(mut entries) = tokio::fs::read_dir(&dir).await {
        while let Ok(Some(e)) = entries.next_entry().await {
            let old = e.metadata().await.ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
            if old.is_some_and(|age| age > std::time::Duration::from_secs(3600))
                && tokio::fs::remove_file(e.path()).await.is_ok()
            {
                removed += 1;
            }
        }
    }
    Ok((stale.len(), removed))
}

/// `PUT /api/sessions/{id}/recordings/uploads/{uploadId}/parts/{n}` — a part (1, 2, …); sending a part
/// again replaces it, so a client resumes by re-sending what the upload's listing lacks. A part that
/// begins a new recorder run (the page was reloaded) says when with `X-Run-Started-At`.
pub async fn put_part(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, upload, n)): ApiPath<(SessionId, uuid::Uuid, u32)>,
    headers: HeaderMap,
    Extension(body): Extension<Arc<Spooled>>,
) -> ApiResult<Json<PartStored>> {
    let (_, up) = my_upload(&app, &caller, id, upload).await?;
    if let Some(rid) = up.recording_id {
        return Err(ApiError::conflict(format!(
            "this upload is already complete (recording {rid}); a part sent after it is not kept"
        ))
        .details(json!({ "recordingId": rid, "parts": up.parts.len() })));
    }
    if n == 0 || n > 10_000 {
        return Err(ApiError::validation("n", "parts are numbered 1 to 10000"));
    }
    if body.len == 0 || body.len > MAX_PART_BYTES as u64 {
        return Err(ApiError::validation("body", format!("a part holds 1 to {MAX_PART_BYTES} bytes")));
    }
    let run_started_at = rfc3339_header(&headers, "x-run-started-at")?;
    let size = body.len as i64;
    app.blobs.put_file(&recordings::part_key(id, upload, n), &body.path, "application/octet-stream").await?;
    app.store.put_upload_part(upload, n, size, run_started_at).await?;
    Ok(Json(PartStored { upload_id: upload, part: n, size_bytes: size }))
}

/// An optional RFC 3339 time in a header; anything else there is a 422 naming it.
fn rfc3339_header(headers: &HeaderMap, name: &str) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(v) = headers.get(name) else { return Ok(None) };
    v.to_str()
        .ok()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(|| ApiError::validation(name, "must be an RFC 3339 time"))
}

fn upload_dto(up: &Upload) -> UploadDto {
    UploadDto {
        upload_id: up.id,
        session_id: up.session_id,
        parts: up.parts.iter().map(|p| PartDto { n: p.n, size_bytes: p.size_bytes }).collect(),
        recording_id: up.recording_id,
    }
}

/// `GET /api/sessions/{id}/recordings/uploads/{uploadId}` — which parts arrived (for resuming).
pub async fn get_upload(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, upload)): ApiPath<(SessionId, uuid::Uuid)>,
) -> ApiResult<Json<UploadDto>> {
    let (_, up) = my_upload(&app, &caller, id, upload).await?;
    Ok(Json(upload_dto(&up)))
}

/// `POST /api/sessions/{id}/recordings/uploads/{uploadId}/complete` — join parts 1..N into the recording.
pub async fn complete_upload(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((id, upload)): ApiPath<(SessionId, uuid::Uuid)>,
) -> ApiResult<(StatusCode, Json<RecordingAnswer>)> {
    let (target, up) = my_upload(&app, &caller, id, upload).await?;
    let parts = up.contiguous();
    if parts.is_empty() || parts.len() != up.parts.len() {
        if let Some(rid) = up.recording_id {
            return Err(ApiError::conflict(format!(
                "this upload was completed as recording {rid} from the parts then held; it cannot be completed again"
            )));
        }
        return Err(ApiError::validation("parts", "parts 1..N must all be present").details(json!(upload_dto(&up))));
    }
    if let Some(rid) = up.recording_id {
        // Completing again answers with the same recording, unless the parts changed since.
        let rec = app.store.recording(target.tenant, rid).await?;
        let held: i64 = parts.iter().map(|p| p.size_bytes).sum();
        if rec.is_none_or(|r| r.size_bytes != held) {
            return Err(ApiError::conflict(format!(
                "this upload was completed as recording {rid} from the parts then held; it cannot be completed again"
            )));
        }
    }
    let answer = recordings::finish(&app, StoredFor::Caller(&caller, &target), &up, parts).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `POST /api/artifacts/process`: (re)process a recording now.
pub async fn process(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<Process>,
) -> ApiResult<(StatusCode, Json<ProcessQueued>)> {
    let target = authorize(&app, &caller, req.session_id, Action::ProcessArtifacts).await?;
    let rec = app.store.recording(target.tenant, req.recording_id).await?.filter(|r| r.session_id == req.session_id);
    rec.ok_or_else(|| ApiError::not_found("recording"))?;
    let payload = json!({ "recordingId": req.recording_id });
    let dedupe = format!("manual:{}:{}/{key}", req.recording_id, caller.user.id);
    let job = NewJob { kind: JobKind::ProcessRecording, payload: &payload, dedupe_key: Some(&dedupe) };
    app.store.enqueue(target.tenant, req.session_id, job).await?;
    Ok((StatusCode::ACCEPTED, Json(ProcessQueued { queued: true, recording_id: req.recording_id })))
}

/// `GET /api/replays/{sessionId}`.
pub async fn replay(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<SessionId>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (session, target) = session_target(&app, &caller, id).await?;
    ensure(&caller, Action::ViewReplay, &target)?;
    let tenant = target.tenant;
    let (recordings, artifacts) =
        tokio::try_join!(app.store.recordings_of(tenant, id), app.store.artifacts_of(tenant, id))?;
    // Built once per version for clients that take gzip (every browser): see `replays`.
    let gzip = replays::accepts_gzip(&headers);
    let version = replays::version(&(&session, &recordings, &artifacts));
    if let Some(body) = gzip.then(|| app.replays.get(id, &version)).flatten() {
        return Ok(replays::gzipped_json(body));
    }
    let (state, transcript) = tokio::try_join!(app.store.state(tenant, id, None), app.store.transcript(tenant, id))?;
    let ttl = crate::http::assets::URL_TTL;
    let expires_at = Utc::now() + chrono::Duration::seconds(ttl.as_secs() as i64);
    let mut recs = Vec::new();
    for r in &recordings {
        recs.push(ReplayRecording {
            id: r.id,
            url: app.blobs.signed_url(&r.file_key, ttl).await?,
            expires_at,
            duration_s: r.duration_s,
            content_type: r.content_type.clone(),
            started_at: r.started_at,
        });
    }
    let ready = |kind: ArtifactKind| artifacts.iter().find(|a| a.kind == kind && a.status == ArtifactStatus::Ready);
    fn data<T: serde::de::DeserializeOwned>(a: Option<&crate::store::Artifact>) -> Vec<T> {
        // Written by the pipeline from these very types; an unreadable one is logged, not fatal.
        let Some(v) = a.and_then(|a| a.data.clone()) else { return Vec::new() };
        serde_json::from_value(v).unwrap_or_else(|e| {
            tracing::error!(error = %e, "an artifact's data does not match its type");
            Vec::new()
        })
    }
    let transcript = ready(ArtifactKind::Transcript).map(|_| Transcript { segments: transcript });
    let captions_url = match ready(ArtifactKind::Captions).and_then(|a| a.data_key.clone()) {
        Some(k) => Some(app.blobs.signed_url(&k, ttl).await?),
        None => None,
    };
    let statuses = artifacts
        .iter()
        .map(|a| ArtifactDto { kind: a.kind, status: a.status, error: a.error.clone(), updated_at: a.updated_at })
        .collect();
    let answer = ReplayDto {
        session,
        state,
        recordings: recs,
        transcript,
        chapters: data(ready(ArtifactKind::Chapters)),
        highlights: data(ready(ArtifactKind::Highlights)),
        qa_links: data(ready(ArtifactKind::QaLinks)),
        captions_url,
        artifacts: statuses,
    };
    if !gzip {
        return Ok(Json(answer).into_response());
    }
    let json = serde_json::to_vec(&answer).map_err(|_| ApiError::internal())?;
    let cache = app.replays.clone();
    let body = tokio::task::spawn_blocking(move || cache.put(id, version, &json))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|_| ApiError::internal())?;
    Ok(replays::gzipped_json(body))
}

/// Hits a page of course search holds, and how deep the pages go.
const SEARCH_PAGE: i64 = 50;
const SEARCH_DEPTH: i64 = 1_000;

/// `GET /api/courses/{courseId}/search?q=…&cursor=` — transcript hits across the course, best first.
pub async fn search(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(course): ApiPath<CourseId>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<SearchHits>> {
    let c = app.store.course(caller.user.tenant_id, course).await?.ok_or_else(|| ApiError::not_found("course"))?;
    ensure(&caller, Action::ViewCourse, &Target::course(c.tenant_id, c.id))?;
    let term = q.q.trim();
    if term.chars().count() < 2 || term.chars().count() > 100 {
        return Err(ApiError::validation("q", "must be 2 to 100 characters"));
    }
    if crate::store::search_words(term).is_empty() {
        return Err(ApiError::validation("q", "has no word to search for (letters or digits)"));
    }
    // The cursor is how many hits the pages before showed.
    let offset = match q.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=SEARCH_DEPTH).contains(n))
            .ok_or_else(|| ApiError::validation("cursor", "is not a cursor this search gave"))?,
    };
    let mut hits = app.store.search(c.tenant_id, course, term, SEARCH_PAGE + 1, offset).await?;
    let next_cursor = (hits.len() as i64 > SEARCH_PAGE && offset + SEARCH_PAGE < SEARCH_DEPTH)
        .then(|| (offset + SEARCH_PAGE).to_string());
    hits.truncate(SEARCH_PAGE as usize);
    Ok(Json(SearchHits { hits, next_cursor }))
}

fn job_scope(caller: &Caller) -> ApiResult<Option<shared_types::TenantId>> {
    ensure(caller, Action::ManageJobs, &Target::tenant(caller.user.tenant_id))?;
    Ok(if caller.actor.platform_admin { None } else { Some(caller.user.tenant_id) })
}

/// `GET /api/admin/jobs?state=failed`.
pub async fn jobs(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> ApiResult<Json<JobList>> {
    let scope = job_scope(&caller)?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(
            JobState::parse(s)
                .ok_or_else(|| ApiError::validation("state", "must be queued, running, done or failed"))?,
        ),
    };
    let jobs = app.store.jobs(scope, state, 200).await?;
    Ok(Json(JobList { jobs }))
}

/// `POST /api/admin/jobs/{id}/retry` — back into the queue with a fresh attempt budget.
pub async fn retry(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<JobId>,
) -> ApiResult<Json<JobAnswer>> {
    let scope = job_scope(&caller)?;
    if !app.store.retry_job(scope, id).await? {
        let exists = app.store.job(id).await?.filter(|j| scope.is_none_or(|t| t == j.tenant_id));
        return Err(match exists {
            Some(j) => ApiError::conflict(format!("the job is {}; only failed or queued jobs are retried", j.state)),
            None => ApiError::not_found("job"),
        });
    }
    Ok(Json(JobAnswer { job: app.store.job(id).await? }))
}
