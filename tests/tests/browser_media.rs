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
    // The screen share: on the students' stage, and in the recording.
    assert_eq!(
        (result["shareBefore"].as_str(), result["shareAfter"].as_str()),
        (Some("Share screen"), Some("Share screen"))
    );
    assert_eq!(result["sharing"]["button"], "Stop sharing", "{result}");
    assert!(result["sharing"]["rec"].as_str().unwrap().starts_with("recording the screen"), "{result}");
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

    // One recorder run per source (the camera, the screen, the camera again), joined by the server
    // into one WebM: audio throughout, the picture 720p from the camera and 1080p from the screen
    // (what livekit-client asks of Chromium's fake devices), in that order.
    let recs = app.store.recordings_of(s.tenant, s.session.parse().unwrap()).await.unwrap();
    let rec = &recs[0];
    assert!(rec.runs.is_empty(), "one file, no runs left to place: {:?}", rec.runs);
    let file = shots.join("recording.webm");
    std::fs::write(&file, app.state.blobs.get(&rec.file_key).await.unwrap()).unwrap();
    let probe = |args: &[&str]| {
        let out = std::process::Command::new("ffprobe").args(["-v", "error"]).args(args).arg(&file).output().unwrap();
        assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut streams: Vec<String> = probe(&["-show_entries", "stream=codec_type", "-of", "csv=p=0"])
        .lines()
        .map(|l| l.trim_end_matches(',').to_string())
        .collect();
    streams.sort();
    assert_eq!(streams, ["audio", "video"]);
    let sizes = |widths: Vec<u64>| {
        let mut w = widths;
        w.dedup();
        w
    };
    let frames = probe(&["-select_streams", "v", "-show_entries", "frame=width", "-of", "csv=p=0"]);
    let widths = sizes(frames.lines().filter_map(|l| l.trim_end_matches(',').parse().ok()).collect());
    assert_eq!(widths, [1280, 1920, 1280], "the picture's sizes in the recording, in order");
    let duration: f64 = probe(&["-show_entries", "format=duration", "-of", "csv=p=0"]).trim().parse().unwrap();
    // And Chromium's player in the replay page follows it to the end: its length, and the picture
    // at each second it was seeked to.
    let replay = &result["replay"];
    assert!(replay["error"].is_null(), "{replay}");
    let shown = replay["duration"].as_f64().unwrap_or(0.0);
    assert!((shown - duration).abs() < 1.0, "the player's length {shown} s, the file's {duration} s");
    let seen = sizes(replay["widths"].as_array().unwrap().iter().filter_map(|p| p[1].as_u64()).collect());
    assert_eq!(seen, [1280, 1920, 1280], "the replay's picture at each second: {replay}");
}
