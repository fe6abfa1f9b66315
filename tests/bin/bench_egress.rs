//! Egress benchmark on this machine, with the real media stack (`scripts/media-stack.sh`): a teacher
//! publishes a microphone (official Python SDK, espeak speech); for each run a fresh RTMP receiver
//! (`ffmpeg -listen 1`) and `POST …/stream` → time to the first RTMP byte received, then the CPU the
//! egress processes use while streaming that audio-only class (track composite → RTMP), against the
//! idle egress measured the same way in the same run.
//!
//! `cargo run --release -p studio-tests --bin bench-egress [runs]`

use serde_json::json;
use std::time::{Duration, Instant};
use studio_tests::*;

const WINDOW: Duration = Duration::from_secs(10);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let port = MediaStack::port();
    let cfg = MediaStack::config_for(port);
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.livekit = Some(cfg)).await;
    let stack = MediaStack::start(port, &format!("{}/api/webhooks/livekit", app.base));
    let dir = std::env::temp_dir().join(format!("bench-egress-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = long_speech(&dir, 60 * runs as u32);
    let s = app.school("Bench egress").await;
    let start = app.post("/api/sessions/start", &s.teacher.token, json!({"sessionId": s.session})).await;
    let grant = &start.body["livekit"];
    let speaker = Speaker::join(grant["url"].as_str().unwrap(), grant["token"].as_str().unwrap(), &wav).await;
    let sid = s.session.clone();
    let cpu_over = |window: Duration| {
        let stack = &stack;
        async move {
            let (c0, t0) = (stack.egress_cpu_s(), Instant::now());
            tokio::time::sleep(window).await;
            (stack.egress_cpu_s() - c0) / t0.elapsed().as_secs_f64() * 100.0
        }
    };
    let idle = cpu_over(WINDOW).await;
    let (mut first_byte, mut cpu) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let mut rx = Receiver::listen(&dir, &format!("run{run}"));
        let body = json!({"name": format!("Run {run}"), "rtmpUrl": rx.url, "streamKey": format!("key-run{run}")});
        let d = app.post(&format!("/api/sessions/{sid}/destinations"), &s.teacher.token, body).await;
        let t = Instant::now();
        let live = app
            .post(&format!("/api/sessions/{sid}/stream"), &s.teacher.token, json!({"destinationIds": [d.body["id"]]}))
            .await;
        assert_eq!(live.status, 200, "{:?}\n{}", live.body, stack.egress_log());
        while rx.bytes() == 0 {
            assert!(t.elapsed() < Duration::from_secs(60), "no RTMP byte in 60 s\n{}", stack.egress_log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        first_byte.push(t.elapsed().as_secs_f64() * 1000.0);
        cpu.push(cpu_over(WINDOW).await);
        let stop = app
            .call(reqwest::Method::DELETE, &format!("/api/sessions/{sid}/stream"), Some(&s.teacher.token), None, None)
            .await;
        assert_eq!(stop.status, 204);
        assert!(rx.ended_within(Duration::from_secs(20)).await, "the stream ended");
        println!(
            "run {run}: first RTMP byte after {:.0} ms, egress CPU {:.1} % of one core while streaming",
            first_byte[run], cpu[run]
        );
    }
    drop(speaker);
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (fb50, fbmax) = stats(&mut first_byte);
    let (cpu50, cpumax) = stats(&mut cpu);
    println!("start → first RTMP byte: p50 {fb50:.0} ms, max {fbmax:.0} ms ({runs} runs)");
    println!(
        "egress CPU, audio-only stream (track composite → RTMP): p50 {cpu50:.1} %, max {cpumax:.1} % of one core; idle egress {idle:.1} %"
    );
}
