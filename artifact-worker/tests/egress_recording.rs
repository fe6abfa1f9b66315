//! The class recording for real: redis, livekit-server and LiveKit Egress (`scripts/media-stack.sh`),
//! SeaweedFS as the bucket. The teacher speaks an espeak-made lecture into a microphone published with
//! the official Python SDK; the egress records it into S3, the real `egress_ended` webhook registers
//! it, the worker transcribes it with the real model, and the replay's transcript matches the script.
//! Delivered again (the same webhook, or a copy under a new id), it is still one recording, one job.

mod common;

use artifact_worker::pipeline::{Ran, Worker};
use artifact_worker::text;
use cloud_api::blob::BlobStore;
use common::*;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use studio_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teachers_voice_to_transcript_through_egress() {
    let s3 = S3Server::start();
    let port = MediaStack::port();
    let (cfg, s3cfg) = (MediaStack::config_for(port), s3.config.clone());
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.livekit = Some(cfg);
        c.s3 = Some(s3cfg);
        c.livekit_record = true;
    })
    .await;
    let webhooks = format!("{}/api/webhooks/livekit", app.base);
    let stack = MediaStack::start(port, &webhooks);
    let dir = cloud_api::spawned::Scratch::new("egress-rec");
    std::fs::create_dir_all(&dir).unwrap();
    let (_, durations) = lecture(&dir);
    let spoken: f64 = durations.iter().sum();
    // The recording starts about two seconds after the first published track (the settle time and
    // the egress's own start, measured below); like a teacher settling in, the lecture begins after
    // three seconds of silence.
    let lead = 3.0;
    let wav = dir.join("lecture-lead.wav");
    let padded = std::process::Command::new("sox")
        .arg(dir.join("lecture.wav"))
        .arg(&wav)
        .args(["pad", &lead.to_string(), "0"])
        .status()
        .unwrap();
    assert!(padded.success());

    let s = app.school("Egress recording").await;
    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
    assert_eq!(start.status, 200, "{:?}", start.body);
    assert_eq!(start.body["recording"]["status"], "armed", "{:?}", start.body);
    let grant = &start.body["livekit"];
    let speaker = Speaker::join(grant["url"].as_str().unwrap(), grant["token"].as_str().unwrap(), &wav).await;
    let published = Instant::now();
    let events = |kind: &'static str| {
        let (app, s) = (&app, &s);
        async move {
            let all = app.all_events(&s.teacher.token, &s.session).await;
            all.into_iter().filter(|e| e["type"] == kind).count()
        }
    };
    while events("recording.started").await == 0 {
        assert!(published.elapsed() < Duration::from_secs(30), "no recording.started\n{}", stack.egress_log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let late = published.elapsed();
    println!("recording.started {late:?} after the microphone was published");
    assert!(late.as_secs_f64() < lead, "the recording runs before the lecture begins");
    let report = speaker.leave().await;
    assert!(report["error"].is_null(), "{report}");
    assert_eq!(app.post("/api/sessions/end", &s.teacher.token, json!({"sessionId": s.session})).await.status, 200);

    // The egress finishes, uploads to SeaweedFS and LiveKit sends `egress_ended`.
    let ended = Instant::now();
    let recording = loop {
        let r = app.get(&format!("/api/replays/{}", s.session), &s.teacher.token).await;
        if let Some(rec) = r.body["recordings"].as_array().and_then(|a| a.first()).cloned() {
            break rec;
        }
        assert!(
            ended.elapsed() < Duration::from_secs(90),
            "no recording 90 s after the end\n{}\n{}",
            stack.egress_log(),
            stack.livekit_log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("recording registered {:?} after the end: {recording}", ended.elapsed());
    let tenant = s.tenant;
    let session: shared_types::SessionId = s.session.parse().unwrap();
    let rows = app.store.recordings_of(tenant, session).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].file_key.starts_with(&format!("sessions/{}/egress/", s.session)), "{:?}", rows[0]);
    assert_eq!(rows[0].content_type, "audio/ogg", "an audio-only class is a track composite to Ogg");
    let (status, body) = app.fetch(recording["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(body.starts_with(b"OggS"), "an Ogg file in the bucket");

    // The same `egress_ended` again — redelivered (same id) and as a copy under a new id.
    let egress = app.store.recording_egress(session).await.unwrap().expect("the recording egress");
    let hook = |id: &str| {
        json!({
            "event": "egress_ended", "id": id,
            "egressInfo": {"egressId": egress, "roomName": format!("session-{}", s.session), "status": "EGRESS_COMPLETE",
                "fileResults": [{"filename": rows[0].file_key, "size": rows[0].size_bytes, "duration": 1_000_000_000u64}]}
        })
        .to_string()
    };
    let (key, secret) = (stack.config.api_key.clone(), stack.config.api_secret.clone());
    let copy = hook("EV_copy_of_egress_ended");
    let (status, answer) = python_webhook(&webhooks, &key, &secret, &copy, &copy);
    assert_eq!(status, 200, "{answer}");
    let (_, again) = python_webhook(&webhooks, &key, &secret, &copy, &copy);
    assert_eq!(again["duplicate"], true);
    assert_eq!(app.store.recordings_of(tenant, session).await.unwrap().len(), 1, "one recording");
    assert_eq!(events("recording.added").await, 1);
    // One processing job for the recording (`room_finished` adds the session's finalize job).
    let queued = app.store.jobs(Some(tenant), Some(shared_types::jobs::JobState::Queued), 10).await.unwrap();
    let processing = queued.iter().filter(|j| j.kind == shared_types::jobs::JobKind::ProcessRecording).count();
    assert_eq!(processing, 1, "one job: {queued:?}");

    // The worker reads the Ogg from S3 and transcribes it.
    let blobs = BlobStore::S3(cloud_api::blob::S3Blobs::connect(&s3.config).await.unwrap());
    let w = Worker::new(app.store.clone(), Arc::new(blobs), worker_cfg(120));
    let t = Instant::now();
    let mut ran = Vec::new();
    while let Some((job, outcome)) = w.run_one().await.unwrap() {
        assert_eq!(outcome, Ran::Done, "{job:?}");
        ran.push(job.kind);
    }
    println!("processed in {:?}: {ran:?}", t.elapsed());
    assert_eq!(ran.len(), queued.len(), "nothing more was queued");
    let r = app.get(&format!("/api/replays/{}", s.session), &s.student.token).await;
    let recorded = r.body["recordings"][0]["durationS"].as_f64().unwrap_or(0.0);
    assert!(recorded >= spoken, "the recording holds the whole lecture: {recorded:.1} s for {spoken:.1} s spoken");
    let segs = r.body["transcript"]["segments"].as_array().expect("a transcript");
    let hyp = segs.iter().map(|s| s["text"].as_str().unwrap()).collect::<Vec<_>>().join(" ");
    let wer = text::wer(&PARTS.join(" "), &hyp);
    println!("WER {wer:.3} through WebRTC, egress and Opus\n{hyp}");
    assert!(wer <= 0.3, "WER {wer:.3}");
}
