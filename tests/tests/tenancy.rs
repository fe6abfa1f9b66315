//! Another tenant's objects are 404 for reads and writes alike.

use serde_json::json;
use shared_types::{Role, Scope};
use studio_tests::*;

async fn cross_tenant_is_not_found(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = app.school("Tenant A").await;
    let b = app.school("Tenant B").await;
    app.live(&a).await;
    // B's tenant-wide teacher and admin try A's objects.
    let b_boss = app
        .user(
            b.tenant,
            "boss@b.test",
            &[(Role::Teacher, Scope::Tenant, b.tenant.0), (Role::Admin, Scope::Tenant, b.tenant.0)],
        )
        .await;
    let sid = &a.session;
    let reads = [
        format!("/api/sessions/{sid}"),
        format!("/api/sessions/{sid}/events"),
        format!("/api/sessions/{sid}/state"),
        format!("/api/courses/{}/lessons", a.course),
        format!("/api/courses/{}/people", a.course),
        format!("/api/lessons/{}/sessions", a.lesson),
    ];
    for path in &reads {
        let r = app.get(path, &b_boss.token).await;
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
        assert_eq!(r.code(), "not_found");
    }
    let before = app.all_events(&a.teacher.token, sid).await.len();
    let body = json!({"sessionId": sid});
    for path in ["/api/sessions/start", "/api/sessions/join", "/api/sessions/end", "/api/sessions/leave"] {
        let r = app.post(path, &b_boss.token, body.clone()).await;
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
    }
    let r = app
        .post(
            &format!("/api/sessions/{sid}/events:batch"),
            &b_boss.token,
            json!({"events": [{"idempotencyKey": "x", "type": "session.ended"}]}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r =
        app.post(&format!("/api/courses/{}/lessons", a.course), &b_boss.token, json!({"title": "t", "order": 1})).await;
    assert_eq!(r.status, 404);
    let now = chrono::Utc::now();
    let r = app
        .post(
            "/api/sessions",
            &b_boss.token,
            json!({"lessonId": a.lesson, "scheduledStart": now, "scheduledEnd": now + chrono::Duration::hours(1)}),
        )
        .await;
    assert_eq!(r.status, 404);
    // Role grants on another tenant's user or course.
    let r = app
        .post("/api/admin/roles", &b_boss.token, json!({"userId": a.student.id, "role": "student", "scope": "tenant"}))
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .post(
            "/api/admin/roles",
            &b_boss.token,
            json!({"userId": b.student.id, "role": "student", "scope": "course", "scopeId": a.course}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .post(
            "/api/admin/users",
            &b_boss.token,
            json!({"email": "x@y.test", "password": "long enough", "tenantId": a.tenant}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(app.all_events(&a.teacher.token, sid).await.len(), before, "nothing was written");
    let courses = app.get("/api/courses", &b_boss.token).await;
    assert!(courses.body.as_array().unwrap().iter().all(|c| c["tenantId"] == b.tenant.to_string()));
}

on_both!(cross_tenant_is_not_found);
