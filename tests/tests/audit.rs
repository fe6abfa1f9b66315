//! The audit log (issue 11): every audited route — admin actions, login outcomes, logouts, stream
//! changes, job retries — leaves exactly one entry per call, with who, what, the outcome, the
//! request id and the IP; any route's permission denial is audited too; a replayed retry is not a
//! second entry; tenant admins read their tenant only; the table refuses UPDATE and DELETE.

use reqwest::Method;
use serde_json::{json, Value};
use studio_tests::*;

/// The audit entries of `action` a token can read (newest first).
async fn entries(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    let a = app.get(&format!("/api/admin/audit?action={}", action.replace(' ', "%20")), token).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    a.body["entries"].as_array().unwrap().clone()
}

/// How to call each audited route once; the test fails when a route is audited but not listed here.
async fn call_route(app: &TestApp, s: &School, root: &str, method: &str, path: &str) -> (u16, &'static str) {
    let admin = s.admin.token.as_str();
    let sid = &s.session;
    let (status, token_kind) = match (method, path) {
        ("post", "/api/auth/login") => (app.login(&s.teacher.email, "wrong-password").await.status, "none"),
        ("post", "/api/auth/logout") => {
            let t = app.login(&s.assistant.email, PASSWORD).await.body["token"].as_str().unwrap().to_string();
            (app.post("/api/auth/logout", &t, json!({})).await.status, "assistant")
        }
        ("post", "/api/auth/password") => {
            let body = json!({"currentPassword": PASSWORD, "newPassword": PASSWORD});
            (app.post("/api/auth/password", &s.outsider.token, body).await.status, "outsider")
        }
        ("post", "/api/auth/handoff") => {
            (app.post(path, &s.teacher.token, json!({"next": "#/"})).await.status, "teacher")
        }
        ("post", "/api/auth/handoff/redeem") => {
            let link = app.post("/api/auth/handoff", &s.assistant.token, json!({})).await;
            let token = link.body["link"].as_str().unwrap().split("token=").nth(1).unwrap().split('&').next().unwrap();
            let a = app.call(Method::POST, path, None, Some(json!({ "token": token })), None).await;
            assert_eq!(a.status, 200, "{:?}", a.body);
            (a.status, "assistant")
        }
        ("post", "/api/auth/sso/token") => {
            // A code no sign-in gave: refused, and nobody's school is known.
            let body = json!({"code": "not-a-code", "codeVerifier": "v".repeat(43)});
            (app.call(Method::POST, path, None, Some(body), None).await.status, "root")
        }
        ("post", "/api/auth/redeem") => {
            let link = app.post(&format!("/api/admin/users/{}/invite", s.student.id), admin, json!({})).await;
            let token = link.body["link"].as_str().unwrap().rsplit("token=").next().unwrap().to_string();
            let a = app.call(Method::POST, path, None, Some(json!({"token": token, "password": PASSWORD})), None).await;
            (a.status, "none")
        }
        ("post", "/api/admin/tenants") => (app.post(path, root, json!({"name": "Audited"})).await.status, "root"),
        ("put", "/api/admin/tenants/{id}/settings") => {
            let body = json!({"transcriptionModel": "base", "language": "es"});
            (app.put(&path.replace("{id}", &s.tenant.to_string()), admin, body).await.status, "admin")
        }
        ("put", "/api/admin/tenants/{id}/sso") => {
            // Refused (a provider off loopback must be https): audited all the same.
            let body = json!({"issuer": "http://login.x.test", "clientId": "c", "clientSecret": "s", "allowedDomains": ["x.test"]});
            (app.put(&path.replace("{id}", &s.tenant.to_string()), admin, body).await.status, "admin")
        }
        ("get", "/api/auth/sso/callback") => {
            // A callback whose state no sign-in gave: refused, and nobody's school is known.
            let a = app.call(Method::GET, "/api/auth/sso/callback?code=c&state=forged", None, None, None).await;
            (a.status, "root")
        }
        ("post", "/api/admin/tenants/{id}/lti/platforms") => {
            // Refused (a platform off loopback must be https): audited all the same.
            let body = json!({"issuer": "http://lms.x.test", "clientId": "c", "deploymentIds": ["d"],
                              "authUrl": "https://lms.x.test/auth", "jwksUrl": "https://lms.x.test/jwks",
                              "tokenUrl": "https://lms.x.test/token"});
            (app.post(&path.replace("{id}", &s.tenant.to_string()), admin, body).await.status, "admin")
        }
        ("post", "/api/lti/launch") => {
            // A launch whose state no login gave: refused, and nobody's school is known.
            let form = [("id_token", "x.y.z"), ("state", "forged")];
            let a = app.http.post(format!("{}{path}", app.base)).form(&form).send().await.unwrap();
            (a.status(), "root")
        }
        ("post", "/api/lti/deep-link") => {
            // A choice whose page no request gave: refused, and nobody's school is known.
            let a = app.http.post(format!("{}{path}", app.base)).form(&[("pick", "forged")]).send().await.unwrap();
            (a.status(), "root")
        }
        ("post", "/api/admin/lti/keys") => (app.post(path, root, json!({})).await.status, "root"),
        ("post", "/api/courses/{course_id}/lti/roster") => {
            // No learning platform lists this course: refused, audited all the same.
            let p = path.replace("{course_id}", &s.course.to_string());
            (app.post(&p, admin, json!({})).await.status, "admin")
        }
        ("post", "/api/admin/users") => {
            let body = json!({"email": "new-audited@x.test", "password": PASSWORD});
            (app.post(path, admin, body).await.status, "admin")
        }
        ("post", "/api/admin/users/import") => {
            let csv = "email,name,role,courseId\nroster-audited@x.test,Ann,student,\n";
            let key = uuid::Uuid::new_v4().to_string();
            let a = app.post_body(path, admin, &key, &[("content-type", "text/csv")], csv.into()).await;
            (a.status, "admin")
        }
        ("post", "/api/admin/users/{id}/deactivate") | ("post", "/api/admin/users/{id}/reactivate") => {
            let p = path.replace("{id}", &s.outsider.id.to_string());
            (app.post(&p, admin, json!({})).await.status, "admin")
        }
        ("post", "/api/admin/users/{id}/invite") | ("post", "/api/admin/users/{id}/password-reset") => {
            let p = path.replace("{id}", &s.teacher.id.to_string());
            (app.post(&p, admin, json!({})).await.status, "admin")
        }
        ("post", "/api/admin/roles") | ("delete", "/api/admin/roles") => {
            let body = json!({"userId": s.outsider.id, "role": "assistant", "scope": "course", "scopeId": s.course});
            let m = if method == "post" { Method::POST } else { Method::DELETE };
            (app.call(m, path, Some(admin), Some(body), None).await.status, "admin")
        }
        ("post", "/api/courses") => (app.post(path, admin, json!({"title": "Audited course"})).await.status, "admin"),
        ("post", "/api/courses/{course_id}/lessons") => {
            let p = path.replace("{course_id}", &s.course.to_string());
            (app.post(&p, admin, json!({"title": "Audited lesson", "order": 9})).await.status, "admin")
        }
        ("post", "/api/sessions/{id}/destinations") => {
            let body = json!({"name": "Channel", "rtmpUrl": "rtmp://127.0.0.1/live", "streamKey": "secret-key-1234"});
            (app.post(&path.replace("{id}", sid), &s.teacher.token, body).await.status, "teacher")
        }
        ("delete", "/api/sessions/{id}/destinations/{dest_id}") => {
            let p = path.replace("{id}", sid).replace("{dest_id}", &uuid::Uuid::new_v4().to_string());
            (app.call(Method::DELETE, &p, Some(&s.teacher.token), None, None).await.status, "teacher")
        }
        ("post", "/api/sessions/{id}/stream") => {
            let body = json!({"destinationIds": []});
            (app.post(&path.replace("{id}", sid), &s.teacher.token, body).await.status, "teacher")
        }
        ("delete", "/api/sessions/{id}/stream") => {
            let p = path.replace("{id}", sid);
            (app.call(Method::DELETE, &p, Some(&s.teacher.token), None, None).await.status, "teacher")
        }
        ("post", "/api/artifacts/process") => {
            let body = json!({"sessionId": sid, "recordingId": uuid::Uuid::new_v4()});
            (app.post(path, admin, body).await.status, "admin")
        }
        ("post", "/api/admin/jobs/{id}/retry") => {
            let p = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
            (app.post(&p, admin, json!({})).await.status, "admin")
        }
        other => panic!("audited route {other:?} has no call in this test: add one"),
    };
    (status.as_u16(), token_kind)
}

fn outcome_of(status: u16) -> &'static str {
    match status {
        200..=399 => "ok",
        401 => "failed",
        403 => "denied",
        429 => "limited",
        400..=499 => "refused",
        _ => "error",
    }
}

async fn every_audited_route_leaves_exactly_one_entry(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Audited school").await;
    cloud_api::app::create_platform_admin(&app.store, "root@audit.test", PASSWORD).await.unwrap();
    let root = app.login("root@audit.test", PASSWORD).await.body["token"].as_str().unwrap().to_string();

    let docs = cloud_api::http::api().docs;
    // Every admin write, every course or lesson change and every sign-in route is audited.
    for d in &docs {
        let writes = d.method != "get";
        let must = writes
            && (d.path.starts_with("/api/admin/")
                || d.path.starts_with("/api/auth/")
                || d.path.starts_with("/api/courses")
                || d.path.contains("/destinations")
                || d.path.ends_with("/stream")
                || d.path.starts_with("/api/artifacts/"));
        assert!(
            !must || d.audit.is_some(),
            "{} {} changes something admins must see: mark it .audited(…)",
            d.method,
            d.path
        );
    }
    let audited: Vec<_> = docs.iter().filter(|d| d.audit.is_some()).collect();
    assert!(audited.len() >= 20, "{} audited routes", audited.len());

    for d in audited {
        let action = d.audit.unwrap();
        let token = if action.starts_with("tenant.") { root.as_str() } else { s.admin.token.as_str() };
        let before = entries(&app, &root, action).await.len();
        let (status, who) = call_route(&app, &s, &root, d.method, d.path).await;
        let after = entries(&app, &root, action).await;
        assert_eq!(after.len(), before + 1, "{} {} ({action}, answered {status}) left one entry", d.method, d.path);
        let e = &after[0];
        assert_eq!(e["outcome"], outcome_of(status), "{action}: {e}");
        assert!(e["requestId"].as_str().is_some_and(|r| !r.is_empty()), "{action}: request id in {e}");
        assert_eq!(e["ip"], "127.0.0.1", "{action}: {e}");
        assert!(!e["target"].as_str().unwrap().is_empty());
        let expected_actor = match who {
            "root" => None,
            "admin" => Some(s.admin.id),
            "teacher" => Some(s.teacher.id),
            "assistant" => Some(s.assistant.id),
            "outsider" => Some(s.outsider.id),
            _ => None,
        };
        if let Some(a) = expected_actor {
            assert_eq!(e["actorId"], a.to_string(), "{action}: {e}");
            assert_eq!(e["tenantId"], s.tenant.to_string(), "{action}: {e}");
        }
        // The tenant's own admin reads it too, unless it was about another tenant.
        if who != "root" {
            let mine = entries(&app, token, action).await;
            assert!(mine.iter().any(|m| m["id"] == e["id"]), "{action}: the school's admin sees {e}");
        }
    }

    // A failed login names the account and its school; a successful one says ok.
    let ok = app.login(&s.teacher.email, PASSWORD).await;
    assert_eq!(ok.status, 200);
    let logins = entries(&app, &s.admin.token, "auth.login").await;
    let teacher: Vec<_> = logins.iter().filter(|e| e["target"] == s.teacher.email.as_str()).collect();
    assert_eq!(teacher[0]["outcome"], "ok");
    assert_eq!(teacher[1]["outcome"], "failed", "the wrong password of the route loop");
    assert!(teacher.iter().all(|e| e["actorId"] == s.teacher.id.to_string()));
}

async fn denials_replays_filters_and_tenants(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("First school").await;
    let other = app.school("Second school").await;

    // A permission denial on a route that is not otherwise audited.
    let denied = app
        .post(
            "/api/polls",
            &s.student.token,
            json!({"sessionId": s.session, "prompt": "Which?", "options": ["a", "b"]}),
        )
        .await;
    assert_eq!(denied.status, 403, "{:?}", denied.body);
    let d = entries(&app, &s.admin.token, "POST /api/polls").await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["outcome"], "denied");
    assert_eq!(d[0]["actorId"], s.student.id.to_string());
    // Students may not read the audit log (and that is audited as well).
    assert_eq!(app.get("/api/admin/audit", &s.student.token).await.status, 403);
    assert_eq!(entries(&app, &s.admin.token, "GET /api/admin/audit").await.len(), 1);

    // A retry with the same key is the same request: one entry, one course.
    let key = uuid::Uuid::new_v4().to_string();
    let a = app.post_key("/api/courses", &s.admin.token, json!({"title": "Once"}), &key).await;
    let b = app.post_key("/api/courses", &s.admin.token, json!({"title": "Once"}), &key).await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (201, 201));
    assert_eq!(a.body["id"], b.body["id"]);
    let created = entries(&app, &s.admin.token, "course.create").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["target"], format!("course:{}", a.body["id"].as_str().unwrap()));

    // The other school's admin sees none of the first school's entries.
    app.post("/api/courses", &other.admin.token, json!({"title": "Theirs"})).await;
    let theirs = app.get("/api/admin/audit", &other.admin.token).await;
    let list = theirs.body["entries"].as_array().unwrap();
    assert!(!list.is_empty());
    assert!(list.iter().all(|e| e["tenantId"] == other.tenant.to_string()), "{list:?}");

    // Filters: actor, time window; a cursor pages back in time.
    let by_student = app.get(&format!("/api/admin/audit?actor={}", s.student.id), &s.admin.token).await;
    assert!(by_student.body["entries"].as_array().unwrap().iter().all(|e| e["actorId"] == s.student.id.to_string()));
    let future = app.get("/api/admin/audit?from=2100-01-01T00:00:00Z", &s.admin.token).await;
    assert_eq!(future.body["entries"], json!([]));
    for i in 0..105 {
        app.login(&format!("nobody-{i}@x.test"), "wrong-password").await;
    }
    // Unknown accounts belong to no school: only a platform admin sees those.
    cloud_api::app::create_platform_admin(&app.store, "root@audit2.test", PASSWORD).await.unwrap();
    let root = app.login("root@audit2.test", PASSWORD).await.body["token"].as_str().unwrap().to_string();
    let page1 = app.get("/api/admin/audit?action=auth.login", &root).await;
    assert_eq!(page1.body["entries"].as_array().unwrap().len(), 100);
    let cursor = page1.body["nextCursor"].as_str().expect("a next page").to_string();
    let page2 = app.get(&format!("/api/admin/audit?action=auth.login&cursor={cursor}"), &root).await;
    let ids1: Vec<&Value> = page1.body["entries"].as_array().unwrap().iter().map(|e| &e["id"]).collect();
    let rest = page2.body["entries"].as_array().unwrap();
    assert!(!rest.is_empty() && rest.iter().all(|e| !ids1.contains(&&e["id"])), "no overlap between pages");
    let first_school = entries(&app, &s.admin.token, "auth.login").await;
    assert!(first_school.iter().all(|e| e["tenantId"] == s.tenant.to_string()));

    // Bad filters are problem+json.
    assert_eq!(app.get("/api/admin/audit?from=yesterday", &s.admin.token).await.code(), "bad_request");
}

/// The table cannot be changed through SQL either: a trigger refuses UPDATE and DELETE.
async fn the_table_refuses_update_and_delete(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Append only").await;
    app.post("/api/courses", &s.admin.token, json!({"title": "Audited"})).await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.store_url).await.unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from audit_log").fetch_one(&pool).await.unwrap();
    assert!(n >= 1);
    let upd = sqlx::query("update audit_log set outcome = 'ok'").execute(&pool).await;
    let del = sqlx::query("delete from audit_log").execute(&pool).await;
    for r in [upd.map(|_| ()), del.map(|_| ())] {
        let e = r.expect_err("the audit log refuses changes");
        assert!(e.to_string().contains("append-only"), "{e}");
    }
    if db == Db::Postgres {
        let t = sqlx::query("truncate audit_log").execute(&pool).await;
        assert!(t.is_err(), "truncate is refused too");
    }
    let still: i64 = sqlx::query_scalar("select count(*) from audit_log").fetch_one(&pool).await.unwrap();
    assert_eq!(still, n);
}

on_both!(
    every_audited_route_leaves_exactly_one_entry,
    denials_replays_filters_and_tenants,
    the_table_refuses_update_and_delete
);
