//! The studio signs in with the school's own provider through the system browser (RFC 8252), against
//! the real cloud API and a real OpenID provider (`tests/oidc-op`, zitadel/oidc's example): the
//! studio's own loopback listener, PKCE pair and state (`studio_desktop::school`). The "system
//! browser" is scripted — reqwest through our start, the provider's login form and the redirects
//! back, as a person's browser goes — and is handed the URL the studio opens. A teacher lands signed
//! in as herself; a person the school has no account for is refused with the words the server gives;
//! a request at the loopback address with another state is answered and waited past; a browser that
//! never comes back times out.

use serde_json::json;
use shared_types::{Role, Scope};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use studio_desktop::school::sign_in_with_school;
use studio_desktop::sync::SyncError;
use studio_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_signs_in_through_the_school() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("Northside").await;
    app.user(s.tenant, "tess@northside.test", &[(Role::Teacher, Scope::Course, s.course.0)]).await;

    let dir = cloud_api::spawned::Scratch::new("studio-oidc");
    std::fs::create_dir_all(&dir).unwrap();
    let person = |id: &str, email: &str| {
        json!({"ID": id, "Username": id, "Password": "verysecure", "FirstName": id, "LastName": "Test",
               "Email": email, "EmailVerified": true, "PreferredLanguage": "en"})
    };
    let users =
        json!({"tess": person("tess", "tess@northside.test"), "carol": person("carol", "carol@northside.test")});
    let users_file = dir.join("users.json");
    std::fs::write(&users_file, users.to_string()).unwrap();
    let op = Arc::new(OidcOp::start(&[
        ("CLIENT_ID", "northside-studio"),
        ("CLIENT_SECRET", "n0rthside-s3cret"),
        ("REDIRECT_URI", &format!("{}/api/auth/sso/callback", app.base)),
        ("USERS_FILE", users_file.to_str().unwrap()),
    ]));
    let settings = json!({"issuer": op.issuer, "clientId": "northside-studio", "clientSecret": "n0rthside-s3cret",
                          "allowedDomains": ["northside.test"], "passwordSignIn": false});
    let set = app.put(&format!("/api/admin/tenants/{}/sso", s.tenant), &s.admin.token, settings).await;
    assert_eq!(set.status, 200, "{:?}", set.body);

    // Tess signs in: the studio opens the browser, she logs in at her school, the studio has her.
    let pages = Arc::new(Mutex::new(Vec::new()));
    let browse = |username: &'static str, knock: bool| {
        let (op, pages) = (op.clone(), pages.clone());
        move |url: &str| {
            let url = url.to_string();
            tokio::spawn(async move {
                let page = op.browse_to_app(&url, username, knock).await;
                pages.lock().unwrap().push(page);
            });
            Ok::<(), SyncError>(())
        }
    };
    let (client, me) =
        sign_in_with_school(&app.base, "tess@northside.test", browse("tess", true), Duration::from_secs(60))
            .await
            .unwrap();
    assert_eq!(me.email, "tess@northside.test");
    assert_eq!(me.tenant_id, s.tenant);
    let courses: Vec<shared_types::dto::CourseDto> = client.get_json("/api/courses").await.unwrap();
    assert_eq!(courses.len(), 1, "her course, with the token the studio keeps");
    let seen = || pages.lock().unwrap().clone();
    let wait_for_page = |n: usize| async move {
        for _ in 0..200 {
            if seen().len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the browser never showed its page");
    };
    wait_for_page(1).await;
    assert!(seen()[0].contains("Go back to the studio"), "{}", seen()[0]);

    // Carol has no account at the school: the studio hears why, in the server's words, and so does
    // the browser.
    let refused =
        sign_in_with_school(&app.base, "carol@northside.test", browse("carol", false), Duration::from_secs(60))
            .await
            .map(|_| ())
            .unwrap_err();
    match &refused {
        SyncError::Server { code, message, .. } => {
            assert_eq!(code, "no_account");
            assert!(message.contains("no account for you here"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    wait_for_page(2).await;
    assert!(seen()[1].contains("no account for you here"), "{}", seen()[1]);

    // A browser that never comes back: the sign-in gives up at its time limit, saying so.
    let gone = sign_in_with_school(&app.base, "tess@northside.test", |_| Ok(()), Duration::from_millis(300))
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(&gone, SyncError::Server { code, .. } if code == "sign_in_timed_out"), "{gone:?}");
}
