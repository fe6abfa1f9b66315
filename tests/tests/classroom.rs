//! Studio and interaction routes: what each role may do, one vote / one upvote, moderation, reads.

use serde_json::{json, Value};
use studio_tests::*;

async fn count(app: &TestApp, s: &School) -> usize {
    app.all_events(&s.teacher.token, &s.session).await.len()
}

async fn students_cannot_present(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Present").await;
    app.live(&s).await;
    let sid = s.session.as_str();
    let stroke = json!([{"id": "s1", "points": [[0.1, 0.1], [0.2, 0.2]], "color": "#e11", "width": 3}]);
    let writes: Vec<(&str, Value)> = vec![
        ("/api/studio/scenes", json!({"sessionId": sid, "name": "Intro", "layout": []})),
        ("/api/studio/slides/show", json!({"sessionId": sid, "assetId": uuid::Uuid::new_v4(), "page": 1})),
        ("/api/whiteboard/strokes", json!({"sessionId": sid, "boardId": "main", "strokes": stroke})),
        ("/api/whiteboard/clear", json!({"sessionId": sid, "boardId": "main"})),
        ("/api/whiteboard/undo", json!({"sessionId": sid, "boardId": "main"})),
        ("/api/whiteboard/erase", json!({"sessionId": sid, "boardId": "main", "strokeIds": ["s1"]})),
        ("/api/polls", json!({"sessionId": sid, "prompt": "?", "options": ["a", "b"]})),
    ];
    let before = count(&app, &s).await;
    for (path, body) in &writes {
        for who in [&s.student, &s.outsider] {
            let a = app.post(path, &who.token, body.clone()).await;
            assert_eq!(a.status, 403, "{path}: {:?}", a.body);
            assert_eq!(a.code(), "forbidden");
        }
        let a = app.post(path, &s.admin.token, body.clone()).await;
        assert_eq!(a.status, 403, "admins are not presenters: {path}");
    }
    let marks = app.post(&format!("/api/sessions/{sid}/highlights"), &s.student.token, json!({"label": "x"})).await;
    assert_eq!(marks.status, 403);
    assert_eq!(count(&app, &s).await, before, "refusals write nothing");
    // The assistant presents.
    let a = app
        .post(
            "/api/whiteboard/strokes",
            &s.assistant.token,
            json!({"sessionId": sid, "boardId": "main", "strokes": stroke}),
        )
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    // Outsiders cannot even chat or read.
    assert_eq!(app.post("/api/chat", &s.outsider.token, json!({"sessionId": sid, "content": "hi"})).await.status, 403);
    assert_eq!(app.get(&format!("/api/sessions/{sid}/chat"), &s.outsider.token).await.status, 403);
}

async fn scenes_slides_whiteboard(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Studio").await;
    app.live(&s).await;
    let sid = s.session.as_str();
    let t = &s.teacher.token;
    let layout = json!([{"source": "camera", "x": 0.7, "y": 0.7, "w": 0.3, "h": 0.3}, {"source": "whiteboard", "refId": "main", "x": 0, "y": 0, "w": 1, "h": 1}]);
    let sc = app.post("/api/studio/scenes", t, json!({"sessionId": sid, "name": "Board", "layout": layout})).await;
    assert_eq!(sc.status, 201, "{:?}", sc.body);
    assert_eq!(sc.body["event"]["type"], "scene.created");
    let scene = sc.body["scene"]["id"].as_str().unwrap().to_string();
    assert_eq!(sc.body["scene"]["active"], false);
    let patch = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/studio/scenes/{scene}"),
            Some(t),
            Some(json!({"name": "Whiteboard", "active": true})),
            None,
        )
        .await;
    assert_eq!(patch.status, 200, "{:?}", patch.body);
    assert_eq!(patch.body["scene"]["name"], "Whiteboard");
    assert_eq!(patch.body["scene"]["active"], true);
    assert_eq!(patch.body["events"].as_array().unwrap().len(), 2);
    let by_student = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/studio/scenes/{scene}"),
            Some(&s.student.token),
            Some(json!({"active": true})),
            None,
        )
        .await;
    assert_eq!(by_student.status, 403);
    let unknown = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/studio/scenes/{}", uuid::Uuid::new_v4()),
            Some(t),
            Some(json!({"active": true})),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);

    let stroke = |id: &str| json!({"id": id, "points": [[0.1, 0.1], [0.4, 0.5]], "color": "#123", "width": 2});
    for batch in [vec![stroke("a"), stroke("b")], vec![stroke("c")]] {
        let r = app
            .post("/api/whiteboard/strokes", t, json!({"sessionId": sid, "boardId": "main", "strokes": batch}))
            .await;
        assert_eq!(r.status, 201);
    }
    assert_eq!(app.post("/api/whiteboard/undo", t, json!({"sessionId": sid, "boardId": "main"})).await.status, 200);
    assert_eq!(
        app.post("/api/whiteboard/erase", t, json!({"sessionId": sid, "boardId": "main", "strokeIds": ["a"]}))
            .await
            .status,
        200
    );
    let bad = app.post("/api/whiteboard/strokes", t, json!({"sessionId": sid, "boardId": "main", "strokes": [{"id": "z", "points": [], "color": "#1", "width": 1}]})).await;
    assert_eq!(bad.status, 422);
    let state = app.get(&format!("/api/sessions/{sid}/state"), &s.student.token).await.body["state"].clone();
    assert_eq!(state["activeScene"], scene);
    assert_eq!(state["scenes"][&scene]["layout"][1]["refId"], "main");
    let board: Vec<&str> = state["boards"]["main"]["batches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b.as_array().unwrap())
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(board, vec!["b"]);
    assert_eq!(app.post("/api/whiteboard/clear", t, json!({"sessionId": sid, "boardId": "main"})).await.status, 200);
    // A slide of a deck that does not exist.
    let r = app
        .post("/api/studio/slides/show", t, json!({"sessionId": sid, "assetId": uuid::Uuid::new_v4(), "page": 1}))
        .await;
    assert_eq!(r.status, 404);
}

async fn chat_questions_polls_hands(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Interact").await;
    app.live(&s).await;
    let a = app.post("/api/sessions/join", &s.assistant.token, json!({"sessionId": s.session})).await;
    assert_eq!(a.status, 200);
    let sid = s.session.as_str();

    // Chat, with a retry that must not duplicate, and moderation.
    let first = app
        .post_key("/api/chat", &s.student.token, json!({"sessionId": sid, "content": "Is this on the exam?"}), "c1")
        .await;
    assert_eq!(first.status, 201);
    let again = app
        .post_key("/api/chat", &s.student.token, json!({"sessionId": sid, "content": "Is this on the exam?"}), "c1")
        .await;
    assert_eq!(again.body["message"]["id"], first.body["message"]["id"]);
    let rude = app.post("/api/chat", &s.student.token, json!({"sessionId": sid, "content": "rude"})).await;
    let rude_id = rude.body["message"]["id"].as_str().unwrap();
    assert_eq!(app.post(&format!("/api/chat/{rude_id}/hide"), &s.student.token, json!({})).await.status, 403);
    assert_eq!(app.post(&format!("/api/chat/{rude_id}/hide"), &s.assistant.token, json!({})).await.status, 200);
    let seen_by_student = app.get(&format!("/api/sessions/{sid}/chat"), &s.student.token).await;
    assert_eq!(seen_by_student.body["messages"].as_array().unwrap().len(), 1);
    let seen_by_teacher = app.get(&format!("/api/sessions/{sid}/chat"), &s.teacher.token).await;
    assert_eq!(seen_by_teacher.body["messages"][1]["hidden"], true);
    let empty = app.post("/api/chat", &s.student.token, json!({"sessionId": sid, "content": "   "})).await;
    assert_eq!(empty.status, 422);

    // Questions: one upvote per user; a second changes nothing.
    let q = app
        .post("/api/questions", &s.student.token, json!({"sessionId": sid, "content": "Why is the sky blue?"}))
        .await;
    assert_eq!(q.status, 201, "{:?}", q.body);
    let qid = q.body["question"]["id"].as_str().unwrap().to_string();
    let up = app.post(&format!("/api/questions/{qid}/upvote"), &s.assistant.token, json!({})).await;
    assert_eq!(up.body["question"]["upvotes"], 1);
    let twice = app.post(&format!("/api/questions/{qid}/upvote"), &s.assistant.token, json!({})).await;
    assert_eq!(twice.status, 409);
    assert_eq!(twice.code(), "already_upvoted");
    let list = app.get(&format!("/api/sessions/{sid}/questions"), &s.student.token).await;
    assert_eq!(list.body["questions"][0]["upvotes"], 1);
    assert_eq!(app.post(&format!("/api/questions/{qid}/answer"), &s.student.token, json!({})).await.status, 403);
    let ans = app.post(&format!("/api/questions/{qid}/answer"), &s.teacher.token, json!({})).await;
    assert_eq!(ans.body["question"]["answered"], true);
    assert_eq!(
        app.post(&format!("/api/questions/{}/upvote", uuid::Uuid::new_v4()), &s.student.token, json!({})).await.status,
        404
    );

    // Polls: open, vote once, live tally, close.
    let p = app
        .post("/api/polls", &s.teacher.token, json!({"sessionId": sid, "prompt": "2+2?", "options": ["3", "4", "5"]}))
        .await;
    assert_eq!(p.status, 201, "{:?}", p.body);
    let pid = p.body["poll"]["id"].as_str().unwrap().to_string();
    let v = app.post(&format!("/api/polls/{pid}/responses"), &s.student.token, json!({"option": 1})).await;
    assert_eq!(v.status, 200, "{:?}", v.body);
    assert_eq!(v.body["poll"]["tally"], json!([0, 1, 0]));
    assert_eq!(v.body["poll"]["myVote"], 1);
    let v2 = app.post(&format!("/api/polls/{pid}/responses"), &s.student.token, json!({"option": 2})).await;
    assert_eq!(v2.status, 409);
    assert_eq!(v2.code(), "already_voted");
    let bad = app.post(&format!("/api/polls/{pid}/responses"), &s.assistant.token, json!({"option": 7})).await;
    assert_eq!(bad.status, 422);
    assert_eq!(app.post(&format!("/api/polls/{pid}/close"), &s.student.token, json!({})).await.status, 403);
    assert_eq!(app.post(&format!("/api/polls/{pid}/close"), &s.teacher.token, json!({})).await.status, 200);
    let late = app.post(&format!("/api/polls/{pid}/responses"), &s.assistant.token, json!({"option": 0})).await;
    assert_eq!(late.code(), "poll_closed");
    let got = app.get(&format!("/api/polls/{pid}"), &s.student.token).await;
    assert_eq!(got.body["tally"], json!([0, 1, 0]));
    assert_eq!(got.body["closed"], true);
    assert_eq!(app.get(&format!("/api/polls/{pid}"), &s.outsider.token).await.status, 403);

    // Hands and highlights.
    let h = app.post(&format!("/api/sessions/{sid}/hand"), &s.student.token, json!({"raised": true})).await;
    assert_eq!(h.status, 200, "{:?}", h.body);
    let st = app.get(&format!("/api/sessions/{sid}/state"), &s.teacher.token).await;
    assert_eq!(st.body["state"]["participants"][s.student.id.to_string()]["handRaised"], true);
    assert_eq!(
        app.post(&format!("/api/sessions/{sid}/hand/lower"), &s.student.token, json!({"userId": s.assistant.id}))
            .await
            .status,
        403
    );
    let low =
        app.post(&format!("/api/sessions/{sid}/hand/lower"), &s.teacher.token, json!({"userId": s.student.id})).await;
    assert_eq!(low.status, 200, "{:?}", low.body);
    let st = app.get(&format!("/api/sessions/{sid}/state"), &s.teacher.token).await;
    assert_eq!(st.body["state"]["participants"][s.student.id.to_string()]["handRaised"], false);
    let hl = app.post(&format!("/api/sessions/{sid}/highlights"), &s.teacher.token, json!({"label": "Key idea"})).await;
    assert_eq!(hl.status, 201);

    // The projections agree with the log.
    let events = app.all_events(&s.teacher.token, sid).await;
    assert_gap_free(&events);
    assert_eq!(events.iter().filter(|e| e["type"] == "chat.posted").count(), 2);
}

/// The course's people: everyone with a grant on it and the school's staff, by name, never an email;
/// only for those who may see the course.
async fn course_people_by_name(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("People").await;
    let ana = app
        .post(
            "/api/admin/users",
            &s.admin.token,
            json!({"email": format!("ana-{}@x.test", s.tenant), "password": PASSWORD, "displayName": "Ana Lima"}),
        )
        .await;
    assert_eq!(ana.status, 201, "{:?}", ana.body);
    let ana_id = ana.body["id"].as_str().unwrap().to_string();
    let grant = json!({"userId": ana_id, "role": "student", "scope": "course", "scopeId": s.course});
    assert_eq!(app.post("/api/admin/roles", &s.admin.token, grant).await.status, 201);

    let r = app.get(&format!("/api/courses/{}/people", s.course), &s.student.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let people = r.body["people"].as_array().unwrap();
    let role_of = |id: &str| people.iter().find(|p| p["userId"] == id).map(|p| p["role"].clone());
    assert_eq!(role_of(&ana_id), Some(json!("student")));
    assert_eq!(people.iter().find(|p| p["userId"] == ana_id.as_str()).unwrap()["name"], "Ana Lima");
    assert_eq!(role_of(&s.teacher.id.to_string()), Some(json!("teacher")));
    assert_eq!(role_of(&s.assistant.id.to_string()), Some(json!("assistant")));
    assert_eq!(role_of(&s.admin.id.to_string()), Some(json!("admin")), "school staff are named too");
    assert_eq!(role_of(&s.outsider.id.to_string()), None, "a student of another course is not listed");
    assert_eq!(people.len(), 5, "each person once: {people:?}");
    assert!(!r.body.to_string().contains("@x.test"), "no emails: {}", r.body);

    let r = app.get(&format!("/api/courses/{}/people", s.course), &s.outsider.token).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
}

on_both!(students_cannot_present, scenes_slides_whiteboard, chat_questions_polls_hands, course_people_by_name);
