//! The README's run command: the real `cloud-api demo` binary seeds, serves, and prints its URL.

use cloud_api::spawned::Spawned;

/// Start `cloud-api demo` on a free port; the process and its printed base URL.
fn start_demo(data_dir: &std::path::Path) -> (Spawned, String) {
    let proc = Spawned::start(std::path::Path::new(env!("CARGO_BIN_EXE_cloud-api")), data_dir, &[])
        .expect("the demo prints its URL");
    let url = proc.base.clone();
    (proc, url)
}

#[tokio::test]
async fn demo_seeds_once_and_serves() {
    let dir = cloud_api::spawned::Scratch::new("studio-demo");
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
