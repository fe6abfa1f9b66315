//! Recordings: the single-request upload and the resumable one (parts, listing, resume, complete).

use reqwest::Method;
use serde_json::json;
use studio_tests::*;

async fn put_part(app: &TestApp, token: &str, session: &str, upload: &str, n: u32, bytes: Vec<u8>) -> u16 {
    put_part_as(app, token, session, upload, n, bytes, &[]).await.status.as_u16()
}

/// A part with extra headers (`X-Run-Started-At`); the whole answer.
async fn put_part_as(
    app: &TestApp,
    token: &str,
    session: &str,
    upload: &str,
    n: u32,
    bytes: Vec<u8>,
    headers: &[(&str, &str)],
) -> Answer {
    let path = format!("/api/sessions/{session}/recordings/uploads/{upload}/parts/{n}");
    let mut req = app
        .http
        .put(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.body(bytes).send().await.unwrap();
    Answer::checked("PUT", &path, resp).await
}

/// The tab that recorded the class is gone (no "complete"): once the class has ended and the grace
/// period passed, the server joins the parts 1..k it holds into the recording, queues it for the
/// pipeline, and refuses parts sent afterwards. A part beginning a second recorder run (the page was
/// reloaded) is kept as a run of the recording, with when it began.
async fn abandoned_upload_is_finished_by_the_server(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.upload_grace_secs = 1).await;
    let s = app.school("Tab closed").await;
    app.live(&s).await;
    let (t, sid) = (&s.teacher.token, s.session.as_str());
    let started = "2026-11-25T09:00:00Z";
    let up = app.post(&format!("/api/sessions/{sid}/recordings/uploads"), t, json!({"startedAt": started})).await;
    let id = up.body["uploadId"].as_str().unwrap().to_string();
    let (first, second) = (wav(2.0), wav(1.5));
    assert_eq!(put_part(&app, t, sid, &id, 1, first[..30_000].to_vec()).await, 200);
    assert_eq!(put_part(&app, t, sid, &id, 2, first[30_000..].to_vec()).await, 200);
    let bad_run = put_part_as(&app, t, sid, &id, 3, second.clone(), &[("x-run-started-at", "later")]).await;
    assert_eq!((bad_run.status.as_u16(), bad_run.code()), (422, "validation_failed"), "{:?}", bad_run.body);
    let run = [("x-run-started-at", "2026-11-25T09:00:05Z")];
    assert_eq!(put_part_as(&app, t, sid, &id, 3, second.clone(), &run).await.status, 200);
    // Part 5 arrived, part 4 never did: what follows a gap cannot be placed.
    assert_eq!(put_part(&app, t, sid, &id, 5, b"after a gap".to_vec()).await, 200);
    // While the class runs nothing is finished, however long the grace has passed.
    assert!(app.store.recordings_of(s.tenant, sid.parse().unwrap()).await.unwrap().is_empty());
    assert_eq!(app.post("/api/sessions/end", t, json!({"sessionId": sid})).await.status, 200);

    let mut recordings = Vec::new();
    for _ in 0..300 {
        recordings = app.store.recordings_of(s.tenant, sid.parse().unwrap()).await.unwrap();
        if !recordings.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(recordings.len(), 1, "the server finished the upload after the grace period");
    let rec = &recordings[0];
    let joined: Vec<u8> = [first.clone(), second.clone()].concat();
    assert_eq!(rec.size_bytes as usize, joined.len(), "parts 1..3, not the one after the gap");
    assert_eq!(rec.started_at.map(|t| t.to_rfc3339()), Some("2026-11-25T09:00:00+00:00".into()));
    let runs: Vec<(u64, f64)> = rec.runs.iter().map(|r| (r.byte, r.at_s)).collect();
    assert_eq!(runs, vec![(0, 0.0), (first.len() as u64, 5.0)]);
    let replay = app.get(&format!("/api/replays/{sid}"), t).await;
    let (status, bytes) = app.fetch(replay.body["recordings"][0]["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes == joined), (200, true), "byte for byte the parts, in order");
    // Its event is the teacher's recording, written once; the pipeline has its job.
    let events = app.all_events(t, sid).await;
    let added: Vec<&serde_json::Value> = events.iter().filter(|e| e["type"] == "recording.added").collect();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["payload"]["recordingId"], json!(rec.id));
    assert_eq!(added[0]["actorId"], json!(s.teacher.id));
    let jobs = app.store.jobs(Some(s.tenant), Some(shared_types::jobs::JobState::Queued), 10).await.unwrap();
    assert_eq!(jobs.iter().filter(|j| j.payload["recordingId"] == json!(rec.id)).count(), 1);
    // A part that comes later is refused in words, and changes nothing.
    let late = put_part_as(&app, t, sid, &id, 4, b"late".to_vec(), &[]).await;
    assert_eq!((late.status.as_u16(), late.code()), (409, "conflict"), "{:?}", late.body);
    assert!(late.body["message"].as_str().unwrap().contains("already complete"), "{:?}", late.body);
    assert_eq!(late.body["details"]["recordingId"], json!(rec.id));
    // The page coming back to complete it hears the same: the server's recording stands.
    let complete = app.post(&format!("/api/sessions/{sid}/recordings/uploads/{id}/complete"), t, json!({})).await;
    assert_eq!(complete.status, 409, "{:?}", complete.body);
    assert_eq!(app.store.recordings_of(s.tenant, sid.parse().unwrap()).await.unwrap().len(), 1);
    assert_eq!(app.all_events(t, sid).await.len(), events.len(), "nothing appended");
}

async fn resumable_upload(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Uploads").await;
    app.live(&s).await;
    let sid = s.session.as_str();
    let t = &s.teacher.token;
    let assert_denied = app.post(&format!("/api/sessions/{sid}/recordings/uploads"), &s.student.token, json!({})).await;
    assert_eq!(assert_denied.status, 403);
    let started = "2026-11-25T09:00:00Z";
    let up = app.post(&format!("/api/sessions/{sid}/recordings/uploads"), t, json!({"startedAt": started})).await;
    assert_eq!(up.status, 201, "{:?}", up.body);
    let id = up.body["uploadId"].as_str().unwrap().to_string();
    let file = wav(3.0);
    let chunks: Vec<Vec<u8>> = file.chunks(40_000).map(|c| c.to_vec()).collect();
    assert_eq!(chunks.len(), 3);
    // Parts 1 and 3 arrive; the connection drops before part 2.
    assert_eq!(put_part(&app, t, sid, &id, 1, chunks[0].clone()).await, 200);
    assert_eq!(put_part(&app, t, sid, &id, 3, b"garbage to be replaced".to_vec()).await, 200);
    let early = app.post(&format!("/api/sessions/{sid}/recordings/uploads/{id}/complete"), t, json!({})).await;
    assert_eq!(early.status, 422);
    // The client asks what arrived, and resumes.
    let listing = app.get(&format!("/api/sessions/{sid}/recordings/uploads/{id}"), t).await;
    let got: Vec<u64> = listing.body["parts"].as_array().unwrap().iter().map(|p| p["n"].as_u64().unwrap()).collect();
    assert_eq!(got, vec![1, 3]);
    assert_eq!(put_part(&app, t, sid, &id, 2, chunks[1].clone()).await, 200);
    assert_eq!(put_part(&app, t, sid, &id, 3, chunks[2].clone()).await, 200);
    assert_eq!(put_part(&app, &s.assistant.token, sid, &id, 4, b"x".to_vec()).await, 404, "only its owner adds parts");
    assert_eq!(put_part(&app, t, sid, &id, 0, b"x".to_vec()).await, 422);
    let done = app.post(&format!("/api/sessions/{sid}/recordings/uploads/{id}/complete"), t, json!({})).await;
    assert_eq!(done.status, 201, "{:?}", done.body);
    assert_eq!(done.body["sizeBytes"], file.len());
    assert_eq!(done.body["startedAt"], started);
    assert_eq!(done.body["event"]["type"], "recording.added");
    // Completing again is the same recording and appends nothing.
    let again = app.post(&format!("/api/sessions/{sid}/recordings/uploads/{id}/complete"), t, json!({})).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["id"], done.body["id"]);
    assert_eq!(again.body["event"]["sequence"], done.body["event"]["sequence"]);
    assert_eq!(put_part(&app, t, sid, &id, 4, b"late".to_vec()).await, 409);
    // The joined file is byte for byte the original, and one job waits for it.
    let replay = app.get(&format!("/api/replays/{sid}"), t).await;
    let rec = &replay.body["recordings"][0];
    assert_eq!(rec["id"], done.body["id"]);
    let (status, bytes) = app.fetch(rec["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes == file), (200, true));
    let jobs = app.store.jobs(Some(s.tenant), Some(shared_types::jobs::JobState::Queued), 10).await.unwrap();
    let kinds: Vec<_> = jobs.iter().map(|j| j.kind).collect();
    use shared_types::jobs::JobKind;
    assert_eq!(kinds.iter().filter(|k| **k == JobKind::ProcessRecording).count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == JobKind::LiveCaptions).count(), 1, "one live captioner per upload");
}

async fn single_request_upload(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Upload once").await;
    app.live(&s).await;
    let path = format!("/api/sessions/{}/recordings", s.session);
    let send = |token: String, body: Vec<u8>, ct: &'static str| {
        let (app, path) = (&app, path.clone());
        async move { app.post_body(&path, &token, &uuid::Uuid::new_v4().to_string(), &[("content-type", ct)], body).await }
    };
    assert_eq!(send(s.student.token.clone(), wav(1.0), "audio/wav").await.status, 403);
    assert_eq!(send(s.teacher.token.clone(), b"not media at all".to_vec(), "audio/wav").await.status, 422);
    let ok = send(s.teacher.token.clone(), wav(1.0), "audio/wav").await;
    assert_eq!(ok.status, 201);
    // Multipart works too.
    let form =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(wav(1.0)).file_name("a.wav"));
    let mp = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(&s.teacher.token)
        .header("idempotency-key", "mp-1")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(mp.status(), 201);
    let bad_time =
        app.post_body(&path, &s.teacher.token, "bt", &[("x-recording-started-at", "yesterday")], wav(1.0)).await;
    assert_eq!(bad_time.status, 422);
    assert_eq!(app.store.jobs(Some(s.tenant), None, 10).await.unwrap().len(), 2);
    let r = app.call(Method::GET, &format!("/api/replays/{}", s.session), Some(&s.outsider.token), None, None).await;
    assert_eq!(r.status, 403);
}

/// A browser's replay (Accept-Encoding: gzip) is the same answer as an uncompressed one, built
/// once per version: a new event or a new recording is in the next answer, not a stale copy.
async fn replay_answers_are_gzipped_once_per_version(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Replay cache").await;
    app.live(&s).await;
    let path = format!("/api/replays/{}", s.session);
    let gzipped = || async {
        let r = app
            .http
            .get(format!("{}{path}", app.base))
            .bearer_auth(&s.student.token)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], "gzip");
        assert_eq!(r.headers()["content-type"], "application/json");
        let bytes = r.bytes().await.unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).unwrap();
        (bytes.len(), serde_json::from_str::<serde_json::Value>(&text).unwrap())
    };
    let (_, first) = gzipped().await;
    let plain = app.get(&path, &s.student.token).await;
    assert_eq!(plain.status, 200);
    assert_eq!(first, plain.body, "the same answer, compressed");
    let (_, again) = gzipped().await;
    assert_eq!(again, first);
    // A chat message moves the head: the next answer has it.
    let chat = app.post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": "hi"})).await;
    assert_eq!(chat.status, 201, "{:?}", chat.body);
    let (_, after_chat) = gzipped().await;
    assert_eq!(after_chat["state"]["head"], first["state"]["head"].as_u64().unwrap() + 1);
    assert_eq!(after_chat["state"]["chat"][0]["content"], "hi");
    // A recording is in the next answer too.
    let up = app
        .post_body(
            &format!("/api/sessions/{}/recordings", s.session),
            &s.teacher.token,
            "rec-1",
            &[("content-type", "audio/wav")],
            wav(1.0),
        )
        .await;
    assert_eq!(up.status, 201);
    let (_, with_recording) = gzipped().await;
    assert_eq!(with_recording["recordings"][0]["id"], up.body["id"]);
    // Signed URLs carry their own expiry: the rest of the answer is the same.
    let strip = |mut v: serde_json::Value| {
        for r in v["recordings"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().retain(|k, _| k != "url" && k != "expiresAt");
        }
        v
    };
    assert_eq!(strip(with_recording), strip(app.get(&path, &s.student.token).await.body));
}

/// Old uploads are swept: an abandoned one is forgotten with its parts; a completed one keeps its
/// recording (still playable) and drops the parts it no longer needs.
async fn old_upload_parts_are_swept(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Sweep").await;
    app.live(&s).await;
    let (t, sid) = (&s.teacher.token, &s.session);
    let file = wav(1.0);
    let path = format!("/api/sessions/{sid}/recordings/uploads");
    let start = || async { app.post(&path, t, json!({})).await.body["uploadId"].as_str().unwrap().to_string() };
    let abandoned = start().await;
    assert_eq!(put_part(&app, t, sid, &abandoned, 1, file[..10_000].to_vec()).await, 200);
    let done = start().await;
    assert_eq!(put_part(&app, t, sid, &done, 1, file.clone()).await, 200);
    let complete = app.post(&format!("/api/sessions/{sid}/recordings/uploads/{done}/complete"), t, json!({})).await;
    assert_eq!(complete.status, 201);
    let parts_dir = app.data_dir.join(format!("blobs/sessions/{sid}/uploads"));
    let files = |dir: &std::path::Path| walk(dir).len();
    assert_eq!(files(&parts_dir), 2, "two parts stored");

    // Young uploads are kept.
    let (swept, _) = cloud_api::http::replay::sweep_uploads(&app.state, chrono::Duration::days(7)).await.unwrap();
    assert_eq!(swept, 0);
    // Everything started before now is old for this sweep.
    let (swept, _) = cloud_api::http::replay::sweep_uploads(&app.state, chrono::Duration::seconds(-1)).await.unwrap();
    assert_eq!(swept, 2);
    assert_eq!(files(&parts_dir), 0, "no part blobs left");
    assert_eq!(app.get(&format!("/api/sessions/{sid}/recordings/uploads/{abandoned}"), t).await.status, 404);
    let again = app.post(&format!("/api/sessions/{sid}/recordings/uploads/{done}/complete"), t, json!({})).await;
    assert_eq!(again.status, 409, "{:?}", again.body);
    let replay = app.get(&format!("/api/replays/{sid}"), t).await;
    let (status, bytes) = app.fetch(replay.body["recordings"][0]["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes == file), (200, true), "the recording itself stays");
    let (swept, _) = cloud_api::http::replay::sweep_uploads(&app.state, chrono::Duration::seconds(-1)).await.unwrap();
    assert_eq!(swept, 0, "nothing left to sweep");
}

/// Blobs whose asset or recording never committed are swept after the grace period; owned ones and
/// young ones stay. (The orphans are written straight into the blob store: a refused commit after
/// the files were stored is a race with ending the class, too narrow to hit on purpose.)
async fn orphaned_blobs_are_swept(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Orphans").await;
    app.live(&s).await;
    let (t, sid) = (&s.teacher.token, &s.session);
    let file = wav(1.0);
    let rec = app.post_recording(t, sid, "kept", file.clone()).await;
    assert_eq!(rec.status, 201, "{:?}", rec.body);
    let png = [&b"\x89PNG\r\n\x1a\n"[..], &[0u8; 64]].concat();
    let asset = app.upload(t, &[("type", "image"), ("sessionId", sid)], png, "pic.png").await;
    assert_eq!(asset.status, 201, "{:?}", asset.body);
    let (ghost_asset, ghost_rec) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let orphans = [
        format!("sessions/{sid}/assets/{ghost_asset}/source.png"),
        format!("sessions/{sid}/recordings/{ghost_rec}.wav"),
    ];
    for k in &orphans {
        app.state.blobs.put(k, b"left behind".to_vec(), "application/octet-stream").await.unwrap();
    }
    let blobs = app.data_dir.join("blobs");
    let before = walk(&blobs).len();

    assert_eq!(cloud_api::sweep::sweep_orphans(&app.state, chrono::Duration::days(7)).await.unwrap(), 0, "young");
    assert_eq!(cloud_api::sweep::sweep_orphans(&app.state, chrono::Duration::seconds(-1)).await.unwrap(), 2);
    assert_eq!(walk(&blobs).len(), before - 2);
    for k in &orphans {
        assert!(app.state.blobs.get(k).await.is_err(), "{k} is gone");
    }
    let replay = app.get(&format!("/api/replays/{sid}"), t).await;
    let (status, bytes) = app.fetch(replay.body["recordings"][0]["url"].as_str().unwrap()).await;
    assert_eq!((status, bytes == file), (200, true), "the owned recording stays");
    let a = app.get(&format!("/api/studio/assets/{}", asset.body["id"].as_str().unwrap()), t).await;
    assert_eq!(app.fetch(a.body["contentUrl"].as_str().unwrap()).await.0, 200, "the owned asset stays");
    assert_eq!(cloud_api::sweep::sweep_orphans(&app.state, chrono::Duration::seconds(-1)).await.unwrap(), 0);
}

/// Files below `dir`, recursively.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

on_both!(
    resumable_upload,
    single_request_upload,
    old_upload_parts_are_swept,
    orphaned_blobs_are_swept,
    replay_answers_are_gzipped_once_per_version,
    abandoned_upload_is_finished_by_the_server
);

/// On S3 (a real SeaweedFS) too: the single upload is streamed to the bucket, the resumable one is
/// joined part by part, and both read back byte for byte through presigned URLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_stream_to_s3() {
    let s3 = S3Server::start();
    let cfg = s3.config.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.s3 = Some(cfg)).await;
    let s = app.school("S3 recordings").await;
    app.live(&s).await;
    let (t, sid) = (&s.teacher.token, &s.session);
    let file = wav(4.0);
    let one = app.post_recording(t, sid, "s3-one", file.clone()).await;
    assert_eq!(one.status, 201, "{:?}", one.body);
    let up = app.post(&format!("/api/sessions/{sid}/recordings/uploads"), t, json!({})).await;
    let id = up.body["uploadId"].as_str().unwrap().to_string();
    for (i, chunk) in file.chunks(50_000).enumerate() {
        assert_eq!(put_part(&app, t, sid, &id, i as u32 + 1, chunk.to_vec()).await, 200);
    }
    let done = app.post(&format!("/api/sessions/{sid}/recordings/uploads/{id}/complete"), t, json!({})).await;
    assert_eq!(done.status, 201, "{:?}", done.body);
    let replay = app.get(&format!("/api/replays/{sid}"), t).await;
    let recs = replay.body["recordings"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    for r in recs {
        let url = r["url"].as_str().unwrap();
        assert!(url.starts_with("http"), "a presigned S3 URL: {url}");
        let (status, bytes) = app.fetch(url).await;
        assert_eq!((status, bytes.len(), bytes == file), (200, file.len(), true));
    }
    // The orphan sweep lists the bucket: a recording file without its row goes, the two owned stay.
    let orphan = format!("sessions/{sid}/recordings/{}.wav", uuid::Uuid::now_v7());
    app.state.blobs.put(&orphan, b"left behind".to_vec(), "audio/wav").await.unwrap();
    assert_eq!(cloud_api::sweep::sweep_orphans(&app.state, chrono::Duration::seconds(-1)).await.unwrap(), 1);
    assert!(app.state.blobs.get(&orphan).await.is_err());
    for r in recs {
        assert_eq!(app.fetch(r["url"].as_str().unwrap()).await.0, 200);
    }
}
