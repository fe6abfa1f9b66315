//! Server-side recording and streams through LiveKit Egress, and what happens when egress fails.
//!
//! - The class recording starts when a presenter first publishes (webhook `track_published`), not at
//!   `session.started`: an egress that follows a participant needs them in the room. One recording
//!   per class: the node that claims `recording_egress` starts it; the rest do nothing.
//! - A stream egress is watched ([`spawn_watch`]): LiveKit does not notice an egress process that
//!   died, so every node asks each live stream egress how it is (an update that changes nothing)
//!   and logs `stream.failed` once — keyed by the egress id — when it is gone or LiveKit gave up.
//!   The class goes on; the teacher sees the failure in the log and can go live again.

use crate::app::AppState;
use crate::store::NewEvent;
use shared_types::{SessionActor, SessionCommand, SessionId, TenantId};
use std::time::Duration;

/// How long after the first track to look at what the presenter publishes: a browser publishes its
/// microphone and camera within a few hundred milliseconds of each other.
pub const SETTLE: Duration = Duration::from_millis(700);
/// How often every node asks each live stream egress how it is.
pub const WATCH_EVERY: Duration = Duration::from_secs(5);
/// Unanswered asks in a row before a stream counts as failed (one slow answer is not a failure).
pub const MISSES: u32 = 2;

/// A presenter published a track in a live class: start the class recording if nobody has.
pub fn on_track_published(app: &AppState, tenant: TenantId, session: SessionId, identity: String) {
    let (Some(lk), Some(s3)) = (app.livekit.clone(), app.config.s3.clone()) else { return };
    if !app.config.livekit_record {
        return;
    }
    let app = app.clone();
    tokio::spawn(async move {
        match app.store.claim_recording(tenant, session).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return tracing::warn!(error = %e, %session, "could not claim the class recording"),
        }
        app.metrics.recording_requested();
        tokio::time::sleep(SETTLE).await;
        let room = crate::livekit::room_name(session);
        let started = async {
            let tracks = lk
                .published(&room, &identity)
                .await?
                .ok_or_else(|| crate::livekit::Unavailable("the presenter left before recording began".into()))?;
            let stem = format!("sessions/{session}/egress/{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
            lk.start_recording(&room, &identity, &tracks, &s3, &stem).await
        };
        match started.await {
            Ok((egress, path)) => {
                tracing::info!(%session, %egress, %path, "class recording started");
                if let Err(e) = app.store.recording_started(session, &egress).await {
                    tracing::warn!(error = %e, "could not note the recording egress");
                }
                let key = format!("egress/{egress}/started");
                system_event(&app, tenant, session, key, SessionCommand::RecordingStarted { recording_id: None }).await;
            }
            Err(e) => {
                app.metrics.recording_failed();
                tracing::warn!(error = %e, %session, "the class recording could not start; the class goes on");
                if let Err(e) = app.store.release_recording(session).await {
                    tracing::warn!(error = %e, "could not release the recording claim");
                }
            }
        }
    });
}

/// A recording egress ended without a file (it failed): give the claim back so the next track the
/// teacher publishes tries again.
pub async fn recording_failed(app: &AppState, session: SessionId, egress: &str, reason: &str) {
    match app.store.recording_egress(session).await {
        Ok(Some(e)) if e == egress => {}
        _ => return,
    }
    app.metrics.recording_failed();
    tracing::warn!(%session, %egress, reason, "the class recording failed");
    if let Err(e) = app.store.release_recording(session).await {
        tracing::warn!(error = %e, "could not release the recording claim");
    }
}

/// The session's stream egress `egress` failed (`reason`): log `stream.failed` once, forget the
/// stream (so the teacher can go live again), count it.
pub async fn stream_failed(app: &AppState, tenant: TenantId, session: SessionId, egress: &str, reason: &str) {
    match app.store.stream(session).await {
        Ok(Some((live, _))) if live == egress => {}
        _ => return,
    }
    app.metrics.stream_failed();
    tracing::warn!(%session, %egress, reason, "the stream failed; the class goes on");
    let reason: String = reason.chars().take(300).collect();
    let reason = if reason.trim().is_empty() { "the stream egress stopped".to_string() } else { reason };
    system_event(app, tenant, session, format!("egress/{egress}/failed"), SessionCommand::StreamFailed { reason })
        .await;
    if let Err(e) = app.store.clear_stream(session).await {
        tracing::warn!(error = %e, "could not clear the failed stream");
    }
}

/// How long a class's egresses may take to finish their files after the class ends, before the room
/// is closed anyway.
pub const FINISH_WITHIN: Duration = Duration::from_secs(20);

/// The class ended: close its LiveKit room. A recording or stream still running is stopped first and
/// the room closed once they have finished (in the background, at most [`FINISH_WITHIN`]): closing
/// the room under an egress aborts it, and an aborted MP4 has no index — the whole recording lost.
pub async fn close_room(app: &AppState, session: SessionId) {
    let Some(lk) = app.livekit.clone() else { return };
    let room = crate::livekit::room_name(session);
    let mut running = Vec::new();
    if let Ok(Some(egress)) = app.store.recording_egress(session).await {
        running.push(egress);
    }
    if let Ok(Some((egress, _))) = app.store.stream(session).await {
        running.push(egress);
        if let Err(e) = app.store.clear_stream(session).await {
            tracing::warn!(error = %e, "could not clear the stream of an ended class");
        }
    }
    let close = move |lk: std::sync::Arc<crate::livekit::LiveKit>| async move {
        if let Err(e) = lk.delete_room(&room).await {
            tracing::warn!(error = %e, "could not close the LiveKit room; it closes itself when empty");
        }
    };
    if running.is_empty() {
        return close(lk).await;
    }
    tokio::spawn(async move {
        for egress in &running {
            if let Err(e) = lk.stop_egress(egress).await {
                tracing::debug!(error = %e, %egress, "egress already stopped");
            }
        }
        let t = std::time::Instant::now();
        while !running.is_empty() && t.elapsed() < FINISH_WITHIN {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut still = Vec::new();
            for egress in running {
                if lk.egress_running(&egress).await.unwrap_or(false) {
                    still.push(egress);
                }
            }
            running = still;
        }
        if !running.is_empty() {
            tracing::warn!(?running, %session, "egress still finishing; closing the room anyway");
        }
        close(lk).await;
    });
}

/// Append what the system saw, decided as the system, once per `key`.
async fn system_event(app: &AppState, tenant: TenantId, session: SessionId, key: String, command: SessionCommand) {
    let state = match app.store.state(tenant, session, None).await {
        Ok(s) => s,
        Err(e) => return tracing::warn!(error = %e, "could not read the session"),
    };
    let event = match shared_types::decide(&state, &SessionActor::system(), command) {
        Ok(mut events) => events.remove(0),
        Err(r) => return tracing::info!(reason = %r, %session, "not logged"),
    };
    let ne = NewEvent { idempotency_key: key, actor_id: None, actor_role: None, occurred_at: None, event };
    if let Err(e) = app.append(tenant, session, vec![ne]).await {
        tracing::warn!(error = %e, %session, "could not log what the egress did");
    }
}

/// Watch every live stream egress (see the module notes) while LiveKit is configured.
pub fn spawn_watch(app: AppState) {
    let Some(lk) = app.livekit.clone() else { return };
    tokio::spawn(async move {
        let mut misses: std::collections::HashMap<String, u32> = Default::default();
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let live = match app.store.live_streams().await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "could not list live streams");
                    continue;
                }
            };
            misses.retain(|egress, _| live.iter().any(|(_, _, e)| e == egress));
            for (session, tenant, egress) in live {
                use livekit_protocol::EgressStatus as S;
                let verdict = match lk.probe_stream(&egress).await {
                    Ok(S::EgressStarting | S::EgressActive) => {
                        misses.remove(&egress);
                        None
                    }
                    Ok(status) => Some(format!("the stream egress is {}", status.as_str_name())),
                    Err(e) => {
                        let n = misses.entry(egress.clone()).or_default();
                        *n += 1;
                        (*n >= MISSES).then(|| format!("the stream egress does not answer: {}", e.0))
                    }
                };
                if let Some(reason) = verdict {
                    stream_failed(&app, tenant, session, &egress, &reason).await;
                    misses.remove(&egress);
                }
            }
        }
    });
}
