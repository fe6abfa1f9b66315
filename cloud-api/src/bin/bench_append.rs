//! bench-append: event-log append throughput and latency on PostgreSQL (or SQLite), next to a raw
//! single-row INSERT loop on the same database in the same run, and a 1,000-event journal batch
//! through the real router.
//!
//! Usage: bench-append <admin-database-url> [sessions=50] [appends-per-session=100]

use axum::body::Body;
use axum::http::Request;
use chrono::{Duration, Utc};
use cloud_api::app::{router, AppState};
use cloud_api::config::Config;
use cloud_api::store::{AppendOutcome, NewEvent, Store};
use serde_json::json;
use shared_types::{Role, RoleGrant, Scope, SessionEvent, SessionId, TenantId, UserId};
use sqlx::Executor;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

#[path = "shared/bench.rs"]
mod bench;
use bench::{fresh, pct};

fn highlight(key: String, actor: UserId) -> NewEvent {
    NewEvent {
        idempotency_key: key,
        actor_id: Some(actor),
        actor_role: Some(Role::Teacher),
        occurred_at: None,
        event: SessionEvent::HighlightMarked { label: "bench".into() },
    }
}

async fn live_session(
    store: &Store,
    tenant: TenantId,
    teacher: UserId,
    lesson: &shared_types::dto::LessonDto,
) -> anyhow::Result<SessionId> {
    let now = Utc::now();
    let first = NewEvent {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        actor_id: Some(teacher),
        actor_role: Some(Role::Teacher),
        occurred_at: None,
        event: SessionEvent::SessionScheduled { scheduled_start: now, scheduled_end: now + Duration::hours(2) },
    };
    let (s, _) = store
        .create_session(tenant, lesson, now, now + Duration::hours(2), first)
        .await?
        .map_err(|o| anyhow::anyhow!("{o:?}"))?;
    let start = NewEvent {
        event: SessionEvent::SessionStarted { room: None },
        ..highlight(uuid::Uuid::new_v4().to_string(), teacher)
    };
    store.append(tenant, s.id, vec![start]).await?;
    Ok(s.id)
}

/// `sessions` writers, each `per` single-row autocommit INSERTs into `table` (`bench_raw`: three
/// columns, no index — the baseline; `bench_shaped`: an event row with the log's two unique keys,
/// to see what the row and its indexes cost); rows/s and each INSERT's latency (ms).
async fn raw_round(
    pool: &Arc<sqlx::AnyPool>,
    table: &'static str,
    round: usize,
    sessions: usize,
    per: usize,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let now = cloud_api::store::ts(Utc::now());
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let t = Instant::now();
                let q = if table == "bench_raw" {
                    sqlx::query("insert into bench_raw (session_id, seq, payload) values ($1, $2, $3)")
                        .bind(format!("r{round}s{s}"))
                        .bind(i as i64)
                        .bind("{\"label\":\"bench\"}")
                } else {
                    sqlx::query(
                        "insert into bench_shaped (id, tenant_id, session_id, sequence, idempotency_key, event_type, \
                         version, actor_id, actor_role, event_payload, occurred_at, created_at) \
                         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(uuid::Uuid::nil().to_string())
                    .bind(format!("r{round}s{s}"))
                    .bind(i as i64)
                    .bind(format!("k{i}"))
                    .bind("highlight.marked")
                    .bind(1_i64)
                    .bind(uuid::Uuid::nil().to_string())
                    .bind("teacher")
                    .bind("{\"label\":\"bench\"}")
                    .bind(now.clone())
                    .bind(now.clone())
                };
                q.execute(&*pool).await.expect("raw insert");
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut lat = Vec::with_capacity(sessions * per);
    for t in tasks {
        lat.extend(t.await?);
    }
    Ok(((sessions * per) as f64 / t0.elapsed().as_secs_f64(), lat))
}

/// The database's own time for a batch's rows (ms): 1,000 event-shaped rows made by the database
/// in one INSERT … SELECT into `bench_shaped` (the log's keys), autocommit — no parameters to send
/// or parse, nothing decided. The floor under a 1,000-event batch.
async fn bare_batch(pool: &sqlx::AnyPool, run: usize) -> anyhow::Result<f64> {
    let sql = format!(
        "insert into bench_shaped (id, tenant_id, session_id, sequence, idempotency_key, event_type, version, \
         actor_id, actor_role, event_payload, occurred_at, created_at) \
         with recursive g(i) as (select 1 union all select i + 1 from g where i < 1000) \
         select 'bare{run}-' || i, '{nil}', 'bare{run}', i, 'key-' || i, 'highlight.marked', 1, '{nil}', 'teacher', \
         '{{\"label\":\"bench\"}}', '2026-12-07T06:50:00.123456Z', '2026-12-07T06:50:00.123456Z' from g",
        nil = uuid::Uuid::nil()
    );
    let t = Instant::now();
    let done = sqlx::query(&sql).execute(pool).await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(done.rows_affected() == 1000, "bare batch wrote {} rows", done.rows_affected());
    Ok(ms)
}

/// One writer per session, all at once, `per` appends each; appends/s and per-append latencies (ms).
async fn append_round(
    store: &Arc<Store>,
    tenant: TenantId,
    actor: UserId,
    ids: &[SessionId],
    per: usize,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for &sid in ids {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let t = Instant::now();
                let (o, _) = store.append(tenant, sid, vec![highlight(format!("k{i}"), actor)]).await.expect("append");
                assert!(matches!(o[0], AppendOutcome::Appended(_)));
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let rate = lat.len() as f64 / t0.elapsed().as_secs_f64();
    for sid in ids {
        let (events, head) = store.events_after(tenant, *sid, 0, 100_000).await?;
        anyhow::ensure!(head as usize == per + 2, "head {head}");
        anyhow::ensure!(events.iter().enumerate().all(|(i, e)| e.sequence == i as u64 + 1), "gap in the log");
    }
    Ok((rate, lat))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let admin = args
        .get(1)
        .cloned()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .ok_or_else(|| anyhow::anyhow!("usage: bench-append <database-url> [sessions] [appends-per-session]"))?;
    let sessions: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(50);
    let per: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(100);
    sqlx::any::install_default_drivers();
    let url = fresh(&admin).await?;
    let store = Arc::new(Store::connect(&url).await?);
    println!("bench-append on {:?}: {sessions} concurrent sessions × {per} appends", store.backend);

    // Setup: one tenant, one teacher, one lesson; the raw table for the baseline.
    let pool = Arc::new(sqlx::any::AnyPoolOptions::new().max_connections(32).connect(&url).await?);
    pool.execute("create table bench_raw (session_id text not null, seq bigint not null, payload text not null)")
        .await?;
    pool.execute(
        "create table bench_shaped (id text not null, tenant_id text not null, session_id text not null, \
         sequence bigint not null, idempotency_key text not null, event_type text not null, version bigint not null, \
         actor_id text, actor_role text, event_payload text not null, occurred_at text not null, \
         created_at text not null, primary key (session_id, sequence), unique (session_id, idempotency_key))",
    )
    .await?;
    let tenant = store.create_tenant("Bench").await?.id;
    let teacher =
        store.create_user(tenant, &format!("t-{}@bench.test", uuid::Uuid::new_v4()), None, "x", false).await?;
    store
        .grant(tenant, teacher.id, RoleGrant { role: Role::Teacher, scope: Scope::Tenant, scope_id: Some(tenant.0) })
        .await?;
    let course = store.create_course(tenant, "Bench").await?;
    let lesson = store.create_lesson(tenant, course.id, "Bench", 1).await?;

    // Rounds alternate the baseline and the appends, so machine noise hits both alike.
    let mut ratios = Vec::new();
    let mut rates = Vec::new();
    let mut shaped = Vec::new();
    let mut lat = Vec::new();
    let mut raw_lat = Vec::new();
    for round in 0..3 {
        let (raw_rate, l) = raw_round(&pool, "bench_raw", round, sessions, per).await?;
        raw_lat.extend(l);
        let (shaped_rate, _) = raw_round(&pool, "bench_shaped", round, sessions, per).await?;
        shaped.push(shaped_rate);
        let mut ids = Vec::new();
        for _ in 0..sessions {
            ids.push(live_session(&store, tenant, teacher.id, &lesson).await?);
        }
        let (rate, l) = append_round(&store, tenant, teacher.id, &ids, per).await?;
        println!(
            "round {round}: raw INSERT {raw_rate:>7.0} rows/s   event-shaped INSERT {shaped_rate:>7.0} rows/s ({:.0} %)   \
             append {rate:>7.0} appends/s ({:.0} %)",
            100.0 * shaped_rate / raw_rate,
            100.0 * rate / raw_rate
        );
        ratios.push(rate / raw_rate);
        rates.push((raw_rate, rate));
        lat.extend(l);
    }
    lat.sort_by(f64::total_cmp);
    raw_lat.sort_by(f64::total_cmp);
    ratios.sort_by(f64::total_cmp);
    let mut append_rates: Vec<f64> = rates.iter().map(|r| r.1).collect();
    append_rates.sort_by(f64::total_cmp);
    let mut raw_rates: Vec<f64> = rates.iter().map(|r| r.0).collect();
    raw_rates.sort_by(f64::total_cmp);
    let (raw_rate, append_rate, ratio) = (raw_rates[1], append_rates[1], ratios[1]);
    shaped.sort_by(f64::total_cmp);
    let shaped_rate = shaped[1];

    // A 1,000-event events:batch through the router (auth, idempotency, JSON, store), 5 runs.
    let config = Config::from_env()?;
    let blobs = cloud_api::app::open_blobs(&config).await?;
    let state = AppState::new(store.clone(), config, blobs)?;
    let (token, hash) = cloud_api::auth::new_token();
    store.insert_token(&hash, &teacher, Utc::now() + Duration::hours(1)).await?;
    // Built once, as a server does (building it makes the OpenAPI document: not a request's cost).
    let app = router(state.clone());
    // Five runs of each, interleaved (the database's own insert, the store, the router), so the
    // machine's drift hits all three alike.
    let mut batch_ms = Vec::new();
    let mut store_ms = Vec::new();
    let mut bare_ms = Vec::new();
    for run in 0..5 {
        bare_ms.push(bare_batch(&pool, run).await?);
        // The same batch straight into the store (no HTTP, JSON or idempotency record): where the
        // route's time goes.
        let sid = live_session(&store, tenant, teacher.id, &lesson).await?;
        let events: Vec<_> = (0..1000).map(|i| highlight(format!("d{run}-{i}"), teacher.id)).collect();
        let t = Instant::now();
        let (o, state) = store.append(tenant, sid, events).await?;
        store_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(state.head == 1002 && o.len() == 1000, "store batch head {}", state.head);
        // A 1,000-event events:batch through the router (auth, idempotency, JSON, store).
        let sid = live_session(&store, tenant, teacher.id, &lesson).await?;
        let events: Vec<_> = (0..1000)
            .map(|i| json!({"idempotencyKey": format!("b{run}-{i}"), "type": "highlight.marked", "payload": {"label": "bench"}}))
            .collect();
        let body = serde_json::to_vec(&json!({ "events": events }))?;
        let req = Request::post(format!("/api/sessions/{sid}/events:batch"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .body(Body::from(body))?;
        let t = Instant::now();
        let resp = app.clone().oneshot(req).await?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        batch_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(status == 200, "batch answered {status}: {}", String::from_utf8_lossy(&bytes));
        let v: serde_json::Value = serde_json::from_slice(&bytes)?;
        anyhow::ensure!(v["head"] == 1002, "batch head {}", v["head"]);
    }
    batch_ms.sort_by(f64::total_cmp);
    store_ms.sort_by(f64::total_cmp);
    bare_ms.sort_by(f64::total_cmp);
    pool.close().await;

    println!("median of 3 rounds:");
    println!("raw single-row INSERT      {raw_rate:>9.0} rows/s");
    println!(
        "event-shaped INSERT        {shaped_rate:>9.0} rows/s     ({:.0} % of raw: the row and its two unique keys)",
        100.0 * shaped_rate / raw_rate
    );
    println!(
        "event append               {append_rate:>9.0} appends/s  ({:.0} % of raw)  p50 {:.2} ms  p99 {:.2} ms",
        100.0 * ratio,
        pct(&lat, 0.50),
        pct(&lat, 0.99)
    );
    // Five timed runs of each (sorted): median, fastest and slowest.
    let runs = |label: &str, ms: &[f64], what: &str| {
        println!(
            "{label:<26} median {:.1} ms  min {:.1} ms  max {:.1} ms  (5 runs{what})",
            pct(ms, 0.5),
            ms[0],
            ms[ms.len() - 1]
        )
    };
    runs("1,000-event events:batch", &batch_ms, "");
    runs("1,000 events, store only", &store_ms, "");
    runs("1,000 rows, bare INSERT", &bare_ms, "; made by the database, the log's keys");
    println!(
        "raw INSERT latency          p50 {:.2} ms  p99 {:.2} ms  ({sessions} writers at once)",
        pct(&raw_lat, 0.50),
        pct(&raw_lat, 0.99)
    );
    let batch = pct(&batch_ms, 0.5);
    let postgres = store.backend == cloud_api::store::Backend::Postgres;
    let share = if postgres { 0.6 } else { 0.9 };
    let mut goals = vec![
        (format!(">= {:.0} % of raw INSERT ({:.0} %)", 100.0 * share, 100.0 * ratio), ratio >= share),
        (format!("batch <= 25 ms ({batch:.1} ms; bare insert {:.1} ms)", pct(&bare_ms, 0.5)), batch <= 25.0),
    ];
    if postgres {
        goals.push((
            format!("append p99 <= 10 ms ({:.2} ms; raw INSERT p99 {:.2} ms)", pct(&lat, 0.99), pct(&raw_lat, 0.99)),
            pct(&lat, 0.99) <= 10.0,
        ));
    }
    for (goal, met) in goals {
        println!("goal {goal:<56} {}", if met { "met" } else { "NOT met" });
    }
    Ok(())
}
