//! bench-login: a 9:00 storm — 300 students log in, 100 at a time — against the real `cloud-api`
//! binary in its own process. Baseline from the same run: one login after another (the bare cost of
//! a password hash here). Prints logins/s, p50/p99 latency, answers by status and peak RSS growth.

use cloud_api::spawned::Spawned;
use serde_json::json;
use std::time::{Duration, Instant};

const STUDENTS: usize = 300;
const AT_ONCE: usize = 100;

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or(f64::NAN)
}

async fn login(http: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<(u16, f64)> {
    let t0 = Instant::now();
    let r = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": cloud_api::demo::PASSWORD}))
        .send()
        .await?;
    let status = r.status().as_u16();
    let _ = r.bytes().await?;
    Ok((status, t0.elapsed().as_secs_f64() * 1000.0))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let exe = std::env::current_exe()?.with_file_name("cloud-api");
    let dir = std::env::temp_dir().join(format!("bench-login-{}", uuid::Uuid::new_v4()));
    let server = Spawned::start(&exe, &dir, &[("LOGIN_IP_LIMIT_PER_MIN", "100000")])?;
    let base = server.base.clone();
    let http = reqwest::Client::builder().pool_max_idle_per_host(AT_ONCE).build()?;
    let admin = server.login(&http, "admin@demo.school").await?;

    // 300 students (the admin API hashes each password, which is part of the set-up, not timed).
    let t0 = Instant::now();
    let emails: Vec<String> = (0..STUDENTS).map(|i| format!("student{i}@bench.school")).collect();
    for chunk in emails.chunks(20) {
        let mut tasks = Vec::new();
        for email in chunk {
            let (http, base, admin, email) = (http.clone(), base.clone(), admin.clone(), email.clone());
            tasks.push(tokio::spawn(async move {
                http.post(format!("{base}/api/admin/users"))
                    .bearer_auth(admin)
                    .header("idempotency-key", format!("bench-{email}"))
                    .json(&json!({"email": email, "password": cloud_api::demo::PASSWORD}))
                    .send()
                    .await
                    .map(|r| r.status())
            }));
        }
        for t in tasks {
            let s = t.await??;
            anyhow::ensure!(s.is_success(), "creating a student answered {s}");
        }
    }
    println!("bench-login against {base}: {STUDENTS} students created in {:.1} s", t0.elapsed().as_secs_f64());

    // Baseline: 30 logins one after another.
    let mut seq = Vec::new();
    let t0 = Instant::now();
    for email in emails.iter().take(30) {
        let (s, ms) = login(&http, &base, email).await?;
        anyhow::ensure!(s == 200, "baseline login answered {s}");
        seq.push(ms);
    }
    let seq_rate = seq.len() as f64 / t0.elapsed().as_secs_f64();
    seq.sort_by(f64::total_cmp);
    println!(
        "baseline (one at a time): {seq_rate:.1} logins/s, p50 {:.1} ms, p99 {:.1} ms",
        pct(&seq, 0.5),
        pct(&seq, 0.99)
    );

    // The storm, three rounds: 300 students, at most 100 in flight at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = server.rss_mb();
    for round in 1..=3 {
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for email in &emails {
            let (http, base, email, sem) = (http.clone(), base.clone(), email.clone(), sem.clone());
            tasks.push(tokio::spawn(async move {
                let _p = sem.acquire_owned().await.expect("semaphore");
                login(&http, &base, &email).await
            }));
        }
        let mut lat = Vec::new();
        let mut codes = std::collections::BTreeMap::<u16, usize>::new();
        for t in tasks {
            let (s, ms) = t.await??;
            *codes.entry(s).or_default() += 1;
            lat.push(ms);
        }
        let secs = t0.elapsed().as_secs_f64();
        lat.sort_by(f64::total_cmp);
        let ok = codes.get(&200).copied().unwrap_or(0);
        println!(
            "round {round}: {:.1} logins/s ({:.0} % of baseline), p50 {:.0} ms, p99 {:.0} ms, answers {codes:?}",
            ok as f64 / secs,
            100.0 * (ok as f64 / secs) / seq_rate,
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
    }
    let peak = server.peak_rss_mb();
    let growth = peak - rss_before;
    println!(
        "RSS: {rss_before:.1} MB before the storm, peak {peak:.1} MB (+{growth:.1} MB; goal < 200 MB: {})",
        if growth < 200.0 { "met" } else { "NOT met" }
    );
    Ok(())
}
