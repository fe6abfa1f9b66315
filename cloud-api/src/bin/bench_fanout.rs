//! bench-fanout: a teacher writes, N student sockets receive. Runs the real `cloud-api` binary
//! (release, next to this one) as a separate process on a fresh SQLite data dir or the given
//! PostgreSQL, prints p50/p95/p99 write→receive latency for 100, 500 and 5,000 sockets (and, on
//! PostgreSQL, 5,000 split over two nodes sharing the database, the teacher writing to one), a raw
//! WebSocket echo baseline measured in the same run, and the server's RSS with 1,000 and 10,000
//! idle sockets. The students' sockets are read by one thread of lean readers (see [`readers`]).
//!
//! Usage: bench-fanout [database-url] [events-per-run=200]

use axum::extract::ws::{Message as AxMessage, WebSocketUpgrade};
use cloud_api::spawned::Spawned;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn start_server(database_url: Option<&str>) -> anyhow::Result<Spawned> {
    let exe = std::env::current_exe()?.with_file_name("cloud-api");
    let dir = std::env::temp_dir().join(format!("bench-fanout-{}", uuid::Uuid::new_v4()));
    let mut env = vec![("LOGIN_IP_LIMIT_PER_MIN", "100000"), ("WRITE_LIMIT_PER_MIN", "10000000")];
    if let Some(u) = database_url {
        env.push(("DATABASE_URL", u));
    }
    Spawned::start(&exe, &dir, &env)
}

/// CPU time (user + system, all threads) a process has used, in seconds (`/proc/PID/stat`, in
/// USER_HZ = 100 ticks a second).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time the calling thread has used, in seconds (`/proc/thread-self/schedstat`: nanoseconds on
/// a CPU, not ticks, so a thread's 25 ms of writes is measured, not sampled).
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()).unwrap_or(f64::NAN) / 1e9
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: Value) -> anyhow::Result<Value> {
    let r = http
        .post(url)
        .bearer_auth(token)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    anyhow::ensure!(status.is_success(), "{status}: {v}");
    Ok(v)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(base: &str, token: &str, session: &str, after: u64) -> anyhow::Result<Ws> {
    let url = format!("{}/api/sessions/{session}/live?after={after}", base.replacen("http", "ws", 1));
    let mut req = url.into_client_request()?;
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    // Wait until caught up.
    while let Some(msg) = ws.next().await {
        if let Message::Text(t) = msg? {
            if t.contains("\"kind\":\"ready\"") {
                return Ok(ws);
            }
        }
    }
    anyhow::bail!("socket closed before ready")
}

/// `n` sockets to `path` on `addrs` (in turn), open and read by [`readers`] on a thread of their
/// own until each has `events` events; returns once all are open.
async fn listen(
    addrs: Vec<SocketAddr>,
    path: String,
    token: String,
    n: usize,
    events: usize,
    gap: Duration,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<readers::Heard>>> {
    let patience = Duration::from_secs(20) + gap * events as u32;
    let (opened, all_open) = tokio::sync::oneshot::channel();
    let listening = std::thread::spawn(move || readers::listen(&addrs, &path, &token, n, events, patience, opened));
    all_open.await.map_err(|_| anyhow::anyhow!("the reader thread ended before its sockets were open"))??;
    Ok(listening)
}

/// Every socket's latency (ms) for every event sent at `sent[sequence]`; sorted.
async fn latencies(
    listening: std::thread::JoinHandle<anyhow::Result<readers::Heard>>,
    sent: HashMap<u64, Instant>,
) -> anyhow::Result<Vec<f64>> {
    let heard = tokio::task::spawn_blocking(move || listening.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
    anyhow::ensure!(heard.missing == 0, "{} deliveries missing", heard.missing);
    let mut lat = Vec::with_capacity(heard.got.len());
    for (seq, at) in heard.got {
        let t0 = sent.get(&seq).ok_or_else(|| anyhow::anyhow!("a delivery of event {seq}, which was not sent"))?;
        lat.push(at.duration_since(*t0).as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    Ok(lat)
}

/// N sockets (spread over `nodes`) listen while the teacher posts `events` highlights to the
/// first node; latencies in ms.
async fn fanout_run(
    nodes: &[&str],
    teacher: &str,
    student: &str,
    session: &str,
    n: usize,
    events: usize,
    gap: Duration,
) -> anyhow::Result<Vec<f64>> {
    let base = nodes[0];
    let http = reqwest::Client::new();
    let head =
        http.get(format!("{base}/api/sessions/{session}")).bearer_auth(teacher).send().await?.json::<Value>().await?
            ["head"]
            .as_u64()
            .unwrap_or(0);
    let addrs = nodes
        .iter()
        .map(|b| Ok(b.trim_start_matches("http://").parse::<SocketAddr>()?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let path = format!("/api/sessions/{session}/live?after={head}");
    let listening = listen(addrs, path, student.to_string(), n, events, gap).await?;
    let mut sent = HashMap::new();
    for i in 0..events {
        let t0 = Instant::now();
        let v = post(
            &http,
            format!("{base}/api/sessions/{session}/highlights"),
            teacher,
            json!({"label": format!("b{i}")}),
        )
        .await?;
        sent.insert(v["event"]["sequence"].as_u64().unwrap_or(0), t0);
        tokio::time::sleep(gap).await;
    }
    latencies(listening, sent).await
}

/// An unmasked WebSocket text frame (as a server sends).
fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x81];
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n if n <= 0xffff => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// The floor under any fan-out on this machine: the same readers, and a "server" that does nothing
/// but write one prepared frame (an event message of the same shape) to each of `n` loopback
/// sockets, a plain blocking write each, on two threads (the cloud-api's worker count on 2 cores).
/// What it takes is the kernel's TCP path and the readers; latencies in ms.
/// Also the writers' CPU per delivery (µs), the kernel's share of any server's.
async fn floor_run(n: usize, events: usize, gap: Duration) -> anyhow::Result<(Vec<f64>, f64)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let accepting = std::thread::spawn(move || -> anyhow::Result<Vec<TcpStream>> {
        (0..n)
            .map(|_| {
                let (mut s, _) = listener.accept()?;
                let mut req = Vec::new();
                let mut chunk = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let k = s.read(&mut chunk)?;
                    anyhow::ensure!(k > 0, "a reader closed during its upgrade");
                    req.extend_from_slice(&chunk[..k]);
                }
                s.set_nodelay(true)?;
                s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")?;
                s.write_all(&text_frame(br#"{"kind":"ready","head":0}"#))?;
                Ok(s)
            })
            .collect()
    });
    let listening = listen(vec![addr], "/floor".into(), "floor".into(), n, events, gap).await?;
    let socks = accepting.join().map_err(|_| anyhow::anyhow!("the accepting thread panicked"))??;
    let (sent, cpu) = tokio::task::spawn_blocking(move || -> anyhow::Result<(HashMap<u64, Instant>, f64)> {
        let halves: Vec<&[TcpStream]> = socks.chunks(n.div_ceil(2)).collect();
        let mut sent = HashMap::new();
        let mut cpu = 0.0;
        for seq in 1..=events as u64 {
            let frame = text_frame(
                format!(
                    r#"{{"kind":"event","event":{{"sessionId":"{id}","sequence":{seq},"idempotencyKey":"{id}/{id}","version":1,"actorId":"{id}","actorRole":"teacher","occurredAt":"2026-12-07T06:50:00.123456Z","recordedAt":"2026-12-07T06:50:00.123456Z","type":"highlight.marked","payload":{{"label":"b{seq}"}}}}}}"#,
                    id = uuid::Uuid::nil()
                )
                .as_bytes(),
            );
            let t0 = Instant::now();
            std::thread::scope(|s| {
                let writers: Vec<_> = halves
                    .iter()
                    .map(|half| {
                        s.spawn(|| {
                            let c0 = thread_cpu_secs();
                            half.iter().try_for_each(|mut sock| sock.write_all(&frame))?;
                            Ok::<_, std::io::Error>(thread_cpu_secs() - c0)
                        })
                    })
                    .collect();
                writers.into_iter().try_for_each(|w| {
                    cpu += w.join().map_err(|_| anyhow::anyhow!("a writer panicked"))??;
                    Ok::<_, anyhow::Error>(())
                })
            })?;
            sent.insert(seq, t0);
            std::thread::sleep(gap);
        }
        Ok((sent, cpu))
    })
    .await??;
    let lat = latencies(listening, sent).await?;
    let cpu_us = cpu * 1e6 / lat.len().max(1) as f64;
    Ok((lat, cpu_us))
}

/// Round-trip times (ms) of a bare axum WebSocket echo on loopback: the floor for any delivery.
async fn echo_baseline(messages: usize) -> anyhow::Result<Vec<f64>> {
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::get(|ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|mut s| async move {
                while let Some(Ok(m)) = s.recv().await {
                    if let AxMessage::Text(t) = m {
                        if s.send(AxMessage::Text(t)).await.is_err() {
                            break;
                        }
                    }
                }
            })
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/echo")).await?;
    let payload =
        json!({"kind": "event", "event": {"type": "highlight.marked", "payload": {"label": "x"}}}).to_string();
    let mut rtt = Vec::with_capacity(messages);
    for _ in 0..messages {
        let t0 = Instant::now();
        ws.send(Message::Text(payload.clone().into())).await?;
        let _ = ws.next().await;
        rtt.push(t0.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    rtt.sort_by(f64::total_cmp);
    Ok(rtt)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let db = args.get(1).filter(|a| a.contains("://")).cloned();
    let events: usize = args.iter().skip(1).find_map(|a| a.parse().ok()).unwrap_or(200);
    let server = start_server(db.as_deref())?;
    let base = server.base.clone();
    println!(
        "bench-fanout against {base} ({}), {events} teacher writes per run",
        if db.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    let http = reqwest::Client::new();
    let teacher = server.login(&http, "teacher@demo.school").await?;
    let student = server.login(&http, "student@demo.school").await?;
    let session = server.demo_session(&http, &teacher).await?;
    post(&http, format!("{base}/api/sessions/start"), &teacher, json!({"sessionId": session})).await?;

    // Idle sockets first, on the fresh process: its RSS before and with 1,000 and 10,000 open.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss_mb();
    let mut idle = Vec::with_capacity(10_000);
    let mut rss = Vec::new();
    for target in [1_000, 10_000] {
        while idle.len() < target {
            idle.push(open_socket(&base, &student, &session, u64::MAX / 2).await?);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss.push(server.rss_mb());
    }
    println!(
        "cloud-api RSS: {before:.1} MB fresh, {:.1} MB with 1,000 idle sockets, {:.1} MB with 10,000",
        rss[0], rss[1]
    );
    for mut ws in idle {
        let _ = ws.close(None).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let echo = echo_baseline(events).await?;
    println!(
        "raw WebSocket echo RTT          p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms",
        pct(&echo, 0.5),
        pct(&echo, 0.95),
        pct(&echo, 0.99)
    );
    // On PostgreSQL a second node on the same database: its sockets hear of the teacher's writes
    // through NOTIFY and read them from the store.
    let second = match db.as_deref() {
        Some(url) => Some(start_server(Some(url))?),
        None => None,
    };
    // A write every 10 ms to 100 and 500 sockets; to 5,000 every 50 ms (20 writes a second is
    // 100,000 deliveries a second, which this 2-core machine shares with the 5,000 readers; at 10 ms
    // it is saturated — see docs/benchmarks.md).
    let ms = Duration::from_millis;
    let one = vec![base.as_str()];
    let mut runs: Vec<(String, Vec<&str>, usize, Duration)> = vec![
        ("100 sockets, one node".into(), one.clone(), 100, ms(10)),
        ("500 sockets, one node".into(), one.clone(), 500, ms(10)),
        ("5000 sockets, one node".into(), one.clone(), 5_000, ms(50)),
    ];
    if let Some(b) = &second {
        runs.push(("5000 sockets, two nodes".into(), vec![base.as_str(), b.base.as_str()], 5_000, ms(50)));
    }
    if std::env::var_os("BENCH_SATURATE").is_some() {
        runs.push(("5000 sockets, 10 ms apart".into(), one.clone(), 5_000, ms(10)));
    }
    // The same readers fed by bare writes: what any server could do for 5,000 sockets here.
    let (floor, floor_cpu) = floor_run(5_000, events, ms(50)).await?;
    let floor_p99 = pct(&floor, 0.99);
    println!(
        "bare writes → 5000 sockets      every 50 ms ({:>7} deliveries) p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {floor_p99:>6.2} ms  \
         writers' CPU {floor_cpu:.1} µs a delivery",
        floor.len(),
        pct(&floor, 0.5),
        pct(&floor, 0.95),
    );
    let mut goals = Vec::new();
    // The servers' CPU per delivery (the readers and the teacher's client are not counted).
    let pids: Vec<u32> = std::iter::once(server.pid()).chain(second.as_ref().map(|s| s.pid())).collect();
    for (name, nodes, n, gap) in runs {
        let cpu = || pids.iter().map(|p| cpu_secs(*p)).sum::<f64>();
        let cpu0 = cpu();
        let lat = fanout_run(&nodes, &teacher, &student, &session, n, events, gap).await?;
        let cpu_us = (cpu() - cpu0) * 1e6 / lat.len() as f64;
        let p99 = pct(&lat, 0.99);
        println!(
            "write → {name:<26} every {:>2} ms ({:>7} deliveries) p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {p99:>6.2} ms  \
             server CPU {cpu_us:.1} µs a delivery",
            gap.as_millis(),
            lat.len(),
            pct(&lat, 0.5),
            pct(&lat, 0.95),
        );
        if n == 5_000 && gap == ms(50) {
            goals.push((format!("p99 <= 50 ms, {name} ({p99:.1} ms; bare writes {floor_p99:.1} ms)"), p99 <= 50.0));
        }
    }
    goals.push((format!("RSS <= 300 MB at 10,000 idle ({:.0} MB)", rss[1]), rss[1] <= 300.0));
    for (goal, met) in goals {
        println!("goal {goal:<68} {}", if met { "met" } else { "NOT met" });
    }
    Ok(())
}

/// The student sockets of a run, read the lean way: plain TCP connections after a hand-written
/// WebSocket upgrade, all polled by one thread of their own (mio, i.e. epoll), only the frames'
/// headers parsed and each event's sequence read. The readers share this 2-core machine with the
/// server they measure; as 5,000 tokio-tungstenite tasks (a task woken, a message allocated and
/// checked per socket and event) they took more of it than the server did (docs/benchmarks.md).
mod readers {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    /// One socket and the bytes read from it not yet parsed.
    struct Conn {
        stream: TcpStream,
        buf: Vec<u8>,
    }

    /// Whole frames at the front of `buf`, each handed to `each` as (opcode, payload); the number
    /// of bytes they took. The server sends each message as one unmasked frame.
    fn frames(buf: &[u8], mut each: impl FnMut(u8, &[u8])) -> anyhow::Result<usize> {
        let mut at = 0;
        loop {
            let b = &buf[at..];
            if b.len() < 2 {
                return Ok(at);
            }
            anyhow::ensure!(b[0] & 0x80 != 0 && b[1] & 0x80 == 0, "a fragmented or masked frame from the server");
            let (len, head) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into()?) as usize, 10),
                126 | 127 => return Ok(at),
                n => (n as usize, 2),
            };
            if b.len() < head + len {
                return Ok(at);
            }
            each(b[0] & 0x0f, &b[head..head + len]);
            at += head + len;
        }
    }

    const TEXT: u8 = 1;
    const CLOSE: u8 = 8;

    impl Conn {
        /// Upgrade a connection to `path` and read until the server says `ready`.
        fn open(addr: SocketAddr, path: &str, token: &str) -> anyhow::Result<Conn> {
            let mut stream = TcpStream::connect(addr)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: c3R1ZGlvLWJlbmNoLWtleQ==\r\nSec-WebSocket-Version: 13\r\n\
                 Authorization: Bearer {token}\r\n\r\n"
            )?;
            let mut conn = Conn { stream, buf: Vec::with_capacity(4096) };
            let end = loop {
                if let Some(i) = conn.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                anyhow::ensure!(conn.fill()?, "the server closed the upgrade");
            };
            anyhow::ensure!(
                conn.buf.starts_with(b"HTTP/1.1 101"),
                "upgrade refused: {}",
                String::from_utf8_lossy(&conn.buf[..end])
            );
            conn.buf.drain(..end);
            loop {
                let mut ready = false;
                let used = frames(&conn.buf, |op, p| {
                    ready |= op == TEXT && holds(p, b"\"kind\":\"ready\"");
                })?;
                conn.buf.drain(..used);
                if ready {
                    return Ok(conn);
                }
                anyhow::ensure!(conn.fill()?, "socket closed before ready");
            }
        }

        /// One read into the buffer; false when the peer closed.
        fn fill(&mut self) -> std::io::Result<bool> {
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            self.buf.extend_from_slice(&chunk[..n]);
            Ok(n > 0)
        }
    }

    fn holds(text: &[u8], part: &[u8]) -> bool {
        text.windows(part.len()).any(|w| w == part)
    }

    /// The event's `"sequence":N` in a message.
    fn sequence_of(text: &[u8]) -> u64 {
        let key = b"\"sequence\":";
        let Some(i) = text.windows(key.len()).position(|w| w == key) else { return 0 };
        text[i + key.len()..].iter().take_while(|b| b.is_ascii_digit()).fold(0, |n, d| n * 10 + (d - b'0') as u64)
    }

    /// Deliveries of a run: (sequence, when it was read) for every socket's events, and how many
    /// a socket never got.
    pub struct Heard {
        pub got: Vec<(u64, Instant)>,
        pub missing: usize,
    }

    /// Open `n` sockets to `path` (spread over `nodes`), tell `opened` when all are ready (or why
    /// not), then read until every socket has `events` events or `patience` has passed.
    pub fn listen(
        nodes: &[SocketAddr],
        path: &str,
        token: &str,
        n: usize,
        events: usize,
        patience: Duration,
        opened: tokio::sync::oneshot::Sender<anyhow::Result<()>>,
    ) -> anyhow::Result<Heard> {
        let conns: anyhow::Result<Vec<Conn>> =
            (0..n).map(|i| Conn::open(nodes[i % nodes.len()], path, token)).collect();
        let conns = match conns {
            Ok(c) => c,
            Err(e) => {
                let _ = opened.send(Err(anyhow::anyhow!("opening the sockets: {e}")));
                anyhow::bail!("opening the sockets failed");
            }
        };
        let mut poll = mio::Poll::new()?;
        let mut socks = Vec::with_capacity(n);
        for (i, c) in conns.into_iter().enumerate() {
            c.stream.set_nonblocking(true)?;
            let mut s = mio::net::TcpStream::from_std(c.stream);
            poll.registry().register(&mut s, mio::Token(i), mio::Interest::READABLE)?;
            socks.push((s, c.buf, 0usize, false));
        }
        let _ = opened.send(Ok(()));
        let deadline = Instant::now() + patience;
        let mut got = Vec::with_capacity(n * events);
        let mut open = n;
        let mut chunk = vec![0u8; 64 * 1024];
        let mut ready = mio::Events::with_capacity(1024);
        while open > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match poll.poll(&mut ready, Some(deadline - now)) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                r => r?,
            }
            for ev in ready.iter() {
                let (s, buf, count, done) = &mut socks[ev.token().0];
                if *done {
                    continue;
                }
                // Edge-triggered: read until the socket has nothing more.
                let mut closed = false;
                loop {
                    match s.read(&mut chunk) {
                        Ok(0) => {
                            closed = true;
                            break;
                        }
                        Ok(k) => {
                            let at = Instant::now();
                            buf.extend_from_slice(&chunk[..k]);
                            let used = frames(buf, |op, p| {
                                if op == TEXT && holds(p, b"\"kind\":\"event\"") {
                                    got.push((sequence_of(p), at));
                                    *count += 1;
                                }
                                closed |= op == CLOSE;
                            })?;
                            buf.drain(..used);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(_) => {
                            closed = true;
                            break;
                        }
                    }
                }
                if *count >= events || closed {
                    *done = true;
                    open -= 1;
                    let _ = poll.registry().deregister(s);
                }
            }
        }
        let mut missing = 0;
        for (mut s, _, count, _) in socks {
            missing += events.saturating_sub(count);
            // A close frame (masked, as a client's must be, with a zero mask), then the connection.
            let _ = s.write(&[0x88, 0x80, 0, 0, 0, 0]);
        }
        Ok(Heard { got, missing })
    }
}
