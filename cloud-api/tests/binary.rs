//! The README's run command: the real `cloud-api demo` binary seeds, serves, and prints its URL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `cloud-api demo` on a free port; returns the process and the printed base URL.
fn start_demo(data_dir: &std::path::Path) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloud-api"))
        .arg("demo")
        .env("DATA_DIR", data_dir)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cloud-api");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep draining stdout for the life of the process, so its later prints never hit a closed pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(i) = line.find("http://") {
                let _ = tx.send(line[i..].trim_end_matches('/').to_string());
            }
        }
    });
    let url = rx.recv_timeout(std::time::Duration::from_secs(60)).ok();
    (Killed(child), url.expect("the demo prints its URL"))
}

#[tokio::test]
async fn demo_seeds_once_and_serves() {
    let dir = std::env::temp_dir().join(format!("studio-demo-{}", uuid::Uuid::new_v4()));
    let http = reqwest::Client::new();
    for run in 0..2 {
        let (_proc, url) = start_demo(&dir);
        let login = http
            .post(format!("{url}/api/auth/login"))
            .json(&serde_json::json!({"email": "teacher@demo.school", "password": cloud_api::demo::PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), 200, "run {run}");
        let token = login.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
        let courses: serde_json::Value =
            http.get(format!("{url}/api/courses")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert_eq!(courses.as_array().unwrap().len(), 1, "seeding twice must not duplicate (run {run})");
        assert_eq!(courses[0]["title"], cloud_api::demo::COURSE);
        let page = http.get(format!("{url}/")).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("Teaching studio"));
    }
    assert!(dir.join("studio.db").exists(), "SQLite is the embedded default");
    let _ = std::fs::remove_dir_all(dir);
}
