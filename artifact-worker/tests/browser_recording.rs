//! The class recording in headless Chromium against a real livekit-server
//! (`student-web/media/test/recording.mjs`): the present view records camera and microphone (an
//! espeak-ng voice) in slices kept in IndexedDB; the API is unreachable for a while (the page's
//! requests refused — LiveKit stays up, as when only the school's server is away) and the slices
//! wait; the page is reloaded mid-class and resumes the same upload with a new recorder run; then
//! the tab is killed without "End class", the class is ended through the API, and the server
//! finishes the recording from the parts it acknowledged. It holds every part once, in order, and decodes (runs
//! placed on the class clock) to the time it was recorded — no audio lost beyond a slice, none twice.

use artifact_worker::decode;
use studio_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_survives_an_outage_and_a_reload() {
    let dist = media_dir().join("dist");
    assert!(dist.join("pkg").exists(), "build the web app first: bash scripts/build-web.sh");
    let lk = LiveKitServer::start();
    let cfg = lk.config.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.upload_grace_secs = 1;
        c.livekit = Some(cfg);
        c.media_dir = Some(dist.clone());
        c.student_web_dir = Some(dist);
    })
    .await;
    let s = app.school("Recording").await;
    app.live(&s).await;
    let shots = cloud_api::spawned::screenshots("recording");
    std::fs::create_dir_all(&shots).unwrap();
    let wav = shots.join("voice.wav");
    let said = "Good morning class. Today we study waves. A wave carries energy from one place to another.";
    assert!(std::process::Command::new("espeak-ng").arg("-w").arg(&wav).arg(said).status().unwrap().success());
    let (r, stderr) = browser_script("recording.mjs", &teacher_env(&app, &s, &wav, &shots)).await;
    println!("browser result: {r}\nscreenshots in {}", shots.display());
    assert!(r["error"].is_null(), "{r}\n{stderr}");

    // What the teacher saw: offline, slices waiting here; then all sent; the same upload after the reload.
    assert_eq!(r["offline"]["offline"], true, "{r}");
    assert!(r["offline"]["waiting"].as_u64().unwrap() >= 2, "{r}");
    let text = r["offline"]["text"].as_str().unwrap();
    assert!(text.contains("offline") && text.contains("kept in this browser"), "{text}");
    assert!(r["backOnline"]["saved"].as_u64() > r["offline"]["saved"].as_u64(), "the waiting parts went up: {r}");
    let upload_id = r["before"]["uploadId"].as_str().expect("an upload id").to_string();
    assert_eq!(r["afterReload"]["uploadId"], upload_id.as_str(), "the reload resumed the same upload: {r}");
    for shot in ["present-recording-offline.png", "present-recording-offline-phone.png", "present-recording.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 1000, "{shot} saved");
    }

    // The tab is gone; the class is ended from the API and the server finishes the recording.
    let end = app.post("/api/sessions/end", &s.teacher.token, serde_json::json!({"sessionId": s.session})).await;
    assert_eq!(end.status, 200, "{:?}", end.body);
    let upload_id: uuid::Uuid = upload_id.parse().unwrap();
    let mut up = None;
    for _ in 0..400 {
        let u = app.store.upload(s.tenant, upload_id).await.unwrap().expect("the upload");
        if u.recording_id.is_some() {
            up = Some(u);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let up = up.expect("the server finished the upload after the class ended");
    // What the server holds: parts 1..N once each, two recorder runs, all joined.
    assert_eq!(up.contiguous().len(), up.parts.len(), "no part missing: {:?}", up.parts);
    assert!(up.parts.len() as u64 >= r["lastSeen"]["saved"].as_u64().unwrap(), "every acknowledged part: {r}");
    let rid = up.recording_id.unwrap();
    let rec = app.store.recording(s.tenant, rid).await.unwrap().expect("the recording");
    assert_eq!(rec.size_bytes, up.parts.iter().map(|p| p.size_bytes).sum::<i64>());
    assert_eq!(rec.runs.len(), 2, "one run before the reload, one after: {:?}", rec.runs);
    assert_eq!(app.store.recordings_of(s.tenant, rec.session_id).await.unwrap().len(), 1);

    // Decoded on the class clock, it lasts as long as the recorder ran: nothing lost beyond the
    // slices in hand when the tab was killed (the one being made and the one being sent), nothing twice.
    let bytes = app.state.blobs.get(&rec.file_key).await.unwrap();
    let (_, duration) = decode::to_whisper_runs(bytes, Some(&rec.content_type), &rec.runs).unwrap();
    let wall = (r["endAt"].as_f64().unwrap() - r["recordingFrom"].as_f64().unwrap()) / 1000.0;
    println!("recorded {duration:.1} s over {wall:.1} s of class; runs {:?}", rec.runs);
    assert!(duration <= wall + 2.0, "no audio twice: {duration} s recorded in {wall} s");
    assert!(duration >= wall - 7.0, "no audio lost: {duration} s recorded in {wall} s");
    if std::env::var_os("KEEP_SHOTS").is_none() {
        let _ = std::fs::remove_dir_all(&shots);
    }
}
