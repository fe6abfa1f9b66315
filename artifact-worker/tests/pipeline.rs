//! The pipeline end to end, with real parts: espeak-ng speaks a lecture with known text, the class's
//! event log has slide changes, a poll burst and a teacher mark at known times, the recording is
//! uploaded through the API, the worker transcribes it with the real model, and the replay, captions
//! and course search are checked. Plus: corrupt recordings, duplicate enqueues, a killed worker.

mod common;

use artifact_worker::pipeline::Ran;
use artifact_worker::{model, text};
use chrono::{Duration as CDuration, Utc};
use common::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;
use studio_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lecture_to_replay_sqlite() {
    lecture_to_replay(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lecture_to_replay_postgres() {
    lecture_to_replay(Db::Postgres).await;
}

async fn lecture_to_replay(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Pipeline").await;
    app.live(&s).await;
    let dir = cloud_api::spawned::Scratch::new("lecture");
    std::fs::create_dir_all(&dir).unwrap();
    let (wav, d) = lecture(&dir);
    let total: f64 = d.iter().sum();
    assert!(total > 25.0, "lecture is {total:.1} s");

    // The class, live: a deck, a poll with a burst of votes, a question answered.
    let deck = app
        .upload(
            &s.teacher.token,
            &[("sessionId", &s.session), ("type", "slide"), ("title", "Motion")],
            // Words on the slides that the lecture never says: search finds them on the slides.
            cloud_api::slides::simple_pdf(&["Kinematics overview", "Instantaneous velocity", "Newtonian acceleration"]),
            "motion.pdf",
        )
        .await;
    assert_eq!(deck.status, 201, "{:?}", deck.body);
    let deck_id = deck.body["id"].as_str().unwrap().to_string();
    let poll = app
        .post(
            "/api/polls",
            &s.teacher.token,
            json!({"sessionId": s.session, "prompt": "Which is faster?", "options": ["car", "ball"]}),
        )
        .await;
    let poll_id = poll.body["poll"]["id"].as_str().unwrap().to_string();
    let vote_time = Utc::now();
    let mut voters = vec![s.student.token.clone(), s.assistant.token.clone()];
    for i in 0..4 {
        let u = app
            .user(
                s.tenant,
                &format!("voter{i}-{}@x.test", uuid::Uuid::new_v4().simple()),
                &[(shared_types::Role::Student, shared_types::Scope::Course, s.course.0)],
            )
            .await;
        assert_eq!(app.post("/api/sessions/join", &u.token, json!({"sessionId": s.session})).await.status, 200);
        voters.push(u.token);
    }
    for (i, t) in voters.iter().enumerate() {
        let v = app.post(&format!("/api/polls/{poll_id}/responses"), t, json!({"option": i % 2})).await;
        assert_eq!(v.status, 200, "{:?}", v.body);
    }
    let q = app
        .post(
            "/api/questions",
            &s.student.token,
            json!({"sessionId": s.session, "content": "What is velocity exactly?"}),
        )
        .await;
    let qid = q.body["question"]["id"].as_str().unwrap().to_string();
    assert_eq!(app.post(&format!("/api/questions/{qid}/answer"), &s.teacher.token, json!({})).await.status, 200);

    // The recording started so that the votes fell 8 s into part two.
    let rec_start = vote_time - CDuration::milliseconds(((d[0] + 8.0) * 1000.0) as i64);
    let at = |secs: f64| rec_start + CDuration::milliseconds((secs * 1000.0) as i64);
    let slides = slide_changes(&deck_id, &d, at);
    let b = app.post(&format!("/api/sessions/{}/events:batch", s.session), &s.teacher.token, slides).await;
    assert!(b.body["results"].as_array().unwrap().iter().all(|r| r["sequence"].is_u64()), "{:?}", b.body);
    assert_eq!(app.post("/api/sessions/end", &s.teacher.token, json!({"sessionId": s.session})).await.status, 200);

    // Upload after class; the same request twice is one recording and one job.
    let up = upload_recording(&app, &s.teacher.token, &s.session, wav.clone(), Some(rec_start), "rec-1").await;
    assert_eq!(up.status, 201, "{:?}", up.body);
    let again = upload_recording(&app, &s.teacher.token, &s.session, wav, Some(rec_start), "rec-1").await;
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(app.store.jobs(None, Some(shared_types::jobs::JobState::Queued), 10).await.unwrap().len(), 1);

    // Before processing the replay loads, with no transcript yet.
    let before = app.get(&format!("/api/replays/{}", s.session), &s.student.token).await;
    assert_eq!(before.status, 200);
    assert!(before.body["transcript"].is_null());

    let w = worker(&app, 60);
    let ran = w.run_one().await.unwrap().expect("a job");
    assert_eq!(ran.1, Ran::Done);
    assert!(w.run_one().await.unwrap().is_none(), "one job only");

    let t0 = std::time::Instant::now();
    let r = app.get(&format!("/api/replays/{}", s.session), &s.student.token).await;
    println!("replay answered in {:?}", t0.elapsed());
    assert_eq!(r.status, 200, "{:?}", r.body);
    for a in r.body["artifacts"].as_array().unwrap() {
        assert_eq!(a["status"], "ready", "{a:?}");
    }
    assert_eq!(r.body["artifacts"].as_array().unwrap().len(), 5);
    assert!(r.body["recordings"][0]["url"].is_string());
    assert!((r.body["recordings"][0]["durationS"].as_f64().unwrap() - total).abs() < 0.5);

    // Transcript quality against the known text.
    let segs = r.body["transcript"]["segments"].as_array().unwrap();
    let hyp = segs.iter().map(|s| s["text"].as_str().unwrap()).collect::<Vec<_>>().join(" ");
    let wer = text::wer(&PARTS.join(" "), &hyp);
    println!("WER {wer:.3}\n{hyp}");
    assert!(wer <= 0.25, "WER {wer:.3}");

    // Segments carry the slide on screen at their midpoint.
    let expected_page = |mid: f64| {
        if mid < d[0] {
            1
        } else if mid < d[0] + d[1] {
            2
        } else {
            3
        }
    };
    let mut right = 0;
    for sg in segs {
        let mid = (sg["startS"].as_f64().unwrap() + sg["endS"].as_f64().unwrap()) / 2.0;
        assert_eq!(sg["slide"]["assetId"], deck_id.as_str());
        if sg["slide"]["page"].as_u64() == Some(expected_page(mid)) {
            right += 1;
        }
    }
    assert!(right * 10 >= segs.len() * 8, "{right} of {} segments on the right slide", segs.len());
    // Words about velocity sit on slide 2.
    let vel = segs
        .iter()
        .find(|sg| sg["text"].as_str().unwrap().to_lowercase().contains("velocity is the rate"))
        .expect("velocity sentence");
    assert_eq!(vel["slide"]["page"], 2);

    // Chapters start at the slide changes.
    let chapters = r.body["chapters"].as_array().unwrap();
    let starts: Vec<f64> = chapters.iter().map(|c| c["startS"].as_f64().unwrap()).collect();
    assert_eq!(starts.len(), 3, "{chapters:?}");
    assert!(starts[0] < 1.0);
    assert!((starts[1] - d[0]).abs() < 1.0 && (starts[2] - d[0] - d[1]).abs() < 1.0, "{starts:?} vs {d:?}");
    // Titled by the slide's heading, then the words said most that it does not have.
    let title = chapters[1]["title"].as_str().unwrap();
    assert!(title.starts_with("Instantaneous velocity: "), "{:?}", chapters[1]);
    assert!(title.contains("position") || title.contains("rate"), "{:?}", chapters[1]);
    assert!(!title["Instantaneous velocity: ".len()..].contains("velocity"), "{:?}", chapters[1]);

    // Highlights: the poll burst and the teacher's mark.
    let hl = r.body["highlights"].as_array().unwrap();
    let burst = hl.iter().find(|h| h["reason"] == "activity").expect("a burst highlight");
    assert_eq!(burst["label"], "Poll activity: Which is faster?");
    assert!((burst["atS"].as_f64().unwrap() - (d[0] + 8.0)).abs() < 2.0, "{burst:?}");
    let mark = hl.iter().find(|h| h["reason"] == "marked").expect("the teacher's mark");
    assert_eq!(mark["label"], "Key formula");

    // Question → answer link inside the window after it was asked.
    let qa = r.body["qaLinks"].as_array().unwrap();
    assert_eq!(qa.len(), 1);
    assert_eq!(qa[0]["questionId"], qid.as_str());
    assert!(!qa[0]["text"].as_str().unwrap().is_empty());

    // Captions: valid WebVTT.
    let (status, vtt) = app.fetch(r.body["captionsUrl"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let vtt = String::from_utf8(vtt).unwrap();
    assert!(vtt.starts_with("WEBVTT\n\n"));
    let cues: Vec<&str> = vtt.lines().filter(|l| l.contains(" --> ")).collect();
    assert_eq!(cues.len(), segs.len());
    for c in cues {
        let (a, b) = c.split_once(" --> ").unwrap();
        assert!(a.len() == 12 && b.len() == 12 && a < b, "cue timing {c}");
    }

    // Course search finds a spoken word; other courses' members do not see it.
    let hits = app.get(&format!("/api/courses/{}/search?q=acceleration", s.course), &s.student.token).await;
    assert_eq!(hits.status, 200);
    let hits = hits.body["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    assert_eq!(hits[0]["sessionId"], s.session.as_str());
    assert!(hits[0]["atS"].as_f64().unwrap() > d[0] + d[1] - 1.0);
    assert_eq!(
        app.get(&format!("/api/courses/{}/search?q=acceleration", s.course), &s.outsider.token).await.status,
        403
    );
    // A slide hit is the page, from when it was shown; a question hit is when it was asked.
    let search = |q: &'static str| {
        let (app, token, course) = (&app, s.student.token.clone(), s.course);
        async move { app.get(&format!("/api/courses/{course}/search?q={q}"), &token).await.body["hits"].clone() }
    };
    let kin = search("kinematics").await;
    assert_eq!(kin.as_array().unwrap().len(), 1, "{kin:?}");
    assert_eq!((kin[0]["kind"].as_str(), kin[0]["page"].as_u64()), (Some("slide"), Some(1)), "{kin:?}");
    assert!((kin[0]["atS"].as_f64().unwrap() - 0.5).abs() < 0.1, "{kin:?}");
    assert!((kin[0]["endS"].as_f64().unwrap() - d[0]).abs() < 0.1, "{kin:?}");
    assert_eq!(kin[0]["snippet"], "«Kinematics» overview");
    let newton = search("newtonian").await;
    assert_eq!((newton[0]["kind"].as_str(), newton[0]["page"].as_u64()), (Some("slide"), Some(3)), "{newton:?}");
    assert!((newton[0]["atS"].as_f64().unwrap() - (d[0] + d[1])).abs() < 0.1, "{newton:?}");
    assert!(newton[0]["replayUrl"].as_str().unwrap().ends_with(&format!("?at={:.1}", d[0] + d[1])), "{newton:?}");
    let asked = search("exactly").await;
    assert_eq!(asked.as_array().unwrap().len(), 1, "{asked:?}");
    assert_eq!(asked[0]["kind"], "question");
    assert_eq!(asked[0]["text"], "What is velocity exactly?");
    // Asked a moment after the votes, which fell 8 s into part two.
    let at = asked[0]["atS"].as_f64().unwrap();
    assert!(at >= d[0] + 8.0 - 0.5 && at < d[0] + 8.0 + 30.0, "asked at {at} (votes at {})", d[0] + 8.0);
    // "velocity" is said, on a slide and in the question: all three kinds, each where it was.
    let vel = search("velocity").await;
    let kinds: std::collections::BTreeSet<&str> =
        vel.as_array().unwrap().iter().map(|h| h["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["question", "slide", "speech"].into(), "{vel:?}");

    // artifact.ready events are in the log, once each, even when the job runs again.
    let count_ready = |events: &[Value]| events.iter().filter(|e| e["type"] == "artifact.ready").count();
    assert_eq!(count_ready(&app.all_events(&s.teacher.token, &s.session).await), 5);
    let admin = app
        .post("/api/artifacts/process", &s.admin.token, json!({"sessionId": s.session, "recordingId": up.body["id"]}))
        .await;
    assert_eq!(admin.status, 202, "{:?}", admin.body);
    assert_eq!(w.run_one().await.unwrap().expect("re-run").1, Ran::Done);
    assert_eq!(
        count_ready(&app.all_events(&s.teacher.token, &s.session).await),
        5,
        "re-running replaces, never duplicates"
    );
    let again = app.get(&format!("/api/replays/{}", s.session), &s.student.token).await;
    assert_eq!(again.body["transcript"]["segments"].as_array().unwrap().len(), segs.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_recording_fails_cleanly() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("Corrupt").await;
    app.live(&s).await;
    let mut junk = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
    junk.extend(std::iter::repeat_n(0x5au8, 4000));
    let up = upload_recording(&app, &s.teacher.token, &s.session, junk, None, "bad-1").await;
    assert_eq!(up.status, 201, "{:?}", up.body);
    let w = worker(&app, 60);
    let mut states = Vec::new();
    while let Some((_, ran)) = w.run_one().await.unwrap() {
        states.push(ran);
    }
    assert_eq!(states, vec![Ran::Failed("queued".into()), Ran::Failed("queued".into()), Ran::Failed("failed".into())]);
    let failed = app.get("/api/admin/jobs?state=failed", &s.admin.token).await;
    assert_eq!(failed.status, 200);
    let jobs = failed.body["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["attempts"], 3);
    assert!(jobs[0]["lastError"].as_str().unwrap().contains("decoding the recording"), "{:?}", jobs[0]);
    assert_eq!(app.get("/api/admin/jobs?state=failed", &s.teacher.token).await.status, 403);
    // The session and its replay still load; the class goes on.
    let r = app.get(&format!("/api/replays/{}", s.session), &s.student.token).await;
    assert_eq!(r.status, 200);
    assert!(r.body["transcript"].is_null());
    let chat = app.post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": "still fine"})).await;
    assert_eq!(chat.status, 201);
    // An admin puts it back in the queue.
    let id = jobs[0]["id"].as_str().unwrap();
    let retried = app.post(&format!("/api/admin/jobs/{id}/retry"), &s.admin.token, json!({})).await;
    assert_eq!(retried.status, 200, "{:?}", retried.body);
    assert_eq!(retried.body["job"]["state"], "queued");
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("studio_job_queue_depth 1"), "{metrics}");
    // The three failed attempts are what alert PipelineJobsFailing reads.
    assert!(metrics.contains("studio_job_failures_total{kind=\"process_recording\"} 3\n"), "{metrics}");
}

/// A worker process killed mid-job: its lease runs out and another worker finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_lease_expires_and_another_finishes() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("Kill").await;
    app.live(&s).await;
    let dir = cloud_api::spawned::Scratch::new("kill");
    std::fs::create_dir_all(&dir).unwrap();
    let (wav, _) = lecture(&dir);
    let up = upload_recording(&app, &s.teacher.token, &s.session, wav, None, "rec-k").await;
    assert_eq!(up.status, 201);
    let model = model::prepare().unwrap();
    let w = worker(&app, 60);
    let mut child = Command::new(env!("CARGO_BIN_EXE_artifact-worker"))
        .arg("run")
        .env("DATABASE_URL", &app.store_url)
        .env("DATA_DIR", &app.data_dir)
        .env("WHISPER_MODEL", &model)
        .env("WORKER_LEASE_SECS", "2")
        .env("WORKER_POLL_MS", "100")
        .env("WORKER_ID", "doomed")
        .env_remove("S3_ENDPOINT")
        .spawn()
        .unwrap();
    // Wait until the child holds the job, then kill it without warning.
    let mut held = false;
    for _ in 0..200 {
        let running = app.store.jobs(None, Some(shared_types::jobs::JobState::Running), 10).await.unwrap();
        if running.len() == 1 {
            held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(held, "the child worker claimed the job");
    child.kill().unwrap();
    child.wait().unwrap();
    // What alert PipelineBacklog reads: the job is still unfinished and ageing.
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("studio_job_queue_depth 1\n"), "{metrics}");
    let age: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("studio_job_oldest_age_seconds "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(age > 0.0, "the stuck job ages: {age}");
    // Another worker gets nothing until the lease expires, then finishes the job.
    let early = app.store.claim_job("probe", Duration::from_secs(1)).await.unwrap();
    assert!(early.is_none(), "the lease still holds: {early:?} now {}", Utc::now());
    // Once the lease runs out the job is claimable again (polled, not slept).
    let t = std::time::Instant::now();
    let (job, ran) = loop {
        if let Some(done) = w.run_one().await.unwrap() {
            break done;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the expired job was not claimable in 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ran, Ran::Done);
    assert_eq!(job.attempts, 2);
    let r = app.get(&format!("/api/replays/{}", s.session), &s.student.token).await;
    assert!(r.body["transcript"]["segments"].as_array().is_some_and(|v| !v.is_empty()));
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("studio_job_queue_depth 0\n"), "the backlog is gone: {metrics}");
}

/// Derivers fail alone: when captions cannot be stored (a file sits where their folder should be),
/// the captions artifact is `failed` with its error and every other artifact is still ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_deriver_leaves_the_others() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("Derivers").await;
    app.live(&s).await;
    let dir = cloud_api::spawned::Scratch::new("derivers");
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("short.wav");
    assert!(Command::new("espeak-ng").arg("-w").arg(&raw).arg(PARTS[1]).status().unwrap().success());
    let up = upload_recording(&app, &s.teacher.token, &s.session, std::fs::read(&raw).unwrap(), None, "short").await;
    assert_eq!(up.status, 201);
    let rid = up.body["id"].as_str().unwrap();
    // Block the captions' folder with a plain file.
    let blocker = app.data_dir.join("blobs/sessions").join(&s.session).join("artifacts").join(rid);
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, b"not a folder").unwrap();
    let w = worker(&app, 60);
    assert_eq!(w.run_one().await.unwrap().expect("a job").1, Ran::Done, "the job succeeds");
    let r = app.get(&format!("/api/replays/{}", s.session), &s.student.token).await;
    let status =
        |kind: &str| r.body["artifacts"].as_array().unwrap().iter().find(|a| a["type"] == kind).cloned().unwrap();
    assert_eq!(status("captions")["status"], "failed");
    assert!(status("captions")["error"].as_str().unwrap().contains("captions"));
    for kind in ["transcript", "chapters", "highlights", "qa_links"] {
        assert_eq!(status(kind)["status"], "ready", "{kind}");
    }
    assert!(r.body["captionsUrl"].is_null());
    assert!(!r.body["transcript"]["segments"].as_array().unwrap().is_empty());
    let ready =
        app.all_events(&s.teacher.token, &s.session).await.iter().filter(|e| e["type"] == "artifact.ready").count();
    assert_eq!(ready, 4, "no artifact.ready for the failed one");
}
