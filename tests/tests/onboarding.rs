//! Onboarding, as API.md's Admin section has it: list and search users (tenant admins see their
//! tenant, platform admins all), deactivate — sign-in refused like a wrong password and every token
//! dead at once — and reactivate; a roster in one CSV, invite and reset links, password changes,
//! and login limits shared by every node. On both databases.

use serde_json::{json, Value};
use studio_tests::*;

fn emails(page: &Answer) -> Vec<String> {
    page.body["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect()
}

async fn users_are_listed_searched_deactivated_and_reactivated(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Roster").await;
    let other = app.school("Other school").await;

    // A tenant admin sees their own tenant, sorted by email; students may not list.
    let page = app.get("/api/admin/users", &s.admin.token).await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    let mine = emails(&page);
    let mut sorted = mine.clone();
    sorted.sort();
    assert_eq!(mine, sorted);
    for u in [&s.admin, &s.teacher, &s.assistant, &s.student, &s.outsider] {
        assert!(mine.contains(&u.email), "{} listed", u.email);
    }
    assert!(!mine.contains(&other.student.email), "another tenant's users are not listed");
    assert!(page.body["users"].as_array().unwrap().iter().all(|u| u["active"] == true));
    assert_eq!(page.body["nextCursor"], Value::Null);
    assert_eq!(app.get("/api/admin/users", &s.student.token).await.status, 403);

    // Search by part of the email; the cursor continues after an email.
    let hits = app.get("/api/admin/users?q=STUDENT-", &s.admin.token).await;
    assert_eq!(emails(&hits).as_slice(), std::slice::from_ref(&s.student.email));
    let after = app.get(&format!("/api/admin/users?cursor={}", mine[0]), &s.admin.token).await;
    assert_eq!(emails(&after), mine[1..]);

    // Deactivate the student: the token dies at once, sign-in answers like a wrong password.
    let path = format!("/api/admin/users/{}/deactivate", s.student.id);
    assert_eq!(app.get("/api/auth/me", &s.student.token).await.status, 200);
    let d = app.post(&path, &s.admin.token, json!({})).await;
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(d.body["active"], false);
    assert_eq!(app.get("/api/auth/me", &s.student.token).await.status, 401, "the token stopped at once");
    let refused = app.login(&s.student.email, PASSWORD).await;
    let wrong = app.login(&s.student.email, "not-the-password").await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body["message"], wrong.body["message"], "no hint that the account exists");
    let again = app.post(&path, &s.admin.token, json!({})).await;
    assert_eq!(again.status, 200, "deactivating twice is still deactivated");
    let listed = app.get("/api/admin/users?q=student-", &s.admin.token).await;
    assert_eq!(listed.body["users"][0]["active"], false);

    // Other tenants' admins cannot touch them; nobody deactivates themselves.
    assert_eq!(app.post(&path, &other.admin.token, json!({})).await.status, 404);
    let own = app.post(&format!("/api/admin/users/{}/deactivate", s.admin.id), &s.admin.token, json!({})).await;
    assert_eq!(own.status, 422);
    assert_eq!(app.post(&path, &s.teacher.token, json!({})).await.status, 403);

    // Reactivated: signing in works again (the old token stays dead).
    let r = app.post(&format!("/api/admin/users/{}/reactivate", s.student.id), &s.admin.token, json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["active"], true);
    assert_eq!(app.get("/api/auth/me", &s.student.token).await.status, 401);
    let back = app.login(&s.student.email, PASSWORD).await;
    assert_eq!(back.status, 200, "{:?}", back.body);
}

fn roster(rows: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut csv = String::from("email,name,role,courseId\r\n");
    for r in rows {
        csv.push_str(&r);
        csv.push_str("\r\n");
    }
    csv.into_bytes()
}

async fn import(app: &TestApp, token: &str, body: Vec<u8>) -> Answer {
    let key = uuid::Uuid::new_v4().to_string();
    app.post_body("/api/admin/users/import", token, &key, &[("content-type", "text/csv")], body).await
}

async fn count_users(app: &TestApp, tenant: shared_types::TenantId) -> usize {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let rows = app.store.list_users(Some(tenant), None, cursor.as_deref(), 500).await.unwrap();
        n += rows.len();
        match rows.last() {
            Some(last) if rows.len() == 500 => cursor = Some(last.user.email.clone()),
            _ => return n,
        }
    }
}

/// A roster of 1,000 students in one request, twice: 1,000 users once, each enrolled in the course,
/// each with an invite link that works once. A file with one bad row writes nothing.
async fn a_roster_imports_once_and_a_bad_file_writes_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Roster import").await;
    let other = app.school("Elsewhere").await;
    let before = count_users(&app, s.tenant).await;

    let rows: Vec<String> =
        (0..1000).map(|i| format!("Pupil{i:04}@Roster.test,\"Pupil {i}, Class 7\",student,{}", s.course)).collect();
    let t = std::time::Instant::now();
    let first = import(&app, &s.admin.token, roster(rows.clone())).await;
    let took = t.elapsed();
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!((first.body["created"].as_u64(), first.body["existing"].as_u64()), (Some(1000), Some(0)));
    let invites = first.body["invites"].as_array().unwrap();
    assert_eq!(invites.len(), 1000);
    assert_eq!(invites[0]["email"], "pupil0000@roster.test", "emails are stored lower-case");
    eprintln!("1,000-row roster imported in {took:?}");
    let second = import(&app, &s.admin.token, roster(rows)).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!((second.body["created"].as_u64(), second.body["existing"].as_u64()), (Some(0), Some(1000)));
    assert_eq!(second.body["invites"], json!([]));
    assert_eq!(count_users(&app, s.tenant).await, before + 1000);
    let named = app.get("/api/admin/users?q=pupil0007", &s.admin.token).await;
    assert_eq!(named.body["users"][0]["name"], "Pupil 7, Class 7", "a quoted name keeps its comma");

    // An invited pupil cannot sign in before choosing a password; the link sets it, once.
    let link = invites[7]["link"].as_str().unwrap();
    assert!(link.contains("/app/#/welcome?token="), "{link}");
    let token = link.rsplit("token=").next().unwrap();
    assert_eq!(app.login("pupil0007@roster.test", "").await.status, 401);
    let redeem = |password: &'static str| {
        app.call(
            reqwest::Method::POST,
            "/api/auth/redeem",
            None,
            Some(json!({"token": token, "password": password})),
            None,
        )
    };
    assert_eq!(redeem("short").await.code(), "validation_failed");
    let signed_in = redeem("my own password").await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let pupil = signed_in.body["token"].as_str().unwrap().to_string();
    let courses = app.get("/api/courses", &pupil).await;
    assert_eq!(courses.body[0]["id"], s.course.to_string(), "enrolled by the roster");
    assert_eq!(redeem("another password").await.code(), "link_invalid", "a link works once");
    assert_eq!(app.login("pupil0007@roster.test", "my own password").await.status, 200);

    // One bad row among good ones: 422 naming it, nothing written.
    let mut rows: Vec<String> = (0..50).map(|i| format!("new{i}@roster.test,New {i},student,")).collect();
    rows[20] = "not-an-email,Someone,student,".into();
    rows[30] = "new30@roster.test,Someone,principal,".into();
    rows[40] = format!("{},Taken,student,", other.student.email);
    rows.push("new0@roster.test,Twice,teacher,".into());
    rows.push(format!("new51@roster.test,No course,student,{}", uuid::Uuid::new_v4()));
    let bad = import(&app, &s.admin.token, roster(rows)).await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.code(), "roster_invalid");
    let errs = bad.body["details"]["rows"].as_array().unwrap();
    let numbers: Vec<u64> = errs.iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert_eq!(numbers, vec![21, 31, 41, 51, 52], "{errs:?}");
    assert!(errs[0]["error"].as_str().unwrap().contains("not an email"), "{errs:?}");
    assert!(errs[1]["error"].as_str().unwrap().contains("principal"), "{errs:?}");
    assert!(errs[3]["error"].as_str().unwrap().contains("twice"), "{errs:?}");
    assert_eq!(count_users(&app, s.tenant).await, before + 1000, "nothing written");

    // Bad files as a whole.
    assert_eq!(import(&app, &s.admin.token, b"name,email\nx,y\n".to_vec()).await.code(), "roster_invalid");
    assert_eq!(import(&app, &s.admin.token, b"email,name,role,courseId\n".to_vec()).await.code(), "roster_invalid");
    let open_quote = b"email,name,role,courseId\na@b.test,\"Ann,student,\n".to_vec();
    assert_eq!(import(&app, &s.admin.token, open_quote).await.code(), "roster_invalid");
    let key = uuid::Uuid::new_v4().to_string();
    let json_body = app
        .post_body(
            "/api/admin/users/import",
            &s.admin.token,
            &key,
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(json_body.code(), "unsupported_media_type");
    assert_eq!(import(&app, &s.teacher.token, roster(["x@y.test,X,student,".into()])).await.status, 403);
}

/// Password resets and changes: a reset link (made by an admin of the user's school only) signs
/// the user out everywhere; changing one's own password asks for the current one and ends the other
/// sessions but not this one.
async fn resets_and_password_changes(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Resets").await;
    let other = app.school("Not theirs").await;
    let path = format!("/api/admin/users/{}/password-reset", s.teacher.id);
    assert_eq!(app.post(&path, &other.admin.token, json!({})).await.status, 404);
    assert_eq!(app.post(&path, &s.student.token, json!({})).await.status, 403);
    let link = app.post(&path, &s.admin.token, json!({})).await;
    assert_eq!(link.status, 201, "{:?}", link.body);
    assert_eq!(link.body["email"], s.teacher.email);
    let expires: chrono::DateTime<chrono::Utc> = link.body["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires > chrono::Utc::now() && expires < chrono::Utc::now() + chrono::Duration::hours(3));
    let token = link.body["link"].as_str().unwrap().rsplit("token=").next().unwrap().to_string();
    let body = json!({"token": token, "password": "a brand new one"});
    let r = app.call(reqwest::Method::POST, "/api/auth/redeem", None, Some(body), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.get("/api/auth/me", &s.teacher.token).await.status, 401, "the old session ended");
    assert_eq!(app.login(&s.teacher.email, PASSWORD).await.status, 401);
    let fresh = r.body["token"].as_str().unwrap().to_string();

    // A second session, then a change from the fresh one: the second ends, this one stays.
    let second = app.login(&s.teacher.email, "a brand new one").await.body["token"].as_str().unwrap().to_string();
    let wrong = app
        .post("/api/auth/password", &fresh, json!({"currentPassword": "nope-nope", "newPassword": "third password"}))
        .await;
    assert_eq!(wrong.code(), "validation_failed");
    let short =
        app.post("/api/auth/password", &fresh, json!({"currentPassword": "a brand new one", "newPassword": "x"})).await;
    assert_eq!(short.code(), "validation_failed");
    let ok = app
        .post(
            "/api/auth/password",
            &fresh,
            json!({"currentPassword": "a brand new one", "newPassword": "third password"}),
        )
        .await;
    assert_eq!(ok.status, 204, "{:?}", ok.body);
    assert_eq!(app.get("/api/auth/me", &fresh).await.status, 200, "this session stays");
    assert_eq!(app.get("/api/auth/me", &second).await.status, 401, "the other one ended");
    assert_eq!(app.login(&s.teacher.email, "third password").await.status, 200);

    // A deactivated user's link does not work (and stays unused).
    let link = app.post(&format!("/api/admin/users/{}/invite", s.student.id), &s.admin.token, json!({})).await;
    let token = link.body["link"].as_str().unwrap().rsplit("token=").next().unwrap().to_string();
    app.post(&format!("/api/admin/users/{}/deactivate", s.student.id), &s.admin.token, json!({})).await;
    let body = json!({"token": token, "password": "letmein-please"});
    let r = app.call(reqwest::Method::POST, "/api/auth/redeem", None, Some(body), None).await;
    assert_eq!(r.code(), "link_invalid");
}

/// The studio's hand-off: a signed-in user asks for a one-time link (a minute) to a route of the
/// app; redeeming it signs in like a login (cookie and token), once; it is no invite or reset link,
/// and an invite is no hand-off.
async fn a_handoff_link_signs_in_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Handoff").await;
    let next = format!("#/sessions/{}/present", s.session);
    assert_eq!(app.call(reqwest::Method::POST, "/api/auth/handoff", None, Some(json!({})), None).await.status, 401);
    for bad in ["/elsewhere", "#/x y", "#/a&b=c"] {
        let r = app.post("/api/auth/handoff", &s.teacher.token, json!({ "next": bad })).await;
        assert_eq!(r.code(), "validation_failed", "{bad}");
    }
    let r = app.post("/api/auth/handoff", &s.teacher.token, json!({ "next": next })).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let link = r.body["link"].as_str().unwrap().to_string();
    assert!(
        link.contains("/app/#/handoff?token=") && link.ends_with(&format!("&next=/sessions/{}/present", s.session)),
        "{link}"
    );
    let expires: chrono::DateTime<chrono::Utc> = r.body["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires <= chrono::Utc::now() + chrono::Duration::seconds(61), "a minute at most");
    let token = link.split("token=").nth(1).unwrap().split('&').next().unwrap().to_string();
    // Not a password link.
    let as_reset = json!({"token": token, "password": "hijacked-password"});
    let r = app.call(reqwest::Method::POST, "/api/auth/redeem", None, Some(as_reset), None).await;
    assert_eq!(r.code(), "link_invalid");
    let r =
        app.call(reqwest::Method::POST, "/api/auth/handoff/redeem", None, Some(json!({"token": token})), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.headers.get("set-cookie").unwrap().to_str().unwrap().starts_with("studio_token="));
    let fresh = r.body["token"].as_str().unwrap();
    let me = app.get("/api/auth/me", fresh).await;
    assert_eq!(me.body["id"], s.teacher.id.to_string());
    assert_eq!(app.get("/api/auth/me", &s.teacher.token).await.status, 200, "the studio stays signed in");
    let again =
        app.call(reqwest::Method::POST, "/api/auth/handoff/redeem", None, Some(json!({"token": token})), None).await;
    assert_eq!(again.code(), "link_invalid", "once only");
    // An invite is not a hand-off.
    let invite = app.post(&format!("/api/admin/users/{}/invite", s.student.id), &s.admin.token, json!({})).await;
    let itoken = invite.body["link"].as_str().unwrap().rsplit("token=").next().unwrap().to_string();
    let r =
        app.call(reqwest::Method::POST, "/api/auth/handoff/redeem", None, Some(json!({"token": itoken})), None).await;
    assert_eq!(r.code(), "link_invalid");
}

/// Login limits live in the database: ten failures on node A lock the account on node B too.
async fn login_limits_hold_across_nodes(db: Db) {
    let a = TestApp::spawn(db).await;
    let b = a.second_node().await;
    let t = a.store.create_tenant("Two nodes").await.unwrap().id;
    let u = a.user(t, "target@two.test", &[]).await;
    for _ in 0..10 {
        assert_eq!(a.login(&u.email, "wrong-password").await.status, 401);
    }
    let eleventh = b.login(&u.email, "wrong-password").await;
    assert_eq!(eleventh.status, 429, "node B counts node A's failures");
    assert!(eleventh.headers.get("retry-after").is_some());
    assert_eq!(b.login(&u.email, PASSWORD).await.status, 429, "even the right password waits");
}

/// Write limits live in the database too: 20 a minute per user — the join and 12 chats on node A, 7 on
/// node B — and the 21st, on either node, is refused with `Retry-After`; a retry with the same key is
/// refused again (not replayed), another user writes on.
async fn write_limits_hold_across_nodes(db: Db) {
    let a = TestApp::spawn_with(db, |c| c.write_limit_per_min = 20).await;
    let b = a.second_node_with(|c| c.write_limit_per_min = 20).await;
    let s = a.school("Busy").await;
    a.live(&s).await;
    let chat = |n: usize| json!({"sessionId": s.session, "content": format!("message {n}")});
    for n in 0..12 {
        assert_eq!(a.post("/api/chat", &s.student.token, chat(n)).await.status, 201, "write {n} on A");
    }
    for n in 12..19 {
        assert_eq!(b.post("/api/chat", &s.student.token, chat(n)).await.status, 201, "write {n} on B");
    }
    let over = b.post_key("/api/chat", &s.student.token, chat(19), "the-21st").await;
    assert_eq!(over.status, 429, "{:?}", over.body);
    assert_eq!(over.code(), "rate_limited");
    let retry: u64 = over.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(a.post_key("/api/chat", &s.student.token, chat(19), "the-21st").await.status, 429, "on A too");
    let chats = a.all_events(&s.teacher.token, &s.session).await.iter().filter(|e| e["type"] == "chat.posted").count();
    assert_eq!(chats, 19, "nothing of the refused writes was written");
    assert_eq!(a.post("/api/chat", &s.assistant.token, chat(99)).await.status, 201, "another user writes on");
}

on_both!(
    write_limits_hold_across_nodes,
    users_are_listed_searched_deactivated_and_reactivated,
    a_roster_imports_once_and_a_bad_file_writes_nothing,
    resets_and_password_changes,
    a_handoff_link_signs_in_once,
    login_limits_hold_across_nodes
);
