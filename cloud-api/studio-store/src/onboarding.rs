//! Roster import, one-time links (invites and password resets) and password changes.

use super::users::insert_grant;
use super::*;
use shared_types::{RoleGrant, TenantId, UserId};

/// The stored password of a user who has not chosen one yet (no hash parses as this).
pub const NO_PASSWORD: &str = "!";

/// What a link lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    Invite,
    Reset,
    /// The studio hands its signed-in teacher over to the browser (a minute, once).
    Handoff,
    /// A native app's single sign-on ends with this code at its loopback address; it is spent
    /// with the PKCE verifier of the link's challenge (a minute, once).
    NativeSignIn,
}

impl LinkPurpose {
    fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invite => "invite",
            LinkPurpose::Reset => "reset",
            LinkPurpose::Handoff => "handoff",
            LinkPurpose::NativeSignIn => "native_sign_in",
        }
    }
}

/// A one-time link to make: only the token's hash is stored.
#[derive(Clone, Debug)]
pub struct NewLink {
    pub token_hash: String,
    pub purpose: LinkPurpose,
    pub expires_at: DateTime<Utc>,
    /// The PKCE challenge a [`LinkPurpose::NativeSignIn`] code is spent with.
    pub challenge: Option<String>,
}

/// One checked roster row: the user to have (by email) with this grant, and the invite to make if
/// the user is new.
#[derive(Clone, Debug)]
pub struct RosterRow {
    pub email: String,
    pub name: Option<String>,
    pub grant: RoleGrant,
    pub invite: NewLink,
}

/// What an import did: the rows that made a user (their index in the input) and how many were there.
#[derive(Clone, Debug, Default)]
pub struct RosterOutcome {
    pub created: Vec<usize>,
    pub existing: u32,
}

async fn insert_link(
    tx: &mut Transaction<'static, Any>,
    tenant: TenantId,
    user: UserId,
    link: &NewLink,
) -> StoreResult<()> {
    sqlx::query(
        "insert into user_links (token_hash, tenant_id, user_id, purpose, created_at, expires_at, challenge) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&link.token_hash)
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(link.purpose.as_str())
    .bind(ts(Utc::now()))
    .bind(ts(link.expires_at))
    .bind(&link.challenge)
    .execute(&mut **tx)
    .await
    .map_err(on_constraint)?;
    Ok(())
}

impl Store {
    /// The tenant of each email that has a user already (lower-cased emails).
    pub async fn tenants_of_emails(&self, emails: &[String]) -> StoreResult<HashMap<String, TenantId>> {
        let mut out = HashMap::new();
        // In slices, so a query's parameter count stays small on both databases.
        for chunk in emails.chunks(200) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("select email, tenant_id from users where email in ({})", marks.join(", "));
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q.bind(e.clone());
            }
            for row in q.fetch_all(&self.pool).await? {
                out.insert(row.try_get::<String, _>("email")?, col_uuid(&row, "tenant_id")?);
            }
        }
        Ok(out)
    }

    /// Apply a checked roster in one transaction: a user per new email (no password yet, an invite
    /// link), the grant for every row. Run twice, the second run creates nothing. An email taken
    /// by another tenant meanwhile fails the whole import (`Conflict("users_email_key")`).
    pub async fn import_roster(&self, tenant: TenantId, rows: &[RosterRow]) -> StoreResult<RosterOutcome> {
        let mut w = self.write().await?;
        let mut out = RosterOutcome::default();
        for (i, row) in rows.iter().enumerate() {
            let found = sqlx::query("select id, tenant_id from users where email = $1")
                .bind(&row.email)
                .fetch_optional(&mut *w.tx)
                .await?;
            let user = match found {
                Some(r) => {
                    if col_uuid::<TenantId>(&r, "tenant_id")? != tenant {
                        return Err(StoreError::Conflict("users_email_key".into()));
                    }
                    out.existing += 1;
                    col_uuid(&r, "id")?
                }
                None => {
                    let id = UserId::new();
                    sqlx::query(
                        "insert into users (id, tenant_id, email, display_name, hashed_password, platform_admin, \
                         created_at) values ($1, $2, $3, $4, $5, 0, $6)",
                    )
                    .bind(id.to_string())
                    .bind(tenant.to_string())
                    .bind(&row.email)
                    .bind(row.name.as_deref())
                    .bind(NO_PASSWORD)
                    .bind(ts(Utc::now()))
                    .execute(&mut *w.tx)
                    .await
                    .map_err(on_constraint)?;
                    insert_link(&mut w.tx, tenant, id, &row.invite).await?;
                    out.created.push(i);
                    id
                }
            };
            insert_grant(&mut w.tx, tenant, user, row.grant).await?;
        }
        w.commit().await?;
        Ok(out)
    }

    /// Make a one-time link for a user of `tenant`; `None` when no such user.
    pub async fn create_link(&self, tenant: TenantId, user: UserId, link: &NewLink) -> StoreResult<Option<String>> {
        let mut w = self.write().await?;
        let email = sqlx::query("select email from users where id = $1 and tenant_id = $2")
            .bind(user.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&mut *w.tx)
            .await?;
        let Some(email) = email else { return Ok(None) };
        insert_link(&mut w.tx, tenant, user, link).await?;
        w.commit().await?;
        Ok(Some(email.try_get("email")?))
    }

    /// Use a link once: set the password it was for, end every session of that user (a reset is
    /// often after a lost device), and answer the user. `None` for an unknown, used or expired
    /// link, or a deactivated user; the link stays unused then.
    pub async fn redeem_link(&self, token_hash: &str, hashed_password: &str) -> StoreResult<Option<UserRecord>> {
        let mut w = self.write().await?;
        let now = ts(Utc::now());
        let link = sqlx::query(&format!(
            "select user_id from user_links where token_hash = $1 and used_at is null and expires_at > $2 \
             and purpose in ('invite', 'reset'){}",
            self.for_update()
        ))
        .bind(token_hash)
        .bind(&now)
        .fetch_optional(&mut *w.tx)
        .await?;
        let Some(link) = link else { return Ok(None) };
        let user: UserId = col_uuid(&link, "user_id")?;
        let changed = sqlx::query("update users set hashed_password = $2 where id = $1 and deactivated_at is null")
            .bind(user.to_string())
            .bind(hashed_password)
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        // Used now, and so is every other open link of this user's.
        sqlx::query("update user_links set used_at = $2 where user_id = $1 and used_at is null")
            .bind(user.to_string())
            .bind(&now)
            .execute(&mut *w.tx)
            .await?;
        let ended = self.end_sessions(&mut w, user, None, &now).await?;
        let row = sqlx::query(&format!("select {} from users where id = $1", users::USER_COLS))
            .bind(user.to_string())
            .fetch_one(&mut *w.tx)
            .await?;
        let rec = users::user_from(&row)?;
        w.commit().await?;
        ended.into_iter().for_each(|t| self.revoked_locally(t));
        Ok(Some(rec))
    }

    /// Use a hand-off link once: the user it was made for, if it is unused, unexpired and they are
    /// still active. Only that link is spent (a hand-off changes no password and ends no session).
    pub async fn redeem_handoff(&self, token_hash: &str) -> StoreResult<Option<UserRecord>> {
        Ok(self.spend_sign_in_link(token_hash, LinkPurpose::Handoff).await?.map(|(rec, _)| rec))
    }

    /// Use a sign-in link (a hand-off, a native app's code) once: the user it was made for and the
    /// challenge it carries, if it is unused, unexpired and they are still active. It is spent
    /// whatever its caller then makes of the challenge.
    pub async fn spend_sign_in_link(
        &self,
        token_hash: &str,
        purpose: LinkPurpose,
    ) -> StoreResult<Option<(UserRecord, Option<String>)>> {
        let mut w = self.write().await?;
        let now = ts(Utc::now());
        let spent = sqlx::query(
            "update user_links set used_at = $2 where token_hash = $1 and purpose = $3 \
             and used_at is null and expires_at > $2 returning user_id, challenge",
        )
        .bind(token_hash)
        .bind(&now)
        .bind(purpose.as_str())
        .fetch_optional(&mut *w.tx)
        .await?;
        let Some(spent) = spent else { return Ok(None) };
        let user: UserId = col_uuid(&spent, "user_id")?;
        let challenge: Option<String> = spent.try_get("challenge")?;
        let row =
            sqlx::query(&format!("select {} from users where id = $1 and deactivated_at is null", users::USER_COLS))
                .bind(user.to_string())
                .fetch_optional(&mut *w.tx)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let rec = users::user_from(&row)?;
        w.commit().await?;
        Ok(Some((rec, challenge)))
    }

    /// Set a user's password and end their other sessions (all but `keep`, a token hash).
    pub async fn set_password(&self, user: UserId, hashed_password: &str, keep: Option<&str>) -> StoreResult<()> {
        let mut w = self.write().await?;
        let now = ts(Utc::now());
        sqlx::query("update users set hashed_password = $2 where id = $1")
            .bind(user.to_string())
            .bind(hashed_password)
            .execute(&mut *w.tx)
            .await?;
        let ended = self.end_sessions(&mut w, user, keep, &now).await?;
        w.commit().await?;
        ended.into_iter().for_each(|t| self.revoked_locally(t));
        Ok(())
    }

    /// Revoke a user's tokens but `keep`, telling the other nodes' sockets; what to tell this
    /// node's once committed.
    async fn end_sessions(
        &self,
        w: &mut WriteTx,
        user: UserId,
        keep: Option<&str>,
        now: &str,
    ) -> StoreResult<Vec<Revoked>> {
        let rows = sqlx::query(
            "update auth_tokens set revoked_at = $2 where user_id = $1 and revoked_at is null \
             and ($3 is null or token_hash <> $3) returning token_hash",
        )
        .bind(user.to_string())
        .bind(now)
        .bind(keep.map(str::to_string))
        .fetch_all(&mut *w.tx)
        .await?;
        let mut ended = Vec::with_capacity(rows.len());
        for r in rows {
            let gone = Revoked::Token(r.try_get("token_hash")?);
            self.notify_revoked(&mut w.tx, &gone).await?;
            ended.push(gone);
        }
        Ok(ended)
    }
}
