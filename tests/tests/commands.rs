//! Every `SessionCommand` is reachable: each one a participant can ask is issued by an HTTP route,
//! driven here one by one against a live class; each system command names what issues it and the
//! test that covers that path. The `match` is exhaustive, so a new command without a route does
//! not compile.

use serde_json::json;
use shared_types::SessionCommand;
use studio_tests::*;

/// Who issues each command: an HTTP route (driven below), or the system.
fn issued_by(c: &SessionCommand) -> &'static str {
    use SessionCommand as C;
    match c {
        C::Schedule { .. } => "POST /api/sessions",
        C::Start { .. } => "POST /api/sessions/start",
        C::End => "POST /api/sessions/end",
        C::SetLanguage { .. } => "POST /api/sessions/{id}/language",
        C::Join => "POST /api/sessions/join",
        C::Leave => "POST /api/sessions/leave",
        C::RaiseHand | C::LowerHand { user_id: None } => "POST /api/sessions/{id}/hand",
        C::LowerHand { user_id: Some(_) } => "POST /api/sessions/{id}/hand/lower",
        C::CreateScene { .. } => "POST /api/studio/scenes",
        C::UpdateScene { .. } | C::ActivateScene { .. } => "PATCH /api/studio/scenes/{id}",
        C::AddDeck { .. } | C::AddAsset { .. } => "POST /api/studio/assets",
        C::ShowSlide { .. } => "POST /api/studio/slides/show",
        C::AddStrokes { .. } => "POST /api/whiteboard/strokes",
        C::EraseStrokes { .. } => "POST /api/whiteboard/erase",
        C::ClearBoard { .. } => "POST /api/whiteboard/clear",
        C::UndoStroke { .. } => "POST /api/whiteboard/undo",
        C::PostChat { .. } => "POST /api/chat",
        C::HideChat { .. } => "POST /api/chat/{id}/hide",
        C::AskQuestion { .. } => "POST /api/questions",
        C::UpvoteQuestion { .. } => "POST /api/questions/{id}/upvote",
        C::AnswerQuestion { .. } => "POST /api/questions/{id}/answer",
        C::DismissQuestion { .. } => "POST /api/questions/{id}/dismiss",
        C::OpenPoll { .. } => "POST /api/polls",
        C::Vote { .. } => "POST /api/polls/{id}/responses",
        C::ClosePoll { .. } => "POST /api/polls/{id}/close",
        C::MarkHighlight { .. } => "POST /api/sessions/{id}/highlights",
        C::AddRecording { .. } => "POST /api/sessions/{id}/recordings (and the egress_ended webhook)",
        // System: covered by tests of their own paths.
        C::RecordPresence { .. } => "system: LiveKit participant webhooks (livekit.rs webhooks tests)",
        C::RecordingStarted { .. } => {
            "system: the class recording egress (artifact-worker/tests/egress_recording.rs, real egress)"
        }
        C::StreamStarted { .. } | C::StreamStopped => {
            "POST/DELETE /api/sessions/{id}/stream, after LiveKit Egress answers"
        }
        C::StreamFailed { .. } => "system: the stream watchdog (tests/tests/egress.rs kills egress mid-stream)",
        C::ArtifactReady { .. } => "system: artifact-worker (artifact-worker/tests/pipeline.rs)",
        C::AddCaption { .. } => "system: live captions (tests/tests/browser_media.rs shows them in the room)",
    }
}

/// Drive every participant route once; each appends the event of its command.
async fn every_route_issues_its_command(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Commands").await; // POST /api/sessions (Schedule)
    let sid = s.session.clone();
    let (t, st) = (s.teacher.token.clone(), s.student.token.clone());
    let ok = |a: &Answer| assert!(a.status.is_success(), "{:?}", a.body);
    ok(&app.post("/api/sessions/start", &t, json!({"sessionId": sid})).await);
    ok(&app.post("/api/sessions/join", &st, json!({"sessionId": sid})).await);
    ok(&app.post(&format!("/api/sessions/{sid}/language"), &t, json!({"language": "de"})).await);
    ok(&app.post(&format!("/api/sessions/{sid}/hand"), &st, json!({"raised": true})).await);
    ok(&app.post(&format!("/api/sessions/{sid}/hand/lower"), &t, json!({"userId": s.student.id})).await);
    ok(&app.post(&format!("/api/sessions/{sid}/hand"), &st, json!({"raised": false})).await);
    let scene = app.post("/api/studio/scenes", &t, json!({"sessionId": sid, "name": "Main", "layout": []})).await;
    ok(&scene);
    let scene_id = scene.body["scene"]["id"].as_str().or(scene.body["id"].as_str()).expect("scene id").to_string();
    let patch = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/studio/scenes/{scene_id}"),
            Some(&t),
            Some(json!({"name": "Board", "active": true})),
            None,
        )
        .await;
    ok(&patch);
    let deck = app.upload(&t, &[("sessionId", &sid), ("type", "slide"), ("title", "Deck")], pdf(2), "d.pdf").await;
    ok(&deck);
    let asset = deck.body["id"].as_str().expect("asset id").to_string();
    let png = app.fetch(deck.body["pages"][0].as_str().expect("page url")).await.1;
    ok(&app.upload(&t, &[("sessionId", &sid), ("type", "image")], png, "p.png").await);
    ok(&app.post("/api/studio/slides/show", &t, json!({"sessionId": sid, "assetId": asset, "page": 2})).await);
    let stroke = json!({"id": "s1", "points": [[0.1, 0.1], [0.2, 0.2]], "color": "#c00", "width": 2.0});
    ok(&app.post("/api/whiteboard/strokes", &t, json!({"sessionId": sid, "boardId": "b", "strokes": [stroke]})).await);
    ok(&app.post("/api/whiteboard/erase", &t, json!({"sessionId": sid, "boardId": "b", "strokeIds": ["s1"]})).await);
    let stroke2 = json!({"id": "s2", "points": [[0.3, 0.3]], "color": "#00c", "width": 2.0});
    ok(&app.post("/api/whiteboard/strokes", &t, json!({"sessionId": sid, "boardId": "b", "strokes": [stroke2]})).await);
    ok(&app.post("/api/whiteboard/undo", &t, json!({"sessionId": sid, "boardId": "b"})).await);
    ok(&app.post("/api/whiteboard/clear", &t, json!({"sessionId": sid, "boardId": "b"})).await);
    let chat = app.post("/api/chat", &st, json!({"sessionId": sid, "content": "hello"})).await;
    ok(&chat);
    let msg = chat.body["message"]["id"].as_str().unwrap().to_string();
    ok(&app.post(&format!("/api/chat/{msg}/hide"), &t, json!({})).await);
    let q1 = app.post("/api/questions", &st, json!({"sessionId": sid, "content": "why?"})).await;
    ok(&q1);
    let q1 = q1.body["question"]["id"].as_str().unwrap().to_string();
    let q2 = app.post("/api/questions", &st, json!({"sessionId": sid, "content": "how?"})).await;
    let q2 = q2.body["question"]["id"].as_str().unwrap().to_string();
    ok(&app.post(&format!("/api/questions/{q1}/upvote"), &t, json!({})).await);
    ok(&app.post(&format!("/api/questions/{q1}/answer"), &t, json!({})).await);
    ok(&app.post(&format!("/api/questions/{q2}/dismiss"), &t, json!({})).await);
    let poll = app.post("/api/polls", &t, json!({"sessionId": sid, "prompt": "Which?", "options": ["a", "b"]})).await;
    ok(&poll);
    let poll = poll.body["poll"]["id"].as_str().unwrap().to_string();
    ok(&app.post(&format!("/api/polls/{poll}/responses"), &st, json!({"option": 1})).await);
    ok(&app.post(&format!("/api/polls/{poll}/close"), &t, json!({})).await);
    ok(&app.post(&format!("/api/sessions/{sid}/highlights"), &t, json!({"label": "key idea"})).await);
    let rec = app.post_recording(&t, &sid, "rec-1", wav(0.5)).await;
    assert_eq!(rec.status, 201);
    ok(&app.post("/api/sessions/leave", &st, json!({"sessionId": sid})).await);
    ok(&app.post("/api/sessions/end", &t, json!({"sessionId": sid})).await);

    let events = app.all_events(&t, &sid).await;
    assert_gap_free(&events);
    let types: std::collections::BTreeSet<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let expected = [
        "session.scheduled",
        "session.started",
        "participant.joined",
        "session.language_set",
        "hand.raised",
        "hand.lowered",
        "scene.created",
        "scene.updated",
        "scene.changed",
        "slide.deck_added",
        "slide.shown",
        "whiteboard.stroke_added",
        "whiteboard.stroke_erased",
        "whiteboard.undone",
        "whiteboard.cleared",
        "chat.posted",
        "chat.hidden",
        "question.asked",
        "question.upvoted",
        "question.answered",
        "question.dismissed",
        "poll.opened",
        "poll.voted",
        "poll.closed",
        "highlight.marked",
        "recording.added",
        "participant.left",
        "session.ended",
    ];
    for ty in expected {
        assert!(types.contains(ty), "no route issued {ty}: {types:?}");
    }
    // The table covers every command a journal entry can become (and so every participant command).
    for ty in shared_types::SessionEvent::TYPES {
        if let Ok(event) = shared_types::SessionEvent::from_parts(ty, 1, json!({})) {
            if let Ok(cmd) = SessionCommand::from_journal(event) {
                assert!(!issued_by(&cmd).starts_with("system"), "{ty} is a participant's command");
            }
        }
    }
}

on_both!(every_route_issues_its_command);
