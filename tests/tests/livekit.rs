//! cloud-api with a real livekit-server: rooms follow sessions, tokens carry the right grants, and a
//! LiveKit outage never stops the class's non-media features.

use livekit_api::access_token::TokenVerifier;
use livekit_api::services::room::RoomClient;
use serde_json::json;
use studio_tests::*;

fn rooms_client(lk: &LiveKitServer) -> RoomClient {
    RoomClient::with_api_key(&cloud_api::livekit::http_url(&lk.config.url), &lk.config.api_key, &lk.config.api_secret)
}

async fn room_names(lk: &LiveKitServer) -> Vec<String> {
    rooms_client(lk).list_rooms(vec![]).await.unwrap().into_iter().map(|r| r.name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_tokens_follow_the_session() {
    let lk = LiveKitServer::start();
    let cfg = lk.config.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.livekit = Some(cfg)).await;
    let s = app.school("Media").await;
    let room = format!("session-{}", s.session);

    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
    assert_eq!(start.status, 200, "{:?}", start.body);
    assert_eq!(start.body["livekit"]["room"], room.as_str());
    assert_eq!(start.body["livekit"]["url"], lk.config.url.as_str());
    assert!(start.body.get("livekitError").is_none());
    assert!(room_names(&lk).await.contains(&room), "the room exists on the server");

    let verifier = TokenVerifier::with_api_key(&lk.config.api_key, &lk.config.api_secret);
    let teacher = verifier.verify(start.body["livekit"]["token"].as_str().unwrap()).expect("a valid LiveKit token");
    assert_eq!(teacher.sub, s.teacher.id.to_string());
    assert!(teacher.video.can_publish());
    assert!(teacher.video.can_publish_sources.contains(&"screen_share".to_string()));

    let join = app.post("/api/sessions/join", &s.student.token, json!({"sessionId": s.session})).await;
    assert_eq!(join.status, 200, "{:?}", join.body);
    let token = join.body["livekit"]["token"].as_str().unwrap();
    let student = verifier.verify(token).expect("a valid LiveKit token");
    assert_eq!(student.sub, s.student.id.to_string());
    assert_eq!(student.video.room, room);
    assert!(student.video.room_join);
    assert!(!student.video.can_publish(), "students do not publish");
    assert!(!student.video.can_publish_data());
    assert!(student.video.can_subscribe());
    let ttl = student.exp as i64 - chrono::Utc::now().timestamp();
    assert!(ttl > 0 && ttl <= 2 * 3600, "ttl {ttl}");
    // The two kinds of token never stand in for each other.
    assert_eq!(app.get("/api/auth/me", token).await.status, 401);
    assert!(verifier.verify(&s.student.token).is_err());
    let wrong = TokenVerifier::with_api_key(&lk.config.api_key, "another-secret-of-32-characters!");
    assert!(wrong.verify(token).is_err());

    let end = app.post("/api/sessions/end", &s.teacher.token, json!({"sessionId": s.session})).await;
    assert_eq!(end.status, 200);
    assert!(!room_names(&lk).await.contains(&room), "the room is gone after the class");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livekit_outage_keeps_the_class_going() {
    let lk = LiveKitServer::start();
    let cfg = lk.config.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.livekit = Some(cfg)).await;
    let s = app.school("Outage").await;
    app.live(&s).await;
    lk.stop();
    // Media is gone; joining says so clearly and writes nothing.
    let before = app.all_events(&s.teacher.token, &s.session).await.len();
    let join = app.post("/api/sessions/join", &s.assistant.token, json!({"sessionId": s.session})).await;
    assert_eq!(join.status, 503, "{:?}", join.body);
    assert_eq!(join.code(), "livekit_unavailable");
    assert_eq!(app.all_events(&s.teacher.token, &s.session).await.len(), before);
    // What the alerts read (JoinsFailing, LiveKitErrors; unit-tested in infra/alerts.test.yml).
    assert!(metric(&app, "studio_joins_total{result=\"failed\"}").await >= 1);
    assert!(metric(&app, "studio_livekit_errors_total{call=\"list_rooms\"}").await >= 1);
    // Everything else works.
    assert_eq!(
        app.post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": "can't hear you"}))
            .await
            .status,
        201
    );
    let poll = app
        .post(
            "/api/polls",
            &s.teacher.token,
            json!({"sessionId": s.session, "prompt": "Hear me?", "options": ["yes", "no"]}),
        )
        .await;
    assert_eq!(poll.status, 201);
    let pid = poll.body["poll"]["id"].as_str().unwrap();
    assert_eq!(
        app.post(&format!("/api/polls/{pid}/responses"), &s.student.token, json!({"option": 1})).await.status,
        200
    );
    // A class started now starts, without media, and says why.
    let other = app.schedule(&s.teacher.token, &s.lesson).await;
    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": other})).await;
    assert_eq!(start.status, 200, "{:?}", start.body);
    assert!(start.body["livekit"].is_null());
    assert_eq!(start.body["livekitError"]["code"], "livekit_unavailable");
    assert_eq!(start.body["session"]["status"], "live");
}

/// Without LiveKit configured, media is reported as unavailable by a null grant; nothing fails.
#[tokio::test]
async fn no_livekit_configured() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("No media").await;
    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
    assert!(start.body["livekit"].is_null() && start.body.get("livekitError").is_none());
    let join = app.post("/api/sessions/join", &s.student.token, json!({"sessionId": s.session})).await;
    assert_eq!(join.status, 200);
    assert!(join.body["livekit"].is_null());
}

fn webhook(event: &str, id: &str, session: &str, identity: Option<&str>) -> String {
    let mut v = json!({"event": event, "id": id, "room": {"sid": "RM_test", "name": format!("session-{session}")}});
    if let Some(i) = identity {
        v["participant"] = json!({"sid": "PA_test", "identity": i});
    }
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_verified_deduped_and_applied() {
    let lk = LiveKitServer::start();
    let cfg = lk.config.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.livekit = Some(cfg)).await;
    let s = app.school("Hooks").await;
    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
    assert_eq!(start.status, 200);
    let url = format!("{}/api/webhooks/livekit", app.base);
    let (key, secret) = (lk.config.api_key.as_str(), lk.config.api_secret.as_str());
    let count = |t: &'static str| {
        let app = &app;
        let s = &s;
        async move { app.all_events(&s.teacher.token, &s.session).await.iter().filter(|e| e["type"] == t).count() }
    };

    // A student whose browser joined the room before the API heard of it.
    let joined = webhook("participant_joined", "EV_1", &s.session, Some(&s.student.id.to_string()));
    let (status, body) = python_webhook(&url, key, secret, &joined, &joined);
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body["handled"], "event appended");
    assert_eq!(count("participant.joined").await, 1);
    // LiveKit retries: the same id changes nothing.
    let (status, body) = python_webhook(&url, key, secret, &joined, &joined);
    assert_eq!((status, body["duplicate"].as_bool()), (200, Some(true)));
    assert_eq!(count("participant.joined").await, 1);
    // The API already let the teacher in: no second participant.joined.
    assert_eq!(app.post("/api/sessions/join", &s.teacher.token, json!({"sessionId": s.session})).await.status, 200);
    let t = webhook("participant_joined", "EV_2", &s.session, Some(&s.teacher.id.to_string()));
    let (_, body) = python_webhook(&url, key, secret, &t, &t);
    assert_eq!(body["handled"], "already joined through the API");
    assert_eq!(count("participant.joined").await, 2);

    // Forged or altered webhooks are refused and record nothing.
    let left = webhook("participant_left", "EV_3", &s.session, Some(&s.student.id.to_string()));
    assert_eq!(python_webhook(&url, key, "not-the-livekit-secret-at-all!!", &left, &left).0, 401);
    let other = webhook("participant_left", "EV_3", &s.session, Some(&s.teacher.id.to_string()));
    assert_eq!(python_webhook(&url, key, secret, &left, &other).0, 401, "a body that does not match its signature");
    let bare = app.http.post(&url).body(left.clone()).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(count("participant.left").await, 0);
    // The genuine one applies.
    let (status, body) = python_webhook(&url, key, secret, &left, &left);
    assert_eq!((status, body["handled"].as_str()), (200, Some("event appended")));
    assert_eq!(count("participant.left").await, 1);

    // room_finished twice (two ids) → one job; unknown events are fine.
    for id in ["EV_4", "EV_5"] {
        let rf = webhook("room_finished", id, &s.session, None);
        assert_eq!(python_webhook(&url, key, secret, &rf, &rf).0, 200);
    }
    let jobs = app.store.jobs(Some(s.tenant), None, 10).await.unwrap();
    assert_eq!(jobs.iter().filter(|j| j.kind == shared_types::jobs::JobKind::FinalizeSession).count(), 1);
    let odd = webhook("track_published", "EV_6", &s.session, None);
    let (status, body) = python_webhook(&url, key, secret, &odd, &odd);
    assert_eq!((status, body["handled"].as_str()), (200, Some("ignored: not one of our users")));

    // An egress file becomes a recording with its processing job.
    let eg = json!({"event": "egress_ended", "id": "EV_7", "room": {"name": format!("session-{}", s.session)},
        "egressInfo": {"egressId": "EG_1", "roomName": format!("session-{}", s.session),
            "fileResults": [{"filename": format!("sessions/{}/egress/EG_1.mp4", s.session), "size": "1234", "duration": "60000000000"}]}}).to_string();
    let (status, body) = python_webhook(&url, key, secret, &eg, &eg);
    assert_eq!((status, body["handled"].as_str()), (200, Some("recording added")), "{body:?}");
    assert_eq!(count("recording.added").await, 1);
    let jobs = app.store.jobs(Some(s.tenant), None, 10).await.unwrap();
    assert_eq!(jobs.iter().filter(|j| j.kind == shared_types::jobs::JobKind::ProcessRecording).count(), 1);
    let (_, body) = python_webhook(&url, key, secret, &eg.replace("EV_7", "EV_8"), &eg.replace("EV_7", "EV_8"));
    assert_eq!(count("recording.added").await, 1, "the same egress twice is one recording: {body:?}");
}

/// Destinations keep stream keys sealed; with nothing published there is nothing to stream (409);
/// once the teacher publishes, starting or updating a stream asks the real LiveKit, which has no
/// egress worker here, so the API answers 503 `egress_unavailable` with LiveKit's reason and writes
/// nothing. (tests/tests/egress.rs streams for real.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multistream_destinations_and_egress() {
    let lk = LiveKitServer::start();
    let cfg = lk.config.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.livekit = Some(cfg)).await;
    let s = app.school("Stream").await;
    app.live(&s).await;
    let sid = s.session.as_str();
    let path = format!("/api/sessions/{sid}/destinations");
    let bad =
        app.post(&path, &s.teacher.token, json!({"name": "YT", "rtmpUrl": "http://nope", "streamKey": "k"})).await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        app.post(
            &path,
            &s.assistant.token,
            json!({"name": "YT", "rtmpUrl": "rtmp://a.example/live", "streamKey": "k"})
        )
        .await
        .status,
        403
    );
    let yt = app
        .post(
            &path,
            &s.teacher.token,
            json!({"name": "YouTube", "rtmpUrl": "rtmp://a.rtmp.youtube.com/live2", "streamKey": "abcd-efgh-1234"}),
        )
        .await;
    assert_eq!(yt.status, 201, "{:?}", yt.body);
    assert_eq!(yt.body["streamKeyHint"], "••••1234");
    assert!(!String::from_utf8_lossy(&yt.raw).contains("abcd-efgh"), "the key is never returned");
    let tw = app
        .post(
            &path,
            &s.teacher.token,
            json!({"name": "Twitch", "rtmpUrl": "rtmp://live.twitch.tv/app", "streamKey": "live_999"}),
        )
        .await;
    let list = app.get(&path, &s.teacher.token).await;
    assert_eq!(list.body["destinations"].as_array().unwrap().len(), 2);
    assert!(!String::from_utf8_lossy(&list.raw).contains("live_999"));
    // Sealed at rest: the row holds ciphertext that only the server key opens.
    let sessid: shared_types::SessionId = sid.parse().unwrap();
    let rows = app.store.destinations(s.tenant, sessid).await.unwrap();
    assert!(rows.iter().all(|d| !d.key_sealed.contains("abcd") && !d.key_sealed.contains("live_999")));
    let sealer = cloud_api::secrets::Sealer::open(None, &app.data_dir).unwrap();
    assert_eq!(sealer.open_sealed(&rows[0].key_sealed).as_deref(), Some("abcd-efgh-1234"));

    // Starting a stream: nothing is published yet, so there is nothing to stream.
    let ids = json!({"destinationIds": [yt.body["id"], tw.body["id"]]});
    assert_eq!(app.post(&format!("/api/sessions/{sid}/stream"), &s.student.token, ids.clone()).await.status, 403);
    let early = app.post(&format!("/api/sessions/{sid}/stream"), &s.teacher.token, ids.clone()).await;
    assert_eq!(early.code(), "nothing_to_stream", "{:?}", early.body);
    // The teacher publishes a microphone: the real server answers; without an egress worker it refuses.
    let join = app.post("/api/sessions/join", &s.teacher.token, json!({"sessionId": sid})).await;
    let grant = &join.body["livekit"];
    let dir = cloud_api::spawned::Scratch::new("stream");
    std::fs::create_dir_all(&dir).unwrap();
    let wav = long_speech(&dir, 20);
    let speaker = Speaker::join(grant["url"].as_str().unwrap(), grant["token"].as_str().unwrap(), &wav).await;
    let before = app.all_events(&s.teacher.token, sid).await.len();
    let start = app.post(&format!("/api/sessions/{sid}/stream"), &s.teacher.token, ids.clone()).await;
    println!("LiveKit answered StartTrackCompositeEgress: {:?}", start.body);
    assert_eq!(start.status, 503, "{:?}", start.body);
    assert_eq!(start.code(), "egress_unavailable");
    assert!(start.body["details"]["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(app.all_events(&s.teacher.token, sid).await.len(), before, "no stream.started without a stream");
    // A running stream's destinations change through UpdateStream (here for an egress LiveKit does not know).
    app.store
        .set_stream(s.tenant, sessid, "EG_unknown", &[yt.body["id"].as_str().unwrap().parse().unwrap()])
        .await
        .unwrap();
    let update = app.post(&format!("/api/sessions/{sid}/stream"), &s.teacher.token, ids).await;
    println!("LiveKit answered UpdateStream: {:?}", update.body);
    assert_eq!(update.status, 503);
    assert_eq!(update.code(), "egress_unavailable");
    app.store.clear_stream(sessid).await.unwrap();
    // Removing a destination that is not live just forgets it.
    let del = app
        .call(
            reqwest::Method::DELETE,
            &format!("{path}/{}", tw.body["id"].as_str().unwrap()),
            Some(&s.teacher.token),
            None,
            None,
        )
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(app.get(&path, &s.teacher.token).await.body["destinations"].as_array().unwrap().len(), 1);
    drop(speaker);
}

/// Publish with the official Python SDK (PyPI `livekit`, `tests/support/lk_speak.py` without a WAV)
/// using the tokens the API minted: the real server lets the teacher publish a microphone and
/// refuses the student.
fn try_publish(url: &str, token: &str) -> serde_json::Value {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/lk_speak.py");
    let out = std::process::Command::new("python3").arg(script).arg(url).arg(token).output().expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|_| panic!("no result: {text} {}", String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_enforces_publish_grants() {
    let lk = LiveKitServer::start();
    let cfg = lk.config.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.livekit = Some(cfg)).await;
    let s = app.school("Grants").await;
    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
    let join = app.post("/api/sessions/join", &s.student.token, json!({"sessionId": s.session})).await;
    let url = lk.config.url.clone();
    let (t_tok, s_tok) = (
        start.body["livekit"]["token"].as_str().unwrap().to_string(),
        join.body["livekit"]["token"].as_str().unwrap().to_string(),
    );
    let (u1, u2) = (url.clone(), url);
    let teacher = tokio::task::spawn_blocking(move || try_publish(&u1, &t_tok)).await.unwrap();
    assert_eq!(teacher["connected"], true, "{teacher:?}");
    assert_eq!(teacher["published"], true, "{teacher:?}");
    let student = tokio::task::spawn_blocking(move || try_publish(&u2, &s_tok)).await.unwrap();
    println!("student publish attempt: {student:?}");
    assert_eq!(student["connected"], true, "the student may join and listen: {student:?}");
    assert_eq!(student["published"], false, "the server refuses a student's track: {student:?}");
    // A token signed with another secret does not even connect.
    let forged =
        livekit_api::access_token::AccessToken::with_api_key(&lk.config.api_key, "some-other-secret-of-32-characters")
            .with_identity("intruder")
            .with_grants(livekit_api::access_token::VideoGrants {
                room_join: true,
                room: format!("session-{}", s.session),
                ..Default::default()
            })
            .to_jwt()
            .unwrap();
    let u3 = lk.config.url.clone();
    let intruder = tokio::task::spawn_blocking(move || try_publish(&u3, &forged)).await.unwrap();
    assert_eq!(intruder["connected"], false, "{intruder:?}");
}

/// An app with LiveKit, S3 and class recording on.
async fn recording_app() -> (LiveKitServer, S3Server, TestApp) {
    let lk = LiveKitServer::start();
    let s3 = S3Server::start();
    let (cfg, s3cfg) = (lk.config.clone(), s3.config.clone());
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.livekit = Some(cfg);
        c.s3 = Some(s3cfg);
        c.livekit_record = true;
    })
    .await;
    (lk, s3, app)
}

/// With recording enabled the class recording is armed at start and asked for when the teacher
/// publishes (`track_published`); with no egress worker here LiveKit cannot start it: the failure is
/// counted, the claim is given back, nothing claims a recording, and the class goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_egress_requested_when_the_teacher_publishes() {
    let (lk, _s3, app) = recording_app().await;
    let s = app.school("Record").await;
    let t0 = std::time::Instant::now();
    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
    assert!(t0.elapsed() < std::time::Duration::from_secs(5), "the class does not wait for the egress");
    assert_eq!(start.status, 200, "{:?}", start.body);
    assert_eq!(start.body["session"]["status"], "live");
    assert!(start.body["livekit"]["token"].is_string(), "media works without recording");
    assert_eq!(start.body["recording"]["status"], "armed");
    assert_eq!(metric(&app, "studio_recordings_requested_total").await, 0, "nothing is asked before a track");

    // The teacher publishes a microphone; this dev server sends no webhooks, so the test signs one.
    let dir = cloud_api::spawned::Scratch::new("rec");
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("hello.wav");
    assert!(std::process::Command::new("espeak-ng").arg("-w").arg(&wav).arg("Hello class").status().unwrap().success());
    let grant = &start.body["livekit"];
    let speaker = Speaker::join(grant["url"].as_str().unwrap(), grant["token"].as_str().unwrap(), &wav).await;
    let url = format!("{}/api/webhooks/livekit", app.base);
    let teacher = s.teacher.id.to_string();
    let hook = webhook("track_published", "EV_track", &s.session, Some(&teacher));
    let (status, body) = python_webhook(&url, &lk.config.api_key, &lk.config.api_secret, &hook, &hook);
    assert_eq!((status, body["handled"].as_str()), (200, Some("recording checked")), "{body}");
    let mut failures = 0;
    for _ in 0..100 {
        failures = metric(&app, "studio_recording_failures_total").await;
        if failures > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(failures, 1);
    assert_eq!(metric(&app, "studio_recordings_requested_total").await, 1);
    let session: shared_types::SessionId = s.session.parse().unwrap();
    assert_eq!(app.store.recording_egress(session).await.unwrap(), None, "the claim was given back");
    assert!(app.store.claim_recording(s.tenant, session).await.unwrap(), "so the next track may try again");
    let events = app.all_events(&s.teacher.token, &s.session).await;
    assert!(!events.iter().any(|e| e["type"] == "recording.started"), "nothing claims a recording that is not running");
    // A student's track starts nothing.
    let student = s.student.id.to_string();
    let theirs = webhook("track_published", "EV_student_track", &s.session, Some(&student));
    let (_, body) = python_webhook(&url, &lk.config.api_key, &lk.config.api_secret, &theirs, &theirs);
    assert_eq!(body["handled"], "ignored: not a presenter");
    assert_eq!(
        app.post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": "hi"})).await.status,
        201
    );
    drop(speaker);
}

/// A counter from `/metrics`.
async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} is not in /metrics"))
}

/// Start is decided before its side effects: two Starts with different keys (another tab, a double
/// click) → one `session.started`, one room creation, no recording request (that waits for a track); a Start on an ended
/// session creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_creates_nothing() {
    let (lk, _s3, app) = recording_app().await;
    let s = app.school("Twice").await;
    let body = json!({"sessionId": s.session});
    let (a, b) = tokio::join!(
        app.post("/api/sessions/start", &s.teacher.token, body.clone()),
        app.post("/api/sessions/start", &s.teacher.token, body.clone())
    );
    let mut codes = [a.status.as_u16(), b.status.as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 409], "{:?} / {:?}", a.body, b.body);
    let events = app.all_events(&s.teacher.token, &s.session).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "session.started").count(), 1);
    assert_eq!(metric(&app, "studio_livekit_rooms_created_total").await, 1, "one room creation");
    assert_eq!(metric(&app, "studio_recordings_requested_total").await, 0, "no recording before a track");
    // A third, later, and one after the end: nothing more.
    let again = app.post("/api/sessions/start", &s.teacher.token, body.clone()).await;
    assert_eq!(again.code(), "session_already_started");
    let end = app.post("/api/sessions/end", &s.teacher.token, body.clone()).await;
    assert_eq!(end.status, 200);
    let late = app.post("/api/sessions/start", &s.teacher.token, body.clone()).await;
    assert_eq!(late.status, 409);
    assert_eq!(late.code(), "session_ended");
    assert_eq!(metric(&app, "studio_livekit_rooms_created_total").await, 1);
    assert_eq!(metric(&app, "studio_recordings_requested_total").await, 0);
    assert!(!room_names(&lk).await.contains(&format!("session-{}", s.session)), "no room re-created after the end");
}

/// Rotating the webhook key: during the window both the previous and the current secret verify;
/// after it only the current one does. A third secret never does, and each refusal is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_secret_rotation_accepts_old_and_new_for_a_window() {
    let (old, new) = ("the-old-secret-of-this-school-000", "the-new-secret-of-this-school-111");
    let config = |until: chrono::DateTime<chrono::Utc>| cloud_api::livekit::LiveKitConfig {
        // No LiveKit server is needed to verify a signature; room calls fail and the class goes on.
        url: "ws://127.0.0.1:9".into(),
        api_key: "devkey".into(),
        api_secret: new.into(),
        previous: Some(cloud_api::livekit::PreviousKey { api_key: "devkey".into(), api_secret: old.into(), until }),
    };
    let during = config(chrono::Utc::now() + chrono::Duration::hours(1));
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.livekit = Some(during)).await;
    let s = app.school("Rotation").await;
    assert_eq!(app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await.status, 200);
    let url = format!("{}/api/webhooks/livekit", app.base);
    let student = s.student.id.to_string();
    let hook = |id: &str| webhook("participant_joined", id, &s.session, Some(&student));
    let (a, b, c) = (hook("EV_old"), hook("EV_new"), hook("EV_other"));
    assert_eq!(python_webhook(&url, "devkey", old, &a, &a).0, 200, "the previous secret, inside the window");
    assert_eq!(python_webhook(&url, "devkey", new, &b, &b).0, 200, "the current secret");
    let before = metric(&app, "studio_webhook_signature_failures_total").await;
    assert_eq!(python_webhook(&url, "devkey", "some-third-secret-nobody-was-given", &c, &c).0, 401);
    assert_eq!(metric(&app, "studio_webhook_signature_failures_total").await, before + 1);

    // The window is over: the previous secret is refused, the current one still works.
    let after = config(chrono::Utc::now() - chrono::Duration::seconds(1));
    let app2 = TestApp::spawn_with(Db::Sqlite, move |c| c.livekit = Some(after)).await;
    let s2 = app2.school("Rotated").await;
    app2.post("/api/sessions/start", &s2.teacher.token, json!({"sessionId": s2.session})).await;
    let url2 = format!("{}/api/webhooks/livekit", app2.base);
    let late = webhook("participant_joined", "EV_late", &s2.session, Some(&s2.student.id.to_string()));
    assert_eq!(python_webhook(&url2, "devkey", old, &late, &late).0, 401, "the previous secret, after the window");
    assert_eq!(python_webhook(&url2, "devkey", new, &late, &late).0, 200);
}
