//! The replay page in headless Chromium (`student-web/media/test/replay.mjs`) for a lecture processed
//! by the real worker and model: transcript and chapters visible, a chapter click seeks the player,
//! at a chosen time the slide pane shows the slide that was live then, search narrows the transcript,
//! the captions track is on the player, axe-core finds nothing serious; screenshots on desktop and phone;
//! the course search finds the word and its first hit opens the replay at that second.

mod common;

use chrono::Duration as CDuration;
use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use studio_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_watches_the_replay() {
    let media = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../student-web/media");
    let dist = media.join("dist");
    assert!(dist.join("index.html").exists(), "build the app first: bash scripts/build-web.sh");
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.student_web_dir = Some(dist.clone());
        c.media_dir = Some(dist);
    })
    .await;
    let s = app.school("Replay").await;
    app.live(&s).await;
    let dir = cloud_api::spawned::Scratch::new("replay");
    std::fs::create_dir_all(&dir).unwrap();
    let (wav, d) = lecture(&dir);

    let fields = [("sessionId", s.session.as_str()), ("type", "slide"), ("title", "Motion")];
    let pages = ["Motion", "Velocity and speed", "Acceleration"];
    let deck = app.upload(&s.teacher.token, &fields, cloud_api::slides::simple_pdf(&pages), "motion.pdf").await;
    assert_eq!(deck.status, 201, "{:?}", deck.body);
    let deck_id = deck.body["id"].as_str().unwrap().to_string();
    // The recording starts now, after the class started; the slide changes fall within the next
    // 40 s (the log takes times up to 5 min ahead), so the log's clock and the recording's agree.
    let rec_start = chrono::Utc::now() + CDuration::seconds(1);
    let at = |secs: f64| rec_start + CDuration::milliseconds((secs * 1000.0) as i64);
    let b = app
        .post(&format!("/api/sessions/{}/events:batch", s.session), &s.teacher.token, slide_changes(&deck_id, &d, at))
        .await;
    assert!(b.body["results"].as_array().unwrap().iter().all(|r| r["sequence"].is_u64()), "{:?}", b.body);
    for text in ["Is velocity a vector?", "See you next week"] {
        assert_eq!(
            app.post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": text})).await.status,
            201
        );
    }
    assert_eq!(app.post("/api/sessions/end", &s.teacher.token, json!({"sessionId": s.session})).await.status, 200);
    let up = upload_recording(&app, &s.teacher.token, &s.session, wav, Some(rec_start), "rec-1").await;
    assert_eq!(up.status, 201, "{:?}", up.body);
    worker(&app, 60).run_one().await.unwrap().expect("a job");
    let replay = app.get(&format!("/api/replays/{}", s.session), &s.student.token).await;
    let chapters = replay.body["chapters"].as_array().unwrap().clone();
    assert_eq!(chapters.len(), 3, "{chapters:?}");
    let segments = replay.body["transcript"]["segments"].as_array().unwrap().clone();

    let shots = cloud_api::spawned::screenshots("replay");
    // Two seconds into part two, slide 2 was on screen.
    let check_at = d[0] + 2.0;
    let out = tokio::process::Command::new("node")
        .arg(media.join("test/replay.mjs"))
        .current_dir(&media)
        .env("BASE", &app.base)
        .env("SESSION", &s.session)
        .env("EMAIL", &s.student.email)
        .env("PASSWORD", PASSWORD)
        .env("SHOTS", &shots)
        .env("CHECK_AT", check_at.to_string())
        .env("SEARCH", "velocity")
        .output()
        .await
        .expect("node");
    let r: Value = node_result("replay.mjs", &out);
    println!("replay page: {r}\nscreenshots in {}", shots.display());
    assert!(r["error"].is_null(), "{}\n{}", r["error"], String::from_utf8_lossy(&out.stderr));

    assert_eq!(r["segments"], json!(segments.len()), "every transcript segment is listed");
    // The page and the tab name the lesson and the course, not just "Replay".
    let dto = app.get(&format!("/api/sessions/{}", s.session), &s.student.token).await.body;
    let (lesson, course) = (dto["lessonTitle"].as_str().unwrap(), dto["courseTitle"].as_str().unwrap());
    assert!(!lesson.is_empty() && !course.is_empty(), "{dto}");
    assert_eq!(r["titles"]["heading"], lesson, "{}", r["titles"]);
    let tab = r["titles"]["tab"].as_str().unwrap();
    assert!(tab.starts_with(&format!("{lesson} — {course}, ")) && tab.ends_with(" · Replay"), "{tab}");
    let titles: Vec<&Value> = chapters.iter().map(|c| &c["title"]).collect();
    assert_eq!(r["chapters"], json!(titles));
    let second = chapters[1]["startS"].as_f64().unwrap();
    assert!((r["afterChapterClick"].as_f64().unwrap() - second).abs() < 0.6, "seeked to chapter 2 at {second}: {r}");
    assert_eq!(r["slideAt"], json!({"page": 2, "asset": deck_id}), "the slide live {check_at:.1} s in");
    assert_eq!(r["slideAtStart"]["page"], 0, "nothing was on screen before the first slide at 0.5 s");
    let active = r["activeSegment"].as_u64().expect("a segment follows the playhead") as usize;
    let seg = &segments[active];
    assert!(seg["startS"].as_f64().unwrap() <= check_at, "{seg}");
    let hits = segments.iter().filter(|sg| sg["text"].as_str().unwrap().to_lowercase().contains("velocity")).count();
    assert!(hits > 0);
    assert_eq!(r["searchHits"], json!(hits));
    assert_eq!(r["chatAtEnd"], json!(["Is velocity a vector?", "See you next week"]));
    assert!(r["captions"].as_str().is_some_and(|c| c.contains("/api/blobs/")), "{}", r["captions"]);
    assert_eq!(r["axe"], json!([]), "axe on the replay page");
    assert_eq!(r["csp"], json!([]), "the Content-Security-Policy blocks nothing the replay needs");
    assert!(r["phoneOverflow"].as_i64().unwrap() <= 0, "{}", r["phoneOverflow"]);
    // Course search (ranked, stemmed) finds the lecture's "velocity" segments; the first hit opens the
    // replay at its own second.
    let course_hits = r["courseHits"].as_array().expect("course search ran");
    assert!(!course_hits.is_empty(), "{r}");
    // The slide that says it is a hit too, at the second its page was shown, and says so.
    let slide = course_hits.iter().find(|h| h["kind"] == "slide").expect("a slide hit");
    assert_eq!(slide["badge"], "Slide 2", "{slide}");
    assert!((slide["at"].as_f64().unwrap() - d[0]).abs() < 0.06, "slide 2 was shown at {}: {slide}", d[0]);
    let first = course_hits.iter().find(|h| h["kind"] == "speech").expect("a speech hit");
    let at = first["at"].as_f64().unwrap();
    assert!(
        segments.iter().any(|sg| (sg["startS"].as_f64().unwrap() - at).abs() < 0.06
            && sg["text"].as_str().unwrap().to_lowercase().contains("velocit")),
        "the hit is a segment that says it: {first}"
    );
    assert!(first["href"].as_str().unwrap().ends_with(&format!("/replay?at={at:.1}")), "{first}");
    assert_eq!(first["lang"], "en", "the snippet says its language (screen readers read it so): {first}");
    assert!(first["marked"].as_array().unwrap().iter().any(|m| m
        .as_str()
        .unwrap()
        .to_lowercase()
        .starts_with("velocit")));
    assert!((r["afterSearchClick"].as_f64().unwrap() - at).abs() < 0.6, "the replay starts at the hit: {r}");
    // The hit's transcript line is the one marked as playing.
    let line = r["markedLine"].as_u64().expect("a line marked") as usize;
    assert!(
        (segments[line]["startS"].as_f64().unwrap() - at).abs() < 0.06,
        "line {line} marked for the hit at {at}: {r}"
    );
    assert_eq!(r["slashFocus"], true, "\"/\" goes to the search box");
    assert_eq!(r["axeSearch"], json!([]), "axe on the course page with results");
    assert!(r["searchPhoneOverflow"].as_i64().unwrap() <= 0, "{}", r["searchPhoneOverflow"]);
    for shot in
        ["replay.png", "replay-phone.png", "course-search.png", "replay-from-search.png", "course-search-phone.png"]
    {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 5_000, "{shot}");
    }
}
