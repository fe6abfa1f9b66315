//! bench-pipeline: transcription real-time factor (tiny.en, 1 and 2 threads), the whole pipeline
//! for a 10-minute recording, and `GET /api/replays/{id}` latency for a 2-hour session with 20,000
//! events and 1,500 transcript segments. Speech is made with espeak-ng.
//!
//! Usage: bench-pipeline [database-url]   (default: a fresh SQLite file)

use artifact_worker::pipeline::{Worker, WorkerConfig};
use artifact_worker::{decode, model, transcribe::Transcriber};
use axum::body::Body;
use axum::http::Request;
use chrono::{Duration as CDuration, Utc};
use cloud_api::app::{router, AppState};
use cloud_api::blob::{BlobStore, LocalBlobs};
use cloud_api::store::{NewEvent, Recording, Segment, Store};
use shared_types::{RecordingId, Role, RoleGrant, Scope, SessionEvent};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const LECTURE: &str = "Today we study motion. Velocity is the rate of change of position. Acceleration is the rate \
    of change of velocity. A ball that falls speeds up by about ten meters per second every second. Energy is \
    conserved when no friction acts. Momentum is mass times velocity, and it is conserved in collisions.";

/// espeak-ng speech of about `secs` seconds, 16 kHz mono WAV bytes.
fn speech(secs: f64, dir: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let one = dir.join("one.wav");
    let one16 = dir.join("one16.wav");
    anyhow::ensure!(Command::new("espeak-ng").args(["-s", "150", "-w"]).arg(&one).arg(LECTURE).status()?.success());
    anyhow::ensure!(Command::new("sox")
        .arg(&one)
        .args(["-r", "16000", "-c", "1", "-b", "16"])
        .arg(&one16)
        .status()?
        .success());
    let len = (std::fs::metadata(&one16)?.len() - 44) as f64 / 32000.0;
    let reps = (secs / len).ceil() as usize;
    let out = dir.join(format!("speech-{secs}.wav"));
    let mut sox = Command::new("sox");
    for _ in 0..reps {
        sox.arg(&one16);
    }
    anyhow::ensure!(sox.arg(&out).args(["trim", "0", &secs.to_string()]).status()?.success());
    Ok(std::fs::read(out)?)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("bench-pipeline-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let url = match std::env::args().nth(1) {
        Some(u) => u,
        None => format!("sqlite://{}?mode=rwc", dir.join("b.db").display()),
    };
    let model_path = model::prepare()?;

    // BENCH_PAGES_ONLY=1: skip transcription and the pipeline (parts 1 and 2) to measure the pages.
    let pages_only = std::env::var_os("BENCH_PAGES_ONLY").is_some();
    // 1. Real-time factor on one minute of speech.
    let (pcm, secs) = decode::to_whisper(speech(60.0, &dir)?, Some("audio/wav"))?;
    for threads in if pages_only { vec![] } else { vec![1, 2] } {
        let t = Transcriber::load(&model_path, threads)?;
        let t0 = Instant::now();
        let segs = t.transcribe(&pcm)?;
        let el = t0.elapsed().as_secs_f64();
        println!(
            "transcribe {secs:.0} s, tiny.en, {threads} thread(s): {el:.1} s, RTF {:.3} ({} segments)",
            el / secs,
            segs.len()
        );
    }

    // 2. The whole pipeline for a 10-minute recording.
    let store = Arc::new(Store::connect(&url).await?);
    let blobs = Arc::new(BlobStore::Local(LocalBlobs::in_data_dir(&dir)?));
    let tenant = store.create_tenant("Bench").await?.id;
    let teacher =
        store.create_user(tenant, &format!("t{}@bench.test", uuid::Uuid::new_v4().simple()), None, "x", false).await?;
    store
        .grant(tenant, teacher.id, RoleGrant { role: Role::Teacher, scope: Scope::Tenant, scope_id: Some(tenant.0) })
        .await?;
    let course = store.create_course(tenant, "Bench").await?;
    let lesson = store.create_lesson(tenant, course.id, "Bench", 1).await?;
    let ev = |key: &str, event: SessionEvent, at: Option<chrono::DateTime<Utc>>| NewEvent {
        idempotency_key: key.into(),
        actor_id: Some(teacher.id),
        actor_role: Some(Role::Teacher),
        occurred_at: at,
        event,
    };
    let start = Utc::now() - CDuration::hours(3);
    let new_session = |name: &'static str| {
        let store = store.clone();
        let lesson = lesson.clone();
        async move {
            let first = ev(
                name,
                SessionEvent::SessionScheduled { scheduled_start: start, scheduled_end: start + CDuration::hours(2) },
                Some(start),
            );
            let (s, _) = store
                .create_session(tenant, &lesson, start, start + CDuration::hours(2), first)
                .await?
                .map_err(|o| anyhow::anyhow!("{o:?}"))?;
            store
                .append(
                    tenant,
                    s.id,
                    vec![ev(&format!("{name}-start"), SessionEvent::SessionStarted { room: None }, Some(start))],
                )
                .await?;
            anyhow::Ok(s.id)
        }
    };
    let sid = new_session("ten-minutes").await?;
    let wav = speech(if pages_only { 5.0 } else { 600.0 }, &dir)?;
    // A recording of `session` (this speech), stored and added to its log.
    let record = |session: shared_types::SessionId, duration_s: Option<f64>| {
        let (store, blobs, wav) = (store.clone(), blobs.clone(), wav.clone());
        async move {
            let rid = RecordingId::new();
            let key = format!("sessions/{session}/recordings/{rid}.wav");
            blobs.put(&key, wav.clone(), "audio/wav").await?;
            let rec = Recording {
                id: rid,
                session_id: session,
                file_key: key,
                content_type: "audio/wav".into(),
                size_bytes: wav.len() as i64,
                started_at: Some(start),
                duration_s,
                created_at: Utc::now(),
                runs: Vec::new(),
            };
            let event = SessionEvent::RecordingAdded { recording_id: rid, started_at: Some(start), duration_s };
            let added = ev(&format!("rec-{rid}"), event, None);
            store.add_recording(tenant, &rec, teacher.id, added).await?.map_err(|o| anyhow::anyhow!("{o:?}"))?;
            anyhow::Ok(rid)
        }
    };
    record(sid, None).await?;
    let cfg = WorkerConfig::local("bench", model_path.clone(), Duration::from_secs(120));
    let worker = Worker::new(store.clone(), blobs.clone(), cfg);
    if !pages_only {
        let t0 = Instant::now();
        let (_, ran) = worker.run_one().await?.ok_or_else(|| anyhow::anyhow!("no job"))?;
        let el = t0.elapsed().as_secs_f64();
        println!("pipeline, 600 s recording, 1 thread: {el:.1} s end to end ({ran:?}), {:.3} × real time", el / 600.0);
    }

    // 3. Replay latency for a 2-hour session: 20,000 events, 1,500 segments.
    let big = new_session("two-hours").await?;
    let fill = |session: shared_types::SessionId, count: u64| {
        let store = store.clone();
        async move {
            let mut batch = Vec::new();
            for n in 2..count {
                let at = start + CDuration::milliseconds((n as f64 * 7200.0 / 20_000.0 * 1000.0) as i64);
                batch.push(ev(&format!("e{n}"), class_event(n), Some(at)));
                if batch.len() == 1000 {
                    store.append(tenant, session, std::mem::take(&mut batch)).await?;
                }
            }
            store.append(tenant, session, batch).await?;
            anyhow::Ok(())
        }
    };
    fill(big, 20_000).await?;
    let segs: Vec<Segment> = (0..1500)
        .map(|i| Segment {
            start_s: i as f64 * 4.8,
            end_s: i as f64 * 4.8 + 4.5,
            text: format!("segment {i}: velocity is the rate of change of position"),
            scene_id: None,
            slide: None,
        })
        .collect();
    store.replace_transcript(tenant, course.id, big, "en", &segs, &[]).await?;
    // The 2-hour session's own recording (the speech above stands in), which its artifacts belong to.
    let rid = record(big, Some(7200.0)).await?;
    use shared_types::jobs::{ArtifactKind, ArtifactStatus};
    // Artifacts in the pipeline's own types: 40 chapters, 60 highlights, 30 question links.
    let chapters: Vec<_> = (0..40)
        .map(|i| shared_types::media::Chapter {
            start_s: i as f64 * 180.0,
            end_s: i as f64 * 180.0 + 180.0,
            title: format!("chapter {i}"),
            reason: "slide".into(),
        })
        .collect();
    let highlights: Vec<_> = (0..60)
        .map(|i| shared_types::media::Highlight {
            at_s: i as f64 * 120.0,
            label: format!("mark {i}"),
            reason: "marked".into(),
        })
        .collect();
    let links: Vec<_> = (0..30)
        .map(|i| shared_types::media::QaLink {
            question_id: format!("q{i}"),
            question: format!("question {i}?"),
            start_s: i as f64 * 240.0,
            end_s: i as f64 * 240.0 + 20.0,
            text: "velocity is the rate of change of position".into(),
        })
        .collect();
    for (kind, data) in [
        (ArtifactKind::Transcript, serde_json::Value::Null),
        (ArtifactKind::Chapters, serde_json::to_value(&chapters)?),
        (ArtifactKind::Highlights, serde_json::to_value(&highlights)?),
        (ArtifactKind::QaLinks, serde_json::to_value(&links)?),
    ] {
        store.record_artifact(tenant, big, rid, kind, ArtifactStatus::Ready, None, Some(&data), None).await?;
    }
    let config = cloud_api::config::Config::from_env()?;
    let state = AppState::new(store.clone(), config, BlobStore::Local(LocalBlobs::in_data_dir(&dir)?))?;
    let (token, hash) = cloud_api::auth::new_token();
    store.insert_token(&hash, &teacher, Utc::now() + CDuration::hours(1)).await?;
    let app = router(state);
    // Each way a client asks: as a browser does (gzip: built once per version, then served from
    // the cache) and without compression (built every time: the baseline).
    let mut figures = Vec::new();
    for gzip in [false, true] {
        let mut lat = Vec::new();
        let mut size = 0;
        let mut cold = 0.0;
        for i in 0..101 {
            let mut req =
                Request::get(format!("/api/replays/{big}")).header("authorization", format!("Bearer {token}"));
            if gzip {
                req = req.header("accept-encoding", "gzip, deflate, br");
            }
            let t0 = Instant::now();
            let resp = app.clone().oneshot(req.body(Body::empty())?).await?;
            anyhow::ensure!(resp.status() == 200, "replay answered {}", resp.status());
            let encoded = resp.headers().get("content-encoding").is_some();
            anyhow::ensure!(encoded == gzip, "content-encoding {encoded} for gzip {gzip}");
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            size = bytes.len();
            if i == 0 {
                cold = ms;
            } else {
                lat.push(ms);
            }
        }
        let (p50, p95) = (pct(&mut lat, 0.5), pct(&mut lat, 0.95));
        println!(
            "replay, 2-hour session (20,000 events, 1,500 segments), {}: first {cold:.1} ms, then 100 requests p50 \
             {p50:.1} ms p95 {p95:.1} ms, {:.0} KB on the wire",
            if gzip { "gzip (cached per version)" } else { "identity (built each time)" },
            size as f64 / 1e3
        );
        figures.push((p95, size));
    }
    let (p95, size) = figures[1];
    println!(
        "goal replay p95 <= 20 ms ({p95:.1} ms; identity baseline {:.1} ms)   {}",
        figures[0].0,
        if p95 <= 20.0 { "met" } else { "NOT met" }
    );
    println!(
        "goal replay <= 500 KB on the wire ({:.0} KB; identity {:.0} KB)   {}",
        size as f64 / 1e3,
        figures[0].1 as f64 / 1e3,
        if size <= 500_000 { "met" } else { "NOT met" }
    );
    // "State at t" of the same session: without snapshots (dropped before each read: the whole
    // prefix is folded, and snapshots are kept every 1,000 events), then from the nearest one.
    let raw = sqlx::AnyPool::connect(&url).await?;
    let mut first = Vec::new();
    let mut then = Vec::new();
    for round in 0..2 {
        for i in 0..20u64 {
            if round == 0 {
                sqlx::query("delete from session_snapshots").execute(&raw).await?;
            }
            let at = 1 + (i * 7_919 + 523) % 19_998;
            let req = Request::get(format!("/api/sessions/{big}/state?at={at}"))
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())?;
            let t0 = Instant::now();
            let resp = app.clone().oneshot(req).await?;
            anyhow::ensure!(resp.status() == 200, "state answered {}", resp.status());
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
            let v: serde_json::Value = serde_json::from_slice(&bytes)?;
            anyhow::ensure!(v["state"]["head"] == at, "state at {at}: head {}", v["state"]["head"]);
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            if round == 0 {
                first.push(ms)
            } else {
                then.push(ms)
            }
        }
    }
    println!(
        "state at t, 2-hour session, 20 points: without snapshots (first reads) p50 {:.1} ms p95 {:.1} ms; \
         from snapshots p50 {:.1} ms p95 {:.1} ms",
        pct(&mut first.clone(), 0.5),
        pct(&mut first, 0.95),
        pct(&mut then.clone(), 0.5),
        pct(&mut then, 0.95)
    );

    // 4. The browser app on these sessions: the replay page of the 2-hour session, and the live room
    //    of a class with 5,000 events before the join (headless Chromium, student-web/media/test/bench.mjs).
    let live = new_session("five-thousand").await?;
    fill(live, 5_000).await?;
    // The baseline: the same room with nothing before the join (loading the app, joining, the socket).
    let empty = new_session("empty").await?;
    let bench_js = std::path::Path::new("student-web/media/test/bench.mjs");
    if !bench_js.exists() || !std::path::Path::new("student-web/media/dist/index.html").exists() {
        println!("app pages: skipped (run from the repository root after scripts/build-web.sh)");
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    let out = tokio::process::Command::new("node")
        .arg("test/bench.mjs")
        .current_dir("student-web/media")
        .env("BASE", &base)
        .env("TOKEN", &token)
        .env("REPLAY_SESSION", big.to_string())
        .env("ROOM_SESSION", live.to_string())
        .env("EMPTY_SESSION", empty.to_string())
        .output()
        .await?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    anyhow::ensure!(out.status.success(), "bench.mjs failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// The 2-hour class's mix: chat, marks, strokes, questions in turn.
fn class_event(n: u64) -> SessionEvent {
    match n % 4 {
        0 => SessionEvent::ChatPosted { message_id: shared_types::MessageId::new(), content: format!("message {n}") },
        1 => SessionEvent::HighlightMarked { label: format!("mark {n}") },
        2 => SessionEvent::WhiteboardStrokeAdded {
            board_id: "main".into(),
            strokes: vec![shared_types::events::Stroke {
                id: format!("s{n}"),
                points: vec![[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
                color: "#222".into(),
                width: 2.0,
            }],
        },
        _ => SessionEvent::QuestionAsked {
            question_id: shared_types::QuestionId::new(),
            content: format!("question {n}?"),
        },
    }
}
