//! Headless Chromium against a real livekit-server: the teacher's present view publishes a
//! microphone fed from espeak-ng speech, a student's live room subscribes and receives audio bytes
//! (WebRTC stats) and sees the live caption, and ending the class uploads the browser's own
//! MediaRecorder recording.

use serde_json::json;
use studio_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teacher_broadcasts_student_hears() {
    let media = media_dir();
    assert!(
        media.join("dist/media.js").exists(),
        "build the media bundle first: (cd student-web/media && npm ci && npm run build)"
    );
    let lk = LiveKitServer::start();
    let cfg = lk.config.clone();
    let dist = media.join("dist");
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.livekit = Some(cfg);
        c.media_dir = Some(dist.clone());
        c.student_web_dir = Some(dist);
    })
    .await;
    let s = app.school("Browser").await;
    assert_eq!(app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await.status, 200);

    // A live caption, as the worker appends them while the class runs: the room shows the newest.
    let caption = cloud_api::store::NewEvent {
        idempotency_key: "caption-1".into(),
        actor_id: None,
        actor_role: None,
        occurred_at: None,
        event: shared_types::SessionEvent::CaptionAdded {
            recording_id: shared_types::RecordingId::new(),
            start_s: 1.0,
            end_s: 3.5,
            text: "Good morning class.".into(),
        },
    };
    app.store.append(s.tenant, s.session.parse().unwrap(), vec![caption]).await.unwrap();
    let shots = cloud_api::spawned::screenshots("media");
    std::fs::create_dir_all(&shots).unwrap();
    let wav = shots.join("voice.wav");
    let said = "Good morning class. This is the teacher speaking through the browser.";
    assert!(std::process::Command::new("espeak-ng").arg("-w").arg(&wav).arg(said).status().unwrap().success());
    let (result, stderr) = browser_script(
        "media.mjs",
        &[
            ("BASE", app.base.as_ref()),
            ("SESSION", s.session.as_ref()),
            ("TEACHER_EMAIL", s.teacher.email.as_ref()),
            ("STUDENT_EMAIL", s.student.email.as_ref()),
            ("PASSWORD", PASSWORD.as_ref()),
            ("WAV", wav.as_os_str()),
            ("SHOTS", shots.as_os_str()),
        ],
    )
    .await;
    println!("browser result: {result}\nscreenshots in {}", shots.display());
    assert!(result["error"].is_null(), "{result}\n{stderr}");
    assert!(result["audioBytes"].as_u64().unwrap() > 2000, "the student received audio: {result}");
    assert_eq!(result["csp"], json!([]), "the Content-Security-Policy lets livekit-client work");
    assert!(result["audioElements"].as_u64().unwrap() >= 1);
    assert!(result["videoElements"].as_u64().unwrap() >= 1, "the teacher's camera reaches the student: {result}");
    assert_eq!(result["caption"], "Good morning class.", "the live caption is over the stage");
    assert_eq!(result["captionAfterToggle"], serde_json::Value::Null, "and the Captions button hides it");
    for at in ["captionDesktop", "captionPhone"] {
        assert_eq!(result[at], json!({"caption": true, "camera": false, "stage": false}), "{at}: clear of the tiles");
    }
    // The screen share: on the students' stage; the teacher is told it is live only.
    assert_eq!(
        (result["shareBefore"].as_str(), result["shareAfter"].as_str()),
        (Some("Share screen"), Some("Share screen"))
    );
    assert_eq!(result["sharing"]["button"], "Stop sharing", "{result}");
    assert!(
        result["sharing"]["rec"].as_str().unwrap().starts_with("recording the camera (the shared screen is live only)"),
        "{result}"
    );
    for at in ["screenDesktop", "screenPhone"] {
        assert_eq!(result[at], json!({"screenCoversStage": true, "cameraInCorner": true}), "{at}: {result}");
    }
    for shot in [
        "teacher-broadcast.png",
        "student-watch.png",
        "student-watch-phone.png",
        "student-screen.png",
        "teacher-sharing.png",
    ] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 1000, "{shot} saved");
    }
    assert_eq!(result["teacherAfterEnd"], "This class has ended", "the present view says so and links the replay");
    // The browser's own recording reached the API and waits for the pipeline.
    assert_eq!(result["recording"]["contentType"], "video/webm");
    let replay = app.get(&format!("/api/replays/{}", s.session), &s.teacher.token).await;
    assert_eq!(replay.body["recordings"].as_array().unwrap().len(), 1);
    assert_eq!(replay.body["session"]["status"], "ended");
    let jobs = app.store.jobs(Some(s.tenant), Some(shared_types::jobs::JobState::Queued), 10).await.unwrap();
    let of = |kind| jobs.iter().filter(|j| j.kind == kind).count();
    assert_eq!(of(shared_types::jobs::JobKind::ProcessRecording), 1, "{jobs:?}");
    assert_eq!(of(shared_types::jobs::JobKind::LiveCaptions), 1, "the recording's live captions: {jobs:?}");

    // One recorder run through the share, camera and microphone (livekit-client asks the camera for
    // 720p). A run per source would put the screen in it, but the replay plays one WebM and stops at
    // a second run's header: that waits for a replay that plays runs in order.
    let recs = app.store.recordings_of(s.tenant, s.session.parse().unwrap()).await.unwrap();
    let rec = &recs[0];
    let bytes = app.state.blobs.get(&rec.file_key).await.unwrap();
    let mut bounds: Vec<usize> = rec.runs.iter().map(|r| r.byte as usize).collect();
    if bounds.is_empty() {
        bounds.push(0); // a single run lists none
    }
    bounds.push(bytes.len());
    let sizes: Vec<String> = bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let file = shots.join(format!("run-{i}.webm"));
            std::fs::write(&file, &bytes[w[0]..w[1]]).unwrap();
            let probe = std::process::Command::new("ffprobe")
                .args(["-v", "error", "-show_entries", "stream=codec_type,width,height", "-of", "csv=p=0"])
                .arg(&file)
                .output()
                .unwrap();
            let mut streams: Vec<String> =
                String::from_utf8_lossy(&probe.stdout).lines().map(|l| l.trim_end_matches(',').to_string()).collect();
            streams.sort();
            streams.join(" ")
        })
        .collect();
    assert_eq!(sizes, ["audio video,1280,720"], "the recording's runs: {:?}", rec.runs);
}
