//! Onboarding, as API.md's Admin section has it: list and search users (tenant admins see their
//! tenant, platform admins all), deactivate — sign-in refused like a wrong password and every token
//! dead at once — and reactivate. On both databases.

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

on_both!(users_are_listed_searched_deactivated_and_reactivated);
