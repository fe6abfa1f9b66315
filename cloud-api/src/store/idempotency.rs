//! Stored responses for `Idempotency-Key` (IETF httpapi draft / Stripe semantics), per tenant+user.

use super::*;
use shared_types::{TenantId, UserId};

/// A finished request's response, replayed byte for byte.
#[derive(Clone, Debug)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug)]
pub enum IdemBegin {
    /// First time: the caller runs the request and then finishes or abandons the key.
    Proceed,
    Replay(StoredResponse),
    /// Same key, different request.
    Mismatch,
    InFlight,
}

/// An in-flight claim older than this is taken over (its request died without finishing).
const STALE_IN_FLIGHT_SECS: i64 = 300;

impl Store {
    pub async fn idem_begin(
        &self,
        tenant: TenantId,
        user: UserId,
        key: &str,
        fingerprint: &str,
    ) -> StoreResult<IdemBegin> {
        let now = Utc::now();
        let mut w = self.write().await?;
        let inserted = sqlx::query(
            "insert into idempotency_keys (tenant_id, user_id, idem_key, fingerprint, state, created_at) \
             values ($1, $2, $3, $4, 'in_flight', $5) on conflict do nothing",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(key)
        .bind(fingerprint)
        .bind(ts(now))
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            w.commit().await?;
            return Ok(IdemBegin::Proceed);
        }
        let row = sqlx::query(&format!(
            "select fingerprint, state, response_status, response_content_type, response_body, created_at \
             from idempotency_keys where user_id = $1 and idem_key = $2{}",
            self.for_update()
        ))
        .bind(user.to_string())
        .bind(key)
        .fetch_one(&mut *w.tx)
        .await?;
        let fp: String = row.try_get(0)?;
        let state: String = row.try_get(1)?;
        let stale = (now - col_ts(&row, "created_at")?).num_seconds() > STALE_IN_FLIGHT_SECS;
        let outcome = if state != "done" && !stale {
            IdemBegin::InFlight
        } else if fp != fingerprint {
            IdemBegin::Mismatch
        } else if state == "done" {
            IdemBegin::Replay(StoredResponse {
                status: row.try_get::<Option<i64>, _>(2)?.unwrap_or(200) as u16,
                content_type: row.try_get(3)?,
                body: row.try_get::<Option<Vec<u8>>, _>(4)?.unwrap_or_default(),
            })
        } else {
            // A stale claim: its request died without finishing; this one takes it over.
            sqlx::query("update idempotency_keys set created_at = $3 where user_id = $1 and idem_key = $2")
                .bind(user.to_string())
                .bind(key)
                .bind(ts(now))
                .execute(&mut *w.tx)
                .await?;
            IdemBegin::Proceed
        };
        w.commit().await?;
        Ok(outcome)
    }

    pub async fn idem_finish(&self, user: UserId, key: &str, resp: &StoredResponse) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "update idempotency_keys set state = 'done', response_status = $3, response_content_type = $4, \
             response_body = $5 where user_id = $1 and idem_key = $2",
        )
        .bind(user.to_string())
        .bind(key)
        .bind(resp.status as i64)
        .bind(resp.content_type.clone())
        .bind(resp.body.clone())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// Forget a claim whose request failed on our side, so the client may retry with the same key.
    pub async fn idem_abandon(&self, user: UserId, key: &str) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("delete from idempotency_keys where user_id = $1 and idem_key = $2 and state = 'in_flight'")
            .bind(user.to_string())
            .bind(key)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// Delete keys older than `keep`; returns how many went.
    pub async fn idem_purge(&self, keep: chrono::Duration) -> StoreResult<u64> {
        let mut w = self.write().await?;
        let n = sqlx::query("delete from idempotency_keys where created_at < $1")
            .bind(ts(Utc::now() - keep))
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        w.commit().await?;
        Ok(n)
    }
}
