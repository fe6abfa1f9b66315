//! Stored responses for `Idempotency-Key` (IETF httpapi draft / Stripe semantics), per tenant+user.

use super::*;
use shared_types::{TenantId, UserId};
use std::collections::HashMap;

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
    /// Still running; `elsewhere`: on another node (which may yet turn out to have died).
    InFlight {
        elsewhere: bool,
    },
}

/// A node that has not sent a heartbeat for this long has stopped; its claims are dead.
pub const NODE_DEAD_AFTER: std::time::Duration = std::time::Duration::from_secs(5);
/// How often a node says it is alive (and retries releasing claims it could not release).
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// This node's running claims: the key is released from here when its request ends in any way
/// (finished, failed, cancelled by a disconnect, panicked), so a claim never outlives its request.
/// Counted: a request holds the claim from before its row is written, so two requests of this
/// node with one key may hold it for a moment (the one that did not write the row lets go).
#[derive(Default)]
pub(crate) struct Claims {
    running: Mutex<HashMap<(UserId, String), usize>>,
    /// Claims a failed request could not delete (the database was down); retried each heartbeat.
    unreleased: Mutex<Vec<(UserId, String)>>,
}

/// Held while a claimed request runs; dropping it ends the claim on this node.
pub struct ClaimGuard {
    store: Arc<Store>,
    user: UserId,
    key: String,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let mut running = self.store.claims.running.lock().expect("claims");
        let held = (self.user, std::mem::take(&mut self.key));
        if let Some(n) = running.get_mut(&held) {
            *n -= 1;
            if *n == 0 {
                running.remove(&held);
            }
        }
    }
}

impl Store {
    /// Claim `key` for a request, or say why not. A claim made by a process that has stopped
    /// (no heartbeat for [`NODE_DEAD_AFTER`]) or by a request of this process that has ended is
    /// taken over at once.
    pub async fn idem_begin(
        self: &Arc<Self>,
        tenant: TenantId,
        user: UserId,
        key: &str,
        fingerprint: &str,
    ) -> StoreResult<(IdemBegin, Option<ClaimGuard>)> {
        let now = Utc::now();
        let me = self.node.0.to_string();
        // A released claim's row can go between the insert and the look-up below (its request
        // failed): then the key is new again, and this starts over.
        let (mut w, row) = loop {
            // A new key, the usual case: one statement, no transaction. The claim is held here from
            // before its row exists, so no request of this node that finds the row takes it for dead.
            let guard = self.hold_claim(user, key);
            let inserted = self
                .write_one(
                    sqlx::query(
                        "insert into idempotency_keys (tenant_id, user_id, idem_key, fingerprint, state, \
                         created_at, owner) values ($1, $2, $3, $4, 'in_flight', $5, $6) on conflict do nothing",
                    )
                    .bind(tenant.to_string())
                    .bind(user.to_string())
                    .bind(key)
                    .bind(fingerprint)
                    .bind(ts(now))
                    .bind(&me),
                )
                .await?
                .rows_affected();
            if inserted == 1 {
                return Ok((IdemBegin::Proceed, Some(guard)));
            }
            drop(guard);
            let mut w = self.write().await?;
            let row = sqlx::query(&format!(
                "select k.fingerprint, k.state, k.response_status, k.response_content_type, k.response_body, \
                 k.created_at, k.owner, n.seen_at from idempotency_keys k left join server_nodes n \
                 on n.id = k.owner where k.user_id = $1 and k.idem_key = $2{}",
                self.for_update_of("k")
            ))
            .bind(user.to_string())
            .bind(key)
            .fetch_optional(&mut *w.tx)
            .await?;
            if let Some(row) = row {
                break (w, row);
            }
        };
        let fp: String = row.try_get(0)?;
        let state: String = row.try_get(1)?;
        let owner: Option<String> = row.try_get(6)?;
        let seen_at: Option<String> = row.try_get(7)?;
        let elsewhere = owner.as_deref() != Some(me.as_str());
        let alive = match owner.as_deref() {
            // Ours: alive only while the request still runs here.
            Some(o) if o == me => self.claims.running.lock().expect("claims").contains_key(&(user, key.to_string())),
            Some(_) => seen_at
                .map(|s| parse_ts(&s))
                .transpose()?
                .is_some_and(|seen| (now - seen).to_std().unwrap_or_default() < NODE_DEAD_AFTER),
            // Written before claims had owners: the old five-minute rule.
            None => (now - col_ts(&row, "created_at")?).num_seconds() < 300,
        };
        let outcome = if state != "done" && alive {
            IdemBegin::InFlight { elsewhere }
        } else if fp != fingerprint {
            IdemBegin::Mismatch
        } else if state == "done" {
            IdemBegin::Replay(StoredResponse {
                status: row.try_get::<Option<i64>, _>(2)?.unwrap_or(200) as u16,
                content_type: row.try_get(3)?,
                body: row.try_get::<Option<Vec<u8>>, _>(4)?.unwrap_or_default(),
            })
        } else {
            // A dead claim: its request ended without an answer; this one takes it over.
            sqlx::query("update idempotency_keys set created_at = $3, owner = $4 where user_id = $1 and idem_key = $2")
                .bind(user.to_string())
                .bind(key)
                .bind(ts(now))
                .bind(&me)
                .execute(&mut *w.tx)
                .await?;
            IdemBegin::Proceed
        };
        let guard = matches!(outcome, IdemBegin::Proceed).then(|| self.hold_claim(user, key));
        w.commit().await?;
        Ok((outcome, guard))
    }

    fn hold_claim(self: &Arc<Self>, user: UserId, key: &str) -> ClaimGuard {
        *self.claims.running.lock().expect("claims").entry((user, key.to_string())).or_default() += 1;
        ClaimGuard { store: self.clone(), user, key: key.to_string() }
    }

    /// Say this node is alive, and release claims that failed requests could not release.
    pub async fn heartbeat(&self) -> StoreResult<()> {
        let now = ts(Utc::now());
        let mut w = self.write().await?;
        sqlx::query(
            "insert into server_nodes (id, started_at, seen_at) values ($1, $2, $2) \
             on conflict (id) do update set seen_at = excluded.seen_at",
        )
        .bind(self.node.0.to_string())
        .bind(&now)
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        let pending = std::mem::take(&mut *self.claims.unreleased.lock().expect("claims"));
        for (i, (user, key)) in pending.iter().enumerate() {
            if let Err(e) = self.idem_abandon(*user, key).await {
                self.claims.unreleased.lock().expect("claims").extend(pending[i..].iter().cloned());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Forget nodes gone for a day.
    pub async fn purge_nodes(&self) -> StoreResult<u64> {
        self.purge_older("server_nodes", "seen_at", chrono::Duration::days(1)).await
    }

    /// Beat every [`HEARTBEAT_EVERY`] until the process ends.
    pub fn spawn_heartbeat(self: &Arc<Self>) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            let mut failing = false;
            loop {
                tick.tick().await;
                match store.heartbeat().await {
                    Ok(()) if failing => {
                        tracing::info!("heartbeat restored");
                        failing = false;
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, "heartbeat failed");
                        failing = true;
                    }
                    Err(_) => {}
                }
            }
        });
    }

    /// Release a failed request's claim; if the database cannot be reached now, later.
    pub async fn idem_release_or_later(&self, user: UserId, key: &str) {
        if let Err(e) = self.idem_abandon(user, key).await {
            tracing::warn!(error = %e, "could not release an idempotency claim now; retrying on the next heartbeat");
            self.claims.unreleased.lock().expect("claims").push((user, key.to_string()));
        }
    }

    pub async fn idem_finish(&self, user: UserId, key: &str, resp: &StoredResponse) -> StoreResult<()> {
        self.write_one(
            sqlx::query(
                "update idempotency_keys set state = 'done', response_status = $3, response_content_type = $4, \
                 response_body = $5 where user_id = $1 and idem_key = $2",
            )
            .bind(user.to_string())
            .bind(key)
            .bind(resp.status as i64)
            .bind(resp.content_type.clone())
            .bind(resp.body.clone()),
        )
        .await?;
        Ok(())
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
        self.purge_older("idempotency_keys", "created_at", keep).await
    }
}
