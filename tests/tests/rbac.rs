//! RBAC matrix: each role × each session action × in scope / out of scope.

use serde_json::{json, Value};
use shared_types::{Role, Scope};
use studio_tests::*;

#[derive(Clone, Copy, Debug)]
enum Act {
    Schedule,
    View,
    Start,
    Join,
    Leave,
    End,
    ReadEvents,
    ReadState,
    Batch,
}

/// Who may do what, per API.md and the policy table.
fn allowed(who: &str, act: Act) -> bool {
    use Act::*;
    match (who, act) {
        ("outsider", _) => false,
        (_, View | ReadEvents | ReadState) => true,
        ("admin" | "teacher", Schedule) => true,
        ("teacher", Start) => true,
        ("teacher" | "assistant" | "student", Join | Leave) => true,
        ("teacher" | "admin", End) => true,
        ("teacher" | "assistant", Batch) => true,
        _ => false,
    }
}

async fn attempt(app: &TestApp, s: &School, sid: &str, token: &str, act: Act) -> Answer {
    let body = json!({"sessionId": sid});
    match act {
        Act::Schedule => {
            let now = chrono::Utc::now();
            app.post("/api/sessions", token, json!({"lessonId": s.lesson, "scheduledStart": now, "scheduledEnd": now + chrono::Duration::hours(1)})).await
        }
        Act::View => app.get(&format!("/api/sessions/{sid}"), token).await,
        Act::Start => app.post("/api/sessions/start", token, body).await,
        Act::Join => app.post("/api/sessions/join", token, body).await,
        Act::Leave => app.post("/api/sessions/leave", token, body).await,
        Act::End => app.post("/api/sessions/end", token, body).await,
        Act::ReadEvents => app.get(&format!("/api/sessions/{sid}/events"), token).await,
        Act::ReadState => app.get(&format!("/api/sessions/{sid}/state"), token).await,
        Act::Batch => {
            app.post(
                &format!("/api/sessions/{sid}/events:batch"),
                token,
                json!({"events": [{"idempotencyKey": uuid::Uuid::new_v4(), "type": "highlight.marked", "payload": {"label": "x"}}]}),
            )
            .await
        }
    }
}

fn head(v: &Value) -> u64 {
    v["head"].as_u64().unwrap()
}

async fn matrix(db: Db) {
    let app = TestApp::spawn(db).await;
    let acts = [
        Act::Schedule,
        Act::View,
        Act::Start,
        Act::Join,
        Act::Leave,
        Act::End,
        Act::ReadEvents,
        Act::ReadState,
        Act::Batch,
    ];
    let mut checked = 0;
    for act in acts {
        // A fresh school per action, with the session in the state the action needs.
        let s = app.school(&format!("RBAC {act:?}")).await;
        if !matches!(act, Act::Start | Act::Schedule) {
            let a = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
            assert_eq!(a.status, 200);
        }
        let who: [(&str, &TestUser); 5] = [
            ("admin", &s.admin),
            ("teacher", &s.teacher),
            ("assistant", &s.assistant),
            ("student", &s.student),
            ("outsider", &s.outsider),
        ];
        if matches!(act, Act::Leave) {
            for (_, u) in &who[1..4] {
                assert_eq!(app.post("/api/sessions/join", &u.token, json!({"sessionId": s.session})).await.status, 200);
            }
        }
        // Denied ones first, so an allowed End or Start does not change what the others meet.
        let mut order: Vec<_> = who.iter().collect();
        order.sort_by_key(|(name, _)| allowed(name, act));
        for (name, user) in order {
            // Start and End happen once per session: each allowed actor gets a session of its own.
            let mut sid = s.session.clone();
            if allowed(name, act) && matches!(act, Act::Start | Act::End) {
                sid = app.schedule(&s.teacher.token, &s.lesson).await;
                if matches!(act, Act::End) {
                    assert_eq!(
                        app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": sid})).await.status,
                        200
                    );
                }
            }
            let before = head(&app.get(&format!("/api/sessions/{sid}"), &s.teacher.token).await.body);
            let a = attempt(&app, &s, &sid, &user.token, act).await;
            let after = head(&app.get(&format!("/api/sessions/{sid}"), &s.teacher.token).await.body);
            if allowed(name, act) {
                assert!(a.status.is_success(), "{name} {act:?} should be allowed: {} {:?}", a.status, a.body);
            } else {
                assert_eq!(a.status, 403, "{name} {act:?} should be forbidden: {:?}", a.body);
                assert_eq!(a.code(), "forbidden");
                assert_eq!(before, after, "a refused request writes nothing");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 45);
}

/// A session-scope grant covers that session only.
async fn session_scope(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Session scope").await;
    let other_session = app.schedule(&s.teacher.token, &s.lesson).await;
    let guest =
        app.user(s.tenant, "guest@x.test", &[(Role::Student, Scope::Session, s.session.parse().unwrap())]).await;
    for sid in [&s.session, &other_session] {
        assert_eq!(app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": sid})).await.status, 200);
    }
    assert_eq!(app.post("/api/sessions/join", &guest.token, json!({"sessionId": s.session})).await.status, 200);
    let no = app.post("/api/sessions/join", &guest.token, json!({"sessionId": other_session})).await;
    assert_eq!(no.status, 403);
    // The guest sees the course of its session in the course list.
    let courses = app.get("/api/courses", &guest.token).await;
    assert_eq!(courses.body.as_array().unwrap().len(), 1);
    assert_eq!(courses.body[0]["id"], s.course.to_string());
    // And a course-scope student does not see the other course.
    let c = app.get("/api/courses", &s.student.token).await;
    assert_eq!(c.body.as_array().unwrap().len(), 1);
    let admin_view = app.get("/api/courses", &s.admin.token).await;
    assert_eq!(admin_view.body.as_array().unwrap().len(), 2);
}

on_both!(matrix, session_scope);
