//! LTI 1.3: the learning platforms a school launches this tool from, the launches under way, and
//! what a platform's people, courses and links became here (made on a launch, in one transaction:
//! a second launch — or two at once — finds what the first made).

use super::users::{insert_grant, user_from, UserRecord, USER_COLS};
use super::*;
use sha2::{Digest, Sha256};
use shared_types::{CourseId, LessonId, Role, RoleGrant, Scope, TenantId};

/// A platform registered by a school's admin.
#[derive(Clone, Debug, PartialEq)]
pub struct LtiPlatform {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    /// The platform's issuer (`iss` of its id_tokens).
    pub issuer: String,
    /// The client id the platform gave this tool (`aud` of its id_tokens).
    pub client_id: String,
    pub deployment_ids: Vec<String>,
    /// Its OIDC authorization endpoint (where a launch's login goes).
    pub auth_url: String,
    pub jwks_url: String,
    /// Its OAuth 2 token endpoint (LTI Advantage services).
    pub token_url: String,
}

/// Who arrives through a launch, and where.
#[derive(Clone, Debug)]
pub struct LtiArrival<'a> {
    pub platform: &'a LtiPlatform,
    /// The platform's id for the person (`sub`).
    pub sub: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    /// Our role for the platform's (granted on the course).
    pub role: Role,
    /// The platform's course: its id and title.
    pub context: (&'a str, &'a str),
    /// The platform's link: its id and title.
    pub link: (&'a str, &'a str),
    /// An instructor's launch makes the course and the lesson the first time; others find them.
    pub may_create: bool,
}

/// Where a launch arrived: the person (made the first time), and the course and lesson (`None`
/// when an instructor has not launched the link yet).
#[derive(Clone, Debug)]
pub struct LtiArrived {
    pub user: UserRecord,
    pub course: Option<CourseId>,
    pub lesson: Option<LessonId>,
}

const PLATFORM_COLS: &str = "id, tenant_id, issuer, client_id, deployment_ids, auth_url, jwks_url, token_url";

fn platform_from(r: &AnyRow) -> StoreResult<LtiPlatform> {
    let deployments: String = r.try_get("deployment_ids")?;
    Ok(LtiPlatform {
        id: col_uuid(r, "id")?,
        tenant_id: col_uuid(r, "tenant_id")?,
        issuer: r.try_get("issuer")?,
        client_id: r.try_get("client_id")?,
        deployment_ids: deployments.split(',').filter(|d| !d.is_empty()).map(str::to_string).collect(),
        auth_url: r.try_get("auth_url")?,
        jwks_url: r.try_get("jwks_url")?,
        token_url: r.try_get("token_url")?,
    })
}

/// The local id a platform's id became, or — when it has none yet — `fresh`, claimed for it now
/// (`true`: the caller makes the row). Two launches at once: the second waits for the first's
/// claim and finds it.
async fn claim(
    tx: &mut Transaction<'static, Any>,
    platform: uuid::Uuid,
    kind: &str,
    lti_id: &str,
    fresh: uuid::Uuid,
) -> StoreResult<(uuid::Uuid, bool)> {
    let n = sqlx::query(
        "insert into lti_links (platform_id, kind, lti_id, local_id, created_at) values ($1, $2, $3, $4, $5) \
         on conflict do nothing",
    )
    .bind(platform.to_string())
    .bind(kind)
    .bind(lti_id)
    .bind(fresh.to_string())
    .bind(ts(Utc::now()))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 1 {
        return Ok((fresh, true));
    }
    Ok((local_in(tx, platform, kind, lti_id).await?.ok_or(StoreError::NotFound)?, false))
}

async fn local_in(
    tx: &mut Transaction<'static, Any>,
    platform: uuid::Uuid,
    kind: &str,
    lti_id: &str,
) -> StoreResult<Option<uuid::Uuid>> {
    let row = sqlx::query("select local_id from lti_links where platform_id = $1 and kind = $2 and lti_id = $3")
        .bind(platform.to_string())
        .bind(kind)
        .bind(lti_id)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| col_uuid(&r, "local_id")).transpose()
}

impl Store {
    /// Register a platform; `false` when its issuer and client id are registered already.
    pub async fn add_lti_platform(&self, p: &LtiPlatform) -> StoreResult<bool> {
        let mut w = self.write().await?;
        let n = sqlx::query(
            "insert into lti_platforms (id, tenant_id, issuer, client_id, deployment_ids, auth_url, jwks_url, \
             token_url, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict do nothing",
        )
        .bind(p.id.to_string())
        .bind(p.tenant_id.to_string())
        .bind(&p.issuer)
        .bind(&p.client_id)
        .bind(p.deployment_ids.join(","))
        .bind(&p.auth_url)
        .bind(&p.jwks_url)
        .bind(&p.token_url)
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(n == 1)
    }

    /// A school's platforms, oldest first.
    pub async fn lti_platforms(&self, tenant: TenantId) -> StoreResult<Vec<LtiPlatform>> {
        let rows = sqlx::query(&format!(
            "select {PLATFORM_COLS} from lti_platforms where tenant_id = $1 order by created_at, id"
        ))
        .bind(tenant.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(platform_from).collect()
    }

    pub async fn lti_platform(&self, id: uuid::Uuid) -> StoreResult<Option<LtiPlatform>> {
        let row = sqlx::query(&format!("select {PLATFORM_COLS} from lti_platforms where id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(platform_from).transpose()
    }

    /// The platform a login comes from: by issuer and client id, or by issuer alone when it has
    /// one registration (a login need not name the client).
    pub async fn lti_platform_for(&self, issuer: &str, client_id: Option<&str>) -> StoreResult<Option<LtiPlatform>> {
        let rows = sqlx::query(&format!("select {PLATFORM_COLS} from lti_platforms where issuer = $1"))
            .bind(issuer)
            .fetch_all(&self.pool)
            .await?;
        let all: Vec<LtiPlatform> = rows.iter().map(platform_from).collect::<StoreResult<_>>()?;
        Ok(match client_id {
            Some(c) => all.into_iter().find(|p| p.client_id == c),
            None if all.len() == 1 => all.into_iter().next(),
            None => None,
        })
    }

    /// Remember a launch under way until `expires_at`, by the hash of its `state`.
    pub async fn create_lti_login(
        &self,
        state_hash: &str,
        platform: uuid::Uuid,
        nonce: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("delete from lti_logins where expires_at < $1").bind(ts(Utc::now())).execute(&mut *w.tx).await?;
        sqlx::query("insert into lti_logins (state_hash, platform_id, nonce, expires_at) values ($1, $2, $3, $4)")
            .bind(state_hash)
            .bind(platform.to_string())
            .bind(nonce)
            .bind(ts(expires_at))
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// Spend a launch under way: its platform and nonce; `None` when unknown, used or expired.
    pub async fn take_lti_login(&self, state_hash: &str) -> StoreResult<Option<(uuid::Uuid, String)>> {
        let Some(row) = self.spend_state("lti_logins", "platform_id, nonce", state_hash).await? else {
            return Ok(None);
        };
        Ok(Some((col_uuid(&row, "platform_id")?, row.try_get("nonce")?)))
    }

    /// The person, course and lesson a launch arrives at, made the first time (the person always;
    /// the course and lesson by an instructor's launch), and the person's role on the course
    /// granted. A person is the platform's `sub`; the first time, the account of this school with
    /// the same email (the roster import's) is theirs, else a new one is made — an email of another
    /// school's account is not taken (the new account gets an address of its own).
    pub async fn lti_arrive(&self, a: &LtiArrival<'_>) -> StoreResult<LtiArrived> {
        let p = a.platform;
        let tenant = p.tenant_id;
        let mut w = self.write().await?;
        let known = match a.email {
            Some(email) => sqlx::query(&format!("select {USER_COLS} from users where email = $1"))
                .bind(email.trim().to_lowercase())
                .fetch_optional(&mut *w.tx)
                .await?
                .map(|r| user_from(&r))
                .transpose()?,
            None => None,
        };
        let ours = known.as_ref().filter(|k| k.user.tenant_id == tenant).map(|k| k.user.id.0);
        let (user_id, made) = claim(&mut w.tx, p.id, "user", a.sub, ours.unwrap_or_else(uuid::Uuid::new_v4)).await?;
        if made && ours.is_none() {
            let email = match (a.email, &known) {
                (Some(e), None) => e.trim().to_lowercase(),
                // No email, or another school's: an address of its own, in a domain nobody owns.
                _ => format!("lti-{}@lti.invalid", &hex::encode(Sha256::digest(format!("{}\n{}", p.id, a.sub)))[..20]),
            };
            sqlx::query(
                "insert into users (id, tenant_id, email, display_name, hashed_password, platform_admin, created_at) \
                 values ($1, $2, $3, $4, $5, 0, $6)",
            )
            .bind(user_id.to_string())
            .bind(tenant.to_string())
            .bind(&email)
            .bind(a.name)
            .bind(crate::NO_PASSWORD)
            .bind(ts(Utc::now()))
            .execute(&mut *w.tx)
            .await
            .map_err(on_constraint)?;
        }
        let user = sqlx::query(&format!("select {USER_COLS} from users where id = $1"))
            .bind(user_id.to_string())
            .fetch_one(&mut *w.tx)
            .await?;
        let user = user_from(&user)?;

        let course = match local_in(&mut w.tx, p.id, "context", a.context.0).await? {
            Some(c) => Some(c),
            None if a.may_create => {
                let (c, made) = claim(&mut w.tx, p.id, "context", a.context.0, uuid::Uuid::new_v4()).await?;
                if made {
                    sqlx::query("insert into courses (id, tenant_id, title, created_at) values ($1, $2, $3, $4)")
                        .bind(c.to_string())
                        .bind(tenant.to_string())
                        .bind(a.context.1)
                        .bind(ts(Utc::now()))
                        .execute(&mut *w.tx)
                        .await?;
                }
                Some(c)
            }
            None => None,
        };
        let mut lesson = None;
        if let Some(course) = course {
            lesson = match local_in(&mut w.tx, p.id, "resource_link", a.link.0).await? {
                Some(l) => Some(l),
                None if a.may_create => {
                    let (l, made) = claim(&mut w.tx, p.id, "resource_link", a.link.0, uuid::Uuid::new_v4()).await?;
                    if made {
                        sqlx::query(
                            "insert into lessons (id, tenant_id, course_id, title, lesson_order, created_at) \
                             select $1, $2, $3, $4, coalesce(max(lesson_order), 0) + 1, $5 from lessons \
                             where course_id = $3",
                        )
                        .bind(l.to_string())
                        .bind(tenant.to_string())
                        .bind(course.to_string())
                        .bind(a.link.1)
                        .bind(ts(Utc::now()))
                        .execute(&mut *w.tx)
                        .await?;
                    }
                    Some(l)
                }
                None => None,
            };
            if user.active {
                let grant = RoleGrant { role: a.role, scope: Scope::Course, scope_id: Some(course) };
                insert_grant(&mut w.tx, tenant, user.user.id, grant).await?;
            }
        }
        w.commit().await?;
        Ok(LtiArrived { user, course: course.map(CourseId), lesson: lesson.map(LessonId) })
    }
}
