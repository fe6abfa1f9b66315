//! `cloud-api demo`: a demo tenant with a course, a teacher, a student and an admin; a lesson with a
//! class scheduled to start in five minutes; and a finished class with its replay — a short spoken
//! lecture (`demo/lecture.ogg`) taught with slides, a poll, a question and a mark through the API
//! itself, with what the pipeline made of that recording (`demo/lecture.json`, kept true by
//! `artifact-worker/tests/demo_lecture.rs`).

use crate::app::{create_platform_admin, AppState};
use crate::auth;
use crate::store::NewEvent;
use axum::body::Body;
use axum::http::{Method, Request};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use shared_types::dto::UserDto;
use shared_types::jobs::{ArtifactKind, ArtifactStatus};
use shared_types::media::{Chapter, Highlight, QaLink, Segment};
use shared_types::{Role, RoleGrant, Scope, SessionEvent};
use tower::ServiceExt;

pub const TENANT: &str = "Demo School";
pub const COURSE: &str = "Physics 101";
pub const PASSWORD: &str = "demo-password";
pub const LOGINS: [(&str, &str); 3] =
    [("admin@demo.school", "admin"), ("teacher@demo.school", "teacher"), ("student@demo.school", "student")];
pub const PLATFORM_ADMIN: &str = "platform@demo.school";

/// The finished class's lecture and script.
pub const LECTURE: &[u8] = include_bytes!("../demo/lecture.ogg");
pub const LECTURE_SCRIPT: &str = include_str!("../demo/lecture.json");

/// What the pipeline made of the lecture (the `artifacts` of `demo/lecture.json`).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LectureArtifacts {
    pub segments: Vec<Segment>,
    pub chapters: Vec<Chapter>,
    pub highlights: Vec<Highlight>,
    pub qa_links: Vec<QaLink>,
}

/// Seed once; running it again changes nothing.
pub async fn seed(state: &AppState) -> anyhow::Result<()> {
    let store = &state.store;
    if store.tenant_by_name(TENANT).await?.is_some() {
        return Ok(());
    }
    if store.user_by_email(PLATFORM_ADMIN).await?.is_none() {
        create_platform_admin(store, PLATFORM_ADMIN, PASSWORD).await?;
    }
    let tenant = store.create_tenant(TENANT).await?;
    let course = store.create_course(tenant.id, COURSE).await?;
    let lesson = store.create_lesson(tenant.id, course.id, "Lesson 1: Motion", 1).await?;
    let hash = auth::hash_password(PASSWORD)?;
    let mut teacher = None;
    let mut users = Vec::new();
    for (email, role) in LOGINS {
        let user = store.create_user(tenant.id, email, Some(&format!("Demo {role}")), &hash, false).await?;
        users.push(user.clone());
        let (role, scope, scope_id) = match role {
            "admin" => (Role::Admin, Scope::Tenant, tenant.id.0),
            "teacher" => (Role::Teacher, Scope::Course, course.id.0),
            _ => (Role::Student, Scope::Course, course.id.0),
        };
        store.grant(tenant.id, user.id, RoleGrant { role, scope, scope_id: Some(scope_id) }).await?;
        if role == Role::Teacher {
            teacher = Some(user.id);
        }
    }
    let start = Utc::now() + Duration::minutes(5);
    let end = start + Duration::hours(1);
    let first = NewEvent {
        idempotency_key: "demo-schedule".into(),
        actor_id: teacher,
        actor_role: Some(Role::Teacher),
        occurred_at: None,
        event: SessionEvent::SessionScheduled { scheduled_start: start, scheduled_end: end },
    };
    if store.create_session(tenant.id, &lesson, start, end, first).await?.is_err() {
        anyhow::bail!("the demo session could not be scheduled");
    }
    finished_class(state, course.id, &users[1], &users[2]).await
}

/// The API, in-process, as one user.
struct As<'a> {
    state: &'a AppState,
    token: String,
}

impl<'a> As<'a> {
    async fn new(state: &'a AppState, user: &UserDto) -> anyhow::Result<As<'a>> {
        let (token, hash) = auth::new_token();
        state.store.insert_token(&hash, user, Utc::now() + Duration::hours(1)).await?;
        Ok(As { state, token })
    }

    async fn call(&self, path: &str, key: &str, headers: &[(&str, &str)], body: Vec<u8>) -> anyhow::Result<Value> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("idempotency-key", key);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = crate::app::router(self.state.clone()).oneshot(req.body(Body::from(body))?).await?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        anyhow::ensure!(status.is_success(), "demo class: {path} answered {status}: {v}");
        Ok(v)
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> anyhow::Result<Value> {
        self.call(path, key, &[("content-type", "application/json")], body.to_string().into_bytes()).await
    }
}

/// The finished class: taught through the API (the same rules as any class), its recording
/// uploaded, and the pipeline's results for that recording recorded as the worker would.
async fn finished_class(
    state: &AppState,
    course: shared_types::CourseId,
    teacher: &UserDto,
    student: &UserDto,
) -> anyhow::Result<()> {
    let script: Value = serde_json::from_str(LECTURE_SCRIPT)?;
    let store = &state.store;
    let lesson = store
        .create_lesson(teacher.tenant_id, course, script["lesson"].as_str().unwrap_or("Recorded lesson"), 2)
        .await?;
    let (t, s) = (As::new(state, teacher).await?, As::new(state, student).await?);
    let now = Utc::now();
    let created = t
        .post(
            "/api/sessions",
            "demo-class",
            json!({"lessonId": lesson.id, "scheduledStart": now, "scheduledEnd": now + Duration::hours(1)}),
        )
        .await?;
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let started = t.post("/api/sessions/start", "demo-start", json!({"sessionId": id})).await?;
    let t0: DateTime<Utc> = serde_json::from_value(started["event"]["occurredAt"].clone())?;
    let at = |secs: f64| t0 + Duration::milliseconds((secs * 1000.0) as i64);
    s.post("/api/sessions/join", "demo-join", json!({"sessionId": id})).await?;

    // The deck, as a multipart upload.
    let pages: Vec<String> = serde_json::from_value(script["pages"].clone())?;
    let pdf = crate::slides::simple_pdf(&pages);
    let boundary = "demo-boundary-7f3a";
    let mut form = Vec::new();
    for (name, value) in
        [("sessionId", id.as_str()), ("type", "slide"), ("title", script["deckTitle"].as_str().unwrap_or("Slides"))]
    {
        form.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    form.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"motion.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
    form.extend(&pdf);
    form.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let deck = t.call("/api/studio/assets", "demo-deck", &[("content-type", &content_type)], form).await?;
    let deck_id = deck["id"].clone();

    // What the teacher did, at its times on the recording's clock (the journal path takes times).
    let poll_id = uuid::Uuid::now_v7();
    let mut journal: Vec<Value> = script["slides"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, sl)| json!({"idempotencyKey": format!("demo-slide-{i}"), "type": "slide.shown", "occurredAt": at(sl[0].as_f64().unwrap_or(0.0)), "payload": {"assetId": deck_id, "page": sl[1]}}))
        .collect();
    let (poll, mark) = (&script["poll"], &script["mark"]);
    journal.push(json!({"idempotencyKey": "demo-poll", "type": "poll.opened", "occurredAt": at(poll["atS"].as_f64().unwrap_or(0.0)),
        "payload": {"pollId": poll_id, "prompt": poll["prompt"], "options": poll["options"]}}));
    journal.push(json!({"idempotencyKey": "demo-mark", "type": "highlight.marked", "occurredAt": at(mark["atS"].as_f64().unwrap_or(0.0)), "payload": {"label": mark["label"]}}));
    t.post(&format!("/api/sessions/{id}/events:batch"), "demo-journal", json!({"events": journal})).await?;

    // What the student did, live.
    s.post(&format!("/api/polls/{poll_id}/responses"), "demo-vote", json!({"option": 1})).await?;
    let q = s.post("/api/questions", "demo-question", json!({"sessionId": id, "content": script["question"]})).await?;
    for (i, text) in script["chat"].as_array().into_iter().flatten().enumerate() {
        s.post("/api/chat", &format!("demo-chat-{i}"), json!({"sessionId": id, "content": text})).await?;
    }
    t.post(
        &format!("/api/questions/{}/answer", q["question"]["id"].as_str().unwrap_or_default()),
        "demo-answer",
        json!({}),
    )
    .await?;
    t.post(&format!("/api/polls/{poll_id}/close"), "demo-poll-close", json!({})).await?;
    t.post("/api/sessions/end", "demo-end", json!({"sessionId": id})).await?;
    let started_at = t0.to_rfc3339();
    let headers = [("content-type", "audio/ogg"), ("x-recording-started-at", started_at.as_str())];
    let rec = t.call(&format!("/api/sessions/{id}/recordings"), "demo-recording", &headers, LECTURE.to_vec()).await?;

    // The pipeline's results for this recording, when shipped.
    let Some(artifacts) = script.get("artifacts").filter(|a| !a.is_null()) else { return Ok(()) };
    let a: LectureArtifacts = serde_json::from_value(artifacts.clone())?;
    let (tenant, session): (shared_types::TenantId, shared_types::SessionId) = (teacher.tenant_id, id.parse()?);
    let rid: shared_types::RecordingId = serde_json::from_value(rec["id"].clone())?;
    // The slides and the question, searchable beside the transcript, as the worker finds them.
    let page_texts = tokio::task::spawn_blocking(move || crate::slides::deck_text(pdf)).await??;
    let deck: shared_types::AssetId = serde_json::from_value(deck_id)?;
    let pages = page_texts.into_iter().enumerate().map(|(i, t)| ((deck, i as u32 + 1), t)).collect();
    let (mut events, _) = store.events_after(tenant, session, 0, u64::MAX / 2).await?;
    events.sort_by_key(|e| e.occurred_at);
    let duration = a.segments.last().map_or(0.0, |s| s.end_s);
    let texts = shared_types::media::lecture_texts(&events, t0, duration, &pages);
    store.replace_transcript(tenant, course, session, "en", &a.segments, &texts).await?;
    let captions = format!("sessions/{session}/artifacts/{rid}/captions.vtt");
    let vtt = shared_types::media::webvtt(a.segments.iter().map(|s| (s.start_s, s.end_s, s.text.as_str())));
    state.blobs.put(&captions, vtt.into_bytes(), "text/vtt").await?;
    let ready = ArtifactStatus::Ready;
    store.record_artifact(tenant, session, rid, ArtifactKind::Transcript, ready, None, None, None).await?;
    for (kind, data) in [
        (ArtifactKind::Chapters, serde_json::to_value(&a.chapters)?),
        (ArtifactKind::Highlights, serde_json::to_value(&a.highlights)?),
        (ArtifactKind::QaLinks, serde_json::to_value(&a.qa_links)?),
    ] {
        store.record_artifact(tenant, session, rid, kind, ready, None, Some(&data), None).await?;
    }
    store.record_artifact(tenant, session, rid, ArtifactKind::Captions, ready, Some(&captions), None, None).await?;
    Ok(())
}

/// Newest modification time under `dir` (recursively).
fn newest(dir: &std::path::Path) -> Option<std::time::SystemTime> {
    let mut latest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() { newest(&path) } else { entry.metadata().and_then(|m| m.modified()).ok() };
        latest = latest.max(t);
    }
    latest
}

/// From a checkout, `cloud-api demo` builds the browser app when it is missing or older than its
/// sources (`scripts/build-web.sh`: wasm target, wasm-bindgen-cli, npm; minutes the first time,
/// seconds after), so a fresh clone's run command shows the sign-in page. Elsewhere (an installed
/// binary, `STUDENT_WEB_DIR` set) it does nothing.
pub fn build_web_if_stale() {
    let root = std::path::Path::new(".");
    let script = root.join("scripts/build-web.sh");
    if !script.exists() || std::env::var_os("STUDENT_WEB_DIR").is_some() {
        return;
    }
    let built = root.join(crate::config::DEFAULT_WEB_DIR).join("pkg/student_web_bg.wasm");
    let built_at = std::fs::metadata(&built).and_then(|m| m.modified()).ok();
    let sources = ["student-web/src", "student-web/media/src", "student-web/media/pages", "shared-types/src"]
        .iter()
        .filter_map(|d| newest(&root.join(d)))
        .max();
    if built_at.is_some() && built_at >= sources {
        return;
    }
    println!("building the browser app (scripts/build-web.sh; the first time takes a few minutes)…");
    match std::process::Command::new("bash").arg(&script).status() {
        Ok(s) if s.success() => {}
        _ => eprintln!("the browser app could not be built; the API still runs (see scripts/build-web.sh)"),
    }
}

pub fn print_logins(addr: std::net::SocketAddr) {
    println!("\nTeaching studio cloud-api with demo data (sign in with a login below): http://{addr}/");
    println!("  password for every demo login: {PASSWORD}");
    println!("  platform admin: {PLATFORM_ADMIN}");
    for (email, role) in LOGINS {
        println!("  {role:<8} {email}");
    }
    println!();
}
