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
