//! Onboarding in the browser: an admin imports a pupil by roster (the API), the pupil opens the
//! invite link in headless Chromium (`student-web/media/test/account.mjs`), chooses a password and
//! lands on their courses, then changes it from "Your account"; the link works once. Against the
//! real `cloud-api` binary with the demo data; the audit log has each step. The studio's hand-off link
//! signs a fresh browser in as the teacher, once.

use cloud_api::spawned::Spawned;
use serde_json::Value;
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pupil_chooses_a_password_from_the_invite_and_changes_it() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let media = root.join("student-web/media");
    let dist = media.join("dist");
    assert!(dist.join("index.html").exists(), "build the app first: bash scripts/build-web.sh");
    let data = cloud_api::spawned::Scratch::new("studio-account");
    std::fs::create_dir_all(&data).unwrap();
    let dist_s = dist.to_string_lossy().to_string();
    let server =
        Spawned::start(&PathBuf::from(env!("CARGO_BIN_EXE_cloud-api")), &data, &[("STUDENT_WEB_DIR", &dist_s)])
            .expect("cloud-api starts");
    let http = reqwest::Client::new();
    let admin = server.login(&http, "admin@demo.school").await.unwrap();
    let courses: Value = http
        .get(format!("{}/api/courses", server.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let course = courses[0]["id"].as_str().unwrap().to_string();
    let title = courses[0]["title"].as_str().unwrap().to_string();

    let email = "new.pupil@demo.school";
    let csv = format!("email,name,role,courseId\n{email},New Pupil,student,{course}\n");
    let resp = http
        .post(format!("{}/api/admin/users/import", server.base))
        .bearer_auth(&admin)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let imported: Value = resp.json().await.unwrap();
    let link = imported["invites"][0]["link"].as_str().unwrap().to_string();
    assert!(link.starts_with(&server.base), "the link points at this server: {link}");

    // The studio's hand-off for the demo teacher, landing on "Your account".
    let teacher = server.login(&http, "teacher@demo.school").await.unwrap();
    let handoff: Value = http
        .post(format!("{}/api/auth/handoff", server.base))
        .bearer_auth(&teacher)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&serde_json::json!({"next": "#/account"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let handoff = handoff["link"].as_str().expect("a hand-off link").to_string();

    let shots = cloud_api::spawned::screenshots("account");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::process::Command::new("node")
        .arg(media.join("test/account.mjs"))
        .current_dir(&media)
        .env("LINK", &link)
        .env("EMAIL", email)
        .env("SHOTS", &shots)
        .env("HANDOFF", &handoff)
        .stderr(std::process::Stdio::inherit())
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), out).await.expect("finishes").expect("node");
    // A crashed Node (its stderr is above) fails here, not as a missing field below.
    assert!(out.status.success(), "account.mjs exited with {}", out.status);
    let last = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
    let r: Value = serde_json::from_str(&last).unwrap_or_else(|_| panic!("no result line: {last}"));
    println!("screenshots in {}", shots.display());
    assert!(r["error"].is_null(), "{}", r["error"].as_str().unwrap_or_default());

    assert_eq!(r["welcomeTitle"], "Choose your password");
    assert!(r["tooShort"].as_str().unwrap().contains("at least 8"), "{r}");
    assert!(r["mismatch"].as_str().unwrap().contains("not the same"), "{r}");
    assert_eq!(r["signedInAs"], email);
    assert_eq!(r["hashAfter"], "#/", "the token left the address bar");
    assert_eq!(r["courses"], serde_json::json!([title]), "enrolled by the roster");
    assert!(r["wrongCurrent"].as_str().unwrap().contains("not your current password"), "{r}");
    assert!(r["changed"].as_str().unwrap().contains("Password changed"), "{r}");
    assert_eq!(r["fieldsCleared"], true);
    assert!(r["reused"].as_str().unwrap().contains("used already"), "{r}");
    assert_eq!(r["handoffWho"], "teacher@demo.school", "the hand-off signed the browser in");
    assert_eq!(r["handoffHash"], "#/account", "on the route it named, the token gone");
    assert!(r["handoffReused"].as_str().unwrap().contains("used already"), "{r}");
    for (page, found) in r["axe"].as_object().unwrap() {
        assert_eq!(found, &serde_json::json!([]), "axe on {page}: {found}");
    }
    assert_eq!(r["csp"], serde_json::json!([]), "nothing blocked by the CSP");

    // The API agrees: the second password signs in, the first does not; the audit log has each step
    // (the reused link names no account, so only a platform admin sees that refusal).
    let login = |pw: &'static str| {
        http.post(format!("{}/api/auth/login", server.base))
            .json(&serde_json::json!({"email": email, "password": pw}))
            .send()
    };
    assert_eq!(login("my first password").await.unwrap().status(), 401);
    assert_eq!(login("my second password").await.unwrap().status(), 200);
    for (action, outcome) in [
        ("user.import", "ok"),
        ("auth.redeem", "ok"),
        ("auth.password_change", "ok"),
        ("auth.password_change", "refused"),
        ("auth.handoff", "ok"),
        ("auth.handoff_redeem", "ok"),
    ] {
        let page: Value = http
            .get(format!("{}/api/admin/audit?action={action}", server.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let list = page["entries"].as_array().unwrap();
        assert!(list.iter().any(|e| e["outcome"] == outcome), "{action} {outcome} in {list:?}");
    }
}
