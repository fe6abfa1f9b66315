//! The class recording in headless Chromium against a real livekit-server, two ways.
//!
//! `the_recording_survives_an_outage_and_a_reload` (`student-web/media/test/recording.mjs`): the present
//! view records camera and microphone (an espeak-ng voice) in slices kept in IndexedDB; the API is
//! unreachable for a while (the page's requests refused — LiveKit stays up, as when only the school's
//! server is away) and the slices wait; the page is reloaded mid-class and resumes the same upload with
//! a new recorder run; then the tab is killed without "End class", the class is ended through the API,
//! and the server finishes the recording from the parts it acknowledged. It holds every part once, in
//! order, and decodes (runs placed on the class clock) to the time it was recorded.
//!
//! `a_class_outlives_its_server` (`student-web/media/test/outage.mjs`): a three-minute class whose
//! cloud-api process is killed for 30 s in the middle; its recording and transcript are whole.

use artifact_worker::decode;
use studio_tests::*;

/// Chromium, livekit-server and a recording each: the two tests take turns (on two cores, side by
/// side, each would measure the other's load).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_survives_an_outage_and_a_reload() {
    let _turn = ONE_AT_A_TIME.lock().await;
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
    let runs = up.runs(&up.parts);
    assert_eq!(runs.len(), 2, "one recorder run before the reload, one after: {runs:?}");
    assert!(rec.runs.is_empty(), "joined by the server into one WebM: {:?}", rec.runs);
    assert_eq!(app.store.recordings_of(s.tenant, rec.session_id).await.unwrap().len(), 1);

    // Decoded on the class clock, it lasts as long as the recorder ran: nothing lost beyond the
    // slices in hand when the tab was killed (the one being made and the one being sent), nothing twice.
    let bytes = app.state.blobs.get(&rec.file_key).await.unwrap();
    let (_, duration) = decode::to_whisper(bytes, Some(&rec.content_type)).unwrap();
    let wall = (r["endAt"].as_f64().unwrap() - r["recordingFrom"].as_f64().unwrap()) / 1000.0;
    println!("recorded {duration:.1} s over {wall:.1} s of class; runs {runs:?}");
    // The one file holds what the parts hold, each run at its second.
    let mut parts = Vec::new();
    for p in &up.parts {
        let key = cloud_api::recordings::part_key(up.session_id, up.id, p.n);
        parts.extend(app.state.blobs.get(&key).await.unwrap());
    }
    let (_, by_runs) = decode::to_whisper_runs(parts, Some(&rec.content_type), &runs).unwrap();
    assert!((duration - by_runs).abs() < 0.3, "one file {duration} s, its parts run by run {by_runs} s");
    assert!(duration <= wall + 2.0, "no audio twice: {duration} s recorded in {wall} s");
    assert!(duration >= wall - 7.0, "no audio lost: {duration} s recorded in {wall} s");
    if std::env::var_os("KEEP_SHOTS").is_none() {
        let _ = std::fs::remove_dir_all(&shots);
    }
}

/// The lecture the fake microphone plays in the long class: sentences that each say something new, so
/// a sentence heard twice in the transcript can only be audio recorded twice.
const LECTURE: [&str; 45] = [
    "Good morning, today we talk about waves and how they carry energy.",
    "A wave is a disturbance that travels through a medium or through space.",
    "Sound is a wave of pressure that moves through the air around us.",
    "Light is a wave too, but it needs no medium at all.",
    "The distance between two crests is called the wavelength.",
    "The number of crests passing a point each second is the frequency.",
    "Frequency is measured in hertz, named after Heinrich Hertz.",
    "The speed of a wave equals its frequency times its wavelength.",
    "Sound travels about three hundred and forty meters per second in air.",
    "In water, sound travels more than four times faster than in air.",
    "The height of a wave above its rest position is the amplitude.",
    "A larger amplitude means the wave carries more energy.",
    "For sound, amplitude is what we hear as loudness.",
    "For light, frequency is what we see as colour.",
    "Red light has a lower frequency than blue light.",
    "When a wave meets a wall, it can bounce back; we call that reflection.",
    "An echo in the mountains is a reflected sound wave.",
    "When a wave enters a new medium, it can change direction.",
    "That bending is called refraction, and it explains why a straw looks broken in a glass.",
    "Waves can also spread out around corners, which is called diffraction.",
    "This is why you can hear someone talking in the next room.",
    "When two waves meet, they add together; this is interference.",
    "Two crests meeting make a bigger crest, which is constructive interference.",
    "A crest meeting a trough can cancel out, which is destructive interference.",
    "Noise cancelling headphones use destructive interference on purpose.",
    "A guitar string makes a standing wave between its two fixed ends.",
    "Pressing the string on a fret makes it shorter and the note higher.",
    "The lowest note a string can play is called its fundamental.",
    "Higher notes that fit on the same string are called harmonics.",
    "Earthquakes send waves through the ground in every direction.",
    "Scientists study those waves to learn what is inside the earth.",
    "Radio stations send information on electromagnetic waves.",
    "Your phone receives waves with a frequency of a few billion hertz.",
    "Microwave ovens heat food with waves of a similar frequency.",
    "Ultrasound uses sound above what humans can hear to see inside the body.",
    "Bats find insects in the dark by listening to their own echoes.",
    "Ocean waves are made mostly by wind blowing over the water.",
    "A tsunami is a very long wave started by an earthquake under the sea.",
    "Sound cannot travel through the vacuum of space.",
    "That is why astronauts talk to each other by radio.",
    "A wave on a rope moves up and down while its energy moves along the rope.",
    "We call that a transverse wave.",
    "Sound is a longitudinal wave, because the air moves back and forth along its path.",
    "Next week we will measure the speed of sound in the school yard.",
    "Please read the chapter on waves before then, and bring a stopwatch.",
];

/// Speak the lecture sentence by sentence (16 kHz mono WAV, a short pause after each): the joined file
/// and where each sentence ends, in seconds.
fn speak_lecture(dir: &std::path::Path) -> (std::path::PathBuf, Vec<f64>) {
    use std::process::Command;
    let (mut files, mut ends, mut t) = (Vec::new(), Vec::new(), 0.0);
    for (i, s) in LECTURE.iter().enumerate() {
        let (raw, out) = (dir.join(format!("s{i}.wav")), dir.join(format!("s{i}-16k.wav")));
        assert!(Command::new("espeak-ng").args(["-s", "150", "-w"]).arg(&raw).arg(s).status().unwrap().success());
        let mut sox = Command::new("sox");
        sox.arg(&raw).args(["-r", "16000", "-c", "1", "-b", "16"]).arg(&out).args(["pad", "0", "0.4"]);
        assert!(sox.status().unwrap().success());
        t += (std::fs::metadata(&out).unwrap().len() - 44) as f64 / 32000.0;
        ends.push(t);
        files.push(out);
    }
    let joined = dir.join("lecture.wav");
    assert!(Command::new("sox").args(&files).arg(&joined).status().unwrap().success());
    (joined, ends)
}

/// Any run of six words said twice: audio recorded twice (the lecture never repeats itself).
fn repeated_shingle(text: &str) -> Option<String> {
    let w = artifact_worker::text::words(text);
    let mut seen = std::collections::HashSet::new();
    w.windows(6).map(|x| x.join(" ")).find(|s| !seen.insert(s.clone()))
}

/// A three-minute class whose server is killed for 30 s in the middle (the real process: SIGKILL, then
/// started again on its port); the tab is then killed without "End class" and the class ended from
/// the API. The recording the server finishes holds the whole class up to the last acknowledged slice,
/// nothing twice, and its transcript matches the lecture (`student-web/media/test/outage.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_outlives_its_server() {
    use cloud_api::spawned::{Scratch, Spawned};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let _turn = ONE_AT_A_TIME.lock().await;
    const CLASS_S: f64 = 180.0;
    const KILL_AFTER_S: f64 = 60.0;
    const DOWN_S: u64 = 30;
    let dist = media_dir().join("dist");
    assert!(dist.join("pkg").exists(), "build the web app first: bash scripts/build-web.sh");
    // The real binary (built here when this test runs alone), so it can be killed and started again.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "cloud-api", "--bin", "cloud-api"])
        .current_dir(&root)
        .status()
        .expect("cargo build cloud-api");
    assert!(built.success());
    let target = std::env::current_exe().unwrap().ancestors().nth(3).unwrap().to_path_buf();
    let exe = target.join("debug/cloud-api");
    let lk = LiveKitServer::start();
    let data = Scratch::new("studio-outage");
    let voice = Scratch::new("outage-voice");
    let (wav, ends) = speak_lecture(&voice);
    assert!(*ends.last().unwrap() > CLASS_S + 10.0, "the lecture outlasts the class: {ends:?}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (bind, dist_s) = (format!("127.0.0.1:{port}"), dist.to_string_lossy().to_string());
    let env = [
        ("BIND_ADDR", bind.as_str()),
        ("LIVEKIT_URL", lk.config.url.as_str()),
        ("LIVEKIT_API_KEY", lk.config.api_key.as_str()),
        ("LIVEKIT_API_SECRET", lk.config.api_secret.as_str()),
        ("MEDIA_DIR", dist_s.as_str()),
        ("STUDENT_WEB_DIR", dist_s.as_str()),
        ("UPLOAD_GRACE_SECS", "1"),
    ];
    let mut server = Spawned::start(&exe, &data, &env).expect("cloud-api starts");
    let http = reqwest::Client::new();
    let teacher = server.login(&http, "teacher@demo.school").await.unwrap();
    let session = server.demo_session(&http, &teacher).await.unwrap();
    let base = server.base.clone(); // the same after the restart: the same port
    let post = |path: &str, body: serde_json::Value| {
        let req = http.post(format!("{base}{path}")).bearer_auth(&teacher).json(&body);
        async move {
            let resp = req.header("idempotency-key", uuid::Uuid::new_v4().to_string()).send().await.unwrap();
            let status = resp.status();
            assert!(status.is_success(), "{status}: {}", resp.text().await.unwrap_or_default());
        }
    };
    post("/api/sessions/start", serde_json::json!({"sessionId": session})).await;

    let shots = cloud_api::spawned::screenshots("outage");
    let mut node = tokio::process::Command::new("node")
        .arg(media_dir().join("test/outage.mjs"))
        .current_dir(media_dir())
        .env("BASE", &base)
        .env("SESSION", &session)
        .env("TEACHER_EMAIL", "teacher@demo.school")
        .env("PASSWORD", cloud_api::demo::PASSWORD)
        .env("WAV", &wav)
        .env("SHOTS", &shots)
        .env("CLASS_S", CLASS_S.to_string())
        .env("KILL_AFTER_S", KILL_AFTER_S.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let mut stdin = node.stdin.take().unwrap();
    let mut out = tokio::io::BufReader::new(node.stdout.take().unwrap()).lines();
    let mut last = String::new();
    let mut down_for = None;
    let run = async {
        while let Some(line) = out.next_line().await.unwrap() {
            if line == "KILL" {
                // A crash: SIGKILL, every socket gone; back on the same port 30 s later.
                server.kill();
                let t = std::time::Instant::now();
                tokio::time::sleep(std::time::Duration::from_secs(DOWN_S)).await;
                server = Spawned::start(&exe, &data, &env).expect("cloud-api starts again");
                down_for = Some(t.elapsed().as_secs_f64());
                stdin.write_all(b"RESTARTED\n").await.unwrap();
            } else {
                last = line;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(CLASS_S as u64 + 180), run).await.expect("the class ends");
    let status = node.wait().await.expect("node");
    assert!(status.success(), "outage.mjs exited with {status}");
    let r: serde_json::Value = serde_json::from_str(&last).unwrap_or_else(|_| panic!("no result line: {last}"));
    println!("browser result: {r}\nscreenshots in {}", shots.display());
    assert!(r["error"].is_null(), "{}", r["error"]);
    let down_for = down_for.expect("the server was killed");
    assert!(down_for >= DOWN_S as f64, "down for {down_for:.1} s");
    assert_eq!(r["offline"]["offline"], true, "the teacher was told: {r}");
    assert!(r["offline"]["waiting"].as_u64().unwrap() >= 3, "slices waited in the browser: {r}");
    assert_eq!(r["backOnline"]["waiting"], 0, "and went up once it was back: {r}");
    assert_eq!(r["lastSeen"]["uploadId"], r["before"]["uploadId"], "one upload all class: {r}");

    // The class is ended from the API; the server finishes the recording from what it holds.
    post("/api/sessions/end", serde_json::json!({"sessionId": session})).await;
    let store = std::sync::Arc::new(
        cloud_api::store::Store::connect(&format!("sqlite://{}?mode=rwc", data.join("studio.db").display()))
            .await
            .unwrap(),
    );
    let sid: shared_types::SessionId = session.parse().unwrap();
    let dto = store.session_by_id(sid).await.unwrap().unwrap();
    let mut rec = None;
    for _ in 0..600 {
        if let Some(x) = store.recordings_of(dto.tenant_id, sid).await.unwrap().pop() {
            rec = Some(x);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let rec = rec.expect("the server finished the recording after the class ended");
    let blobs = std::sync::Arc::new(cloud_api::blob::BlobStore::Local(
        cloud_api::blob::LocalBlobs::in_data_dir(&data).unwrap(),
    ));
    let bytes = blobs.get(&rec.file_key).await.unwrap();
    let (_, duration) = decode::to_whisper_runs(bytes, Some(&rec.content_type), &rec.runs).unwrap();
    let wall = (r["endAt"].as_f64().unwrap() - r["recordingFrom"].as_f64().unwrap()) / 1000.0;
    println!("recorded {duration:.1} s over {wall:.1} s of class (server down {down_for:.1} s); runs {:?}", rec.runs);
    assert!(rec.runs.len() <= 1, "one recorder run (a single run lists none): {:?}", rec.runs);
    assert!(duration <= wall + 2.0, "no audio twice: {duration} s recorded in {wall} s");
    assert!(duration >= wall - 7.0, "no audio lost to the outage: {duration} s recorded in {wall} s");

    // The transcript: the lecture as far as the class went, nothing said twice.
    let worker = artifact_worker::pipeline::Worker::new(store.clone(), blobs, common_worker_cfg());
    let t = std::time::Instant::now();
    while store.transcript(dto.tenant_id, sid).await.unwrap().is_empty() {
        assert!(t.elapsed().as_secs() < 300, "no transcript in 5 minutes");
        if worker.run_one().await.unwrap().is_none() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let heard = store.transcript(dto.tenant_id, sid).await.unwrap().iter().map(|s| s.text.clone()).collect::<Vec<_>>();
    let heard = heard.join(" ");
    assert_eq!(repeated_shingle(&heard), None, "a passage heard twice: {heard}");
    // Against the lecture up to where the recording ends (the sentence cut there counted or not).
    let said = |k: usize| LECTURE[..k].join(" ");
    let k = ends.iter().filter(|e| **e <= duration).count();
    let wer = (k.saturating_sub(1)..=(k + 1).min(LECTURE.len()))
        .map(|k| artifact_worker::text::wer(&said(k), &heard))
        .fold(f64::INFINITY, f64::min);
    println!("transcript WER {wer:.3} against the first {k} sentences\n{heard}");
    // What is whole and said once is checked above (duration, repeated passages); the WER says the
    // recording is the lecture, intelligible. Through Chromium's fake microphone and Opus the espeak
    // voice comes out at 0.20 on a quiet machine and 0.255 on a loaded one (stop 44's cold CI: "is"
    // heard as "in", "wavelength" as "wave length"), so the bound is the one the other Opus path
    // (egress_recording) has. Thirty seconds lost would still show: a sixth of the lecture deleted.
    assert!(wer <= 0.3, "WER {wer:.3}\nsaid: {}\nheard: {heard}", said(k));
    server.kill();
}

fn common_worker_cfg() -> artifact_worker::pipeline::WorkerConfig {
    artifact_worker::pipeline::WorkerConfig::local(
        format!("outage-worker-{}", uuid::Uuid::new_v4().simple()),
        artifact_worker::model::prepare().expect("model"),
        std::time::Duration::from_secs(120),
    )
}
