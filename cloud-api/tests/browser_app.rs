//! The student app in headless Chromium (playwright-core) against the real `cloud-api` binary with
//! the demo data: the teacher runs the class through the API, two students use the app
//! (`student-web/media/test/app.mjs`), the server is restarted under them. The DOM is compared with
//! `GET …/state` field by field; axe-core must find nothing serious; screenshots are kept.

use cloud_api::demo::PASSWORD;
use cloud_api::spawned::Spawned;
use serde_json::{json, Value};
use std::path::PathBuf;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cloud-api"))
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(token);
        if method != reqwest::Method::GET {
            req = req.header("idempotency-key", uuid::Uuid::new_v4().to_string());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }
    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, token, Some(body)).await
    }
    async fn get(&self, path: &str, token: &str) -> Value {
        self.send(reqwest::Method::GET, path, token, None).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn students_use_the_live_room() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let media = root.join("student-web/media");
    let dist = media.join("dist");
    assert!(dist.join("index.html").exists(), "build the app first: bash scripts/build-web.sh");
    let data = cloud_api::spawned::Scratch::new("studio-app");
    std::fs::create_dir_all(&data).unwrap();
    let dist_s = dist.to_string_lossy().to_string();
    let web = [("STUDENT_WEB_DIR", dist_s.as_str()), ("MEDIA_DIR", dist_s.as_str())];
    let mut server = Spawned::start(&exe(), &data, &web).expect("cloud-api starts");
    let http = reqwest::Client::new();
    let api = Api { http: http.clone(), base: server.base.clone() };
    let teacher = server.login(&http, "teacher@demo.school").await.unwrap();
    let admin = server.login(&http, "admin@demo.school").await.unwrap();
    let session = server.demo_session(&http, &teacher).await.unwrap();
    let course = api.get("/api/courses", &admin).await[0]["id"].as_str().unwrap().to_string();

    // A second student in the demo course.
    let email2 = "student2@demo.school";
    let u = api
        .post("/api/admin/users", &admin, json!({"email": email2, "password": PASSWORD, "displayName": "Ana Lima"}))
        .await;
    let grant = json!({"userId": u["id"], "role": "student", "scope": "course", "scopeId": course});
    api.post("/api/admin/roles", &admin, grant).await;

    // The teacher, through the API: start, a three-page deck, slides 1-2-3-2, strokes, a poll, chat.
    api.post("/api/sessions/start", &teacher, json!({"sessionId": session})).await;
    let form = reqwest::multipart::Form::new()
        .text("sessionId", session.clone())
        .text("type", "slide")
        .text("title", "Motion")
        .part(
            "file",
            reqwest::multipart::Part::bytes(cloud_api::slides::simple_pdf(&["Position", "Velocity", "Acceleration"]))
                .file_name("motion.pdf"),
        );
    let deck: Value = http
        .post(format!("{}/api/studio/assets", server.base))
        .bearer_auth(&teacher)
        .header("idempotency-key", "deck-1")
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deck_id = deck["id"].as_str().unwrap_or_else(|| panic!("deck: {deck}")).to_string();
    for page in [1, 2, 3, 2] {
        api.post("/api/studio/slides/show", &teacher, json!({"sessionId": session, "assetId": deck_id, "page": page}))
            .await;
    }
    for (i, color) in ["#d7263d", "#1b998b"].iter().enumerate() {
        let strokes = json!([{"id": format!("s{i}a"), "points": [[0.1, 0.2 + i as f64 * 0.1], [0.5, 0.3], [0.8, 0.6]], "color": color, "width": 6},
                             {"id": format!("s{i}b"), "points": [[0.2, 0.8], [0.4, 0.7]], "color": color, "width": 4}]);
        api.post(
            "/api/whiteboard/strokes",
            &teacher,
            json!({"sessionId": session, "boardId": "main", "strokes": strokes}),
        )
        .await;
    }
    let poll = api
        .post(
            "/api/polls",
            &teacher,
            json!({"sessionId": session, "prompt": "Which is a vector?", "options": ["Speed", "Velocity", "Mass"]}),
        )
        .await;
    let poll_id = poll["poll"]["id"].as_str().unwrap_or_else(|| panic!("poll: {poll}")).to_string();
    for i in 0..45 {
        api.post("/api/chat", &teacher, json!({"sessionId": session, "content": format!("Note {i}: read chapter 2")}))
            .await;
    }
    let head_before =
        api.get(&format!("/api/sessions/{session}/state"), &teacher).await["state"]["head"].as_u64().unwrap();
    assert!(head_before >= 50, "a late joiner finds at least 50 events: {head_before}");

    let shots = cloud_api::spawned::screenshots("app");
    std::fs::create_dir_all(&shots).unwrap();
    let second_deck = shots.join("forces.pdf");
    std::fs::write(&second_deck, cloud_api::slides::simple_pdf(&["Forces", "Newton's laws"])).unwrap();
    let mut node = tokio::process::Command::new("node")
        .arg(media.join("test/app.mjs"))
        .current_dir(&media)
        .env("BASE", &server.base)
        .env("SESSION", &session)
        .env("PASSWORD", PASSWORD)
        .env("STUDENT_EMAIL", "student@demo.school")
        .env("STUDENT2_EMAIL", email2)
        .env("TEACHER_EMAIL", "teacher@demo.school")
        .env("DECK_PDF", &second_deck)
        .env("SHOTS", &shots)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let mut stdin = node.stdin.take().unwrap();
    let mut out = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut last = String::new();
    let mut restarted = false;
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let run = async {
        while let Some(line) = out.next_line().await.unwrap() {
            if line == "RESTART" {
                // The real process goes away with every socket, and comes back on the same port.
                server.kill();
                let bind = format!("127.0.0.1:{port}");
                let env = [web[0], web[1], ("BIND_ADDR", bind.as_str())];
                server = Spawned::start(&exe(), &data, &env).expect("cloud-api restarts");
                for i in 0..5 {
                    api.post(
                        "/api/chat",
                        &teacher,
                        json!({"sessionId": session, "content": format!("After the restart {i}")}),
                    )
                    .await;
                }
                let head = api.get(&format!("/api/sessions/{session}/state"), &teacher).await["state"]["head"].clone();
                stdin.write_all(format!("RESTARTED {head}\n").as_bytes()).await.unwrap();
                restarted = true;
            } else {
                last = line;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(240), run).await.expect("the browser test finishes");
    // A crashed Node (its stderr is above) fails here, not as a missing field below.
    let status = node.wait().await.expect("node");
    assert!(status.success(), "app.mjs exited with {status}");
    let r: Value = serde_json::from_str(&last).unwrap_or_else(|_| panic!("no result line: {last}"));
    println!("screenshots in {}", shots.display());
    assert!(r["error"].is_null(), "{}", r["error"].as_str().unwrap_or_default());
    assert!(restarted);
    assert_eq!(r["csp"], json!([]), "the Content-Security-Policy blocks nothing the app needs");

    // Sign-in: `/` leads to the app; a wrong password is refused in words.
    assert!(r["url"].as_str().unwrap().ends_with("/app/"), "{}", r["url"]);
    assert!(r["wrongPassword"].as_str().unwrap().contains("do not match"), "{}", r["wrongPassword"]);
    assert_eq!(r["courseList"], json!(["live", "ended"]), "the class under way and the demo's recorded one");

    // Joined: the DOM is the state.
    let (dom, st) = (&r["joined"]["dom"], &r["joined"]["state"]);
    assert_eq!(dom["head"], st["head"]);
    assert_eq!(dom["slide"]["page"], 2);
    assert_eq!(dom["slide"]["page"], st["currentSlide"]["page"]);
    assert_eq!(dom["slide"]["asset"], st["currentSlide"]["assetId"]);
    assert_eq!(dom["slideImage"], true, "the slide picture loaded");
    let ids: Vec<Value> = st["boards"]["main"]["batches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b.as_array().unwrap().iter().map(|s| s["id"].clone()))
        .collect();
    assert_eq!(dom["strokes"], json!(ids.len()));
    assert_eq!(dom["strokeIds"], json!(ids));
    assert_eq!(dom["poll"], json!(poll_id));
    assert_eq!(dom["link"], "live");

    // Votes and questions, as the first student sees them after the second one's keyboard turn.
    let (dom, st) = (&r["afterVotes"]["dom"], &r["afterVotes"]["state"]);
    let votes = st["polls"][&poll_id]["votes"].as_object().unwrap();
    let mut tally = vec![0; 3];
    for v in votes.values() {
        tally[v.as_u64().unwrap() as usize] += 1;
    }
    assert_eq!(dom["tally"], json!(tally));
    assert_eq!(tally, [0, 1, 1], "mouse vote for Velocity, keyboard vote (two ArrowDowns) for Mass");
    let qs = st["questions"].as_array().unwrap();
    assert_eq!(qs.len(), 2);
    let dom_qs = dom["questions"].as_array().unwrap();
    assert_eq!(dom_qs.len(), 2);
    for q in dom_qs {
        let s = qs.iter().find(|s| s["id"] == q["id"]).expect("the DOM's question is in the state");
        assert_eq!(q["upvotes"], json!(s["upvoters"].as_array().unwrap().len()));
        assert_eq!(q["text"], s["content"]);
    }
    assert_eq!(dom_qs[0]["upvotes"], 1, "the upvoted question is listed first");
    // Authors by name (the course's people), "You" for one's own.
    assert_eq!(dom_qs[0]["author"], "You", "{}", dom_qs[0]);
    assert_eq!(dom_qs[1]["author"], "Ana Lima", "the classmate is named, not \"Student 01a2\": {}", dom_qs[1]);
    assert_eq!(dom_qs[0]["text"], "Why does the ball speed up?");
    assert_eq!(r["keyboard"], json!({"radio": true, "vote": true, "ask": true, "upvote": true}));

    // The late joiner's card: three distinct slides, the poll with the first vote.
    assert_eq!(r["late"]["missedSlides"], 3);
    assert_eq!(r["late"]["missedPolls"], json!(["Speed: 0 · Velocity: 1 · Mass: 0"]));
    assert_eq!(r["late"]["head"], r["lateState"]["head"]);

    // The restart: the indicator left "live", came back, and every chat message is there once.
    let links: Vec<&str> = r["links"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(r["whileDown"] == "reconnecting" || r["whileDown"] == "offline", "{}", r["whileDown"]);
    assert_eq!(links.last(), Some(&"live"), "{links:?}");
    let (dom, st) = (&r["afterRestart"]["dom"], &r["afterRestart"]["state"]);
    assert_eq!(dom["head"], st["head"]);
    let chat: Vec<Value> = st["chat"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect();
    assert_eq!(chat.len(), 50);
    assert_eq!(dom["chat"], json!(chat), "every message once, in order");

    // The teacher's present view moved the class on; the student's room follows the state.
    let (dom, st) = (&r["afterTeacher"]["dom"], &r["afterTeacher"]["state"]);
    assert_eq!(dom["head"], st["head"]);
    assert_eq!(st["decks"].as_object().unwrap().len(), 2, "the deck uploaded in the browser");
    assert_ne!(st["currentSlide"]["assetId"], json!(deck_id));
    assert_eq!(st["currentSlide"]["page"], 1);
    assert_eq!(dom["slide"]["page"], 1);
    assert_eq!(dom["slide"]["asset"], st["currentSlide"]["assetId"]);
    assert_eq!(st["polls"][&poll_id]["closed"], true);
    let open: Vec<&Value> = st["polls"].as_object().unwrap().values().filter(|p| p["closed"] == false).collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["options"], json!(["Yes", "Not yet"]));
    assert_ne!(dom["poll"], json!(poll_id), "the new poll is the one shown");
    let answered: Vec<&Value> = st["questions"].as_array().unwrap().iter().filter(|q| q["answered"] == true).collect();
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["content"], "Why does the ball speed up?", "the top question was answered");

    // Titles: the lesson, the course and the date on the page and in the tab, the page's kind last.
    let dto = api.get(&format!("/api/sessions/{session}"), &teacher).await;
    let (lesson, course_title) = (dto["lessonTitle"].as_str().unwrap(), dto["courseTitle"].as_str().unwrap());
    assert!(!lesson.is_empty() && !course_title.is_empty(), "{dto}");
    for (page, what) in [("room", "Live"), ("present", "Presenting"), ("ended", "Ended")] {
        let t = &r["titles"][page];
        assert_eq!(t["heading"], lesson, "{page}: {t}");
        assert!(t["course"].as_str().unwrap().starts_with(&format!("{course_title} · ")), "{page}: {t}");
        let tab = t["tab"].as_str().unwrap();
        assert!(tab.starts_with(&format!("{lesson} — {course_title}, ")), "{page}: {tab}");
        assert!(tab.ends_with(&format!(" · {what}")), "{page}: {tab}");
    }
    // The teacher's present view, open as the class ended, says so too (badge and tab).
    assert_eq!(r["titles"]["presentEnded"]["status"], "ended", "{}", r["titles"]["presentEnded"]);
    assert!(r["titles"]["presentEnded"]["tab"].as_str().unwrap().ends_with(" · Ended"));
    // On its way there the tab went from "Presenting" to "Ended" without the app's name in between,
    // and signing out gives the tab the app's name back.
    let seen: Vec<&str> = r["titles"]["teacherSeen"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(seen.first().unwrap().ends_with(" · Presenting") && seen.last().unwrap().ends_with(" · Ended"), "{seen:?}");
    assert!(!seen.contains(&"Teaching studio"), "the tab flashed the app's name: {seen:?}");
    assert_eq!(r["titles"]["signedOut"], "Teaching studio");

    // Ended: the badge says so, every control that would write is gone or disabled.
    let e = &r["ended"];
    assert_eq!(r["titles"]["ended"]["status"], "ended");
    assert_eq!(e["link"], false, "no \"Live\" badge after the end: {e}");
    assert_eq!(e["hand"], false, "no hand to raise: {e}");
    assert_eq!(e["vote"], false, "no vote button: {e}");
    assert_eq!(e["disabled"], json!(["#ask", "#ask-send", "#say", "#say-send"]), "{e}");
    assert_eq!(e["upvotes"], true, "{e}");
    assert!(e["banner"].as_str().unwrap_or_default().contains("The class has ended"), "{e}");

    // The present view's hand queue: by name, first raised first; lowered and raised again goes last;
    // the teacher lowers the first.
    assert_eq!(r["hands"]["raised"], json!(["Demo student", "Ana Lima"]), "{}", r["hands"]);
    assert_eq!(r["hands"]["again"], json!(["Ana Lima", "Demo student"]), "{}", r["hands"]);
    assert_eq!(r["hands"]["afterLower"], json!(["Demo student"]), "{}", r["hands"]);

    assert_eq!(r["afterSignOut"], 401, "signed out for real");

    // Accessibility and layout.
    for page in ["signin", "room", "present"] {
        assert_eq!(r["axe"][page], json!([]), "axe on {page}");
    }
    assert!(r["phoneOverflow"].as_i64().unwrap() <= 0, "no sideways scrolling at 390 px: {}", r["phoneOverflow"]);
    for shot in ["signin.png", "courses.png", "room-desktop.png", "room-phone.png", "present.png", "room-ended.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 5_000, "{shot}");
    }
    server.kill();
}
