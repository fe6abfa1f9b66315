//! bench-load: a school's morning on two `cloud-api` nodes (release binaries, separate processes)
//! sharing one PostgreSQL. 50 classes × 30 students: each teacher starts the class and opens a poll;
//! each student signs in, joins, keeps a live socket, chats twice, asks a question and votes, then
//! (everyone signed in) chats once more, all at once —
//! students alternate between the nodes, so half the fan-out crosses nodes. Baseline from the same
//! run: 20 chats one at a time on the idle system. Prints throughput,
//! p50/p99 per request kind, errors, and then checks every session's log (no gaps, no duplicates,
//! exactly the writes made) and that every socket saw every event in order. Bounded to 3 minutes.
//!
//! Usage: bench-load postgres://…/empty-database   (scripts/bench.sh makes one)

use cloud_api::spawned::Spawned;
use futures::StreamExt;
use serde_json::{json, Value};
use shared_types::{Role, RoleGrant, Scope};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const CLASSES: usize = 50;
const STUDENTS: usize = 30;
const PASSWORD: &str = "bench password";
/// Logins in flight at once (each is an argon2 hash on the server: the rest queue here, as at 9:00).
const LOGINS_AT_ONCE: usize = 64;
/// Chats of the in-run baseline (one at a time, before the students come).
const BASELINE_CHATS: usize = 20;

#[derive(Default)]
struct Stats {
    by_kind: Mutex<BTreeMap<&'static str, Vec<f64>>>,
    errors: Mutex<BTreeMap<String, usize>>,
}

impl Stats {
    fn record(&self, kind: &'static str, ms: f64) {
        self.by_kind.lock().expect("stats").entry(kind).or_default().push(ms);
    }
    fn error(&self, what: String) {
        *self.errors.lock().expect("stats").entry(what).or_default() += 1;
    }
}

struct Client {
    http: reqwest::Client,
    stats: Arc<Stats>,
}

impl Client {
    /// POST and time it under `kind`; the JSON answer, or `None` (counted as an error).
    async fn post(&self, kind: &'static str, url: String, token: Option<&str>, body: Value) -> Option<Value> {
        let mut req = self.http.post(url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t).header("idempotency-key", uuid::Uuid::new_v4().to_string());
        }
        let t0 = Instant::now();
        let r = req.send().await;
        let out = match r {
            Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
            Ok(r) => {
                self.stats.error(format!("{kind}: {}", r.status()));
                None
            }
            Err(e) => {
                self.stats.error(format!("{kind}: {}", if e.is_timeout() { "timeout" } else { "connection" }));
                None
            }
        };
        if out.is_some() {
            self.stats.record(kind, t0.elapsed().as_secs_f64() * 1000.0);
        }
        out
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or(f64::NAN)
}

struct Class {
    session: String,
    teacher: String,
    students: Vec<String>,
}

/// The live socket of one student: the sequences it received, in order.
async fn listen(base: String, token: String, session: String, seen: Arc<Mutex<Vec<u64>>>) -> anyhow::Result<()> {
    let url = format!("{}/api/sessions/{session}/live?after=0", base.replacen("http", "ws", 1));
    let mut req = url.into_client_request()?;
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg? {
            let v: Value = serde_json::from_str(&t)?;
            if let Some(seq) = v["event"]["sequence"].as_u64() {
                seen.lock().expect("seen").push(seq);
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: bench-load postgres://…"))?;
    anyhow::ensure!(url.starts_with("postgres"), "bench-load runs on PostgreSQL (two nodes share it)");
    let deadline = Instant::now() + Duration::from_secs(180);

    // Seeding through the store (not timed): one password hash for everyone.
    let t0 = Instant::now();
    let store = cloud_api::store::Store::connect(&url).await?;
    let hash = cloud_api::auth::hash_password(PASSWORD)?;
    let tenant = store.create_tenant("Load school").await?.id;
    let mut plan = Vec::new();
    for c in 0..CLASSES {
        let course = store.create_course(tenant, &format!("Class {c}")).await?;
        let lesson = store.create_lesson(tenant, course.id, "Today", 1).await?;
        let grant = |role| RoleGrant { role, scope: Scope::Course, scope_id: Some(course.id.0) };
        let teacher = format!("teacher{c}@load.school");
        let u = store.create_user(tenant, &teacher, None, &hash, false).await?;
        store.grant(tenant, u.id, grant(Role::Teacher)).await?;
        let mut students = Vec::new();
        for s in 0..STUDENTS {
            let email = format!("s{c}-{s}@load.school");
            let u = store.create_user(tenant, &email, None, &hash, false).await?;
            store.grant(tenant, u.id, grant(Role::Student)).await?;
            students.push(email);
        }
        plan.push((lesson.id, teacher, students));
    }
    store.close().await;
    println!("seeded {CLASSES} classes × {STUDENTS} students in {:.1} s", t0.elapsed().as_secs_f64());

    let exe = std::env::current_exe()?.with_file_name("cloud-api");
    let env = [("DATABASE_URL", url.as_str()), ("LOGIN_IP_LIMIT_PER_MIN", "1000000"), ("RUST_LOG", "error")];
    let dir_a = std::env::temp_dir().join(format!("bench-load-a-{}", uuid::Uuid::new_v4()));
    let dir_b = std::env::temp_dir().join(format!("bench-load-b-{}", uuid::Uuid::new_v4()));
    let node_a = Spawned::start(&exe, &dir_a, &env)?;
    let node_b = Spawned::start(&exe, &dir_b, &env)?;
    let nodes = [node_a.base.clone(), node_b.base.clone()];
    println!("nodes: {} and {}", nodes[0], nodes[1]);
    let stats = Arc::new(Stats::default());
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).timeout(Duration::from_secs(60)).build()?;
    let client = Arc::new(Client { http, stats: stats.clone() });

    // Teachers: sign in, schedule, start, open a poll (node A).
    let t_start = Instant::now();
    let mut tasks = Vec::new();
    for (lesson, teacher, students) in plan {
        let (c, base) = (client.clone(), nodes[0].clone());
        tasks.push(tokio::spawn(async move {
            let login = c
                .post("login", format!("{base}/api/auth/login"), None, json!({"email": teacher, "password": PASSWORD}))
                .await?;
            let token = login["token"].as_str()?.to_string();
            let now = chrono::Utc::now();
            let body =
                json!({"lessonId": lesson, "scheduledStart": now, "scheduledEnd": now + chrono::Duration::hours(1)});
            let s = c.post("schedule", format!("{base}/api/sessions"), Some(&token), body).await?;
            let session = s["id"].as_str()?.to_string();
            c.post("start", format!("{base}/api/sessions/start"), Some(&token), json!({"sessionId": session})).await?;
            let poll = json!({"sessionId": session, "prompt": "Ready?", "options": ["yes", "no", "soon"]});
            let p = c.post("open_poll", format!("{base}/api/polls"), Some(&token), poll).await?;
            Some((Class { session, teacher: token, students }, p["poll"]["id"].as_str()?.to_string()))
        }));
    }
    let mut classes = Vec::new();
    for t in tasks {
        classes.push(t.await?.ok_or_else(|| anyhow::anyhow!("a teacher could not start their class"))?);
    }
    println!("{CLASSES} classes started with a poll in {:.1} s", t_start.elapsed().as_secs_f64());

    // Baseline in this run: the first teacher chats 20 times, one after another, on an idle system.
    for n in 0..BASELINE_CHATS {
        let body = json!({"sessionId": classes[0].0.session, "content": format!("baseline {n}")});
        client.post("baseline chat", format!("{}/api/chat", nodes[0]), Some(&classes[0].0.teacher), body).await;
    }

    // Students, all at once: sign in (64 hashing at a time), join, listen, chat, ask, vote, chat.
    let t_run = Instant::now();
    let logins = Arc::new(tokio::sync::Semaphore::new(LOGINS_AT_ONCE));
    let mut tasks = Vec::new();
    let mut sockets = Vec::new();
    for (ci, (class, poll)) in classes.iter().enumerate() {
        for (si, email) in class.students.iter().enumerate() {
            let base = nodes[(ci + si) % 2].clone();
            let (c, email, session, poll, logins) =
                (client.clone(), email.clone(), class.session.clone(), poll.clone(), logins.clone());
            let seen = Arc::new(Mutex::new(Vec::new()));
            sockets.push((ci, seen.clone()));
            tasks.push(tokio::spawn(async move {
                let login = {
                    let _slot = logins.acquire().await.ok()?;
                    c.post(
                        "login",
                        format!("{base}/api/auth/login"),
                        None,
                        json!({"email": email, "password": PASSWORD}),
                    )
                    .await?
                };
                let token = login["token"].as_str()?.to_string();
                c.post("join", format!("{base}/api/sessions/join"), Some(&token), json!({"sessionId": session}))
                    .await?;
                let listener = tokio::spawn(listen(base.clone(), token.clone(), session.clone(), seen));
                let chat = |n: u32| json!({"sessionId": session, "content": format!("{email} says {n}")});
                c.post("chat", format!("{base}/api/chat"), Some(&token), chat(1)).await?;
                let q = json!({"sessionId": session, "content": format!("A question from {email}")});
                c.post("ask", format!("{base}/api/questions"), Some(&token), q).await?;
                c.post("vote", format!("{base}/api/polls/{poll}/responses"), Some(&token), json!({"option": si % 3}))
                    .await?;
                c.post("chat", format!("{base}/api/chat"), Some(&token), chat(2)).await?;
                Some((listener, base, token, session))
            }));
        }
    }
    let mut listeners = Vec::new();
    let mut signed_in = Vec::new();
    for t in tasks {
        if let Some((l, base, token, session)) = t.await? {
            listeners.push(l);
            signed_in.push((base, token, session));
        }
    }
    let run_secs = t_run.elapsed().as_secs_f64();
    // Then the class in full swing, everyone signed in: one more chat each, all at once.
    let t_swing = Instant::now();
    let mut tasks = Vec::new();
    for (base, token, session) in signed_in {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"sessionId": session, "content": "and one more"});
            c.post("chat, all signed in", format!("{base}/api/chat"), Some(&token), body).await
        }));
    }
    for t in tasks {
        t.await?;
    }
    let swing_secs = t_swing.elapsed().as_secs_f64();
    anyhow::ensure!(Instant::now() < deadline, "the run took longer than 3 minutes");

    let by_kind = stats.by_kind.lock().expect("stats").clone();
    let total: usize = by_kind.values().map(Vec::len).sum();
    let errors = stats.errors.lock().expect("stats").clone();
    let swing = by_kind.get("chat, all signed in").map(Vec::len).unwrap_or(0);
    println!(
        "students signing in and working: {} requests in {run_secs:.1} s = {:.0} requests/s; then {swing} chats \
         at once in {swing_secs:.1} s = {:.0}/s; errors: {}",
        total - swing - BASELINE_CHATS,
        (total - swing - BASELINE_CHATS) as f64 / run_secs,
        swing as f64 / swing_secs,
        if errors.is_empty() { "none".to_string() } else { format!("{errors:?}") }
    );
    for (kind, mut ms) in by_kind {
        ms.sort_by(f64::total_cmp);
        println!("  {kind:<20} n={:<5} p50 {:>7.1} ms  p99 {:>7.1} ms", ms.len(), pct(&ms, 0.5), pct(&ms, 0.99));
    }

    // Every log: sequences 1..=head with no gap, no repeat, and exactly the writes that succeeded.
    let mut bad = Vec::new();
    let mut heads = Vec::new();
    for (ci, class) in classes.iter().enumerate() {
        let (session, token) = (&class.0.session, &class.0.teacher);
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let page: Value = client
                .http
                .get(format!("{}/api/sessions/{session}/events?after={after}&limit=1000", nodes[1]))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            let list = page["events"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                break;
            }
            after = list.last().and_then(|e| e["sequence"].as_u64()).unwrap_or(after);
            events.extend(list);
        }
        let seqs: Vec<u64> = events.iter().filter_map(|e| e["sequence"].as_u64()).collect();
        let contiguous = seqs.iter().enumerate().all(|(i, s)| *s == i as u64 + 1);
        let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
        let ids: std::collections::HashSet<&str> = events.iter().filter_map(|e| e["idempotencyKey"].as_str()).collect();
        let expected =
            (count("chat.posted"), count("question.asked"), count("poll.voted"), count("participant.joined"));
        if !contiguous
            || ids.len() != events.len()
            || expected != (3 * STUDENTS + if ci == 0 { BASELINE_CHATS } else { 0 }, STUDENTS, STUDENTS, STUDENTS)
        {
            bad.push(format!(
                "{session}: contiguous {contiguous}, {} events, {} keys, counts {expected:?}",
                events.len(),
                ids.len()
            ));
        }
        heads.push(seqs.len() as u64);
    }
    // Every socket catches up to its session's head, in order, once each.
    let wait_until = Instant::now() + Duration::from_secs(15);
    let behind = loop {
        let n =
            sockets.iter().filter(|(ci, seen)| seen.lock().expect("seen").last().copied() != Some(heads[*ci])).count();
        if n == 0 || Instant::now() > wait_until {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let disordered =
        sockets.iter().filter(|(_, seen)| seen.lock().expect("seen").windows(2).any(|w| w[1] != w[0] + 1)).count();
    println!(
        "logs: {} of {CLASSES} sessions exact (no gaps, no duplicates, every write once){}",
        CLASSES - bad.len(),
        if bad.is_empty() { String::new() } else { format!("; first: {:?}", &bad[..bad.len().min(3)]) }
    );
    println!(
        "sockets: {} of {} reached their session's head; {} saw a gap or a repeat",
        sockets.len() - behind,
        sockets.len(),
        disordered
    );
    println!("RSS: node A {:.0} MB, node B {:.0} MB (peak)", node_a.peak_rss_mb(), node_b.peak_rss_mb());
    for l in listeners {
        l.abort();
    }
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
    anyhow::ensure!(
        bad.is_empty() && behind == 0 && disordered == 0 && errors.is_empty(),
        "the load run found problems"
    );
    Ok(())
}
