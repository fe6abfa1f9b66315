//! Multistream destinations (stream keys sealed) and each session's live stream egress.

use super::*;
use shared_types::TenantId;

#[derive(Clone, Debug, PartialEq)]
pub struct Destination {
    pub id: uuid::Uuid,
    pub name: String,
    pub rtmp_url: String,
    /// The sealed stream key; never sent to a client.
    pub key_sealed: String,
    pub key_hint: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    pub async fn add_destination(&self, tenant: TenantId, session: SessionId, d: &Destination) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "insert into stream_destinations (id, tenant_id, session_id, name, rtmp_url, stream_key_enc, key_hint, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (id) do nothing",
        )
        .bind(d.id.to_string())
        .bind(tenant.to_string())
        .bind(session.to_string())
        .bind(&d.name)
        .bind(&d.rtmp_url)
        .bind(&d.key_sealed)
        .bind(&d.key_hint)
        .bind(ts(d.created_at))
        .execute(&mut *w.tx)
        .await
        .map_err(on_constraint)?;
        w.commit().await
    }

    pub async fn destinations(&self, tenant: TenantId, session: SessionId) -> StoreResult<Vec<Destination>> {
        let rows = sqlx::query(
            "select id, name, rtmp_url, stream_key_enc, key_hint, created_at from stream_destinations \
             where tenant_id = $1 and session_id = $2 order by created_at",
        )
        .bind(tenant.to_string())
        .bind(session.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Destination {
                    id: col_uuid(r, "id")?,
                    name: r.try_get("name")?,
                    rtmp_url: r.try_get("rtmp_url")?,
                    key_sealed: r.try_get("stream_key_enc")?,
                    key_hint: r.try_get("key_hint")?,
                    created_at: col_ts(r, "created_at")?,
                })
            })
            .collect()
    }

    pub async fn delete_destination(&self, tenant: TenantId, session: SessionId, id: uuid::Uuid) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let n = sqlx::query("delete from stream_destinations where id = $1 and tenant_id = $2 and session_id = $3")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(session.to_string())
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        w.commit().await?;
        Ok(n > 0)
    }

    /// The session's live stream: egress id and the destinations it sends to.
    pub async fn stream(&self, session: SessionId) -> StoreResult<Option<(String, Vec<uuid::Uuid>)>> {
        let r = sqlx::query("select egress_id, destination_ids from session_streams where session_id = $1")
            .bind(session.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = r else { return Ok(None) };
        let ids: String = r.try_get(1)?;
        Ok(Some((r.try_get(0)?, serde_json::from_str(&ids).map_err(|e| StoreError::Corrupt(e.to_string()))?)))
    }

    /// Record the session's stream egress and destinations (no event: live changes of an existing
    /// stream; a new stream is committed with its `stream.started` through [`Store::commit`]).
    pub async fn set_stream(
        &self,
        tenant: TenantId,
        session: SessionId,
        egress: &str,
        ids: &[uuid::Uuid],
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        set_stream_in(&mut w.tx, tenant, session, egress, ids).await?;
        w.commit().await
    }

    /// Every live stream egress (the watchdog's list): session, tenant, egress id.
    pub async fn live_streams(&self) -> StoreResult<Vec<(SessionId, TenantId, String)>> {
        let rows = sqlx::query("select session_id, tenant_id, egress_id from session_streams order by started_at")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((col_uuid(r, "session_id")?, col_uuid(r, "tenant_id")?, r.try_get(2)?))).collect()
    }

    /// Claim the class's one server-side recording: true for the caller that inserted the row.
    pub async fn claim_recording(&self, tenant: TenantId, session: SessionId) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let n = sqlx::query(
            "insert into recording_egress (session_id, tenant_id, claimed_at) values ($1, $2, $3) \
             on conflict (session_id) do nothing",
        )
        .bind(session.to_string())
        .bind(tenant.to_string())
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(n == 1)
    }

    /// The claimed recording runs as `egress`.
    pub async fn recording_started(&self, session: SessionId, egress: &str) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("update recording_egress set egress_id = $2 where session_id = $1")
            .bind(session.to_string())
            .bind(egress)
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// The session's recording egress, if one runs (or ran).
    pub async fn recording_egress(&self, session: SessionId) -> StoreResult<Option<String>> {
        let r = sqlx::query("select egress_id from recording_egress where session_id = $1")
            .bind(session.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.and_then(|r| r.try_get::<Option<String>, _>(0).ok().flatten()))
    }

    /// Give the claim back (the egress could not start, or it failed): the next track may try again.
    pub async fn release_recording(&self, session: SessionId) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("delete from recording_egress where session_id = $1")
            .bind(session.to_string())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    pub async fn clear_stream(&self, session: SessionId) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("delete from session_streams where session_id = $1")
            .bind(session.to_string())
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }
}

pub(crate) async fn set_stream_in(
    tx: &mut Transaction<'static, Any>,
    tenant: TenantId,
    session: SessionId,
    egress: &str,
    ids: &[uuid::Uuid],
) -> StoreResult<()> {
    sqlx::query(
        "insert into session_streams (session_id, tenant_id, egress_id, destination_ids, started_at) values ($1, $2, $3, $4, $5) \
         on conflict (session_id) do update set egress_id = $3, destination_ids = $4",
    )
    .bind(session.to_string())
    .bind(tenant.to_string())
    .bind(egress)
    .bind(serde_json::to_string(ids).unwrap_or_default())
    .bind(ts(Utc::now()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
