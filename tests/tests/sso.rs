//! Single sign-on through a school's own OpenID provider, against a real one (`tests/oidc-op`:
//! zitadel/oidc's example provider) followed through its real redirects and login form: the school's
//! admin sets it up (checked against its discovery document, the secret never read back); a person
//! of the school signs in and lands in the web app through a one-time hand-off; a replayed callback,
//! a forged `state`, a replayed code, an unverified email, a domain not allowed, an email with no
//! account here (even one that has an account at another school) are each refused with words and an
//! audit entry; a rotated provider key keeps working; password sign-in can be switched off; and in
//! Chromium, the sign-in page's "Sign in with your school" goes through the provider's login form
//! and lands signed in (or on the page that says why not). No secret, code, state or token is
//! ever in the server's logs. ID tokens the provider would never issue (another audience, expired,
//! another issuer, a wrong nonce, an unpublished key, `alg: none`) are signed by its test hook and
//! refused, each for its reason.

use serde_json::{json, Value};
use shared_types::{Role, Scope};
use studio_tests::*;

/// The values of a sign-in that must never be logged: the code and state it came back with, and the
/// hand-off token it went on with.
fn secrets_of(e: &Ended) -> Vec<String> {
    let mut out = Vec::new();
    for u in [&e.callback, &e.location.replacen("/#/", "/", 1)] {
        if let Ok(u) = url::Url::parse(u) {
            out.extend(
                u.query_pairs()
                    .filter(|(k, _)| ["code", "state", "token"].contains(&k.as_ref()))
                    .map(|(_, v)| v.into_owned()),
            );
        }
    }
    out
}

/// A browser without cookies that does not follow redirects: each hop is looked at.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// How a sign-in through the provider ended at our callback.
struct Ended {
    /// The callback's answer: 302 to the app, or the refusal page's status.
    status: u16,
    /// The app URL (signed in) or the refusal page.
    location: String,
    page: String,
    /// The callback URL the provider sent the browser to (code and state), to replay.
    callback: String,
}

/// From the sign-in page's "Sign in with your school" to our callback, as a browser does: start,
/// the provider's login form, its redirects back.
async fn sign_in(app: &TestApp, op: &OidcOp, start_query: &str, username: &str) -> Ended {
    let b = browser();
    let r = b.get(format!("{}/api/auth/sso/start?{start_query}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap_or_default());
    let to_provider = location(&r);
    assert!(to_provider.starts_with(&op.issuer), "{to_provider}");
    let q: std::collections::HashMap<String, String> =
        url::Url::parse(&to_provider).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43, "a SHA-256 challenge");
    assert!(q["state"].len() >= 40 && q["nonce"].len() >= 40 && q["state"] != q["nonce"], "{q:?}");
    assert_eq!(q["response_type"], "code");
    let hop = op.log_in(&to_provider, username).await;
    assert!(hop.starts_with(&app.base), "back to us: {hop}");
    let callback = hop.clone();
    let r = b.get(&hop).send().await.unwrap();
    let status = r.status().as_u16();
    let location = location(&r);
    let page = r.text().await.unwrap();
    Ended { status, location, page, callback }
}

/// Spend the hand-off link the callback sent the browser to: who is signed in.
async fn landed(app: &TestApp, ended: &Ended) -> Value {
    assert_eq!(ended.status, 302, "{}", ended.page);
    let url = url::Url::parse(&ended.location.replacen("/#/", "/", 1)).unwrap();
    assert!(ended.location.starts_with(&format!("{}/app/#/handoff?", app.base)), "{}", ended.location);
    let token = url.query_pairs().find(|(k, _)| k == "token").unwrap().1.into_owned();
    let r = browser().post(format!("{}/api/auth/handoff/redeem", app.base)).json(&json!({"token": token})).send().await;
    let r = r.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn refused(ended: &Ended, status: u16, reason: &str) {
    assert_eq!(ended.status, status, "{}", ended.page);
    assert!(ended.page.contains(&format!("data-reason=\"{reason}\"")), "{reason}: {}", ended.page);
    assert!(ended.location.is_empty(), "not signed in: {}", ended.location);
}

/// The query of a native app's sign-in: its loopback redirect, challenge and state.
fn native_query(email: &str, redirect: &str, challenge: &str, method: &str, state: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email)
        .append_pair("redirect_uri", redirect)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", method)
        .append_pair("state", state)
        .finish()
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

async fn trade(app: &TestApp, code: &str, verifier: &str) -> (u16, Value) {
    let r = browser()
        .post(format!("{}/api/auth/sso/token", app.base))
        .json(&json!({"code": code, "codeVerifier": verifier}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The studio's side of RFC 8252, played by the test: a listener on a loopback port, a verifier
/// and its challenge; the browser goes through the provider and is sent to the listener.
async fn native_sign_in(app: &TestApp, op: &OidcOp, secrets: &mut Vec<String>) {
    let studio = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect = format!("http://127.0.0.1:{}/signed-in", studio.local_addr().unwrap().port());
    let verifier = cloud_api::sso::random();
    let challenge = cloud_api::sso::challenge(&verifier);
    let alice = native_query("alice@northside.test", &redirect, &challenge, "S256", "studio-state-1");
    let ended = sign_in(app, op, &alice, "alice").await;
    assert_eq!(ended.status, 302, "{}", ended.page);
    assert!(ended.location.starts_with(&format!("{redirect}?")), "to the studio: {}", ended.location);
    // The browser delivers the code to the studio's listener, which answers with a page.
    let listener = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = studio.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let n = sock.read(&mut buf).await.unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).to_string();
        let page = "<p>Signed in: go back to the studio.</p>";
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        );
        sock.write_all(answer.as_bytes()).await.unwrap();
        request.split_whitespace().nth(1).unwrap_or_default().to_string()
    });
    let delivered = browser().get(&ended.location).send().await.unwrap();
    assert_eq!(delivered.status(), 200);
    let path = listener.await.unwrap();
    let got = query_of(&format!("http://127.0.0.1{path}"));
    assert!(path.starts_with("/signed-in?"), "{path}");
    assert_eq!(got["state"], "studio-state-1", "the studio's own state comes back");
    let code = got["code"].clone();
    secrets.extend([code.clone(), verifier.clone()]);

    // Another verifier: refused, and the code is spent by the attempt.
    let (status, body) = trade(app, &code, &cloud_api::sso::random()).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("link_invalid")), "{body}");
    assert_eq!(trade(app, &code, &verifier).await.0, 422, "spent by the wrong verifier");
    // A fresh code: not a hand-off link the web app could spend without the verifier.
    let ended = sign_in(app, op, &alice, "alice").await;
    let code = query_of(&ended.location)["code"].clone();
    secrets.push(code.clone());
    let r = browser().post(format!("{}/api/auth/handoff/redeem", app.base)).json(&json!({"token": code})).send();
    assert_eq!(r.await.unwrap().status(), 422, "a native code is no hand-off");
    let (status, signed) = trade(app, &code, &verifier).await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["user"]["email"], "alice@northside.test");
    let me = app.get("/api/auth/me", signed["token"].as_str().unwrap()).await;
    assert_eq!(me.body["email"], "alice@northside.test", "{:?}", me.body);
    assert_eq!(trade(app, &code, &verifier).await.0, 422, "once");
    let (status, body) = trade(app, &code, "short").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")), "{body}");

    // Bad redirects, challenges and states are refused before anyone is sent anywhere.
    for (why, q) in [
        ("another host", native_query("alice@northside.test", "http://evil.test:8080/", &challenge, "S256", "s")),
        ("localhost", native_query("alice@northside.test", "http://localhost:8080/", &challenge, "S256", "s")),
        ("no port", native_query("alice@northside.test", "http://127.0.0.1/", &challenge, "S256", "s")),
        ("plain PKCE", native_query("alice@northside.test", &redirect, &verifier, "plain", "s")),
        ("short challenge", native_query("alice@northside.test", &redirect, "abc", "S256", "s")),
        ("no state", native_query("alice@northside.test", &redirect, &challenge, "S256", "")),
    ] {
        let r = browser().get(format!("{}/api/auth/sso/start?{q}", app.base)).send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")), "{why}: {body}");
    }

    // Refused, the studio hears why at its loopback address (and shows the words).
    let carol = native_query("carol@northside.test", &redirect, &challenge, "S256", "studio-state-2");
    let refused = sign_in(app, op, &carol, "carol").await;
    assert_eq!(refused.status, 302, "{}", refused.page);
    let why = query_of(&refused.location);
    assert!(refused.location.starts_with(&redirect), "{}", refused.location);
    assert_eq!((why["error"].as_str(), why["error_reason"].as_str()), ("access_denied", "no_account"), "{why:?}");
    assert!(why["error_description"].contains("no account for you here"), "{why:?}");
    assert_eq!(why["state"], "studio-state-2");
    assert!(!why.contains_key("code"));
}

async fn single_sign_on(db: Db) {
    let logs = server_logs();
    let mut secrets = vec!["n0rthside-s3cret".to_string(), "verysecure".to_string()];
    let app = TestApp::spawn_web(db).await;
    let s = app.school("Northside").await;
    let other = app.school("Southside").await;
    let student = [(Role::Student, Scope::Course, s.course.0)];
    let alice = app.user(s.tenant, "alice@northside.test", &student).await;
    app.user(s.tenant, "bob@northside.test", &student).await;
    // The school's admin until now; the provider now says she is staff, not IT.
    app.user(s.tenant, "erin@northside.test", &[(Role::Admin, Scope::Tenant, s.tenant.0)]).await;
    // An account at the other school whose email is of this school's domain.
    app.user(other.tenant, "olga@northside.test", &[(Role::Student, Scope::Course, other.course.0)]).await;

    let dir = cloud_api::spawned::Scratch::new("oidc");
    std::fs::create_dir_all(&dir).unwrap();
    let person = |id: &str, email: &str, verified: bool| {
        json!({"ID": id, "Username": id, "Password": "verysecure", "FirstName": id, "LastName": "Test",
               "Email": email, "EmailVerified": verified, "PreferredLanguage": "en"})
    };
    let mut users = json!({
        "erin": person("erin", "erin@northside.test", true),
        "alice": person("alice", "alice@northside.test", true),
        "bob": person("bob", "bob@northside.test", false),
        "carol": person("carol", "carol@northside.test", true),
        "dave": person("dave", "dave@elsewhere.test", true),
        "olga": person("olga", "olga@northside.test", true),
    });
    users["alice"]["Groups"] = json!(["staff", "physics"]);
    users["erin"]["Groups"] = json!(["staff"]);
    let users_file = dir.join("users.json");
    std::fs::write(&users_file, users.to_string()).unwrap();
    let callback = format!("{}/api/auth/sso/callback", app.base);
    let op = OidcOp::start(&[
        ("CLIENT_ID", "northside-studio"),
        ("CLIENT_SECRET", "n0rthside-s3cret"),
        ("REDIRECT_URI", &callback),
        ("USERS_FILE", users_file.to_str().unwrap()),
    ]);

    // The school's admin sets it up; the secret is kept, never read back.
    let path = format!("/api/admin/tenants/{}/sso", s.tenant);
    assert_eq!(app.get(&path, &s.admin.token).await.status, 404, "none yet");
    let settings = json!({"issuer": op.issuer, "clientId": "northside-studio", "clientSecret": "n0rthside-s3cret",
                          "allowedDomains": ["Northside.test"], "passwordSignIn": true});
    let teacher = app.put(&path, &s.teacher.token, settings.clone()).await;
    assert_eq!(teacher.status, 403, "only the school's admins: {:?}", teacher.body);
    let elsewhere = app.put(&path, &other.admin.token, settings.clone()).await;
    assert_eq!(elsewhere.status, 404, "another school's admin: {:?}", elsewhere.body);
    for (field, bad) in [
        ("issuer", json!("http://login.northside.test/")),
        ("issuer", json!("http://127.0.0.1:9/")),
        ("allowedDomains", json!([])),
        ("allowedDomains", json!(["not a domain"])),
        ("clientId", json!(" ")),
    ] {
        let mut b = settings.clone();
        b[field] = bad.clone();
        let a = app.put(&path, &s.admin.token, b).await;
        assert_eq!(
            (a.status.as_u16(), a.body["code"].as_str()),
            (422, Some("validation_failed")),
            "{field} {bad}: {:?}",
            a.body
        );
    }
    let mut first = settings.clone();
    first.as_object_mut().unwrap().remove("clientSecret");
    assert_eq!(app.put(&path, &s.admin.token, first).await.status, 422, "a secret the first time");
    let set = app.put(&path, &s.admin.token, settings.clone()).await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(set.body["allowedDomains"], json!(["northside.test"]));
    assert_eq!(set.body["secretSet"], true);
    assert!(set.body.get("clientSecret").is_none() && !set.raw.windows(8).any(|w| w == b"s3cret\"}"));
    let got = app.get(&path, &s.admin.token).await;
    assert_eq!((got.body["issuer"].as_str(), got.body.get("clientSecret")), (Some(op.issuer.as_str()), None));
    let taken =
        app.put(&format!("/api/admin/tenants/{}/sso", other.tenant), &other.admin.token, settings.clone()).await;
    assert_eq!(taken.status, 409, "northside.test is this school's: {:?}", taken.body);

    // Alice signs in with her school and lands in the app, as herself.
    let ended = sign_in(&app, &op, "email=alice%40northside.test&next=%23%2Fcourses", "alice").await;
    secrets.extend(secrets_of(&ended));
    assert!(ended.location.ends_with("&next=/courses"), "{}", ended.location);
    let signed = landed(&app, &ended).await;
    assert_eq!(
        (signed["user"]["id"].as_str(), signed["user"]["email"].as_str()),
        (Some(alice.id.to_string().as_str()), Some("alice@northside.test"))
    );
    let me = app.get("/api/auth/me", signed["token"].as_str().unwrap()).await;
    assert_eq!(me.body["tenantId"], s.tenant.to_string());

    // The same callback again (its state spent): refused; a forged state too.
    let again = browser().get(&ended.callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("data-reason=\"state_invalid\""));
    let forged = browser().get(format!("{}/api/auth/sso/callback?code=x&state=forged", app.base)).send().await.unwrap();
    assert_eq!(forged.status(), 400);
    // A code spent once, brought back under a fresh state: the provider refuses it.
    let fresh =
        browser().get(format!("{}/api/auth/sso/start?email=alice%40northside.test", app.base)).send().await.unwrap();
    let state =
        url::Url::parse(&location(&fresh)).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let code =
        url::Url::parse(&ended.callback).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let replayed = browser()
        .get(format!("{}/api/auth/sso/callback", app.base))
        .query(&[("code", code.as_str()), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    assert!(replayed.text().await.unwrap().contains("data-reason=\"token_invalid\""));

    // Refused, each with words: an unverified email, no account here, an account only at another
    // school, a domain this school does not sign in.
    refused(&sign_in(&app, &op, "email=bob%40northside.test", "bob").await, 403, "email_unverified");
    let carol = sign_in(&app, &op, "email=carol%40northside.test", "carol").await;
    secrets.extend(secrets_of(&carol));
    refused(&carol, 403, "no_account");
    assert!(carol.page.contains("no account for you here"), "{}", carol.page);
    refused(&sign_in(&app, &op, "email=olga%40northside.test", "olga").await, 403, "no_account");
    let dave = sign_in(&app, &op, &format!("tenant={}", s.tenant), "dave").await;
    refused(&dave, 403, "domain_not_allowed");
    assert!(dave.page.contains("elsewhere.test"), "{}", dave.page);
    let unknown =
        browser().get(format!("{}/api/auth/sso/start?email=x%40elsewhere.test", app.base)).send().await.unwrap();
    assert_eq!(unknown.status(), 404, "no school signs in elsewhere.test");

    // The provider rotates its signing key: the next sign-in still verifies (its keys fetched again).
    let kid = op.rotate().await;
    assert!(!kid.is_empty());
    let rotated = sign_in(&app, &op, "email=alice%40northside.test", "alice").await;
    secrets.extend(secrets_of(&rotated));
    landed(&app, &rotated).await;

    // The studio signs in through the system browser (RFC 8252): its loopback address gets a code
    // that only its PKCE verifier trades for a session.
    native_sign_in(&app, &op, &mut secrets).await;
    let traded = app.get("/api/admin/audit?action=auth.sso_token", &s.admin.token).await.body;
    let traded: Vec<(String, String)> = traded["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["outcome"].as_str().unwrap().to_string(), e["target"].as_str().unwrap_or_default().to_string()))
        .collect();
    let alice_target = format!("user:{}", alice.id);
    for outcome in ["ok", "refused"] {
        assert!(traded.contains(&(outcome.to_string(), alice_target.clone())), "{outcome}: {traded:?}");
    }

    // Every outcome is in the school's audit trail, with its reason.
    let audit = app.get("/api/admin/audit?action=auth.sso", &s.admin.token).await;
    assert_eq!(audit.status, 200, "{:?}", audit.body);
    let entries = audit.body["entries"].as_array().unwrap();
    let seen: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e["outcome"].as_str().unwrap().to_string(), e["target"].as_str().unwrap().to_string()))
        .collect();
    for (outcome, target) in [
        ("ok", format!("user:{}", alice.id)),
        ("failed", "sso:token_invalid".to_string()),
        ("denied", "sso:email_unverified".to_string()),
        ("denied", "sso:no_account".to_string()),
        ("denied", "sso:domain_not_allowed".to_string()),
    ] {
        assert!(seen.iter().any(|(o, t)| o == outcome && t.starts_with(&target)), "{outcome} {target}: {seen:?}");
    }
    assert!(!audit.raw.windows(code.len()).any(|w| w == code.as_bytes()), "no code in the audit trail");
    // A callback whose state no sign-in gave names no school: the platform's admins see it.
    cloud_api::app::create_platform_admin(&app.store, "root@sso.test", PASSWORD).await.unwrap();
    let root = app.login("root@sso.test", PASSWORD).await.body["token"].as_str().unwrap().to_string();
    let all = app.get("/api/admin/audit?action=auth.sso", &root).await.body["entries"].as_array().unwrap().clone();
    assert!(
        all.iter().any(|e| e["outcome"] == "refused" && e["target"] == "sso:state_invalid" && e["tenantId"].is_null()),
        "{all:?}"
    );

    // The provider says people's roles: its `groups` claim maps to school-wide roles, which follow it
    // at each sign-in — given to Alice (staff), taken from Erin (no longer in IT); course grants stay.
    let mut roles = settings.clone();
    roles.as_object_mut().unwrap().remove("clientSecret");
    roles["roleMap"] = json!([{"value": "staff", "role": "teacher"}]);
    assert_eq!(app.put(&path, &s.admin.token, roles.clone()).await.status, 422, "a map needs its claim");
    roles["roleClaim"] = json!("groups");
    roles["roleMap"] = json!([{"value": "staff", "role": "wizard"}]);
    assert_eq!(app.put(&path, &s.admin.token, roles.clone()).await.status, 422, "a role of ours");
    roles["roleMap"] = json!([{"value": "staff", "role": "teacher"}, {"value": "it", "role": "admin"}]);
    let set = app.put(&path, &s.admin.token, roles.clone()).await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!((&set.body["roleClaim"], &set.body["roleMap"]), (&json!("groups"), &roles["roleMap"]));
    let grants = |me: &Value| me["roles"].to_string();
    let tenant_role = |role: &str| format!("\"role\":\"{role}\",\"scope\":\"tenant\",\"scopeId\":\"{}\"", s.tenant);
    let alice_in = landed(&app, &sign_in(&app, &op, "email=alice%40northside.test", "alice").await).await;
    let me = app.get("/api/auth/me", alice_in["token"].as_str().unwrap()).await.body;
    assert!(grants(&me).contains(&tenant_role("teacher")), "{me}");
    assert!(grants(&me).contains("\"role\":\"student\"") && !grants(&me).contains("admin"), "{me}");
    let erin_in = landed(&app, &sign_in(&app, &op, "email=erin%40northside.test", "erin").await).await;
    let me = app.get("/api/auth/me", erin_in["token"].as_str().unwrap()).await.body;
    assert!(grants(&me).contains(&tenant_role("teacher")) && !grants(&me).contains(&tenant_role("admin")), "{me}");

    // Password sign-in switched off: a password is refused with the way to sign in instead.
    let mut only = settings.clone();
    only["passwordSignIn"] = json!(false);
    only.as_object_mut().unwrap().remove("clientSecret");
    assert_eq!(app.put(&path, &s.admin.token, only).await.status, 200, "the secret kept");
    let pw = app.login("alice@northside.test", PASSWORD).await;
    assert_eq!(pw.status, 403, "{:?}", pw.body);
    assert!(pw.body["message"].as_str().unwrap().contains("Sign in with your school"), "{:?}", pw.body);
    let wrong = app.login("alice@northside.test", "not the password").await;
    assert_eq!(wrong.status, 401, "a wrong password says no more than before");
    landed(&app, &sign_in(&app, &op, "email=alice%40northside.test", "alice").await).await;
    assert_eq!(app.login(&other.student.email, PASSWORD).await.status, 200, "other schools unchanged");

    // Nothing secret reached a log line: not the client secret, a password, a code, a state or a
    // hand-off token (the refusals were logged, so the capture works).
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(text.contains("single sign-on refused"), "the server's logs are captured");
    assert!(secrets.len() >= 8, "{secrets:?}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "{secret} is in the logs");
    }

    // In Chromium, from the sign-in page's button through the provider's own login form.
    if db == Db::Sqlite {
        let shots = cloud_api::spawned::screenshots("sso");
        let env: [(&str, &std::ffi::OsStr); 6] = [
            ("BASE", app.base.as_ref()),
            ("EMAIL", "alice@northside.test".as_ref()),
            ("USERNAME", "alice".as_ref()),
            ("REFUSED_EMAIL", "carol@northside.test".as_ref()),
            ("REFUSED_USERNAME", "carol".as_ref()),
            ("SHOTS", shots.as_os_str()),
        ];
        let (r, stderr) = browser_script("sso.mjs", &env).await;
        println!("sso in Chromium: {r}\nscreenshots in {}", shots.display());
        assert!(r["error"].is_null(), "{}\n{stderr}", r["error"]);
        assert!(r["noEmail"].as_str().unwrap().contains("school email"), "{r}");
        assert_eq!(r["providerHost"], op.issuer.trim_start_matches("http://").trim_end_matches('/'), "{r}");
        assert_eq!(r["who"], "alice@northside.test", "{r}");
        assert_eq!(r["refused"]["reason"], "no_account", "{r}");
        assert!(r["refused"]["words"].as_str().unwrap().contains("no account for you here"), "{r}");
        assert_eq!(
            (r["refusedOverflow"].as_i64(), &r["axeSignIn"], &r["axeRefused"]),
            (Some(0), &json!([]), &json!([])),
            "{r}"
        );
        assert_eq!(r["csp"], json!([]), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_single_sign_on() {
    single_sign_on(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_single_sign_on() {
    single_sign_on(Db::Postgres).await;
}

/// The ID token checks on claims a provider would not issue itself, signed by the real provider's key
/// (its test hook): each is refused for its own reason; the well-formed one passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_that_do_not_check_out() {
    let op =
        OidcOp::start(&[("CLIENT_ID", "studio"), ("CLIENT_SECRET", "s"), ("REDIRECT_URI", "http://127.0.0.1:9/cb")]);
    let oidc = cloud_api::sso::Oidc::new();
    let p = oidc.discover(&op.issuer).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let good = json!({"iss": op.issuer, "sub": "id1", "aud": ["studio"], "azp": "studio", "exp": now + 300, "iat": now, "nonce": "n1"});
    let check = |claims: Value, stranger: bool| {
        let (op, oidc, p) = (&op, &oidc, p.clone());
        async move {
            let token = op.sign(&claims, stranger).await;
            oidc.check_id_token(&p, &token, "studio", "n1").await
        }
    };
    assert_eq!(check(good.clone(), false).await.unwrap().sub, "id1");
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    for (claims, why) in [
        (with("aud", json!(["someone-else"])), "another client"),
        (
            with("aud", json!(["studio", "someone-else"]))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.remove("azp");
                    Value::Object(o)
                })
                .unwrap(),
            "azp",
        ),
        (with("azp", json!("someone-else")), "azp"),
        (with("iss", json!("http://127.0.0.1:9/")), "another issuer"),
        (with("exp", json!(now - 3600)), "expired"),
        (with("iat", json!(now + 3600)), "future"),
        (with("nonce", json!("n2")), "nonce"),
        (with("sub", json!("")), "subject"),
    ] {
        match check(claims.clone(), false).await {
            Err(cloud_api::sso::Refusal::Token(d)) => assert!(d.contains(why), "{why}: {d}"),
            other => panic!("{claims}: {other:?}"),
        }
    }
    // Signed by a key the provider does not publish (same key id): the signature does not verify.
    match check(good.clone(), true).await {
        Err(cloud_api::sso::Refusal::Token(d)) => assert!(d.contains("signature"), "{d}"),
        other => panic!("{other:?}"),
    }
    // Not RS256 (unsigned, "none"): refused before any key is looked at.
    let b64 = |v: &Value| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, v.to_string());
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&good));
    match oidc.check_id_token(&p, &none, "studio", "n1").await {
        Err(cloud_api::sso::Refusal::Token(d)) => assert!(d.contains("RS256"), "{d}"),
        other => panic!("{other:?}"),
    }
}
