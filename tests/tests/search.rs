//! Ranked course search on both databases (SQLite FTS5, PostgreSQL tsvector): stemmed words, the
//! last one as a prefix, best first, snippets with the matched words marked, the second in the
//! lecture and the replay link at it; another school's lectures never show; what a user types is
//! never query syntax; PostgreSQL stems each class in its language.

use serde_json::Value;
use shared_types::media::{HitKind, LectureText, Segment, SlideRef};
use studio_tests::*;

fn seg(start_s: f64, end_s: f64, text: &str) -> Segment {
    Segment { start_s, end_s, text: text.into(), scene_id: None, slide: None }
}

async fn search(app: &TestApp, s: &School, q: &str) -> Vec<Value> {
    let path = format!("/api/courses/{}/search?q={}", s.course, urlencode(q));
    let a = app.get(&path, &s.student.token).await;
    assert_eq!(a.status, 200, "{q}: {:?}", a.body);
    a.body["hits"].as_array().unwrap().clone()
}

fn urlencode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn ranked_search(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Biology").await;
    let sid: shared_types::SessionId = s.session.parse().unwrap();
    let lecture = [
        seg(0.0, 4.0, "Good morning, today we study photosynthesis."),
        seg(
            4.0,
            9.5,
            "Chlorophyll absorbs light, and photosynthesis turns light and water into sugar: photosynthesis.",
        ),
        seg(62.5, 70.0, "The Calvin cycle fixes carbon dioxide."),
        seg(70.0, 75.0, "Questions about the cycle of water come next week."),
    ];
    app.store.replace_transcript(s.tenant, s.course, sid, "en", &lecture, &[]).await.unwrap();
    // Another school says the same words; its lectures are not this course's.
    let other = app.school("Other school").await;
    let osid: shared_types::SessionId = other.session.parse().unwrap();
    app.store.replace_transcript(other.tenant, other.course, osid, "en", &lecture, &[]).await.unwrap();

    // Best first: the segment that says it twice outranks the one that says it once.
    let hits = search(&app, &s, "photosynthesis").await;
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0]["atS"], 4.0, "{hits:?}");
    assert_eq!(hits[1]["atS"], 0.0);
    assert!(hits[0]["score"].as_f64().unwrap() > hits[1]["score"].as_f64().unwrap());
    assert!(hits.iter().all(|h| h["sessionId"] == s.session.as_str()), "only this course's lectures");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("«photosynthesis»"), "{}", hits[0]["snippet"]);
    assert_eq!(hits[0]["lessonId"], s.lesson.as_str());
    assert_eq!(hits[0]["language"], "en");
    assert!(!hits[0]["lessonTitle"].as_str().unwrap().is_empty());
    let held: chrono::DateTime<chrono::Utc> = hits[0]["heldAt"].as_str().unwrap().parse().unwrap();
    assert!((chrono::Utc::now() - held).num_days().abs() < 30, "when the class was held: {held}");

    // Stemmed ("absorb" finds "absorbs"), every word must match, the last is a prefix.
    let hits = search(&app, &s, "absorb").await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["atS"], 4.0);
    let hits = search(&app, &s, "Calvin cyc").await;
    assert_eq!(hits.len(), 1, "both words, the second a prefix: {hits:?}");
    let hit = &hits[0];
    assert_eq!(hit["atS"], 62.5);
    assert_eq!(hit["endS"], 70.0);
    assert_eq!(hit["text"], "The Calvin cycle fixes carbon dioxide.");
    let snippet = hit["snippet"].as_str().unwrap();
    assert!(snippet.contains("«Calvin»") && snippet.contains("«cycle»"), "{snippet}");
    // The link opens the replay at that second of the recording (browser_replay follows one).
    assert_eq!(hit["replayUrl"], format!("/app/#/sessions/{}/replay?at=62.5", s.session));
    let hits = search(&app, &s, "cycle").await;
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(search(&app, &s, "mitochondria").await.is_empty());

    // What the user types is words, never syntax: quotes, operators and brackets change nothing.
    assert_eq!(search(&app, &s, "\"calvin\" (cycle*) -^").await.len(), 1);
    let symbols =
        app.get(&format!("/api/courses/{}/search?q={}", s.course, urlencode("*** ::: &|!")), &s.student.token).await;
    assert_eq!(
        (symbols.status.as_u16(), symbols.body["code"].as_str()),
        (422, Some("validation_failed")),
        "{:?}",
        symbols.body
    );
    let long = app.get(&format!("/api/courses/{}/search?q={}", s.course, "w".repeat(10_000)), &s.student.token).await;
    assert_eq!((long.status.as_u16(), long.body["code"].as_str()), (422, Some("validation_failed")), "{:?}", long.body);

    // A slide page and a question are found beside what was said; the transcript stays speech only.
    let slide = LectureText {
        kind: HitKind::Slide,
        start_s: 30.0,
        end_s: 62.5,
        text: "Stomata\nGuard cells open and close".into(),
        slide: Some(SlideRef { asset_id: uuid::Uuid::new_v4().to_string(), page: Some(4) }),
    };
    let asked = "Do guard cells close at night?";
    let question = LectureText { kind: HitKind::Question, start_s: 40.0, end_s: 55.0, text: asked.into(), slide: None };
    app.store.replace_transcript(s.tenant, s.course, sid, "en", &lecture, &[slide, question]).await.unwrap();
    let hits = search(&app, &s, "guard cells").await;
    let found: Vec<(&str, f64, Option<u64>)> =
        hits.iter().map(|h| (h["kind"].as_str().unwrap(), h["atS"].as_f64().unwrap(), h["page"].as_u64())).collect();
    assert_eq!(found.len(), 2, "{hits:?}");
    assert!(found.contains(&("slide", 30.0, Some(4))) && found.contains(&("question", 40.0, None)), "{hits:?}");
    assert_eq!(search(&app, &s, "stomata").await[0]["text"], "Stomata\nGuard cells open and close");
    assert_eq!(search(&app, &s, "calvin").await[0]["kind"], "speech");
    assert_eq!(app.store.transcript(s.tenant, sid).await.unwrap(), lecture.to_vec(), "the transcript is what was said");

    // A transcript replaced (the worker ran again) is searched as it is now.
    app.store.replace_transcript(s.tenant, s.course, sid, "en", &lecture[2..], &[]).await.unwrap();
    assert!(search(&app, &s, "photosynthesis").await.is_empty(), "the old rows left the index");
    assert_eq!(search(&app, &s, "calvin").await.len(), 1);

    // Bad input: a clear problem, nothing else.
    let short = app.get(&format!("/api/courses/{}/search?q=a", s.course), &s.student.token).await;
    assert_eq!(short.status, 422, "{:?}", short.body);
    assert_eq!(short.body["code"], "validation_failed");
    // Pages of 50, best first: the next page continues the ranking, nothing twice, none after the last.
    let many: Vec<Segment> = (0..60)
        .map(|i| seg(100.0 + 5.0 * i as f64, 104.0 + 5.0 * i as f64, &format!("Wave number {i} crosses the tank.")))
        .collect();
    app.store.replace_transcript(s.tenant, s.course, sid, "en", &many, &[]).await.unwrap();
    let page = |cursor: Option<String>| {
        let path = format!(
            "/api/courses/{}/search?q=wave{}",
            s.course,
            cursor.map(|c| format!("&cursor={}", urlencode(&c))).unwrap_or_default()
        );
        let token = s.student.token.clone();
        let app = &app;
        async move { app.get(&path, &token).await }
    };
    let first = page(None).await;
    assert_eq!(first.body["hits"].as_array().unwrap().len(), 50, "{:?}", first.body);
    let cursor = first.body["nextCursor"].as_str().expect("a next page").to_string();
    let second = page(Some(cursor)).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.body["hits"].as_array().unwrap().len(), 10);
    assert!(second.body["nextCursor"].is_null(), "the last page: {:?}", second.body);
    let mut seen: Vec<f64> = [&first, &second]
        .iter()
        .flat_map(|p| p.body["hits"].as_array().unwrap().iter().map(|h| h["atS"].as_f64().unwrap()))
        .collect();
    seen.sort_by(f64::total_cmp);
    seen.dedup();
    assert_eq!(seen.len(), 60, "every hit once across the pages");
    let bad = page(Some("not-a-cursor".into())).await;
    assert_eq!((bad.status.as_u16(), bad.body["code"].as_str()), (422, Some("validation_failed")), "{:?}", bad.body);

    // A word said in more lines than a search ranks (a common word): still found at once, the
    // lines ranked are the cap's worth (SQLite keeps the newest, PostgreSQL the first its index
    // hands back; row 1000 of 2500 is among both), best first within them, paged to the end.
    let cap = cloud_api::store::SEARCH_RANKS_AT_MOST as usize;
    let common: Vec<Segment> = (0..cap + 500)
        .map(|i| {
            let text = if i == 1000 {
                "The tide, the tide, the tide comes in.".to_string()
            } else {
                format!("Then the tide turns, line {i}.")
            };
            seg(5.0 * i as f64, 5.0 * i as f64 + 4.0, &text)
        })
        .collect();
    app.store.replace_transcript(s.tenant, s.course, sid, "en", &common, &[]).await.unwrap();
    let (mut cursor, mut all) = (None::<String>, Vec::new());
    loop {
        let path = format!(
            "/api/courses/{}/search?q=tide{}",
            s.course,
            cursor.as_deref().map(|c| format!("&cursor={}", urlencode(c))).unwrap_or_default()
        );
        let p = app.get(&path, &s.student.token).await;
        assert_eq!(p.status, 200, "{:?}", p.body);
        all.extend(p.body["hits"].as_array().unwrap().iter().map(|h| h["atS"].as_f64().unwrap()));
        match p.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(all[0], 5000.0, "the line that says it three times first");
    let n = all.len();
    all.sort_by(f64::total_cmp);
    all.dedup();
    assert_eq!((n, all.len()), (1000, 1000), "the pages go 1,000 hits deep, each hit once");
    let ranked = |offset: usize| app.store.search(s.tenant, s.course, "tide", 100, offset as i64);
    assert_eq!(ranked(cap - 50).await.unwrap().len(), 50, "the cap's worth ranked");
    assert!(ranked(cap).await.unwrap().is_empty(), "and no more");

    // A class held in Spanish is stemmed as Spanish on PostgreSQL ("correr" finds "corriendo",
    // the snippet marks it); SQLite's Porter stemmer is English, so there only the word itself.
    let spanish = [seg(0.0, 6.0, "Las plantas siguen corriendo hacia la luz del sol.")];
    app.store.replace_transcript(s.tenant, s.course, sid, "es", &spanish, &[]).await.unwrap();
    let plants = search(&app, &s, "plantas").await;
    assert_eq!((plants.len(), plants[0]["language"].as_str()), (1, Some("es")), "{plants:?}");
    let run = search(&app, &s, "correr").await;
    if db == Db::Postgres {
        assert_eq!(run.len(), 1, "{run:?}");
        assert!(run[0]["snippet"].as_str().unwrap().contains("«corriendo»"), "{run:?}");
    } else {
        assert!(run.is_empty(), "{run:?}");
    }

    // Someone outside the course cannot search it.
    let outsider = app.get(&format!("/api/courses/{}/search?q=calvin", s.course), &s.outsider.token).await;
    assert_eq!(outsider.status, 403, "{:?}", outsider.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ranked_search() {
    ranked_search(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ranked_search() {
    ranked_search(Db::Postgres).await;
}
