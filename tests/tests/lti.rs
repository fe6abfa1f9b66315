//! LTI 1.3 launches from a learning platform we did not write (`tests/support/lti_platform.py`:
//! PyPI `lti1p3platform`, which builds and signs the launches), followed through their real
//! redirects: the school's admin registers the platform; an instructor's first launch makes the
//! course and the lesson, schedules the class and lands in the present view, as the account the
//! roster made for them; a learner's lands in the class (its replay once it has ended), made the
//! first time and found again after; a teaching assistant's is an assistant; an email of another
//! school's account is not taken. Refused, each with words and an audit entry: a learner before any
//! instructor, a person with no role we place, a replayed launch, an id_token brought back under a
//! fresh login (its nonce), an expired one, one re-signed by a key the platform does not publish,
//! one whose claims were changed, another deployment, an unknown platform. The course's roster
//! comes from the platform's names and roles service, called with the tool's own signed assertion;
//! a rotated tool key is published and used at once. Deep linking: the instructor places a new class
//! from the platform's editor, the platform takes the signed answer, and its link opens that class.
//! No id_token, state or
//! hand-off token is in the server's logs. In Chromium: the course page's link lands the instructor
//! in the present view and the learner in the class, on a phone too.

use serde_json::{json, Value};
use shared_types::{Role, Scope};
use std::collections::HashMap;
use studio_tests::*;

/// A browser without cookies that does not follow redirects: each hop is looked at.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The value of a hidden input of the platform's auto-posting form.
fn field(form: &str, name: &str) -> String {
    let at = form.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("{name} in {form}"));
    let rest = &form[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].replace("&amp;", "&")
}

/// How a launch ended at the tool.
struct Launched {
    status: u16,
    /// The hand-off link into the app (landed), or empty.
    location: String,
    page: String,
    /// What the browser posted, to post again.
    id_token: String,
    state: String,
}

/// From the course page's link to the tool's answer, as a browser goes: the platform's login
/// initiation, the tool's redirect to the platform's authorization, the auto-posted form.
async fn launch(app: &TestApp, platform: &LtiPlatform, user: &str, forge: &str) -> Launched {
    launch_with(app, platform, user, &format!("forge={forge}")).await
}

/// [`launch`], the course page's link taking `more` (`kind=deeplink`, `link=placed`, …).
async fn launch_with(app: &TestApp, platform: &LtiPlatform, user: &str, more: &str) -> Launched {
    let b = browser();
    let r = b.get(platform.url(&format!("/start?user={user}&{more}"))).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let login = location(&r);
    assert!(login.starts_with(&format!("{}/api/lti/login?", app.base)), "{login}");
    let r = b.get(&login).send().await.unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap_or_default());
    let authorize = location(&r);
    assert!(authorize.starts_with(&platform.vars["LTI_AUTH_URL"]), "{authorize}");
    let q = query_of(&authorize);
    for (k, v) in [
        ("scope", "openid"),
        ("response_type", "id_token"),
        ("response_mode", "form_post"),
        ("prompt", "none"),
        ("client_id", platform.vars["LTI_CLIENT_ID"].as_str()),
        ("login_hint", user),
    ] {
        assert_eq!(q.get(k).map(String::as_str), Some(v), "{k}: {authorize}");
    }
    assert_eq!(q["redirect_uri"], format!("{}/api/lti/launch", app.base));
    assert!(q["state"].len() >= 40 && q["nonce"].len() >= 40 && q["state"] != q["nonce"], "{q:?}");
    let r = b.get(&authorize).send().await.unwrap();
    assert_eq!(r.status(), 200, "the platform took the tool's request");
    let form = r.text().await.unwrap();
    let action = form.split("action=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_string();
    assert_eq!(action, format!("{}/api/lti/launch", app.base));
    let (id_token, state) = (field(&form, "id_token"), field(&form, "state"));
    assert_eq!(state, q["state"], "the platform gives our state back");
    post_launch(&action, &id_token, &state).await
}

async fn post_launch(action: &str, id_token: &str, state: &str) -> Launched {
    let r = browser().post(action).form(&[("id_token", id_token), ("state", state)]).send().await.unwrap();
    let status = r.status().as_u16();
    let location = location(&r);
    let page = r.text().await.unwrap();
    Launched { status, location, page, id_token: id_token.to_string(), state: state.to_string() }
}

/// Spend the hand-off link: the signed-in answer, and the app route it lands on.
async fn landed(app: &TestApp, l: &Launched) -> (Value, String) {
    assert_eq!(l.status, 302, "{}", l.page);
    assert!(l.location.starts_with(&format!("{}/app/#/handoff?", app.base)), "{}", l.location);
    let q = query_of(&l.location.replacen("/#/", "/", 1));
    let r = browser().post(format!("{}/api/auth/handoff/redeem", app.base)).json(&json!({"token": q["token"]})).send();
    let r = r.await.unwrap();
    assert_eq!(r.status(), 200);
    (r.json().await.unwrap(), q["next"].clone())
}

fn refused(l: &Launched, status: u16, reason: &str) {
    assert_eq!(l.status, status, "{reason}: {}", l.page);
    assert!(l.page.contains(&format!("data-reason=\"{reason}\"")), "{reason}: {}", l.page);
}

/// The tool's published keys, as a platform fetches them.
async fn jwks(app: &TestApp) -> Value {
    browser().get(format!("{}/api/lti/jwks", app.base)).send().await.unwrap().json().await.unwrap()
}

fn token(signed: &Value) -> String {
    signed["token"].as_str().unwrap().to_string()
}

async fn lti_launches(db: Db) {
    let logs = server_logs();
    let app = TestApp::spawn_web(db).await;
    let s = app.school("Northside").await;
    let other = app.school("Southside").await;
    // The roster made Tess's account (no course yet); Tom's email is an account at another school.
    let tess = app.user(s.tenant, "tess@northside.test", &[]).await;
    let other_grant = [(Role::Student, Scope::Course, other.course.0)];
    let other_tom = app.user(other.tenant, "tom@northside.test", &other_grant).await;
    let platform = LtiPlatform::start(&app.base);
    let mut secrets = Vec::new();

    // The school's admin registers the platform, with what its registration page says.
    let path = format!("/api/admin/tenants/{}/lti/platforms", s.tenant);
    let listed = app.get(&path, &s.admin.token).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["platforms"], json!([]));
    assert_eq!(listed.body["tool"]["loginUrl"], format!("{}/api/lti/login", app.base));
    assert_eq!(listed.body["tool"]["launchUrl"], format!("{}/api/lti/launch", app.base));
    let registration = json!({
        "issuer": platform.vars["LTI_ISS"], "clientId": platform.vars["LTI_CLIENT_ID"],
        "deploymentIds": [platform.vars["LTI_DEPLOYMENT_ID"]], "authUrl": platform.vars["LTI_AUTH_URL"],
        "jwksUrl": platform.vars["LTI_JWKS_URL"], "tokenUrl": platform.vars["LTI_TOKEN_URL"],
    });
    assert_eq!(app.post(&path, &s.teacher.token, registration.clone()).await.status, 403, "admins only");
    let elsewhere = format!("/api/admin/tenants/{}/lti/platforms", s.tenant);
    assert_eq!(app.post(&elsewhere, &other.admin.token, registration.clone()).await.status, 404, "another school's");
    for (f, bad) in [
        ("issuer", json!("http://lms.northside.test")),
        ("authUrl", json!("not a url")),
        ("clientId", json!("two words")),
        ("deploymentIds", json!([])),
        ("deploymentIds", json!(["a,b"])),
    ] {
        let mut b = registration.clone();
        b[f] = bad.clone();
        let a = app.post(&path, &s.admin.token, b).await;
        assert_eq!((a.status.as_u16(), a.body["code"].as_str()), (422, Some("validation_failed")), "{f} {bad}");
    }
    let added = app.post_key(&path, &s.admin.token, registration.clone(), "register-lms").await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert!(added.body["id"].is_string());
    let again = app.post_key(&path, &s.admin.token, registration.clone(), "register-lms").await;
    assert_eq!((again.status.as_u16(), &again.body), (201, &added.body), "the same request, replayed by its key");
    assert_eq!(app.post(&path, &s.admin.token, registration.clone()).await.status, 409, "registered already");
    let mut other_key = registration.clone();
    other_key["deploymentIds"] = json!(["deployment-2"]);
    assert_eq!(app.post(&path, &s.admin.token, other_key.clone()).await.status, 409, "registered already");
    let other_path = format!("/api/admin/tenants/{}/lti/platforms", other.tenant);
    assert_eq!(app.post(&other_path, &other.admin.token, other_key).await.status, 409, "another school's now");
    assert_eq!(app.get(&path, &s.admin.token).await.body["platforms"].as_array().unwrap().len(), 1);

    // A learner before any instructor: the class is not there yet.
    let early = launch(&app, &platform, "learner-1", "").await;
    refused(&early, 409, "not_set_up");
    assert!(early.page.contains("has not opened this class"), "{}", early.page);

    // The instructor's first launch: the course, the lesson and a class now; the present view, as Tess.
    let first = launch(&app, &platform, "teacher-1", "").await;
    secrets.extend([first.id_token.clone(), first.state.clone()]);
    let (signed, next) = landed(&app, &first).await;
    assert_eq!(signed["user"]["id"], tess.id.to_string(), "the roster's account");
    let courses = app.get("/api/courses", &token(&signed)).await.body;
    let physics: Vec<&Value> = courses.as_array().unwrap().iter().filter(|c| c["title"] == "Physics 101").collect();
    assert_eq!(physics.len(), 1, "{courses}");
    let course = physics[0]["id"].as_str().unwrap().to_string();
    let lessons = app.get(&format!("/api/courses/{course}/lessons"), &token(&signed)).await.body;
    assert_eq!(lessons.as_array().unwrap().len(), 1, "{lessons}");
    assert_eq!(lessons[0]["title"], "Waves");
    let lesson = lessons[0]["id"].as_str().unwrap().to_string();
    let sessions = app.get(&format!("/api/lessons/{lesson}/sessions"), &token(&signed)).await.body;
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    let session = sessions[0]["id"].as_str().unwrap().to_string();
    assert_eq!(next, format!("/sessions/{session}/present"));
    let me = app.get("/api/auth/me", &token(&signed)).await.body;
    assert!(me.to_string().contains(&format!("\"role\":\"teacher\",\"scope\":\"course\",\"scopeId\":\"{course}\"")));
    // Launched again: the same course, lesson and class.
    let (_, again) = landed(&app, &launch(&app, &platform, "teacher-1", "").await).await;
    assert_eq!(again, next);
    assert_eq!(app.get(&format!("/api/lessons/{lesson}/sessions"), &token(&signed)).await.body, sessions);

    // The learner now: made the first time, into the class; the same person the next time.
    let (lea, next) = landed(&app, &launch(&app, &platform, "learner-1", "").await).await;
    assert_eq!(next, format!("/sessions/{session}"));
    assert_eq!(
        (lea["user"]["email"].as_str(), lea["user"]["displayName"].as_str()),
        (Some("lea@northside.test"), Some("Lea Learner"))
    );
    assert_eq!(lea["user"]["tenantId"], s.tenant.to_string());
    let lea_me = app.get("/api/auth/me", &token(&lea)).await.body.to_string();
    assert!(
        lea_me.contains(&format!("\"role\":\"student\",\"scope\":\"course\",\"scopeId\":\"{course}\"")),
        "{lea_me}"
    );
    assert_eq!(app.get(&format!("/api/sessions/{session}"), &token(&lea)).await.status, 200);
    let (lea_again, _) = landed(&app, &launch(&app, &platform, "learner-1", "").await).await;
    assert_eq!(lea_again["user"]["id"], lea["user"]["id"]);
    assert_eq!(app.login("lea@northside.test", PASSWORD).await.status, 401, "no password of her own");
    // No email from the platform: an address of their own.
    let (leo, _) = landed(&app, &launch(&app, &platform, "learner-2", "").await).await;
    assert!(leo["user"]["email"].as_str().unwrap().ends_with("@lti.invalid"), "{leo}");
    // The assistant: an assistant; the other school's Tom is not theirs to take.
    let (tom, next) = landed(&app, &launch(&app, &platform, "ta-1", "").await).await;
    assert_eq!(next, format!("/sessions/{session}"));
    assert_ne!(tom["user"]["id"], other_tom.id.to_string());
    assert!(tom["user"]["email"].as_str().unwrap().ends_with("@lti.invalid"), "{tom}");
    assert_eq!(tom["user"]["tenantId"], s.tenant.to_string());
    let tom_me = app.get("/api/auth/me", &token(&tom)).await.body.to_string();
    assert!(tom_me.contains("\"role\":\"assistant\""), "{tom_me}");
    assert_eq!(app.login("tom@northside.test", PASSWORD).await.status, 200, "the other school's Tom unchanged");

    // The tool's keys are published; the platform's names and roles service, called with the token
    // an assertion signed by the tool's key got, fills the course: Lia, who never launched, is made;
    // the staff member (no course role) and the member who left are passed over.
    let keys = jwks(&app).await;
    let keys = keys["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!((keys[0]["kty"].as_str(), keys[0]["alg"].as_str()), (Some("RSA"), Some("RS256")));
    assert!(keys[0]["n"].as_str().unwrap().len() > 300 && keys[0].get("d").is_none(), "public, 2048 bits");
    let roster = format!("/api/courses/{course}/lti/roster");
    assert_eq!(app.post(&roster, &token(&lea), json!({})).await.status, 403, "a student");
    let synced = app.post(&roster, &token(&signed), json!({})).await;
    assert_eq!(synced.status, 200, "{:?}", synced.body);
    assert_eq!(synced.body, json!({"enrolled": 5, "made": 1, "skipped": 2}));
    let people = app.get(&format!("/api/courses/{course}/people"), &token(&signed)).await;
    let people = String::from_utf8_lossy(&people.raw).to_string();
    assert!(
        people.contains("Lia Learner") && !people.contains("Sam Staff") && !people.contains("Gus Gone"),
        "{people}"
    );
    let again = app.post(&roster, &token(&signed), json!({})).await;
    assert_eq!(again.body, json!({"enrolled": 5, "made": 0, "skipped": 2}), "nobody twice");
    let elsewhere = app.post(&format!("/api/courses/{}/lti/roster", s.course), &s.teacher.token, json!({})).await;
    assert_eq!(elsewhere.status, 409, "a course no platform lists: {:?}", elsewhere.body);
    // A new tool key signs from now on; the old one stays published; the platform sees the new one.
    cloud_api::app::create_platform_admin(&app.store, "root@lti.test", PASSWORD).await.unwrap();
    let root = app.login("root@lti.test", PASSWORD).await.body["token"].as_str().unwrap().to_string();
    assert_eq!(app.post("/api/admin/lti/keys", &s.admin.token, json!({})).await.status, 403, "platform admins only");
    let rotated = app.post("/api/admin/lti/keys", &root, json!({})).await;
    assert_eq!(rotated.status, 201, "{:?}", rotated.body);
    let kid = rotated.body["kid"].as_str().unwrap().to_string();
    assert_eq!(rotated.body["published"], json!([kid.clone(), keys[0]["kid"].as_str().unwrap()]));
    assert_eq!(jwks(&app).await["keys"][0]["kid"], kid.as_str());
    assert_eq!(app.post(&roster, &token(&signed), json!({})).await.status, 200, "signed with the new key");

    // Deep linking: the instructor places a new class in the course from the platform's editor; the
    // platform takes the tool's signed answer (checked against the tool's keys, the rotated one now).
    let chooser = launch_with(&app, &platform, "teacher-1", "kind=deeplink").await;
    assert_eq!(chooser.status, 200, "{}", chooser.page);
    assert!(
        chooser.page.contains("Place a class in Physics 101") && chooser.page.contains("Waves"),
        "{}",
        chooser.page
    );
    let pick = field(&chooser.page, "pick");
    secrets.push(pick.clone());
    let choose = [("pick", pick.as_str()), ("lesson", "new"), ("title", "Optics")];
    let placed = browser().post(format!("{}/api/lti/deep-link", app.base)).form(&choose).send().await.unwrap();
    assert_eq!(placed.status(), 200);
    let csp = placed.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains(&format!("form-action {}", platform.url(""))) && csp.contains("script-src 'sha256-"), "{csp}");
    let page = placed.text().await.unwrap();
    let action = page.split("action=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_string();
    assert_eq!(action, platform.url("/deeplink/return"));
    let jwt = field(&page, "JWT");
    let answer: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["aud"], json!([platform.vars["LTI_ISS"]]));
    assert_eq!(answer["iss"], platform.vars["LTI_CLIENT_ID"].as_str());
    assert_eq!(
        answer["https://purl.imsglobal.org/spec/lti-dl/claim/data"],
        json!({"placement": "week-1"}),
        "given back"
    );
    let taken = browser().post(&action).form(&[("JWT", jwt.as_str())]).send().await.unwrap();
    assert_eq!(taken.status(), 200, "the platform took the answer: {}", taken.text().await.unwrap_or_default());
    let items: Value = browser().get(platform.url("/_test/deeplinks")).send().await.unwrap().json().await.unwrap();
    let item = &items[0][0];
    assert_eq!((item["type"].as_str(), item["title"].as_str()), (Some("ltiResourceLink"), Some("Optics")), "{items}");
    assert_eq!(item["url"], format!("{}/api/lti/launch", app.base));
    let lessons = app.get(&format!("/api/courses/{course}/lessons"), &token(&signed)).await.body;
    let titles: Vec<&str> = lessons.as_array().unwrap().iter().map(|l| l["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Waves", "Optics"]);
    assert_eq!(item["custom"]["lesson"], lessons[1]["id"]);
    let again = browser().post(format!("{}/api/lti/deep-link", app.base)).form(&choose).send().await.unwrap();
    assert_eq!(again.status(), 400, "the choice is made once");
    refused(&launch_with(&app, &platform, "learner-1", "kind=deeplink").await, 403, "instructors_only");
    // The link the platform made from it opens Optics — no new class made.
    let (_, next) = landed(&app, &launch_with(&app, &platform, "teacher-1", "link=placed").await).await;
    let optics = lessons[1]["id"].as_str().unwrap();
    let optics_sessions = app.get(&format!("/api/lessons/{optics}/sessions"), &token(&signed)).await.body;
    assert_eq!(next, format!("/sessions/{}/present", optics_sessions[0]["id"].as_str().unwrap()));
    let (_, next) = landed(&app, &launch_with(&app, &platform, "learner-1", "link=placed").await).await;
    assert_eq!(next, format!("/sessions/{}", optics_sessions[0]["id"].as_str().unwrap()));
    assert_eq!(app.get(&format!("/api/courses/{course}/lessons"), &token(&signed)).await.body, lessons);

    // Refused, each for its reason.
    refused(&launch(&app, &platform, "staff-1", "").await, 403, "no_role");
    let replayed = post_launch(&format!("{}/api/lti/launch", app.base), &first.id_token, &first.state).await;
    refused(&replayed, 400, "state_invalid");
    // The id_token again under a fresh login's state: its nonce is not this launch's.
    let r = browser().get(platform.url("/start?user=teacher-1")).send().await.unwrap();
    let r = browser().get(location(&r)).send().await.unwrap();
    let fresh_state = query_of(&location(&r))["state"].clone();
    secrets.push(fresh_state.clone());
    let renewed = post_launch(&format!("{}/api/lti/launch", app.base), &first.id_token, &fresh_state).await;
    refused(&renewed, 401, "token_invalid");
    for forge in ["expired", "stranger", "tampered"] {
        let l = launch(&app, &platform, "learner-1", forge).await;
        refused(&l, 401, "token_invalid");
        assert!(l.page.contains("could not verify"), "{forge}: {}", l.page);
    }
    refused(&launch(&app, &platform, "learner-1", "deployment").await, 403, "deployment_unknown");
    let unknown = browser()
        .get(format!("{}/api/lti/login", app.base))
        .query(&[("iss", "https://lms.elsewhere.test"), ("login_hint", "x"), ("target_link_uri", &app.base)])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("data-reason=\"platform_unknown\""));
    let incomplete = browser().get(format!("{}/api/lti/login?iss=x", app.base)).send().await.unwrap();
    assert!(incomplete.text().await.unwrap().contains("data-reason=\"launch_incomplete\""));
    let not_ours = browser()
        .post(format!("{}/api/lti/login", app.base))
        .form(&[
            ("iss", platform.vars["LTI_ISS"].as_str()),
            ("login_hint", "learner-1"),
            ("target_link_uri", "https://elsewhere.test/launch"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(not_ours.status(), 400, "a launch for another tool");

    // The class ends: the learner lands in its replay; the instructor's next launch schedules the next class.
    let start = app.post("/api/sessions/start", &token(&signed), json!({"sessionId": session})).await;
    assert_eq!(start.status, 200, "{:?}", start.body);
    let end = app.post("/api/sessions/end", &token(&signed), json!({"sessionId": session})).await;
    assert_eq!(end.status, 200, "{:?}", end.body);
    let (_, next) = landed(&app, &launch(&app, &platform, "learner-1", "").await).await;
    assert_eq!(next, format!("/sessions/{session}/replay"));
    let (_, next) = landed(&app, &launch(&app, &platform, "teacher-1", "").await).await;
    assert!(next.ends_with("/present") && !next.contains(&session), "a new class: {next}");

    // Every outcome is in the school's audit trail, with its reason.
    let audit = app.get("/api/admin/audit?action=auth.lti_launch", &s.admin.token).await;
    assert_eq!(audit.status, 200, "{:?}", audit.body);
    let seen: Vec<(String, String)> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["outcome"].as_str().unwrap().to_string(), e["target"].as_str().unwrap_or_default().to_string()))
        .collect();
    for (outcome, target) in [
        ("ok", format!("user:{}", tess.id)),
        ("failed", "lti:token_invalid".to_string()),
        ("denied", "lti:deployment_unknown".to_string()),
        ("denied", "lti:no_role".to_string()),
        ("refused", "lti:not_set_up".to_string()),
    ] {
        assert!(seen.iter().any(|(o, t)| o == outcome && t.starts_with(&target)), "{outcome} {target}: {seen:?}");
    }
    // A launch whose state no login gave names no school: the platform's admins see it.
    let all = app.get("/api/admin/audit?action=auth.lti_launch", &root).await.body["entries"].clone();
    let all = all.as_array().unwrap();
    assert!(
        all.iter().any(|e| e["outcome"] == "refused" && e["target"] == "lti:state_invalid" && e["tenantId"].is_null()),
        "{all:?}"
    );
    let signature = first.id_token.rsplit('.').next().unwrap();
    assert!(!String::from_utf8_lossy(&audit.raw).contains(signature), "no id_token in the audit trail");

    // Nothing secret reached a log line.
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(text.contains("lti launch refused"), "the server's logs are captured");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a launch's secret is in the logs");
    }

    // In Chromium, from the platform's course page link.
    if db == Db::Sqlite {
        let shots = cloud_api::spawned::screenshots("lti");
        let url = platform.url("");
        let env: [(&str, &std::ffi::OsStr); 3] =
            [("BASE", app.base.as_ref()), ("PLATFORM", url.as_ref()), ("SHOTS", shots.as_os_str())];
        let (r, stderr) = browser_script("lti.mjs", &env).await;
        println!("lti in Chromium: {r}\nscreenshots in {}", shots.display());
        assert!(r["error"].is_null(), "{}\n{stderr}", r["error"]);
        assert_eq!(r["teacher"]["who"], "tess@northside.test", "{r}");
        assert!(r["teacher"]["hash"].as_str().unwrap().ends_with("/present"), "{r}");
        assert_eq!(r["learner"]["who"], "lea@northside.test", "{r}");
        assert!(r["learner"]["hash"].as_str().unwrap().starts_with("#/sessions/"), "{r}");
        assert_eq!(r["refused"]["reason"], "no_role", "{r}");
        assert_eq!((r["learnerOverflow"].as_i64(), &r["axeRefused"]), (Some(0), &json!([])), "{r}");
        assert_eq!(r["csp"], json!([]), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lti_launches() {
    lti_launches(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lti_launches() {
    lti_launches(Db::Postgres).await;
}
