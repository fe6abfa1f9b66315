//! Recordings as the server stores them: the container sniffed, the blob written, the row and its
//! `recording.added` event (which enqueues processing) committed together. One path serves a
//! recording sent in one request, a resumable upload the page completes, and an upload the server
//! finishes itself after the class ended because the page never did (the tab was closed or crashed).

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::spool::{self, Spooled};
use crate::store::{NewEvent, Recording, RecordingRun, Upload, UploadPart};
use chrono::{DateTime, Utc};
use shared_types::media::RecordingAnswer;
use shared_types::policy::Target;
use shared_types::{SessionActor, SessionCommand, SessionId, TenantId, UserId};

/// Sniff the container; the declared type is only a hint.
pub fn kind(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        Some(("audio/wav", "wav"))
    } else if bytes.starts_with(b"OggS") {
        Some(("audio/ogg", "ogg"))
    } else if bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        Some(("video/webm", "webm"))
    } else if bytes.len() >= 8 && &bytes[4..8] == b"ftyp" {
        Some(("video/mp4", "mp4"))
    } else if bytes.starts_with(b"ID3") || bytes.starts_with(&[0xff, 0xfb]) {
        Some(("audio/mpeg", "mp3"))
    } else {
        None
    }
}

/// Whom a recording is stored for.
pub enum StoredFor<'a> {
    /// The caller of a route (the server records the fact on their behalf).
    Caller(&'a Caller, &'a Target),
    /// The owner of an upload the server finishes after the class ended.
    Owner { tenant: TenantId, session: SessionId, user: UserId },
}

impl StoredFor<'_> {
    fn user(&self) -> UserId {
        match self {
            StoredFor::Caller(c, _) => c.user.id,
            StoredFor::Owner { user, .. } => *user,
        }
    }
}

/// Store `file` as a recording of the session and append its event. `key` decides the recording's
/// id and its event's key, so the same key is always the same recording and one event.
pub async fn store(
    app: &AppState,
    who: StoredFor<'_>,
    key: &str,
    file: &Spooled,
    started_at: Option<DateTime<Utc>>,
    runs: Vec<RecordingRun>,
) -> ApiResult<RecordingAnswer> {
    let user = who.user();
    let (tenant, id, actor, role) = match &who {
        StoredFor::Caller(caller, target) => {
            let actor = SessionActor::participant(&caller.actor, target).on_behalf();
            let role = actor.role;
            (target.tenant, target.session.ok_or_else(|| ApiError::not_found("session"))?, actor, role)
        }
        StoredFor::Owner { tenant, session, .. } => {
            // The uploader's role in the class, which the log checks the fact against.
            let state = app.store.state(*tenant, *session, None).await?;
            let dto = app.store.session(*tenant, *session).await?.ok_or_else(|| ApiError::not_found("session"))?;
            let role = crate::http::webhooks::role_in(app, &state, &dto, user).await?;
            (*tenant, *session, SessionActor::system(), role)
        }
    };
    let (content_type, ext) =
        kind(&file.head).ok_or_else(|| ApiError::validation("body", "send WAV, Ogg, WebM, MP4 or MP3 media"))?;
    let rid = crate::store::recording_id_for(user, key);
    let file_key = format!("sessions/{id}/recordings/{rid}.{ext}");
    let size = file.len as i64;
    app.blobs.put_file(&file_key, &file.path, content_type).await?;
    let rec = Recording {
        id: rid,
        session_id: id,
        file_key,
        content_type: content_type.into(),
        size_bytes: size,
        started_at,
        duration_s: None,
        created_at: Utc::now(),
        runs,
    };
    let command = SessionCommand::AddRecording { recording_id: rid, started_at, duration_s: None };
    let event = NewEvent {
        // The uploader's key, whoever writes it: the page's "complete" and the server's finish of
        // the same upload are the same event.
        idempotency_key: format!("{user}/{key}"),
        actor_id: Some(user),
        actor_role: role,
        occurred_at: None,
        event: shared_types::decide::authorize(&actor, command)?,
    };
    let event = match app.store.add_recording(tenant, &rec, user, event).await? {
        Ok(e) => e,
        Err(refused) => return Err(crate::http::sessions::outcome(refused).err().unwrap_or_else(ApiError::internal)),
    };
    Ok(RecordingAnswer {
        id: rid,
        session_id: id,
        content_type: content_type.into(),
        size_bytes: size,
        started_at,
        processing: "queued".into(),
        event,
    })
}

pub use crate::store::upload_part_key as part_key;

/// Join `parts` of `up` into one spool file, part after part (never the whole in memory), and
/// store it as the upload's recording.
pub async fn finish(
    app: &AppState,
    who: StoredFor<'_>,
    up: &Upload,
    parts: &[UploadPart],
) -> ApiResult<RecordingAnswer> {
    let spool_failed = |e: std::io::Error| {
        tracing::error!(error = %e, "could not join the upload's parts");
        ApiError::internal()
    };
    let (mut joined, mut out) = Spooled::create(&spool::dir(&app.config.data_dir)).await.map_err(spool_failed)?;
    for p in parts {
        app.blobs.append_to(&part_key(up.session_id, up.id, p.n), &mut out).await?;
    }
    joined.seal(out).await.map_err(spool_failed)?;
    let (file, runs) = match up.runs(parts) {
        runs if runs.len() >= 2 && kind(&joined.head).is_some_and(|(_, ext)| ext == "webm") => {
            match join_runs(app, &joined, &runs).await {
                Ok(one) => (one, Vec::new()),
                Err(e) => {
                    // Still stored: the pipeline decodes the runs one by one; a player stops at the second.
                    tracing::warn!(upload = %up.id, runs = runs.len(), error = %e, "could not join the recorder runs into one WebM");
                    (joined, runs)
                }
            }
        }
        runs => (joined, runs),
    };
    let answer = store(app, who, &up.recording_key(), &file, up.started_at, runs).await?;
    app.store.finish_upload(up.id, answer.id).await?;
    Ok(answer)
}

/// The runs of `joined` rewritten as one WebM (see [`crate::webm`]), in a new spool file.
async fn join_runs(app: &AppState, joined: &Spooled, runs: &[RecordingRun]) -> anyhow::Result<Spooled> {
    let (mut one, out) = Spooled::create(&spool::dir(&app.config.data_dir)).await?;
    let (input, out, runs) = (std::fs::File::open(&joined.path)?, out.into_std().await, runs.to_vec());
    let (made, out) = tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, out);
        let made = crate::webm::join(input, &runs, &mut out);
        (made, out.into_inner().map_err(|e| e.into_error()))
    })
    .await?;
    let made = made?;
    one.seal(tokio::fs::File::from_std(out?)).await?;
    tracing::info!(runs = made.runs, duration_s = made.duration_s, silence_s = made.silence_s, blocks = made.blocks,
        placed_s = ?made.placed_s, "joined the recorder runs into one WebM");
    Ok(one)
}

/// Finish the uploads of classes that ended more than `UPLOAD_GRACE_SECS` ago and whose page never
/// completed them, from the parts 1..k the server holds (a part after a gap was never followed by
/// the ones before it, so it cannot be placed). Returns how many were finished.
pub async fn finish_abandoned(app: &AppState) -> anyhow::Result<usize> {
    let grace = chrono::Duration::seconds(app.config.upload_grace_secs as i64);
    let mut finished = 0;
    for (tenant, id) in app.store.abandoned_uploads(Utc::now() - grace).await? {
        let Some(up) = app.store.upload(tenant, id).await? else { continue };
        let parts = up.contiguous();
        let who = StoredFor::Owner { tenant, session: up.session_id, user: up.user_id };
        match finish(app, who, &up, parts).await {
            Ok(rec) => {
                finished += 1;
                tracing::info!(upload = %id, recording = %rec.id, joined = parts.len(), held = up.parts.len(),
                    "finished a recording upload its page left when the class ended");
            }
            Err(e) => tracing::warn!(upload = %id, error = ?e, "could not finish an abandoned recording upload"),
        }
    }
    Ok(finished)
}
