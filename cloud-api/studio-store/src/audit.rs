//! The audit log: append-only rows (the database refuses UPDATE and DELETE), read newest first.

use super::*;
use shared_types::{TenantId, UserId};

/// One audited action, as written and as read: the wire type itself.
pub use shared_types::dto::AuditEntryDto as AuditEntry;

/// What to read: a tenant (`None`: every tenant), optional filters, entries older than `before`.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub tenant: Option<TenantId>,
    pub actor: Option<UserId>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub before: Option<uuid::Uuid>,
}

fn entry_from(row: &AnyRow) -> StoreResult<AuditEntry> {
    let opt_uuid = |col: &str| -> StoreResult<Option<uuid::Uuid>> {
        row.try_get::<Option<String>, _>(col)?
            .map(|s| s.parse().map_err(|_| StoreError::Corrupt(format!("{col} is not a uuid"))))
            .transpose()
    };
    Ok(AuditEntry {
        id: col_uuid(row, "id")?,
        at: col_ts(row, "at")?,
        tenant_id: opt_uuid("tenant_id")?.map(TenantId),
        actor_id: opt_uuid("actor_id")?.map(UserId),
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        outcome: row.try_get("outcome")?,
        request_id: row.try_get("request_id")?,
        ip: row.try_get("ip")?,
    })
}

impl Store {
    /// Append one entry (its id is a fresh UUIDv7, so id order is time order).
    pub async fn audit_append(&self, e: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "insert into audit_log (id, at, tenant_id, actor_id, action, target, outcome, request_id, ip) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(e.id.to_string())
        .bind(ts(e.at))
        .bind(e.tenant_id.map(|t| t.to_string()))
        .bind(e.actor_id.map(|u| u.to_string()))
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.outcome)
        .bind(e.request_id.as_deref())
        .bind(e.ip.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Entries matching `f`, newest first, at most `limit`.
    pub async fn audit_entries(&self, f: &AuditFilter, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "select id, at, tenant_id, actor_id, action, target, outcome, request_id, ip from audit_log \
             where ($1 is null or tenant_id = $1) and ($2 is null or actor_id = $2) \
             and ($3 is null or action = $3) and ($4 is null or at >= $4) and ($5 is null or at <= $5) \
             and ($6 is null or id < $6) order by id desc limit $7",
        )
        .bind(f.tenant.map(|t| t.to_string()))
        .bind(f.actor.map(|u| u.to_string()))
        .bind(f.action.clone())
        .bind(f.from.map(ts))
        .bind(f.to.map(ts))
        .bind(f.before.map(|b| b.to_string()))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_from).collect()
    }
}
