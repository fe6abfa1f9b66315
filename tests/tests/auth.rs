//! Login, logout, me, identical failures, and rate limits.

use reqwest::Method;
use serde_json::json;
use shared_types::{Role, Scope};
use studio_tests::*;

async fn login_logout_me(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Auth").await;
    let me = app.get("/api/auth/me", &s.teacher.token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], s.teacher.email);
    assert_eq!(me.body["roles"][0]["role"], "teacher");
    assert_eq!(me.body["roles"][0]["scope"], "course");
    assert_eq!(me.body["roles"][0]["scopeId"], s.course.to_string());

    // Emails are case-insensitive at login.
    let upper = app.login(&s.student.email.to_uppercase(), PASSWORD).await;
    assert_eq!(upper.status, 200);
    assert!(upper.body["expiresAt"].is_string());
    assert_eq!(upper.body["user"]["tenantId"], s.tenant.to_string());
    assert!(upper.headers.get("set-cookie").unwrap().to_str().unwrap().contains("HttpOnly"));

    // The cookie works like the bearer token.
    let token = upper.body["token"].as_str().unwrap();
    let via_cookie = app
        .http
        .get(format!("{}/api/auth/me", app.base))
        .header("cookie", format!("studio_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(via_cookie.status(), 200);

    // Logout revokes at once.
    let out = app.call(Method::POST, "/api/auth/logout", Some(token), None, None).await;
    assert_eq!(out.status, 204);
    let after = app.get("/api/auth/me", token).await;
    assert_eq!(after.status, 401);
    assert_eq!(after.code(), "unauthenticated");
    // The other token of the same user still works.
    assert_eq!(app.get("/api/auth/me", &s.student.token).await.status, 200);
    // No token, garbage token.
    let none = app.call(Method::GET, "/api/auth/me", None, None, None).await;
    assert_eq!(none.status, 401);
    assert_eq!(app.get("/api/auth/me", "garbage").await.status, 401);
}

async fn failures_look_the_same(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Enum").await;
    let unknown = app.login("nobody@nowhere.test", "whatever-pass").await;
    let wrong = app.login(&s.teacher.email, "wrong-password").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.raw, wrong.raw, "no user enumeration through the body");
    // Timing: both paths run one argon2 verification. Other tests load the CPU at the same time, so
    // compare the fastest of several interleaved tries (the least disturbed), loosely.
    let mut t_unknown = f64::MAX;
    let mut t_wrong = f64::MAX;
    for i in 0..7 {
        let t = std::time::Instant::now();
        app.login(&format!("nobody{i}@nowhere.test"), "whatever-pass").await;
        t_unknown = t_unknown.min(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        app.login(&s.student.email, "wrong-password").await;
        t_wrong = t_wrong.min(t.elapsed().as_secs_f64());
    }
    assert!(
        t_unknown > t_wrong / 3.0 && t_wrong > t_unknown / 3.0,
        "unknown {t_unknown:.4}s vs wrong {t_wrong:.4}s differ too much"
    );
}

async fn account_limit(db: Db) {
    let app = TestApp::spawn(db).await;
    let t = app.store.create_tenant("Limits").await.unwrap().id;
    let u = app.user(t, "victim@x.test", &[(Role::Student, Scope::Tenant, t.0)]).await;
    for _ in 0..10 {
        assert_eq!(app.login(&u.email, "bad-password").await.status, 401);
    }
    let locked = app.login(&u.email, PASSWORD).await;
    assert_eq!(locked.status, 429, "the right password is refused while the account is locked");
    assert_eq!(locked.code(), "rate_limited");
    let retry: u64 = locked.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900);
    // Other accounts are unaffected.
    let other = app.user(t, "other@x.test", &[]).await;
    assert_eq!(app.login(&other.email, PASSWORD).await.status, 200);
}

async fn ip_limit(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.login_ip_limit_per_min = 5).await;
    for _ in 0..5 {
        assert_eq!(app.login("a@b.test", "xxxxxxxx").await.status, 401);
    }
    let limited = app.login("c@d.test", "xxxxxxxx").await;
    assert_eq!(limited.status, 429);
    assert!(limited.headers.get("retry-after").is_some());
}

async fn admin_endpoints(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Admin").await;
    cloud_api::app::create_platform_admin(&app.store, "root@platform.test", PASSWORD).await.unwrap();
    let root = app.login("root@platform.test", PASSWORD).await.body["token"].as_str().unwrap().to_string();

    // Only a platform admin creates tenants.
    let denied = app.post("/api/admin/tenants", &s.admin.token, json!({"name": "Nope"})).await;
    assert_eq!(denied.status, 403);
    let t = app.post("/api/admin/tenants", &root, json!({"name": "New School"})).await;
    assert_eq!(t.status, 201, "{:?}", t.body);
    let tid = t.body["id"].as_str().unwrap().to_string();

    // A platform admin may create a user in that tenant; a tenant admin in its own.
    let u = app
        .post("/api/admin/users", &root, json!({"email": "Head@New.test", "password": "long enough", "tenantId": tid}))
        .await;
    assert_eq!(u.status, 201, "{:?}", u.body);
    assert_eq!(u.body["email"], "head@new.test");
    assert_eq!(u.body["tenantId"], tid);
    assert!(u.body.get("hashedPassword").is_none() && !String::from_utf8_lossy(&u.raw).contains("argon2"));
    let dup = app
        .post("/api/admin/users", &s.admin.token, json!({"email": "head@new.test", "password": "long enough"}))
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.code(), "conflict");
    let mine = app
        .post("/api/admin/users", &s.admin.token, json!({"email": "new-teacher@x.test", "password": "long enough"}))
        .await;
    assert_eq!(mine.status, 201);
    let new_id = mine.body["id"].as_str().unwrap().to_string();
    let by_teacher =
        app.post("/api/admin/users", &s.teacher.token, json!({"email": "z@x.test", "password": "long enough"})).await;
    assert_eq!(by_teacher.status, 403);

    // Grant, use, revoke.
    let g = app
        .post(
            "/api/admin/roles",
            &s.admin.token,
            json!({"userId": new_id, "role": "teacher", "scope": "course", "scopeId": s.course}),
        )
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let tok = app.login("new-teacher@x.test", "long enough").await.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.post(&format!("/api/courses/{}/lessons", s.course), &tok, json!({"title": "L2", "order": 2})).await.status,
        201
    );
    let r = app
        .call(
            Method::DELETE,
            "/api/admin/roles",
            Some(&s.admin.token),
            Some(json!({"userId": new_id, "role": "teacher", "scope": "course", "scopeId": s.course})),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.post(&format!("/api/courses/{}/lessons", s.course), &tok, json!({"title": "L3", "order": 3})).await.status,
        403
    );
    let lessons = app.get(&format!("/api/courses/{}/lessons", s.course), &s.teacher.token).await;
    assert_eq!(
        lessons.body.as_array().unwrap().iter().map(|l| l["order"].as_i64().unwrap()).collect::<Vec<_>>(),
        vec![1, 2]
    );

    // Courses.
    let c = app.post("/api/courses", &s.admin.token, json!({"title": "Chemistry"})).await;
    assert_eq!(c.status, 201);
    assert_eq!(c.body["tenantId"], s.tenant.to_string());
    assert_eq!(app.post("/api/courses", &s.student.token, json!({"title": "Mine"})).await.status, 403);
}

on_both!(login_logout_me, failures_look_the_same, account_limit, ip_limit, admin_endpoints);
