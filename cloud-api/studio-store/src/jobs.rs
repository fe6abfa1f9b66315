//! Pipeline jobs: enqueued inside the append transaction of the event that causes them, claimed
//! with a lease (`for update skip locked` on PostgreSQL; the writer lock on SQLite), kept alive by
//! heartbeats, retried with exponential backoff, and parked as `failed` (dead letter) after
//! `max_attempts`.

use super::*;
use serde_json::Value;
use shared_types::jobs::{JobKind, JobState};
use shared_types::{JobId, TenantId};

pub const DEFAULT_MAX_ATTEMPTS: i64 = 3;

pub use shared_types::jobs::Job;

const JOB_COLS: &str =
    "id, tenant_id, session_id, kind, payload, state, attempts, max_attempts, run_after, last_error, created_at";

fn job_from(r: &AnyRow) -> StoreResult<Job> {
    let payload: String = r.try_get("payload")?;
    Ok(Job {
        id: col_uuid(r, "id")?,
        tenant_id: col_uuid(r, "tenant_id")?,
        session_id: col_uuid(r, "session_id")?,
        kind: named(r, "kind", JobKind::parse)?,
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        state: named(r, "state", JobState::parse)?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        run_after: col_ts(r, "run_after")?,
        last_error: r.try_get("last_error")?,
        created_at: col_ts(r, "created_at")?,
    })
}

/// A column holding one of a closed set of names.
pub(crate) fn named<T>(r: &AnyRow, col: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    let s: String = r.try_get(col)?;
    parse(&s).ok_or_else(|| StoreError::Corrupt(format!("{col} `{s}` is not known")))
}

/// A job to enqueue: what it does, its input, and the key that makes enqueueing it idempotent.
#[derive(Clone, Copy, Debug)]
pub struct NewJob<'a> {
    pub kind: JobKind,
    pub payload: &'a Value,
    pub dedupe_key: Option<&'a str>,
}

/// Enqueue inside an open transaction; a job with the same `dedupe_key` already there wins.
pub(crate) async fn enqueue_in(
    tx: &mut Transaction<'static, Any>,
    tenant: TenantId,
    session: SessionId,
    job: NewJob<'_>,
) -> StoreResult<()> {
    let NewJob { kind, payload, dedupe_key } = job;
    let now = ts(Utc::now());
    sqlx::query(
        "insert into jobs (id, tenant_id, session_id, kind, payload, state, attempts, max_attempts, run_after, \
         dedupe_key, created_at, updated_at) values ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $7, $7) \
         on conflict (dedupe_key) do nothing",
    )
    .bind(JobId::new().to_string())
    .bind(tenant.to_string())
    .bind(session.to_string())
    .bind(kind.as_str())
    .bind(payload.to_string())
    .bind(DEFAULT_MAX_ATTEMPTS)
    .bind(now)
    .bind(dedupe_key)
    .execute(&mut **tx)
    .await
    .map_err(on_constraint)?;
    Ok(())
}

impl Store {
    pub async fn enqueue(&self, tenant: TenantId, session: SessionId, job: NewJob<'_>) -> StoreResult<()> {
        let mut w = self.write().await?;
        enqueue_in(&mut w.tx, tenant, session, job).await?;
        w.commit().await
    }

    /// Take the oldest runnable job (queued and due, or running with an expired lease).
    pub async fn claim_job(&self, worker: &str, lease: std::time::Duration) -> StoreResult<Option<Job>> {
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        let skip = match self.backend {
            Backend::Postgres => " for update skip locked",
            Backend::Sqlite => "",
        };
        let mut w = self.write().await?;
        let row = sqlx::query(&format!(
            "update jobs set state = 'running', attempts = attempts + 1, lease_until = $2, locked_by = $3, updated_at = $1 \
             where id = (select id from jobs where (state = 'queued' and run_after <= $1) \
                         or (state = 'running' and lease_until < $1) order by run_after, created_at limit 1{skip}) \
             returning {JOB_COLS}"
        ))
        .bind(ts(now))
        .bind(ts(until))
        .bind(worker)
        .fetch_optional(&mut *w.tx)
        .await?;
        w.commit().await?;
        row.as_ref().map(job_from).transpose()
    }

    /// Extend the lease; false when the job is no longer this worker's (it expired and was taken).
    pub async fn heartbeat_job(&self, id: JobId, worker: &str, lease: std::time::Duration) -> StoreResult<bool> {
        let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        let mut w = self.write().await?;
        let n = sqlx::query("update jobs set lease_until = $3 where id = $1 and locked_by = $2 and state = 'running'")
            .bind(id.to_string())
            .bind(worker)
            .bind(ts(until))
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        w.commit().await?;
        Ok(n == 1)
    }

    pub async fn complete_job(&self, id: JobId, worker: &str) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let n = sqlx::query(
            "update jobs set state = 'done', lease_until = null, last_error = null, updated_at = $3 \
             where id = $1 and locked_by = $2 and state = 'running'",
        )
        .bind(id.to_string())
        .bind(worker)
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(n == 1)
    }

    /// Record a failure: back off and retry, or park the job as `failed` after its last attempt.
    pub async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        backoff_base: std::time::Duration,
    ) -> StoreResult<String> {
        let mut w = self.write().await?;
        let row = sqlx::query(
            "select attempts, max_attempts, kind from jobs where id = $1 and locked_by = $2 and state = 'running'",
        )
        .bind(id.to_string())
        .bind(worker)
        .fetch_optional(&mut *w.tx)
        .await?;
        let Some(row) = row else {
            return Ok("lost".into());
        };
        let (attempts, max): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let state = if attempts >= max { JobState::Failed } else { JobState::Queued }.as_str();
        let delay = backoff_base.as_secs_f64() * 2f64.powi((attempts - 1).clamp(0, 16) as i32);
        let run_after = Utc::now() + chrono::Duration::milliseconds((delay * 1000.0) as i64);
        let error: String = error.chars().take(2000).collect();
        sqlx::query(
            "update jobs set state = $2, last_error = $3, run_after = $4, lease_until = null, locked_by = null, updated_at = $5 \
             where id = $1",
        )
        .bind(id.to_string())
        .bind(state)
        .bind(error)
        .bind(ts(run_after))
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await?;
        sqlx::query(
            "insert into job_failure_counts (kind, failures) values ($1, 1) \
             on conflict (kind) do update set failures = job_failure_counts.failures + 1",
        )
        .bind(row.try_get::<String, _>(2)?)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(state.to_string())
    }

    /// Jobs of a tenant (all tenants when `None`), newest first, optionally in one state.
    pub async fn jobs(&self, tenant: Option<TenantId>, state: Option<JobState>, limit: i64) -> StoreResult<Vec<Job>> {
        let rows = sqlx::query(&format!(
            "select {JOB_COLS} from jobs where ($1 = '' or tenant_id = $1) and ($2 = '' or state = $2) \
             order by created_at desc limit $3"
        ))
        .bind(tenant.map(|t| t.to_string()).unwrap_or_default())
        .bind(state.map(JobState::as_str).unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from).collect()
    }

    pub async fn job(&self, id: JobId) -> StoreResult<Option<Job>> {
        let r = sqlx::query(&format!("select {JOB_COLS} from jobs where id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(job_from).transpose()
    }

    /// Put a failed (or stuck) job back in the queue with a fresh attempt budget.
    pub async fn retry_job(&self, tenant: Option<TenantId>, id: JobId) -> StoreResult<bool> {
        let now = ts(Utc::now());
        let mut w = self.write().await?;
        let n = sqlx::query(
            "update jobs set state = 'queued', attempts = 0, run_after = $3, lease_until = null, locked_by = null, updated_at = $3 \
             where id = $1 and ($2 = '' or tenant_id = $2) and state in ('failed', 'queued')",
        )
        .bind(id.to_string())
        .bind(tenant.map(|t| t.to_string()).unwrap_or_default())
        .bind(now)
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(n == 1)
    }

    /// Failed attempts by job kind, ever.
    pub async fn job_failures(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows =
            sqlx::query("select kind, failures from job_failure_counts order by kind").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Queued and running jobs, and the age of the oldest queued one in seconds (metrics).
    pub async fn queue_depth(&self) -> StoreResult<(i64, f64)> {
        let r = sqlx::query("select count(*), min(created_at) from jobs where state in ('queued', 'running')")
            .fetch_one(&self.pool)
            .await?;
        let n: i64 = r.try_get(0)?;
        let oldest: Option<String> = r.try_get(1)?;
        let age = oldest.and_then(|o| parse_ts(&o).ok()).map(|t| (Utc::now() - t).num_milliseconds() as f64 / 1000.0);
        Ok((n, age.unwrap_or(0.0)))
    }
}
