//! Tenants, users, role grants and auth tokens.

use super::*;
use shared_types::dto::{TenantDto, UserDto};
use shared_types::speech::{SpeechModel, TenantSettings};
use shared_types::{Role, RoleGrant, Scope, TenantId, UserId};

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub user: UserDto,
    pub hashed_password: String,
    pub platform_admin: bool,
    pub active: bool,
}

/// What a valid token resolves to.
#[derive(Clone, Debug)]
pub struct TokenOwner {
    pub user: UserDto,
    pub platform_admin: bool,
    pub grants: Vec<RoleGrant>,
}

pub(crate) fn user_from(row: &AnyRow) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        user: UserDto {
            id: col_uuid(row, "id")?,
            email: row.try_get("email")?,
            tenant_id: col_uuid(row, "tenant_id")?,
            display_name: row.try_get("display_name")?,
        },
        hashed_password: row.try_get("hashed_password")?,
        platform_admin: row.try_get::<i64, _>("platform_admin")? != 0,
        active: row.try_get::<Option<String>, _>("deactivated_at")?.is_none(),
    })
}

/// A grant from a row's `role`, `scope` and `scope_id` columns; none where the role is null (a
/// user without grants, outer-joined).
fn grant_from(row: &AnyRow) -> StoreResult<Option<RoleGrant>> {
    let Some(role) = row.try_get::<Option<String>, _>("role")? else { return Ok(None) };
    let scope: String = row.try_get("scope")?;
    let scope_id: String = row.try_get("scope_id")?;
    Ok(Some(RoleGrant {
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        scope: Scope::parse(&scope).ok_or_else(|| StoreError::Corrupt(format!("scope {scope}")))?,
        scope_id: Some(scope_id.parse().map_err(|_| StoreError::Corrupt("scope_id".into()))?),
    }))
}

pub(crate) const USER_COLS: &str =
    "id, email, tenant_id, display_name, hashed_password, platform_admin, deactivated_at";

impl Store {
    /// A tenant and its four role rows.
    pub async fn create_tenant(&self, name: &str) -> StoreResult<TenantDto> {
        let id = TenantId::new();
        let mut w = self.write().await?;
        sqlx::query("insert into tenants (id, name, created_at) values ($1, $2, $3)")
            .bind(id.to_string())
            .bind(name)
            .bind(ts(Utc::now()))
            .execute(&mut *w.tx)
            .await?;
        for role in Role::ALL {
            sqlx::query("insert into roles (id, tenant_id, name) values ($1, $2, $3)")
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(id.to_string())
                .bind(role.as_str())
                .execute(&mut *w.tx)
                .await?;
        }
        w.commit().await?;
        Ok(TenantDto { id, name: name.to_string() })
    }

    pub async fn tenant_by_name(&self, name: &str) -> StoreResult<Option<TenantDto>> {
        let row = sqlx::query("select id, name from tenants where name = $1 order by created_at limit 1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(TenantDto { id: col_uuid(&r, "id")?, name: r.try_get("name")? })).transpose()
    }

    pub async fn tenant_exists(&self, id: TenantId) -> StoreResult<bool> {
        Ok(sqlx::query("select 1 from tenants where id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// A school's transcription settings; `None` for a tenant that does not exist.
    pub async fn tenant_settings(&self, id: TenantId) -> StoreResult<Option<TenantSettings>> {
        let row = sqlx::query("select transcription_model, speech_language from tenants where id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let model: String = r.try_get("transcription_model")?;
            Ok(TenantSettings {
                transcription_model: SpeechModel::parse(&model)
                    .ok_or_else(|| StoreError::Corrupt(format!("transcription model {model}")))?,
                language: r.try_get("speech_language")?,
            })
        })
        .transpose()
    }

    /// Keep a school's transcription settings (checked by the caller); `false` when no such tenant.
    pub async fn set_tenant_settings(&self, id: TenantId, settings: &TenantSettings) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let done = sqlx::query("update tenants set transcription_model = $1, speech_language = $2 where id = $3")
            .bind(settings.transcription_model.as_str())
            .bind(&settings.language)
            .bind(id.to_string())
            .execute(&mut *w.tx)
            .await?
            .rows_affected()
            > 0;
        w.commit().await?;
        Ok(done)
    }

    pub async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query("select count(*) from users").fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// A new user; the email is stored lower-case and is unique across the platform.
    pub async fn create_user(
        &self,
        tenant: TenantId,
        email: &str,
        display_name: Option<&str>,
        hashed_password: &str,
        platform_admin: bool,
    ) -> StoreResult<UserDto> {
        let id = UserId::new();
        let email = email.trim().to_lowercase();
        let mut w = self.write().await?;
        sqlx::query(
            "insert into users (id, tenant_id, email, display_name, hashed_password, platform_admin, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(&email)
        .bind(display_name)
        .bind(hashed_password)
        .bind(platform_admin as i64)
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await
        .map_err(on_constraint)?;
        w.commit().await?;
        Ok(UserDto { id, email, tenant_id: tenant, display_name: display_name.map(str::to_string) })
    }

    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query(&format!("select {USER_COLS} from users where email = $1"))
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    pub async fn user_in_tenant(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserDto>> {
        let row = sqlx::query(&format!("select {USER_COLS} from users where id = $1 and tenant_id = $2"))
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| user_from(r).map(|u| u.user)).transpose()
    }

    pub async fn grants_of(&self, user: UserId) -> StoreResult<Vec<RoleGrant>> {
        let rows = sqlx::query(
            "select r.name as role, ur.scope, ur.scope_id from user_roles ur join roles r on r.id = ur.role_id \
             where ur.user_id = $1 order by ur.created_at",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().filter_map(|r| grant_from(r).transpose()).collect()
    }

    /// Grant `g` (its `scope_id` already resolved) to a user of `tenant`; granting twice is a no-op.
    pub async fn grant(&self, tenant: TenantId, user: UserId, g: RoleGrant) -> StoreResult<()> {
        let mut w = self.write().await?;
        insert_grant(&mut w.tx, tenant, user, g).await?;
        w.commit().await
    }

    /// Remove a grant; true when one was there.
    pub async fn revoke(&self, tenant: TenantId, user: UserId, g: RoleGrant) -> StoreResult<bool> {
        let scope_id = g.scope_id.ok_or(StoreError::NotFound)?;
        let mut w = self.write().await?;
        let n = sqlx::query(
            "delete from user_roles where tenant_id = $1 and user_id = $2 and scope = $3 and scope_id = $4 \
             and role_id in (select id from roles where tenant_id = $1 and name = $5)",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(g.scope.as_str())
        .bind(scope_id.to_string())
        .bind(g.role.as_str())
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        if n > 0 {
            self.notify_revoked(&mut w.tx, &Revoked::User(user)).await?;
        }
        w.commit().await?;
        if n > 0 {
            self.revoked_locally(Revoked::User(user));
        }
        Ok(n > 0)
    }

    pub async fn insert_token(&self, hash: &str, user: &UserDto, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "insert into auth_tokens (token_hash, tenant_id, user_id, created_at, expires_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(hash)
        .bind(user.tenant_id.to_string())
        .bind(user.id.to_string())
        .bind(ts(Utc::now()))
        .bind(ts(expires_at))
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// The owner of an unexpired, unrevoked token.
    pub async fn token_owner(&self, hash: &str) -> StoreResult<Option<TokenOwner>> {
        // Every authenticated request asks: the user and their grants in one round trip, a row a
        // grant (one row with no grant for a user without any), in the order they were given.
        let rows = sqlx::query(
            "select u.id, u.email, u.tenant_id, u.display_name, u.hashed_password, u.platform_admin, u.deactivated_at, \
             r.name as role, ur.scope, ur.scope_id \
             from auth_tokens t join users u on u.id = t.user_id \
             left join user_roles ur on ur.user_id = u.id left join roles r on r.id = ur.role_id \
             where t.token_hash = $1 and t.revoked_at is null and t.expires_at > $2 and u.deactivated_at is null \
             order by ur.created_at",
        )
        .bind(hash)
        .bind(ts(Utc::now()))
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else { return Ok(None) };
        let rec = user_from(first)?;
        let grants = rows.iter().filter_map(|r| grant_from(r).transpose()).collect::<StoreResult<_>>()?;
        Ok(Some(TokenOwner { user: rec.user, platform_admin: rec.platform_admin, grants }))
    }

    /// Users of a tenant (all tenants for `None`) whose email or name contains `q`, by email, after
    /// the email `after` (the cursor); at most `limit`.
    pub async fn list_users(
        &self,
        tenant: Option<TenantId>,
        q: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<UserRecord>> {
        let pattern = q.map(|q| format!("%{}%", q.trim().to_lowercase().replace(['%', '_'], "")));
        let rows = sqlx::query(&format!(
            "select {USER_COLS} from users where ($1 is null or tenant_id = $1) \
             and ($2 is null or lower(email) like $2 or lower(coalesce(display_name, '')) like $2) \
             and ($3 is null or email > $3) order by email limit $4"
        ))
        .bind(tenant.map(|t| t.to_string()))
        .bind(pattern)
        .bind(after.map(str::to_string))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from).collect()
    }

    /// Deactivate (revoking every token at once, on every node) or reactivate a user of `tenant`;
    /// the user as they are now, `None` when not in that tenant.
    pub async fn set_user_active(
        &self,
        tenant: TenantId,
        user: UserId,
        active: bool,
    ) -> StoreResult<Option<UserRecord>> {
        let mut w = self.write().await?;
        let now = ts(Utc::now());
        let n = sqlx::query(
            "update users set deactivated_at = case when $3 = 1 then null else coalesce(deactivated_at, $4) end \
             where id = $1 and tenant_id = $2",
        )
        .bind(user.to_string())
        .bind(tenant.to_string())
        .bind(active as i64)
        .bind(&now)
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        if !active {
            sqlx::query("update auth_tokens set revoked_at = $2 where user_id = $1 and revoked_at is null")
                .bind(user.to_string())
                .bind(&now)
                .execute(&mut *w.tx)
                .await?;
            self.notify_revoked(&mut w.tx, &Revoked::User(user)).await?;
        }
        let row = sqlx::query(&format!("select {USER_COLS} from users where id = $1"))
            .bind(user.to_string())
            .fetch_one(&mut *w.tx)
            .await?;
        let rec = user_from(&row)?;
        w.commit().await?;
        if !active {
            self.revoked_locally(Revoked::User(user));
        }
        Ok(Some(rec))
    }

    pub async fn revoke_token(&self, hash: &str) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("update auth_tokens set revoked_at = $2 where token_hash = $1 and revoked_at is null")
            .bind(hash)
            .bind(ts(Utc::now()))
            .execute(&mut *w.tx)
            .await?;
        let gone = Revoked::Token(hash.to_string());
        self.notify_revoked(&mut w.tx, &gone).await?;
        w.commit().await?;
        self.revoked_locally(gone);
        Ok(())
    }
}

impl Store {
    /// The tenant a user belongs to, whichever it is (platform-admin look-ups only).
    pub async fn user_tenant(&self, id: UserId) -> StoreResult<Option<TenantId>> {
        let row = sqlx::query("select tenant_id from users where id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| col_uuid(&r, "tenant_id")).transpose()
    }
}

/// Grant `g` inside a write (granting twice is a no-op).
pub(crate) async fn insert_grant(
    tx: &mut Transaction<'static, Any>,
    tenant: TenantId,
    user: UserId,
    g: RoleGrant,
) -> StoreResult<()> {
    let scope_id = g.scope_id.ok_or(StoreError::NotFound)?;
    sqlx::query(
        "insert into user_roles (tenant_id, user_id, role_id, scope, scope_id, created_at) \
         select $1, $2, id, $3, $4, $5 from roles where tenant_id = $1 and name = $6 \
         on conflict do nothing",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(g.scope.as_str())
    .bind(scope_id.to_string())
    .bind(ts(Utc::now()))
    .bind(g.role.as_str())
    .execute(&mut **tx)
    .await
    .map_err(on_constraint)?;
    Ok(())
}
