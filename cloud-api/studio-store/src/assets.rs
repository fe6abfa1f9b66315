//! Studio assets: rows that point at blobs (slides, images, whiteboard backgrounds).

use super::*;
use shared_types::{AssetId, SceneId, TenantId, UserId};

#[derive(Clone, Debug, PartialEq)]
pub struct AssetRecord {
    pub id: AssetId,
    pub session_id: SessionId,
    pub scene_id: Option<SceneId>,
    pub kind: String,
    /// The blob key of the uploaded file.
    pub content_key: String,
    pub content_type: String,
    pub title: Option<String>,
    pub page_count: Option<u32>,
}

impl Store {
    /// Record an asset; recording the same id again changes nothing.
    pub async fn asset(&self, tenant: TenantId, id: AssetId) -> StoreResult<Option<AssetRecord>> {
        let r = sqlx::query(
            "select id, session_id, scene_id, type, content_url, content_type, title, page_count \
             from studio_assets where id = $1 and tenant_id = $2",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let scene: Option<String> = r.try_get("scene_id")?;
        Ok(Some(AssetRecord {
            id: col_uuid(&r, "id")?,
            session_id: col_uuid(&r, "session_id")?,
            scene_id: scene.map(|s| s.parse().map_err(|_| StoreError::Corrupt("scene_id".into()))).transpose()?,
            kind: r.try_get("type")?,
            content_key: r.try_get("content_url")?,
            content_type: r.try_get("content_type")?,
            title: r.try_get("title")?,
            page_count: r.try_get::<Option<i64>, _>("page_count")?.map(|p| p as u32),
        }))
    }
}

/// Insert an asset row inside an open transaction (once: the id decides).
pub(crate) async fn insert_asset_in(
    tx: &mut Transaction<'static, Any>,
    tenant: TenantId,
    a: &AssetRecord,
    by: UserId,
) -> StoreResult<()> {
    sqlx::query(
        "insert into studio_assets (id, tenant_id, scene_id, session_id, type, content_url, content_type, title, \
         page_count, created_by, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         on conflict (id) do nothing",
    )
    .bind(a.id.to_string())
    .bind(tenant.to_string())
    .bind(a.scene_id.map(|s| s.to_string()))
    .bind(a.session_id.to_string())
    .bind(&a.kind)
    .bind(&a.content_key)
    .bind(&a.content_type)
    .bind(a.title.clone())
    .bind(a.page_count.map(|p| p as i64))
    .bind(by.to_string())
    .bind(ts(Utc::now()))
    .execute(&mut **tx)
    .await
    .map_err(on_constraint)?;
    Ok(())
}

/// What a blob under `sessions/{id}/…` belongs to, for the orphan sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlobOwner {
    Asset,
    Recording,
}

impl Store {
    /// Whether the asset or recording that owns some blobs exists (across tenants: the sweep walks
    /// the whole blob store).
    pub async fn blob_owner_exists(&self, owner: BlobOwner, id: uuid::Uuid) -> StoreResult<bool> {
        let table = match owner {
            BlobOwner::Asset => "studio_assets",
            BlobOwner::Recording => "recordings",
        };
        Ok(sqlx::query(&format!("select 1 from {table} where id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }
}
