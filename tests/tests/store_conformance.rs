//! One conformance suite for the `Store`, run against SQLite and against PostgreSQL.

use chrono::{Duration, Utc};
use cloud_api::store::{AppendOutcome, IdemBegin, NewEvent, Store, StoredResponse};
use shared_types::{Rejection, Role, RoleGrant, Scope, SessionEvent, SessionId, TenantId, UserId};
use std::sync::Arc;
use studio_tests::{fresh_db, Db, DbDir};

fn ev(key: &str, actor: UserId, role: Role, event: SessionEvent) -> NewEvent {
    NewEvent { idempotency_key: key.into(), actor_id: Some(actor), actor_role: Some(role), occurred_at: None, event }
}

async fn scheduled(store: &Store, tenant: TenantId, teacher: UserId) -> SessionId {
    let course = store.create_course(tenant, "C").await.unwrap();
    let lesson = store.create_lesson(tenant, course.id, "L", 1).await.unwrap();
    let start = Utc::now();
    let first = ev(
        "sched",
        teacher,
        Role::Teacher,
        SessionEvent::SessionScheduled { scheduled_start: start, scheduled_end: start + Duration::hours(1) },
    );
    let (s, e) =
        store.create_session(tenant, &lesson, start, start + Duration::hours(1), first).await.unwrap().unwrap();
    assert_eq!(e.sequence, 1);
    assert_eq!(s.status, "scheduled");
    s.id
}

async fn suite(db: Db) {
    let url = fresh_db(db).await;
    let _dir = DbDir::of(&url);
    let store = Arc::new(Store::connect(&url).await.unwrap());
    let tenant = store.create_tenant("T").await.unwrap().id;
    let other = store.create_tenant("U").await.unwrap().id;

    // Users: unique email (case-insensitive), tenant-scoped look-ups.
    let teacher = store.create_user(tenant, "Teacher@X.test", None, "h", false).await.unwrap();
    assert_eq!(teacher.email, "teacher@x.test");
    assert!(matches!(
        store.create_user(other, "teacher@x.test", None, "h", false).await,
        Err(cloud_api::store::StoreError::Conflict(c)) if c.contains("email") || c.contains("users")
    ));
    assert!(store.user_in_tenant(tenant, teacher.id).await.unwrap().is_some());
    assert!(store.user_in_tenant(other, teacher.id).await.unwrap().is_none());

    // Grants are idempotent and revocable.
    let g = RoleGrant { role: Role::Teacher, scope: Scope::Tenant, scope_id: Some(tenant.0) };
    store.grant(tenant, teacher.id, g).await.unwrap();
    store.grant(tenant, teacher.id, g).await.unwrap();
    assert_eq!(store.grants_of(teacher.id).await.unwrap(), vec![g]);
    assert!(store.revoke(tenant, teacher.id, g).await.unwrap());
    assert!(!store.revoke(tenant, teacher.id, g).await.unwrap());
    store.grant(tenant, teacher.id, g).await.unwrap();

    // Tokens: found until revoked or expired.
    store.insert_token("h1", &teacher, Utc::now() + Duration::hours(1)).await.unwrap();
    store.insert_token("h2", &teacher, Utc::now() - Duration::seconds(1)).await.unwrap();
    assert_eq!(store.token_owner("h1").await.unwrap().unwrap().grants, vec![g]);
    assert!(store.token_owner("h2").await.unwrap().is_none());
    store.revoke_token("h1").await.unwrap();
    assert!(store.token_owner("h1").await.unwrap().is_none());

    // The log: gap-free, deduped by key, rejections write nothing.
    let sid = scheduled(&store, tenant, teacher.id).await;
    assert!(store.session(other, sid).await.unwrap().is_none(), "another tenant cannot see the session");
    let cross = store
        .append(other, sid, vec![ev("x", teacher.id, Role::Teacher, SessionEvent::SessionStarted { room: None })])
        .await;
    assert!(matches!(cross, Err(cloud_api::store::StoreError::NotFound)), "append through another tenant must fail");

    let (o, head) = store
        .append(tenant, sid, vec![ev("start", teacher.id, Role::Teacher, SessionEvent::SessionStarted { room: None })])
        .await
        .unwrap();
    assert!(matches!(&o[0], AppendOutcome::Appended(e) if e.sequence == 2));
    assert_eq!(head.head, 2);
    let (o, head) = store
        .append(tenant, sid, vec![ev("start", teacher.id, Role::Teacher, SessionEvent::SessionStarted { room: None })])
        .await
        .unwrap();
    assert!(matches!(&o[0], AppendOutcome::Replayed(e) if e.sequence == 2), "{o:?}");
    assert_eq!(head.head, 2);
    let stranger = UserId::new();
    let (o, _) = store
        .append(tenant, sid, vec![ev("start", stranger, Role::Student, SessionEvent::HandRaised {})])
        .await
        .unwrap();
    assert_eq!(o[0], AppendOutcome::KeyReused);
    let (o, head) = store
        .append(tenant, sid, vec![ev("again", teacher.id, Role::Teacher, SessionEvent::SessionStarted { room: None })])
        .await
        .unwrap();
    assert_eq!(o[0], AppendOutcome::Rejected(Rejection::AlreadyStarted));
    assert_eq!(head.head, 2);

    // A batch: the rejected middle entry is skipped, the others land in order.
    let batch = vec![
        ev("h1", teacher.id, Role::Teacher, SessionEvent::HighlightMarked { label: "a".into() }),
        ev("bad", teacher.id, Role::Teacher, SessionEvent::PollClosed { poll_id: shared_types::PollId::new() }),
        ev("h2", teacher.id, Role::Teacher, SessionEvent::HighlightMarked { label: "b".into() }),
    ];
    let (o, state) = store.append(tenant, sid, batch).await.unwrap();
    let head = state.head;
    assert!(matches!(&o[0], AppendOutcome::Appended(e) if e.sequence == 3));
    assert_eq!(o[1], AppendOutcome::Rejected(Rejection::Unknown("poll")));
    assert!(matches!(&o[2], AppendOutcome::Appended(e) if e.sequence == 4));
    assert_eq!(head, 4);

    // The same key twice in one batch: one event; the second answer is the first event.
    let twice = vec![
        ev("dup", teacher.id, Role::Teacher, SessionEvent::HighlightMarked { label: "d".into() }),
        ev("dup", teacher.id, Role::Teacher, SessionEvent::HighlightMarked { label: "d".into() }),
        ev("h1", teacher.id, Role::Teacher, SessionEvent::HighlightMarked { label: "a".into() }),
    ];
    let (o, state) = store.append(tenant, sid, twice).await.unwrap();
    let head = state.head;
    assert!(matches!(&o[0], AppendOutcome::Appended(e) if e.sequence == 5));
    assert!(matches!(&o[1], AppendOutcome::Replayed(e) if e.sequence == 5));
    assert!(matches!(&o[2], AppendOutcome::Replayed(e) if e.sequence == 3), "a key from an earlier batch: {o:?}");
    assert_eq!(head, 5);

    // Repeats that would be refused now (the session started already) are answered by their key,
    // wherever they are in the batch: first (before anything new is folded), or after a repeat
    // that is still valid (which a batch that guessed its keys were new had folded as new).
    let h = |key: &str, label: &str| {
        ev(key, teacher.id, Role::Teacher, SessionEvent::HighlightMarked { label: label.into() })
    };
    let start = || ev("start", teacher.id, Role::Teacher, SessionEvent::SessionStarted { room: None });
    let (o, state) = store.append(tenant, sid, vec![start(), h("h3", "c"), h("h1", "a")]).await.unwrap();
    assert!(matches!(&o[0], AppendOutcome::Replayed(e) if e.sequence == 2), "{o:?}");
    assert!(matches!(&o[1], AppendOutcome::Appended(e) if e.sequence == 6), "{o:?}");
    assert!(matches!(&o[2], AppendOutcome::Replayed(e) if e.sequence == 3), "{o:?}");
    assert_eq!(state.head, 6);
    let (o, state) = store.append(tenant, sid, vec![h("h3", "c"), start()]).await.unwrap();
    assert!(matches!(&o[0], AppendOutcome::Replayed(e) if e.sequence == 6), "{o:?}");
    assert!(matches!(&o[1], AppendOutcome::Replayed(e) if e.sequence == 2), "{o:?}");
    assert_eq!(state.head, 6);

    // Reads: pages, head, state at any prefix.
    let (page, head) = store.events_after(tenant, sid, 1, 2).await.unwrap();
    assert_eq!(page.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(head, 6);
    let (all, _) = store.events_after(tenant, sid, 0, 100).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].event.event_type(), "session.scheduled");
    let at3 = store.state(tenant, sid, Some(3)).await.unwrap();
    assert_eq!(at3.head, 3);
    assert_eq!(at3.highlights.len(), 1);
    assert_eq!(store.state(tenant, sid, None).await.unwrap(), shared_types::fold(&all).unwrap());
    assert_eq!(store.session(tenant, sid).await.unwrap().unwrap().status, "live");

    // 50 concurrent writers on one session: sequences 7..=56, no gap, no duplicate.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        let actor = teacher.id;
        tasks.push(tokio::spawn(async move {
            store
                .append(
                    tenant,
                    sid,
                    vec![ev(
                        &format!("c{i}"),
                        actor,
                        Role::Teacher,
                        SessionEvent::HighlightMarked { label: format!("{i}") },
                    )],
                )
                .await
                .unwrap()
        }));
    }
    let mut seqs: Vec<u64> = Vec::new();
    for t in tasks {
        let (o, _) = t.await.unwrap();
        match &o[0] {
            AppendOutcome::Appended(e) => seqs.push(e.sequence),
            other => panic!("{other:?}"),
        }
    }
    seqs.sort();
    assert_eq!(seqs, (7..=56).collect::<Vec<_>>());
    let (all, head) = store.events_after(tenant, sid, 0, 1000).await.unwrap();
    assert_eq!(head, 56);
    assert_eq!(all.iter().map(|e| e.sequence).collect::<Vec<_>>(), (1..=56).collect::<Vec<_>>());

    // Idempotency records.
    let u = teacher.id;
    let (first, claim) = store.idem_begin(tenant, u, "k", "fp").await.unwrap();
    assert!(matches!(first, IdemBegin::Proceed));
    assert!(claim.is_some(), "a proceeding request holds the claim");
    assert!(matches!(store.idem_begin(tenant, u, "k", "fp").await.unwrap().0, IdemBegin::InFlight { .. }));
    assert!(matches!(store.idem_begin(tenant, u, "k", "other").await.unwrap().0, IdemBegin::InFlight { .. }));
    let resp =
        StoredResponse { status: 201, content_type: Some("application/json".into()), body: b"{\"a\":1}".to_vec() };
    store.idem_finish(u, "k", &resp).await.unwrap();
    drop(claim);
    match store.idem_begin(tenant, u, "k", "fp").await.unwrap().0 {
        IdemBegin::Replay(r) => {
            assert_eq!(r.status, 201);
            assert_eq!(r.body, resp.body);
            assert_eq!(r.content_type, resp.content_type);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(store.idem_begin(tenant, u, "k", "other").await.unwrap().0, IdemBegin::Mismatch));
    // Keys are per user: another user's same key is independent.
    assert!(matches!(store.idem_begin(tenant, stranger, "k", "zz").await.unwrap().0, IdemBegin::Proceed));
    let (gone, gone_claim) = store.idem_begin(tenant, u, "gone", "fp").await.unwrap();
    assert!(matches!(gone, IdemBegin::Proceed));
    store.idem_abandon(u, "gone").await.unwrap();
    drop(gone_claim);
    assert!(matches!(store.idem_begin(tenant, u, "gone", "fp2").await.unwrap().0, IdemBegin::Proceed));
    // A request that ended without finishing or abandoning (cancelled by a disconnect) leaves a
    // claim that is dead at once: its guard is gone.
    let (_, cancelled) = store.idem_begin(tenant, u, "cancelled", "fp").await.unwrap();
    drop(cancelled);
    assert!(matches!(store.idem_begin(tenant, u, "cancelled", "fp").await.unwrap().0, IdemBegin::Proceed));
    // Requests with one key whose claims are released as they fail: a claim found taken may be
    // gone by the time it is read, and the key is then new again (not an error).
    let churn = |store: Arc<Store>| async move {
        for _ in 0..150 {
            let (begun, claim) = store.idem_begin(tenant, u, "churn", "fp").await.expect("claim or answer");
            if matches!(begun, IdemBegin::Proceed) {
                store.idem_release_or_later(u, "churn").await;
            }
            drop(claim);
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(churn(store.clone())), tokio::spawn(churn(store.clone())));
    a.unwrap();
    b.unwrap();
    assert_eq!(store.idem_purge(Duration::hours(24)).await.unwrap(), 0, "young keys are kept");
    assert!(store.idem_purge(Duration::seconds(-1)).await.unwrap() >= 3, "old keys are purged");

    // Webhook ids: seen once marked, purged when old.
    assert!(!store.webhook_seen("EV_x").await.unwrap());
    store.mark_webhook("EV_x", "room_finished").await.unwrap();
    store.mark_webhook("EV_x", "room_finished").await.unwrap();
    assert!(store.webhook_seen("EV_x").await.unwrap());
    assert_eq!(store.purge_webhooks(Duration::days(7)).await.unwrap(), 0);
    assert_eq!(store.purge_webhooks(Duration::seconds(-1)).await.unwrap(), 1);
    assert!(!store.webhook_seen("EV_x").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_conforms() {
    suite(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_conforms() {
    suite(Db::Postgres).await;
}

/// Two stores on one database act like two nodes: each sees the other's appends.
async fn two_nodes(db: Db) {
    let url = studio_tests::fresh_db(db).await;
    let _dir = DbDir::of(&url);
    let a = Store::connect(&url).await.unwrap();
    let b = Store::connect(&url).await.unwrap();
    let tenant = a.create_tenant("T").await.unwrap().id;
    let t = a.create_user(tenant, "t@x.test", None, "h", false).await.unwrap().id;
    let sid = scheduled(&a, tenant, t).await;
    a.append(tenant, sid, vec![ev("s", t, Role::Teacher, SessionEvent::SessionStarted { room: None })]).await.unwrap();
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (o, head) = node
            .append(
                tenant,
                sid,
                vec![ev(&format!("k{i}"), t, Role::Teacher, SessionEvent::HighlightMarked { label: "x".into() })],
            )
            .await
            .unwrap();
        assert!(matches!(&o[0], AppendOutcome::Appended(e) if e.sequence == 3 + i), "{o:?}");
        assert_eq!(head.head, 3 + i);
    }
    assert_eq!(a.state(tenant, sid, None).await.unwrap(), b.state(tenant, sid, None).await.unwrap());
    assert_eq!(a.state(tenant, sid, None).await.unwrap().highlights.len(), 10);

    // A key written on one node and repeated on the other is the first event, not a second one.
    let k0 = ev("k0", t, Role::Teacher, SessionEvent::HighlightMarked { label: "x".into() });
    let (o, state) = b.append(tenant, sid, vec![k0]).await.unwrap();
    assert!(matches!(&o[0], AppendOutcome::Replayed(e) if e.sequence == 3), "{o:?}");
    assert_eq!(state.head, 12);
    // Both nodes at once, 20 writers each (each node's cached state goes stale under the other's
    // writes): one gap-free log, and objects created on either node are indexed once.
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let node = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let event = if i % 4 == 0 {
                SessionEvent::ChatPosted { message_id: shared_types::MessageId::new(), content: format!("m{i}") }
            } else {
                SessionEvent::HighlightMarked { label: format!("{i}") }
            };
            node.append(tenant, sid, vec![ev(&format!("both{i}"), t, Role::Teacher, event)]).await.unwrap()
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        let (o, _) = task.await.unwrap();
        match &o[0] {
            AppendOutcome::Appended(e) => seqs.push(e.sequence),
            other => panic!("{other:?}"),
        }
    }
    seqs.sort();
    assert_eq!(seqs, (13..=52).collect::<Vec<_>>());
    let (all, head) = a.events_after(tenant, sid, 0, 1000).await.unwrap();
    assert_eq!(head, 52);
    assert_eq!(all.iter().map(|e| e.sequence).collect::<Vec<_>>(), (1..=52).collect::<Vec<_>>());
    let folded = shared_types::fold(&all).unwrap();
    assert_eq!(a.state(tenant, sid, None).await.unwrap(), folded);
    assert_eq!(b.state(tenant, sid, None).await.unwrap(), folded);
    assert_eq!(folded.chat.len(), 10);
    for m in &folded.chat {
        let owner = a.owner_session(tenant, cloud_api::store::Owned::Message, m.id.0).await.unwrap();
        assert_eq!(owner, Some(sid), "chat {m:?} is indexed");
    }
    // Batches on one node racing single appends of the same keys on the other (a journal sync
    // and a retried request): every key is in the log once, at one sequence, whoever wrote it;
    // the loser of each race is told the winner's event (a batch's insert that meets a key
    // written since it looked starts again).
    let mut tasks = Vec::new();
    for j in 0..6 {
        let (a, b) = (a.clone(), b.clone());
        let keys: Vec<String> = (0..5).map(|i| format!("race{j}-{i}")).collect();
        let batch = keys.iter().map(|k| ev(k, t, Role::Teacher, SessionEvent::HighlightMarked { label: k.clone() }));
        let batch: Vec<_> = batch.collect();
        tasks.push(tokio::spawn(async move { a.append(tenant, sid, batch).await.unwrap().0 }));
        for k in keys {
            let b = b.clone();
            let one = ev(&k, t, Role::Teacher, SessionEvent::HighlightMarked { label: k.clone() });
            tasks.push(tokio::spawn(async move { b.append(tenant, sid, vec![one]).await.unwrap().0 }));
        }
    }
    let mut by_key = std::collections::HashMap::new();
    for task in tasks {
        for o in task.await.unwrap() {
            let e = match o {
                AppendOutcome::Appended(e) | AppendOutcome::Replayed(e) => e,
                other => panic!("{other:?}"),
            };
            let seq = *by_key.entry(e.idempotency_key.clone()).or_insert(e.sequence);
            assert_eq!(seq, e.sequence, "{} told two sequences", e.idempotency_key);
        }
    }
    assert_eq!(by_key.len(), 30);
    let (all, head) = b.events_after(tenant, sid, 0, 1000).await.unwrap();
    assert_eq!(head, 82);
    assert_eq!(all.iter().map(|e| e.sequence).collect::<Vec<_>>(), (1..=82).collect::<Vec<_>>());
    for e in &all[52..] {
        assert_eq!(by_key.get(&e.idempotency_key), Some(&e.sequence), "{e:?}");
    }
    let folded = shared_types::fold(&all).unwrap();
    assert_eq!(a.state(tenant, sid, None).await.unwrap(), folded);
    // Another school's caller is not written into this session's log, even on a node that has
    // the session's state at hand (the one-statement append reads no row of `sessions`).
    let other = a.create_tenant("U").await.unwrap().id;
    let stray = ev("stray", t, Role::Teacher, SessionEvent::HighlightMarked { label: "x".into() });
    assert!(matches!(a.append(other, sid, vec![stray]).await, Err(cloud_api::store::StoreError::NotFound)));
    assert_eq!(a.state(tenant, sid, None).await.unwrap().head, 82);

    // A refusal decided on a node whose state is stale is still the right one: the session ended
    // on `a`, so `b` refuses a highlight although its own copy says live.
    a.append(tenant, sid, vec![ev("end", t, Role::Teacher, SessionEvent::SessionEnded {})]).await.unwrap();
    let late = ev("late", t, Role::Teacher, SessionEvent::HighlightMarked { label: "x".into() });
    let (o, state) = b.append(tenant, sid, vec![late]).await.unwrap();
    assert!(matches!(&o[0], AppendOutcome::Rejected(_)), "{o:?}");
    assert_eq!(state.head, 83);
}

/// "State at t" of a long session starts from a stored snapshot and folds only the tail: the
/// answer equals the full fold at every point asked, snapshots are kept every `SNAPSHOT_EVERY`
/// events, and one kept under other fold rules is ignored.
async fn snapshots_fold_a_short_tail(db: Db) {
    let url = fresh_db(db).await;
    let _dir = DbDir::of(&url);
    let store = Store::connect(&url).await.unwrap();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let tenant = store.create_tenant("T").await.unwrap().id;
    let t = store.create_user(tenant, "t@x.test", None, "h", false).await.unwrap().id;
    let sid = scheduled(&store, tenant, t).await;
    store
        .append(tenant, sid, vec![ev("s", t, Role::Teacher, SessionEvent::SessionStarted { room: None })])
        .await
        .unwrap();
    for chunk in 0..3 {
        let batch = (0..900)
            .map(|i| {
                let n = chunk * 900 + i;
                let event = match n % 3 {
                    0 => SessionEvent::ChatPosted {
                        message_id: shared_types::MessageId::new(),
                        content: format!("m{n}"),
                    },
                    1 => SessionEvent::WhiteboardStrokeAdded {
                        board_id: "main".into(),
                        strokes: vec![shared_types::events::Stroke {
                            id: format!("s{n}"),
                            points: vec![[0.1, 0.2], [0.3, 0.4]],
                            color: "#123".into(),
                            width: 2.0,
                        }],
                    },
                    _ => SessionEvent::HighlightMarked { label: format!("h{n}") },
                };
                ev(&format!("e{n}"), t, Role::Teacher, event)
            })
            .collect();
        store.append(tenant, sid, batch).await.unwrap();
    }
    let (all, head) = store.events_after(tenant, sid, 0, 10_000).await.unwrap();
    assert_eq!(head, 2702);
    // Each batch's messages are known as the session's objects (written beside the log in one go).
    let objects: i64 =
        sqlx::query_scalar("select count(*) from session_objects where session_id = $1 and kind = 'message'")
            .bind(sid.to_string())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(objects, 900);
    let kept = || async {
        sqlx::query_scalar::<_, i64>("select head from session_snapshots where session_id = $1 order by head")
            .bind(sid.to_string())
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    assert!(kept().await.is_empty(), "nothing kept before a reader asks");
    for at in [2650u64, 999, 1000, 1001, 2702, 2000, 1] {
        let state = store.state(tenant, sid, Some(at)).await.unwrap();
        assert_eq!(state, shared_types::fold(&all[..at as usize]).unwrap(), "state at {at}");
    }
    assert_eq!(kept().await, vec![1000, 2000]);
    // A snapshot under other rules (an older release's reducer) is not trusted.
    sqlx::query(
        "insert into session_snapshots (session_id, head, rules, state, created_at) values ($1, 2500, 'old', '{}', '')",
    )
    .bind(sid.to_string())
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(store.state(tenant, sid, Some(2600)).await.unwrap(), shared_types::fold(&all[..2600]).unwrap());
    // A node with nothing kept (just started) appends from the newest snapshot plus the tail.
    let fresh_node = Store::connect(&url).await.unwrap();
    let more = ev("more", t, Role::Teacher, SessionEvent::HighlightMarked { label: "more".into() });
    let (o, state) = fresh_node.append(tenant, sid, vec![more]).await.unwrap();
    assert!(matches!(&o[0], AppendOutcome::Appended(e) if e.sequence == 2703), "{o:?}");
    let (all, _) = store.events_after(tenant, sid, 0, 10_000).await.unwrap();
    assert_eq!(*state, shared_types::fold(&all).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_snapshots_fold_a_short_tail() {
    snapshots_fold_a_short_tail(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_snapshots_fold_a_short_tail() {
    snapshots_fold_a_short_tail(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_nodes_share_one_log() {
    two_nodes(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_share_one_log() {
    two_nodes(Db::Postgres).await;
}

/// The two migration sets cannot drift: after migrating, SQLite and PostgreSQL have the same tables
/// with the same columns (names and nullability), so one SQL code path serves both. The full-text
/// index is each database's own and left out: FTS5's `transcript_fts*` tables on SQLite, the
/// `transcript_segments.tsv` column on PostgreSQL (only the search query reads them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_define_the_same_schema_on_both_databases() {
    use sqlx::Row;
    type Columns = std::collections::BTreeSet<(String, String, bool)>;
    let sqlite_url = fresh_db(Db::Sqlite).await;
    let _dir = DbDir::of(&sqlite_url);
    Store::connect(&sqlite_url).await.unwrap();
    let pg_url = fresh_db(Db::Postgres).await;
    Store::connect(&pg_url).await.unwrap();

    let mut lite = <sqlx::AnyConnection as sqlx::Connection>::connect(&sqlite_url).await.unwrap();
    let tables: Vec<String> = sqlx::query(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' \
             and name not like 'transcript_fts%'",
    )
    .fetch_all(&mut lite)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    let mut on_sqlite = Columns::new();
    for t in &tables {
        for r in sqlx::query(&format!("select name, \"notnull\", pk from pragma_table_info('{t}')"))
            .fetch_all(&mut lite)
            .await
            .unwrap()
        {
            let not_null = r.get::<i64, _>(1) == 1 || r.get::<i64, _>(2) > 0;
            on_sqlite.insert((t.clone(), r.get::<String, _>(0), not_null));
        }
    }
    let mut pg = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg_url).await.unwrap();
    let on_postgres: Columns = sqlx::query(
        "select table_name::text, column_name::text, (is_nullable = 'NO') as not_null from information_schema.columns \
         where table_schema = 'public' and not (table_name = 'transcript_segments' and column_name = 'tsv')",
    )
    .fetch_all(&mut pg)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1), r.get::<bool, _>(2)))
    .collect();
    assert!(on_sqlite.len() > 50, "the schema was read: {} columns", on_sqlite.len());
    let only_sqlite: Vec<_> = on_sqlite.difference(&on_postgres).collect();
    let only_postgres: Vec<_> = on_postgres.difference(&on_sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migrations drifted:\n  only on SQLite: {only_sqlite:?}\n  only on PostgreSQL: {only_postgres:?}"
    );
}

/// One commit path: a row and its events commit together; if the event is refused, the row is not
/// written either.
async fn rows_and_events_commit_together(db: Db) {
    use cloud_api::store::{AssetRecord, Write};
    let url = fresh_db(db).await;
    let _dir = DbDir::of(&url);
    let store = Store::connect(&url).await.unwrap();
    let tenant = store.create_tenant("Commit").await.unwrap().id;
    let teacher = store.create_user(tenant, "t@commit.test", None, "x", false).await.unwrap().id;
    let sid = scheduled(&store, tenant, teacher).await;
    let asset = |n: u128| AssetRecord {
        id: shared_types::AssetId(uuid::Uuid::from_u128(n)),
        session_id: sid,
        scene_id: None,
        kind: "image".into(),
        content_key: format!("k/{n}.png"),
        content_type: "image/png".into(),
        title: None,
        page_count: None,
    };
    let added = |n: u128| {
        ev(
            &format!("a{n}"),
            teacher,
            Role::Teacher,
            SessionEvent::AssetAdded {
                asset_id: shared_types::AssetId(uuid::Uuid::from_u128(n)),
                kind: "image".into(),
                title: None,
            },
        )
    };
    // A refused event (no such kind of asset): the asset row is not there either.
    let mut bad = added(1);
    if let SessionEvent::AssetAdded { kind, .. } = &mut bad.event {
        *kind = "video".into();
    }
    let refused = store.commit(tenant, sid, &[Write::Asset(&asset(1), teacher)], vec![bad]).await.unwrap();
    assert!(matches!(refused, Err(AppendOutcome::Rejected(Rejection::Invalid(_)))), "{refused:?}");
    assert!(store.asset(tenant, shared_types::AssetId(uuid::Uuid::from_u128(1))).await.unwrap().is_none());
    store
        .append(tenant, sid, vec![ev("start", teacher, Role::Teacher, SessionEvent::SessionStarted { room: None })])
        .await
        .unwrap();
    let ok = store.commit(tenant, sid, &[Write::Asset(&asset(2), teacher)], vec![added(2)]).await.unwrap().unwrap();
    let log = store.events_after(tenant, sid, 0, 100).await.unwrap().0;
    assert_eq!(ok[0].sequence, 3, "{:?}", log.iter().map(|e| (e.sequence, e.event.event_type())).collect::<Vec<_>>());
    assert!(store.asset(tenant, shared_types::AssetId(uuid::Uuid::from_u128(2))).await.unwrap().is_some());
    // The same write again: the original event, one row.
    let again = store.commit(tenant, sid, &[Write::Asset(&asset(2), teacher)], vec![added(2)]).await.unwrap().unwrap();
    assert_eq!(again[0].sequence, 3);
    assert_eq!(store.events_after(tenant, sid, 0, 100).await.unwrap().1, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_and_events_commit_together() {
    rows_and_events_commit_together(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_and_events_commit_together() {
    rows_and_events_commit_together(Db::Postgres).await;
}

/// Many sessions appending at once, several writers each: on PostgreSQL their single appends go
/// in gathered, several sessions' rows a statement (`gather.rs`). Every session's log stays
/// gap-free, every event goes in once, and each message's object is its own session's. With
/// `nodes` stores on one database, a session's writers alternate between them, so the nodes'
/// gathered statements meet on the same sessions (their rows in the log's key order: no deadlock).
async fn many_sessions_at_once(db: Db, nodes: usize) {
    use cloud_api::store::Owned;
    let url = fresh_db(db).await;
    let _dir = DbDir::of(&url);
    let mut stores = Vec::new();
    for _ in 0..nodes {
        stores.push(Arc::new(Store::connect(&url).await.unwrap()));
    }
    let store = stores[0].clone();
    let tenant = store.create_tenant("Busy").await.unwrap().id;
    let teacher = store.create_user(tenant, "t@busy.test", None, "h", false).await.unwrap().id;
    let mut sessions = Vec::new();
    for _ in 0..8 {
        let sid = scheduled(&store, tenant, teacher).await;
        let start = ev("start", teacher, Role::Teacher, SessionEvent::SessionStarted { room: None });
        store.append(tenant, sid, vec![start]).await.unwrap();
        sessions.push(sid);
    }
    let mut tasks = Vec::new();
    for (s, &sid) in sessions.iter().enumerate() {
        for w in 0..3 {
            let store = stores[(s + w) % nodes].clone();
            tasks.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                for i in 0..10 {
                    let id = shared_types::MessageId::new();
                    let event = SessionEvent::ChatPosted { message_id: id, content: format!("{s}-{w}-{i}") };
                    let (o, _) = store
                        .append(tenant, sid, vec![ev(&format!("m{w}-{i}"), teacher, Role::Teacher, event)])
                        .await
                        .unwrap();
                    assert!(matches!(&o[0], AppendOutcome::Appended(_)), "{o:?}");
                    sent.push(id);
                }
                (sid, sent)
            }));
        }
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.push(t.await.unwrap());
    }
    for &sid in &sessions {
        let (all, head) = store.events_after(tenant, sid, 0, 1000).await.unwrap();
        assert_eq!(head, 32, "scheduled, started, 30 messages");
        assert_eq!(all.iter().map(|e| e.sequence).collect::<Vec<_>>(), (1..=32).collect::<Vec<_>>());
        for store in &stores {
            assert_eq!(store.state(tenant, sid, None).await.unwrap(), shared_types::fold(&all).unwrap());
        }
    }
    for (sid, ids) in sent {
        for id in ids {
            assert_eq!(store.owner_session(tenant, Owned::Message, id.0).await.unwrap(), Some(sid));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_many_sessions_at_once() {
    many_sessions_at_once(Db::Sqlite, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_many_sessions_at_once() {
    many_sessions_at_once(Db::Postgres, 1).await;
}

/// Two nodes on one PostgreSQL, each gathering its single appends, to the same sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_many_sessions_at_once() {
    many_sessions_at_once(Db::Postgres, 2).await;
}

/// Upgrading a database written before migration 0003 keeps every object's session: chat messages,
/// questions, polls and scenes written into the old projection tables are found by id afterwards, so
/// hiding an old message or voting in an old poll still reaches its session.
async fn upgrade_to_session_objects(db: Db) {
    use cloud_api::store::Owned;
    let url = fresh_db(db).await;
    let _dir = DbDir::of(&url);
    let old = Store::connect_at_version(&url, 2).await.unwrap();
    let tenant = old.create_tenant("Upgrade").await.unwrap().id;
    let teacher = old.create_user(tenant, "t@upgrade.test", None, "h", false).await.unwrap();
    let sid = scheduled(&old, tenant, teacher.id).await;
    let (msg, question, poll, scene) =
        (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let now = "2026-12-01T09:00:00.000000Z";
    let (t, s) = (tenant.to_string(), sid.to_string());
    let rows = [
        format!("insert into chat_messages (id, tenant_id, session_id, user_id, content, hidden, sequence, created_at) values ('{msg}', '{t}', '{s}', null, 'hello', 0, 2, '{now}')"),
        format!("insert into questions (id, tenant_id, session_id, user_id, content, sequence, created_at) values ('{question}', '{t}', '{s}', null, 'why?', 3, '{now}')"),
        format!("insert into polls (id, tenant_id, session_id, prompt, options, responses, closed, created_at) values ('{poll}', '{t}', '{s}', 'which?', '[\"a\",\"b\"]', '[0,0]', 0, '{now}')"),
        format!("insert into studio_scenes (id, tenant_id, session_id, name, layout, metadata) values ('{scene}', '{t}', '{s}', 'Board', '[]', '{{}}')"),
    ];
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    for sql in &rows {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    drop(conn);
    drop(old);

    let store = Store::connect(&url).await.unwrap();
    for (kind, id) in [(Owned::Message, msg), (Owned::Question, question), (Owned::Poll, poll), (Owned::Scene, scene)] {
        assert_eq!(store.owner_session(tenant, kind, id).await.unwrap(), Some(sid), "{kind:?} {id} keeps its session");
    }
    // The kinds stay apart, and another tenant finds nothing.
    assert_eq!(store.owner_session(tenant, Owned::Poll, msg).await.unwrap(), None);
    let other = store.create_tenant("Other").await.unwrap().id;
    assert_eq!(store.owner_session(other, Owned::Message, msg).await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_upgrade_to_session_objects() {
    upgrade_to_session_objects(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_upgrade_to_session_objects() {
    upgrade_to_session_objects(Db::Postgres).await;
}
