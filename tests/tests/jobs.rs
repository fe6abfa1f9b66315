//! The job queue on both stores: one job per recording, exclusive claims (SKIP LOCKED on
//! PostgreSQL), lease expiry, backoff, dead letter, and the admin's retry.

use chrono::Utc;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use studio_tests::*;

/// A processing job under `key`.
fn job<'a>(payload: &'a serde_json::Value, key: &'a str) -> cloud_api::store::NewJob<'a> {
    cloud_api::store::NewJob { kind: shared_types::jobs::JobKind::ProcessRecording, payload, dedupe_key: Some(key) }
}

async fn queue_semantics(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Jobs").await;
    app.live(&s).await;
    let store = app.store.clone();
    let sid: shared_types::SessionId = s.session.parse().unwrap();
    // Twelve distinct jobs, and one duplicate that must not make a thirteenth.
    for i in 0..12 {
        let (payload, key) = (json!({"recordingId": uuid::Uuid::new_v4()}), format!("k{i}"));
        store.enqueue(s.tenant, sid, job(&payload, &key)).await.unwrap();
    }
    store.enqueue(s.tenant, sid, job(&json!({}), "k3")).await.unwrap();
    assert_eq!(store.jobs(Some(s.tenant), Some(shared_types::jobs::JobState::Queued), 100).await.unwrap().len(), 12);

    // Four workers claim at once: every job goes to exactly one of them.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(j) = store.claim_job(&format!("w{w}"), Duration::from_secs(30)).await.unwrap() {
                mine.push(j.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 12);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 12, "no job claimed twice");
    assert!(store.claim_job("late", Duration::from_secs(30)).await.unwrap().is_none());

    // Heartbeats belong to the holder; completion too.
    let id = all[0];
    let holder = store.jobs(Some(s.tenant), Some(shared_types::jobs::JobState::Running), 100).await.unwrap();
    assert_eq!(holder.len(), 12);
    assert!(!store.heartbeat_job(id, "someone-else", Duration::from_secs(30)).await.unwrap());

    // A short lease that is not renewed expires and the job is claimed again, attempt 2.
    store.enqueue(s.tenant, sid, job(&json!({}), "short")).await.unwrap();
    let j = store.claim_job("crashy", Duration::from_millis(300)).await.unwrap().unwrap();
    assert_eq!(j.attempts, 1);
    assert!(store.claim_job("other", Duration::from_secs(30)).await.unwrap().is_none());
    // Claimable again once the lease has run out (waited for, not slept).
    let t = std::time::Instant::now();
    let again = loop {
        if let Some(j) = store.claim_job("other", Duration::from_secs(30)).await.unwrap() {
            break j;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "the expired lease was not released in 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(t.elapsed() >= Duration::from_millis(200), "not before the lease ran out: {:?}", t.elapsed());
    assert_eq!((again.id, again.attempts), (j.id, 2));
    assert!(!store.complete_job(j.id, "crashy").await.unwrap(), "the old holder cannot complete it");

    // Failures back off, then park the job as failed after max attempts.
    let state = store.fail_job(j.id, "other", "boom", Duration::from_secs(3600)).await.unwrap();
    assert_eq!(state, "queued");
    let parked = store.job(j.id).await.unwrap().unwrap();
    assert!(parked.run_after > Utc::now() + chrono::Duration::minutes(100), "backoff doubles: {:?}", parked.run_after);
    assert!(store.claim_job("other", Duration::from_secs(30)).await.unwrap().is_none(), "not before its backoff");
    assert!(store.retry_job(Some(s.tenant), j.id).await.unwrap());
    let third = store.claim_job("other", Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!(third.attempts, 1, "a retry starts a fresh attempt budget");
    for k in 1..=3 {
        let st = store.fail_job(j.id, "other", "boom again", Duration::ZERO).await.unwrap();
        assert_eq!(st, if k < 3 { "queued" } else { "failed" });
        if k < 3 {
            store.claim_job("other", Duration::from_secs(30)).await.unwrap().unwrap();
        }
    }
    let failed = app.get("/api/admin/jobs?state=failed", &s.admin.token).await;
    assert_eq!(failed.body["jobs"][0]["lastError"], "boom again");
    assert_eq!(app.get("/api/admin/jobs?state=bogus", &s.admin.token).await.status, 422);
    // Another tenant's admin sees none of it and cannot retry it.
    let other = app.school("Other jobs").await;
    assert_eq!(app.get("/api/admin/jobs", &other.admin.token).await.body["jobs"].as_array().unwrap().len(), 0);
    assert_eq!(app.post(&format!("/api/admin/jobs/{}/retry", j.id), &other.admin.token, json!({})).await.status, 404);
    assert_eq!(app.post(&format!("/api/admin/jobs/{}/retry", j.id), &s.admin.token, json!({})).await.status, 200);
}

on_both!(queue_semantics);
