//! Single sign-on through a school's own OpenID provider: the school's settings, and the sign-ins
//! under way (one row per redirect to the provider, used once).

use super::{col_uuid, ts, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use shared_types::{Role, TenantId};
use sqlx::Row;

/// A school's provider as kept (the secret still sealed).
#[derive(Clone, Debug, PartialEq)]
pub struct SsoRecord {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_sealed: String,
    pub allowed_domains: Vec<String>,
    pub password_sign_in: bool,
    /// The claim of the provider's userinfo that holds people's roles, if it says them.
    pub role_claim: Option<String>,
    /// The claim's values and the school-wide role each gives.
    pub role_map: Vec<(String, Role)>,
}

/// A sign-in under way: what the callback needs to finish it.
#[derive(Clone, Debug, PartialEq)]
pub struct SsoLogin {
    pub tenant_id: TenantId,
    pub nonce: String,
    pub verifier: String,
    pub next: String,
    /// A native app's sign-in (the studio's): where its code goes; `None` for the web app's.
    pub native: Option<NativeClient>,
}

/// A native app signing in through the system browser (RFC 8252): its loopback redirect, its PKCE
/// challenge (S256) and its own `state`, given back with the code.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeClient {
    pub redirect_uri: String,
    pub challenge: String,
    pub state: String,
}

fn record_from(r: &sqlx::any::AnyRow) -> StoreResult<SsoRecord> {
    let domains: String = r.try_get("allowed_domains")?;
    Ok(SsoRecord {
        issuer: r.try_get("issuer")?,
        client_id: r.try_get("client_id")?,
        client_secret_sealed: r.try_get("client_secret_sealed")?,
        allowed_domains: domains.split(',').filter(|d| !d.is_empty()).map(str::to_string).collect(),
        password_sign_in: r.try_get::<i64, _>("password_sign_in")? != 0,
        role_claim: r.try_get("role_claim")?,
        role_map: match r.try_get::<Option<String>, _>("role_map")? {
            Some(json) => role_map_from(&json)?,
            None => Vec::new(),
        },
    })
}

/// A kept role map: `[{"value": …, "role": …}]`.
fn role_map_from(json: &str) -> StoreResult<Vec<(String, Role)>> {
    let rules: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("role_map: {e}")))?;
    rules
        .iter()
        .map(|v| {
            let role = v["role"].as_str().and_then(Role::parse);
            let role = role.ok_or_else(|| StoreError::Corrupt(format!("role_map rule {v}")))?;
            Ok((v["value"].as_str().unwrap_or_default().to_string(), role))
        })
        .collect()
}

const SSO_COLS: &str =
    "tenant_id, issuer, client_id, client_secret_sealed, allowed_domains, password_sign_in, role_claim, role_map";

impl Store {
    /// Spend a redirect under way, kept in `table` by the hash of its `state` (a sign-in's, a
    /// launch's): its `cols`, once, before it expires; `None` when unknown, used or expired.
    pub(crate) async fn spend_state(
        &self,
        table: &str,
        cols: &str,
        state_hash: &str,
    ) -> StoreResult<Option<sqlx::any::AnyRow>> {
        let mut w = self.write().await?;
        let now = ts(Utc::now());
        let row = sqlx::query(&format!(
            "select {cols} from {table} where state_hash = $1 and used_at is null and expires_at > $2{}",
            self.for_update()
        ))
        .bind(state_hash)
        .bind(&now)
        .fetch_optional(&mut *w.tx)
        .await?;
        if row.is_some() {
            sqlx::query(&format!("update {table} set used_at = $2 where state_hash = $1"))
                .bind(state_hash)
                .bind(&now)
                .execute(&mut *w.tx)
                .await?;
            w.commit().await?;
        }
        Ok(row)
    }

    pub async fn sso_settings(&self, tenant: TenantId) -> StoreResult<Option<SsoRecord>> {
        let row = sqlx::query(&format!("select {SSO_COLS} from tenant_sso where tenant_id = $1"))
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from).transpose()
    }

    /// Keep a school's provider (checked by the caller), replacing what was kept.
    pub async fn set_sso_settings(&self, tenant: TenantId, rec: &SsoRecord) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "insert into tenant_sso (tenant_id, issuer, client_id, client_secret_sealed, allowed_domains, password_sign_in, updated_at, \
             role_claim, role_map) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             on conflict (tenant_id) do update set issuer = excluded.issuer, client_id = excluded.client_id, \
             client_secret_sealed = excluded.client_secret_sealed, allowed_domains = excluded.allowed_domains, \
             password_sign_in = excluded.password_sign_in, updated_at = excluded.updated_at, \
             role_claim = excluded.role_claim, role_map = excluded.role_map",
        )
        .bind(tenant.to_string())
        .bind(&rec.issuer)
        .bind(&rec.client_id)
        .bind(&rec.client_secret_sealed)
        .bind(rec.allowed_domains.join(","))
        .bind(rec.password_sign_in as i64)
        .bind(ts(Utc::now()))
        .bind(rec.role_claim.as_deref())
        .bind(rec.role_claim.as_ref().map(|_| {
            let rules: Vec<serde_json::Value> =
                rec.role_map.iter().map(|(v, r)| serde_json::json!({ "value": v, "role": r.as_str() })).collect();
            serde_json::Value::from(rules).to_string()
        }))
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// The school whose provider signs in people of this email domain (lower-case).
    pub async fn sso_tenant_for_domain(&self, domain: &str) -> StoreResult<Option<TenantId>> {
        let rows = sqlx::query(&format!("select {SSO_COLS} from tenant_sso")).fetch_all(&self.pool).await?;
        for r in &rows {
            if record_from(r)?.allowed_domains.iter().any(|d| d == domain) {
                return Ok(Some(col_uuid(r, "tenant_id")?));
            }
        }
        Ok(None)
    }

    /// Remember a redirect to the provider until `expires_at`, by the hash of its `state`.
    pub async fn create_sso_login(
        &self,
        state_hash: &str,
        login: &SsoLogin,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        // Expired ones go as new ones come.
        sqlx::query("delete from sso_logins where expires_at < $1").bind(ts(Utc::now())).execute(&mut *w.tx).await?;
        sqlx::query(
            "insert into sso_logins (state_hash, tenant_id, nonce, verifier, next, expires_at, \
             native_redirect, native_challenge, native_state) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(state_hash)
        .bind(login.tenant_id.to_string())
        .bind(&login.nonce)
        .bind(&login.verifier)
        .bind(&login.next)
        .bind(ts(expires_at))
        .bind(login.native.as_ref().map(|n| n.redirect_uri.clone()))
        .bind(login.native.as_ref().map(|n| n.challenge.clone()))
        .bind(login.native.as_ref().map(|n| n.state.clone()))
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// Spend a sign-in under way: `None` when the state is unknown, used or expired.
    pub async fn take_sso_login(&self, state_hash: &str) -> StoreResult<Option<SsoLogin>> {
        let cols = "tenant_id, nonce, verifier, next, native_redirect, native_challenge, native_state";
        let Some(row) = self.spend_state("sso_logins", cols, state_hash).await? else { return Ok(None) };
        Ok(Some(SsoLogin {
            tenant_id: col_uuid(&row, "tenant_id")?,
            nonce: row.try_get("nonce")?,
            verifier: row.try_get("verifier")?,
            next: row.try_get("next")?,
            native: match row.try_get::<Option<String>, _>("native_redirect")? {
                Some(redirect_uri) => Some(NativeClient {
                    redirect_uri,
                    challenge: row.try_get::<Option<String>, _>("native_challenge")?.unwrap_or_default(),
                    state: row.try_get::<Option<String>, _>("native_state")?.unwrap_or_default(),
                }),
                None => None,
            },
        }))
    }
}
