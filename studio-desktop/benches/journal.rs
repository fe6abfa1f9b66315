//! The studio's journal and sync, measured (`cargo bench -p studio-desktop --bench journal`):
//! local action → journal (decided by the shared rules, written to SQLite in WAL) next to a bare
//! SQLite insert of the same row in the same run (goal p99 ≤ 2 ms), and 10,000 actions recorded
//! offline then synced to a real cloud-api (goal ≤ 10 s).

use shared_types::decide::SessionCommand;
use shared_types::events::Stroke;
use shared_types::{MessageId, SessionId};
use std::time::Instant;
use studio_desktop::{Client, Journal};
use studio_tests::*;

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or(f64::NAN)
}

fn summary(name: &str, mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let (p50, p99) = (pct(&ms, 0.5), pct(&ms, 0.99));
    println!("{name:<44} n={:<6} p50 {p50:>6.3} ms  p99 {p99:>6.3} ms", ms.len());
    (p50, p99)
}

fn stroke(tag: &str, n: usize) -> SessionCommand {
    let points = (0..24).map(|i| [0.1 + i as f64 / 100.0, 0.2 + (n % 50) as f64 / 100.0]).collect();
    let s = Stroke { id: format!("{tag}{n}"), points, color: "#1b2230".into(), width: 2.0 };
    SessionCommand::AddStrokes { board_id: "main".into(), strokes: vec![s] }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("studio-journal-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();

    // Baseline: a bare insert of a journal-sized row into SQLite (WAL, synchronous=normal).
    let raw = rusqlite::Connection::open(dir.join("raw.db")).unwrap();
    raw.pragma_update(None, "journal_mode", "wal").unwrap();
    raw.pragma_update(None, "synchronous", "normal").unwrap();
    raw.execute_batch("create table t (id integer primary key, k text unique, ty text, payload text, at text)")
        .unwrap();
    let payload = serde_json::to_string(
        &serde_json::json!({"messageId": uuid::Uuid::now_v7(), "content": "a note of about this size"}),
    )
    .unwrap();
    let mut base = Vec::new();
    for i in 0..2000 {
        let t = Instant::now();
        raw.execute(
            "insert into t (k, ty, payload, at) values (?1, 'chat.posted', ?2, '2026-12-01T09:00:00.000000Z')",
            rusqlite::params![format!("k{i}"), payload],
        )
        .unwrap();
        base.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (_, raw_p99) = summary("baseline: bare SQLite insert", base);

    // A class with a teacher, through a real cloud-api (in-process, SQLite).
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("Bench").await;
    app.live(&s).await;
    let me: shared_types::dto::MeResponse =
        serde_json::from_value(app.get("/api/auth/me", &s.teacher.token).await.body).unwrap();
    let dto: shared_types::dto::SessionDto =
        serde_json::from_value(app.get(&format!("/api/sessions/{}", s.session), &s.teacher.token).await.body).unwrap();
    let actor = studio_desktop::session_actor(&me, &dto);
    let session: SessionId = s.session.parse().unwrap();
    let client = Client::new(&app.base, &s.teacher.token);

    // Local action → journal.
    let journal = Journal::open(&dir.join("journal.db")).unwrap();
    client.pull(&journal, session).await.unwrap();
    let mut took = Vec::new();
    for n in 0..2000 {
        let c = if n % 2 == 0 {
            SessionCommand::PostChat { message_id: MessageId::new(), content: format!("note {n}") }
        } else {
            stroke("live", n)
        };
        let t = Instant::now();
        journal.record(session, &actor, c).unwrap();
        took.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (_, p99) = summary("local action -> journal (decide + insert)", took);
    println!(
        "  goal p99 <= 2 ms: {} ({:.1}x the bare insert's p99)",
        if p99 <= 2.0 { "met" } else { "NOT met" },
        p99 / raw_p99.max(1e-6)
    );
    client.push(&journal, session).await.unwrap();

    // 10,000 actions while offline, then one reconnect.
    let offline = Journal::open(&dir.join("offline.db")).unwrap();
    client.pull(&offline, session).await.unwrap();
    let t = Instant::now();
    for n in 0..10_000 {
        let c = if n % 3 == 0 {
            stroke("offline", n)
        } else {
            SessionCommand::PostChat { message_id: MessageId::new(), content: format!("offline {n}") }
        };
        offline.record(session, &actor, c).unwrap();
    }
    let recorded = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let pushed = client.push(&offline, session).await.unwrap();
    let synced = t.elapsed().as_secs_f64();
    assert_eq!((pushed.synced, pushed.refused), (10_000, 0));
    println!(
        "10,000 offline actions: recorded in {recorded:.2} s, synced in {synced:.2} s ({:.0} entries/s, batches of {})",
        10_000.0 / synced,
        studio_desktop::sync::BATCH
    );
    println!("  goal sync <= 10 s: {}", if synced <= 10.0 { "met" } else { "NOT met" });
    let _ = std::fs::remove_dir_all(&dir);
}
