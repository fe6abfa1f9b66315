//! The demo's finished class (`cloud-api demo`) shows a replay made from shipped results
//! (`cloud-api/demo/lecture.json`); this checks they are what the real pipeline and model make of the
//! shipped lecture today. `REGENERATE_DEMO=1` writes the pipeline's results into the file instead.

mod common;

use artifact_worker::text;
use cloud_api::demo::{LectureArtifacts, LECTURE_SCRIPT, PASSWORD};
use common::*;
use serde_json::Value;
use studio_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_replay_is_what_the_pipeline_makes() {
    let app = TestApp::spawn(Db::Sqlite).await;
    cloud_api::demo::seed(&app.state).await.expect("the demo seeds");
    let student = app.login("student@demo.school", PASSWORD).await.body["token"].as_str().unwrap().to_string();
    let courses = app.get("/api/courses", &student).await.body;
    let lessons = app.get(&format!("/api/courses/{}/lessons", courses[0]["id"].as_str().unwrap()), &student).await.body;
    let mut finished = None;
    for l in lessons.as_array().unwrap() {
        let sessions = app.get(&format!("/api/lessons/{}/sessions", l["id"].as_str().unwrap()), &student).await.body;
        finished = finished.or(sessions.as_array().unwrap().iter().find(|s| s["status"] == "ended").cloned());
    }
    let session = finished.expect("the demo has a finished class")["id"].as_str().unwrap().to_string();
    let script: Value = serde_json::from_str(LECTURE_SCRIPT).unwrap();
    let shipped: Option<LectureArtifacts> = serde_json::from_value(script["artifacts"].clone()).ok();

    // As seeded: the replay is complete before any worker runs.
    let seeded = app.get(&format!("/api/replays/{session}"), &student).await;
    assert_eq!(seeded.status, 200);
    if let Some(a) = &shipped {
        assert_eq!(seeded.body["transcript"]["segments"].as_array().unwrap().len(), a.segments.len());
        assert_eq!(seeded.body["chapters"], serde_json::to_value(&a.chapters).unwrap());
        assert!(seeded.body["captionsUrl"].is_string());
        assert_eq!(seeded.body["state"]["status"], "ended");
        assert_eq!(seeded.body["state"]["polls"].as_object().unwrap().len(), 1);
    }

    // The real worker on the seeded recording (the upload queued it).
    worker(&app, 120).run_one().await.unwrap().expect("the demo recording's job");
    let made = app.get(&format!("/api/replays/{session}"), &student).await.body;
    let now = LectureArtifacts {
        segments: serde_json::from_value(made["transcript"]["segments"].clone()).unwrap(),
        chapters: serde_json::from_value(made["chapters"].clone()).unwrap(),
        highlights: serde_json::from_value(made["highlights"].clone()).unwrap(),
        qa_links: serde_json::from_value(made["qaLinks"].clone()).unwrap(),
    };
    assert_eq!(now.chapters.len(), 3, "one chapter per slide: {:?}", now.chapters);

    if std::env::var_os("REGENERATE_DEMO").is_some() {
        let mut script = script;
        script["artifacts"] = serde_json::to_value(&now).unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cloud-api/demo/lecture.json");
        std::fs::write(&path, serde_json::to_string_pretty(&script).unwrap() + "\n").unwrap();
        println!("wrote {}", path.display());
        return;
    }
    let a = shipped.expect("lecture.json has the pipeline's results (REGENERATE_DEMO=1 writes them)");
    let words = |s: &[shared_types::media::Segment]| s.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
    let wer = text::wer(&words(&a.segments), &words(&now.segments));
    assert!(
        wer <= 0.1,
        "the transcript drifted: WER {wer:.3}\nshipped: {}\nnow: {}",
        words(&a.segments),
        words(&now.segments)
    );
    assert_eq!(a.chapters.len(), now.chapters.len());
    for (x, y) in a.chapters.iter().zip(&now.chapters) {
        assert!((x.start_s - y.start_s).abs() < 0.5, "{x:?} vs {y:?}");
        assert_eq!(x.reason, y.reason);
    }
    let labels = |h: &[shared_types::media::Highlight]| {
        h.iter().map(|h| (h.label.clone(), h.reason.clone())).collect::<Vec<_>>()
    };
    assert_eq!(labels(&a.highlights), labels(&now.highlights));
    assert_eq!(a.qa_links.len(), now.qa_links.len());
}
