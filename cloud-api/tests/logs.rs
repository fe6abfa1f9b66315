//! The logs of the real binary at `debug`, as JSON (`LOG_FORMAT=json`), through a run that handles
//! every kind of secret the API sees — passwords (set, wrong, chosen from an invite, changed), bearer
//! tokens, invite and reset tokens, an RTMP stream key — hold none of them, and every line written
//! while serving a request carries its request id.

use cloud_api::spawned::Spawned;
use serde_json::{json, Value};
use std::path::PathBuf;

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t).header("idempotency-key", uuid::Uuid::new_v4().to_string());
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn token_of(link: &Value) -> String {
    link.as_str().expect("a link").rsplit("token=").next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line() {
    let data = cloud_api::spawned::Scratch::new("studio-logs");
    std::fs::create_dir_all(&data).unwrap();
    let log_path = data.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_cloud-api"));
    let env = [("RUST_LOG", "debug"), ("LOG_FORMAT", "json")];
    let mut server = Spawned::start_logging(&exe, &data, &env, log.into()).expect("cloud-api starts");
    let c = Client { http: reqwest::Client::new(), base: server.base.clone() };
    let mut secrets: Vec<String> = Vec::new();

    let admin = server.login(&c.http, "admin@demo.school").await.unwrap();
    secrets.push(admin.clone());
    let set = "Set-Secret-4471";
    let (s, user) =
        c.send("/api/admin/users", Some(&admin), json!({"email": "logs@demo.school", "password": set})).await;
    assert_eq!(s, 201, "{user}");
    secrets.push(set.into());
    let wrong = "Wrong-Secret-9034";
    assert_eq!(c.send("/api/auth/login", None, json!({"email": "logs@demo.school", "password": wrong})).await.0, 401);
    secrets.push(wrong.into());
    let (s, login) = c.send("/api/auth/login", None, json!({"email": "logs@demo.school", "password": set})).await;
    assert_eq!(s, 200);
    let token = login["token"].as_str().unwrap().to_string();
    secrets.push(token.clone());
    let changed = "Changed-Secret-2290";
    let (s, _) =
        c.send("/api/auth/password", Some(&token), json!({"currentPassword": set, "newPassword": changed})).await;
    assert_eq!(s, 204);
    secrets.push(changed.into());

    // An invite by roster, chosen; a reset link, used.
    let resp = c
        .http
        .post(format!("{}/api/admin/users/import", c.base))
        .bearer_auth(&admin)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .header("content-type", "text/csv")
        .body("email,name,role,courseId\ninvited@demo.school,Invited,student,\n")
        .send()
        .await
        .unwrap();
    let roster: Value = resp.json().await.unwrap();
    let invite = token_of(&roster["invites"][0]["link"]);
    secrets.push(invite.clone());
    let chosen = "Chosen-Secret-6618";
    let (s, redeemed) = c.send("/api/auth/redeem", None, json!({"token": invite, "password": chosen})).await;
    assert_eq!(s, 200, "{redeemed}");
    secrets.push(chosen.into());
    secrets.push(redeemed["token"].as_str().unwrap().into());
    let id = user["id"].as_str().unwrap();
    let (s, reset) = c.send(&format!("/api/admin/users/{id}/password-reset"), Some(&admin), json!({})).await;
    assert_eq!(s, 201);
    let reset_token = token_of(&reset["link"]);
    secrets.push(reset_token.clone());
    let after_reset = "Reset-Secret-3357";
    assert_eq!(c.send("/api/auth/redeem", None, json!({"token": reset_token, "password": after_reset})).await.0, 200);
    secrets.push(after_reset.into());
    assert_eq!(c.send("/api/auth/redeem", None, json!({"token": reset_token, "password": after_reset})).await.0, 422);

    // A stream key, sealed at rest and never answered.
    let teacher = server.login(&c.http, "teacher@demo.school").await.unwrap();
    secrets.push(teacher.clone());
    let session = server.demo_session(&c.http, &teacher).await.unwrap();
    let key = "live_sk_Q7PZ4M2KX9";
    let dest = json!({"name": "Channel", "rtmpUrl": "rtmp://127.0.0.1/live", "streamKey": key});
    let (s, d) = c.send(&format!("/api/sessions/{session}/destinations"), Some(&teacher), dest).await;
    assert_eq!(s, 201, "{d}");
    secrets.push(key.into());
    // A bad bearer token is logged as nothing more than a failure.
    let bogus = "Bogus-Bearer-Token-5521";
    assert_eq!(c.send("/api/courses", Some(bogus), json!({"title": "x"})).await.0, 401);
    secrets.push(bogus.into());

    server.kill();
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 50, "debug logging wrote {} lines", lines.len());
    // The log did see the run (so a secret in it would be found).
    for seen in ["roster imported", "failed login", "/api/auth/redeem", "/destinations"] {
        assert!(lines.iter().any(|l| l.contains(seen)), "the log mentions {seen:?}");
    }
    for s in &secrets {
        let hits: Vec<&&str> = lines.iter().filter(|l| l.contains(s.as_str())).collect();
        assert!(hits.is_empty(), "a secret ({}…) is in the log: {:?}", &s[..4], hits.first());
    }
    // JSON, one object a line; lines inside a request carry its id.
    let mut in_requests = 0;
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        if v["span"]["name"] == "request" {
            in_requests += 1;
            let id = v["span"]["request_id"].as_str().unwrap_or("");
            assert!(id.len() >= 32, "request id on {l}");
        }
    }
    assert!(in_requests >= 10, "{in_requests} lines inside requests");
}
