//! The demo's finished class (`cloud-api demo`) shows a replay made from shipped results
//! (`cloud-api/demo/lecture.json`). Both the shipped results and what the real pipeline and model make
//! of the shipped lecture today are held against what the lecture is: the script espeak-ng spoke, the
//! seconds the slides changed and the teacher's mark. `scripts/regenerate-demo.sh` rewrites the shipped
//! results; this test never writes anything.

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

    // The lecture is the pipeline tests' lecture: its script is what espeak-ng spoke.
    let spoken: Vec<String> = serde_json::from_value(script["script"].clone()).expect("lecture.json has its script");
    assert_eq!(spoken, PARTS, "lecture.json's script is the lecture the pipeline tests speak");
    let said = spoken.join(" ");
    let a = shipped.expect("lecture.json has the pipeline's results (scripts/regenerate-demo.sh writes them)");
    let words = |s: &[shared_types::media::Segment]| s.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
    let slides: Vec<f64> = script["slides"].as_array().unwrap().iter().map(|s| s[0].as_f64().unwrap()).collect();
    let mark = &script["mark"];
    for (what, made) in [("shipped", &a), ("made now", &now)] {
        // The words against what was said (tiny.en on espeak speech: digits for numbers, "of"/"on").
        let wer = text::wer(&said, &words(&made.segments));
        println!("{what}: WER {wer:.3} against the script");
        assert!(wer <= 0.25, "{what}: WER {wer:.3}\nsaid: {said}\nheard: {}", words(&made.segments));
        // One chapter per slide, starting where the slide went up (the first at the recording's start).
        assert_eq!(made.chapters.len(), slides.len(), "{what}: {:?}", made.chapters);
        for (c, at) in made.chapters.iter().zip(&slides) {
            assert!((c.start_s - at).abs() <= 1.0, "{what}: chapter at {} for the slide at {at}: {c:?}", c.start_s);
            assert_eq!(c.reason, "slide");
        }
        // The teacher's mark is a highlight at its second.
        let marked = made.highlights.iter().find(|h| h.reason == "marked").expect("the mark is a highlight");
        assert_eq!(marked.label, mark["label"].as_str().unwrap());
        assert!((marked.at_s - mark["atS"].as_f64().unwrap()).abs() < 0.5, "{what}: {marked:?}");
        // The student's question, answered, is linked into the transcript.
        assert_eq!(made.qa_links.len(), 1, "{what}: {:?}", made.qa_links);
        assert_eq!(made.qa_links[0].question, script["question"].as_str().unwrap());
    }
    // And what ships is still what the pipeline makes (else run scripts/regenerate-demo.sh).
    let drift = text::wer(&words(&a.segments), &words(&now.segments));
    assert!(
        drift <= 0.1,
        "the shipped transcript is no longer what the pipeline makes (WER {drift:.3}): run scripts/regenerate-demo.sh\nshipped: {}\nnow: {}",
        words(&a.segments),
        words(&now.segments)
    );
}
