//! Shared by the pipeline tests: a spoken lecture with known text, the worker, recording uploads,
//! and the slide changes of the lecture's class.

#![allow(dead_code)]

use artifact_worker::model;
use artifact_worker::pipeline::{Worker, WorkerConfig};
use chrono::{DateTime, Utc};
use cloud_api::blob::{BlobStore, LocalBlobs};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use studio_tests::*;

pub const PARTS: [&str; 3] = [
    "Good morning everyone. Today we study motion. Motion is a change of position over time. \
     We describe position with a number line and a chosen origin.",
    "Now let us talk about velocity. Velocity is the rate of change of position. \
     If a car travels sixty meters in three seconds, its average velocity is twenty meters per second.",
    "Finally, acceleration. Acceleration is the rate of change of velocity. \
     A ball that falls speeds up by about ten meters per second every second.",
];

pub fn worker_cfg(lease_s: u64) -> WorkerConfig {
    WorkerConfig::local(
        format!("test-worker-{}", uuid::Uuid::new_v4().simple()),
        model::prepare().expect("model"),
        Duration::from_secs(lease_s),
    )
}

pub fn worker(app: &TestApp, lease_s: u64) -> Worker {
    let blobs = BlobStore::Local(LocalBlobs::in_data_dir(&app.data_dir).unwrap());
    Worker::new(app.store.clone(), Arc::new(blobs), worker_cfg(lease_s))
}

/// Speak each part to 16 kHz mono WAV; the joined lecture and each part's duration in seconds.
pub fn lecture(dir: &std::path::Path) -> (Vec<u8>, Vec<f64>) {
    let mut files = Vec::new();
    let mut durations = Vec::new();
    for (i, part) in PARTS.iter().enumerate() {
        let raw = dir.join(format!("p{i}.wav"));
        let out = dir.join(format!("p{i}-16k.wav"));
        assert!(Command::new("espeak-ng").args(["-s", "150", "-w"]).arg(&raw).arg(part).status().unwrap().success());
        // A second of silence after each part, like a teacher moving to the next slide.
        assert!(Command::new("sox")
            .arg(&raw)
            .args(["-r", "16000", "-c", "1", "-b", "16"])
            .arg(&out)
            .args(["pad", "0", "1"])
            .status()
            .unwrap()
            .success());
        let samples = (std::fs::metadata(&out).unwrap().len() - 44) / 2;
        durations.push(samples as f64 / 16000.0);
        files.push(out);
    }
    let joined = dir.join("lecture.wav");
    let mut sox = Command::new("sox");
    sox.args(&files).arg(&joined);
    assert!(sox.status().unwrap().success());
    (std::fs::read(joined).unwrap(), durations)
}

pub async fn upload_recording(
    app: &TestApp,
    token: &str,
    session: &str,
    bytes: Vec<u8>,
    started: Option<chrono::DateTime<Utc>>,
    key: &str,
) -> Answer {
    let mut req = app
        .http
        .post(format!("{}/api/sessions/{session}/recordings", app.base))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .header("content-type", "audio/wav")
        .body(bytes);
    if let Some(t) = started {
        req = req.header("x-recording-started-at", t.to_rfc3339());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let raw = resp.bytes().await.unwrap().to_vec();
    Answer { status, headers, body: serde_json::from_slice(&raw).unwrap_or(Value::Null), raw }
}

/// The class's journal batch: slide 1 at 0.5 s, 2 and 3 where the lecture's parts begin, and the
/// teacher's "Key formula" mark 3 s into part three — times on the recording's clock.
pub fn slide_changes(deck_id: &str, d: &[f64], at: impl Fn(f64) -> DateTime<Utc>) -> Value {
    json!({"events": [
        {"idempotencyKey": "s1", "type": "slide.shown", "occurredAt": at(0.5), "payload": {"assetId": deck_id, "page": 1}},
        {"idempotencyKey": "s2", "type": "slide.shown", "occurredAt": at(d[0]), "payload": {"assetId": deck_id, "page": 2}},
        {"idempotencyKey": "s3", "type": "slide.shown", "occurredAt": at(d[0] + d[1]), "payload": {"assetId": deck_id, "page": 3}},
        {"idempotencyKey": "h1", "type": "highlight.marked", "occurredAt": at(d[0] + d[1] + 3.0), "payload": {"label": "Key formula"}},
    ]})
}
