//! Steady drawing, measured (`cargo bench -p studio-desktop --bench drawing`): a pen moving at 60
//! points a second, in strokes of 1.5 s with 0.3 s between them, goes through the studio's journal
//! and sync (as the window's board paces it) to a real cloud-api (in-process, SQLite), and a student's
//! live socket receives it. For each pacing — the old one (a piece every 33 ms) and the studio's
//! (`InkPacing::STUDIO`) — in the same run: events and bytes per minute of drawing (as the log keeps
//! them and the socket sends them), and how long a point takes from the pen to the student (p50,
//! p95, max; the spec: under 200 ms).

use shared_types::decide::SessionCommand;
use shared_types::events::Stroke;
use shared_types::studio::InkPacing;
use shared_types::SessionId;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};
use studio_desktop::{Client, Journal};
use studio_tests::*;

/// Seconds of drawing per pacing; the figures are given per minute.
const DRAW_S: f64 = 30.0;
const POINTS_PER_S: f64 = 60.0;

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or(f64::NAN)
}

struct Figures {
    events: usize,
    bytes: usize,
    points: usize,
    latency_ms: Vec<f64>,
}

#[allow(clippy::too_many_arguments)]
async fn draw(
    app: &TestApp,
    s: &School,
    actor: &shared_types::SessionActor,
    client: &Rc<Client>,
    journal: Rc<Journal>,
    pacing: InkPacing,
    tag: &str,
) -> Figures {
    let session: SessionId = s.session.parse().unwrap();
    client.pull(&journal, session).await.unwrap();
    let head = journal.base(session).unwrap().head;
    let mut live = app.live_socket(&s.student.token, &s.session, head).await.expect("a student socket");
    // When each point left the pen, by the id of the piece that carried it.
    let sent: Rc<RefCell<HashMap<String, Vec<Instant>>>> = Rc::default();
    let wake = Rc::new(tokio::sync::Notify::new());
    let done = Rc::new(std::cell::Cell::new(false));
    // The sync loop's part: push whenever something was recorded.
    let pusher = {
        let (journal, wake, done, client) = (journal.clone(), wake.clone(), done.clone(), client.clone());
        tokio::task::spawn_local(async move {
            while !done.get() {
                wake.notified().await;
                client.push(&journal, session).await.unwrap();
            }
        })
    };
    let receiver = tokio::task::spawn_local(async move {
        let (mut events, mut bytes, mut got) = (0, 0, Vec::new());
        while let Some(m) = live.next_within(5).await {
            if m["kind"] != "event" {
                continue;
            }
            let e = &m["event"];
            if e["type"] == "chat.posted" {
                break; // the end marker
            }
            if e["type"] == "whiteboard.stroke_added" {
                events += 1;
                bytes += serde_json::to_string(&m).unwrap().len();
                for st in e["payload"]["strokes"].as_array().unwrap() {
                    got.push((st["id"].as_str().unwrap().to_string(), Instant::now()));
                }
            }
        }
        (events, bytes, got)
    });

    // The pen: strokes of 1.5 s, 0.3 s apart; the pieces paced as the board paces them.
    let t0 = Instant::now();
    let tick = Duration::from_secs_f64(1.0 / POINTS_PER_S);
    let mut n = 0u64;
    let mut gesture = 0;
    let mut points = 0;
    while t0.elapsed().as_secs_f64() < DRAW_S {
        gesture += 1;
        let id = format!("g-{tag}{gesture}");
        let (mut pieces, mut last, mut pending, mut pending_at) = (0usize, None::<[f64; 2]>, Vec::new(), Vec::new());
        let mut flushed_at = Instant::now();
        let mut flush = |pending: &mut Vec<[f64; 2]>, pending_at: &mut Vec<Instant>, pieces: &mut usize| {
            if pending.is_empty() {
                return;
            }
            let mut pts: Vec<[f64; 2]> = last.into_iter().collect();
            pts.append(pending);
            last = pts.last().copied();
            *pieces += 1;
            let sid = format!("{id}~{pieces}");
            sent.borrow_mut().insert(sid.clone(), std::mem::take(pending_at));
            let stroke = Stroke { id: sid, points: pts, color: "#1d4ed8".into(), width: 0.004 };
            journal
                .record(session, actor, SessionCommand::AddStrokes { board_id: "main".into(), strokes: vec![stroke] })
                .unwrap();
            wake.notify_one();
        };
        let stroke_start = Instant::now();
        while stroke_start.elapsed() < Duration::from_millis(1500) {
            n += 1;
            tokio::time::sleep_until((t0 + tick * n as u32).into()).await;
            let k = n as f64 / POINTS_PER_S;
            pending.push([0.5 + 0.3 * (k * 1.3).sin(), 0.5 + 0.3 * (k * 0.7).cos()]);
            pending_at.push(Instant::now());
            points += 1;
            if pacing.due(pieces, flushed_at.elapsed().as_secs_f64() * 1000.0) {
                flush(&mut pending, &mut pending_at, &mut pieces);
                flushed_at = Instant::now();
            }
        }
        flush(&mut pending, &mut pending_at, &mut pieces); // pen up
        tokio::time::sleep(Duration::from_millis(300)).await;
        n = (t0.elapsed().as_secs_f64() * POINTS_PER_S) as u64;
    }
    let drawn_s = t0.elapsed().as_secs_f64();
    // The end marker, after everything drawn.
    let mark = SessionCommand::PostChat { message_id: shared_types::MessageId::new(), content: "done".into() };
    journal.record(session, actor, mark).unwrap();
    done.set(true);
    wake.notify_one();
    pusher.await.unwrap();
    client.push(&journal, session).await.unwrap();
    let (events, bytes, got) = receiver.await.unwrap();
    let sent = sent.borrow();
    let mut latency_ms: Vec<f64> = got
        .iter()
        .flat_map(|(id, at)| sent.get(id).into_iter().flatten().map(move |p| (*at - *p).as_secs_f64() * 1000.0))
        .collect();
    latency_ms.sort_by(f64::total_cmp);
    let per_min = 60.0 / drawn_s;
    Figures {
        events: (events as f64 * per_min).round() as usize,
        bytes: (bytes as f64 * per_min).round() as usize,
        points: (points as f64 * per_min).round() as usize,
        latency_ms,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = cloud_api::spawned::Scratch::new("studio-drawing-bench");
    let app = TestApp::spawn(Db::Sqlite).await;
    let s = app.school("Drawing").await;
    app.live(&s).await;
    let me: shared_types::dto::MeResponse =
        serde_json::from_value(app.get("/api/auth/me", &s.teacher.token).await.body).unwrap();
    let dto: shared_types::dto::SessionDto =
        serde_json::from_value(app.get(&format!("/api/sessions/{}", s.session), &s.teacher.token).await.body).unwrap();
    let actor = studio_desktop::session_actor(&me, &dto);
    let client = Rc::new(Client::new(&app.base, &s.teacher.token));
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            println!("{DRAW_S} s of steady drawing per pacing ({POINTS_PER_S} points/s, strokes of 1.5 s), per minute:");
            let mut base = None;
            for (name, pacing) in [("a piece every 33 ms (before)", InkPacing::EVERY_33_MS), ("studio", InkPacing::STUDIO)] {
                let journal = Rc::new(Journal::open(&dir.join(format!("{}.db", pacing.every_ms))).unwrap());
                let f = draw(&app, &s, &actor, &client, journal, pacing, &format!("{}", pacing.every_ms)).await;
                let l = &f.latency_ms;
                println!(
                    "{name:<30} {:>6} events/min  {:>8.0} KB/min  ({} points)  pen -> student p50 {:.0} ms  p95 {:.0} ms  max {:.0} ms",
                    f.events,
                    f.bytes as f64 / 1024.0,
                    f.points,
                    pct(l, 0.5),
                    pct(l, 0.95),
                    l.last().copied().unwrap_or(f64::NAN),
                );
                if let Some((e, b)) = base {
                    println!(
                        "  {:.1}x fewer events, {:.1}x fewer bytes than before; goal p95 <= 200 ms: {}",
                        e as f64 / f.events.max(1) as f64,
                        b as f64 / f.bytes.max(1) as f64,
                        if pct(l, 0.95) <= 200.0 { "met" } else { "NOT met" }
                    );
                } else {
                    base = Some((f.events, f.bytes));
                }
            }
        })
        .await;
}
