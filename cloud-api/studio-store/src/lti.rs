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
    /// The platform's link: its id and title (none for a deep-linking request).
    pub link: Option<(&'a str, &'a str)>,
    /// The class a link placed by deep linking names (its custom `lesson`).
    pub lesson_hint: Option<LessonId>,
    /// An instructor's launch makes the course and the lesson the first time; others find them.
    pub may_create: bool,
    /// Where the platform lists the course's members (NRPS), when the launch says.
    pub service_url: Option<&'a str>,
}

/// A member of a platform's course, as its names and roles service lists them.
#[derive(Clone, Debug)]
pub struct LtiMember<'a> {
    pub sub: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub role: Role,
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

/// The person a platform's `sub` is here, made the first time (`true`): this school's account with
/// the same email (the roster import's), else a new one without a password — an email of another
/// school's account is not taken (the new account gets an address of its own, as one without email).
async fn person(
    tx: &mut Transaction<'static, Any>,
    p: &LtiPlatform,
    sub: &str,
    email: Option<&str>,
    name: Option<&str>,
) -> StoreResult<(UserRecord, bool)> {
    let tenant = p.tenant_id;
    let known = match email {
        Some(email) => sqlx::query(&format!("select {USER_COLS} from users where email = $1"))
            .bind(email.trim().to_lowercase())
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| user_from(&r))
            .transpose()?,
        None => None,
    };
    let ours = known.as_ref().filter(|k| k.user.tenant_id == tenant).map(|k| k.user.id.0);
    let (user_id, made) = claim(tx, p.id, "user", sub, ours.unwrap_or_else(uuid::Uuid::new_v4)).await?;
    if made && ours.is_none() {
        let email = match (email, &known) {
            (Some(e), None) => e.trim().to_lowercase(),
            // No email, or another school's: an address of its own, in a domain nobody owns.
            _ => format!("lti-{}@lti.invalid", &hex::encode(Sha256::digest(format!("{}\n{}", p.id, sub)))[..20]),
        };
        sqlx::query(
            "insert into users (id, tenant_id, email, display_name, hashed_password, platform_admin, created_at) \
                 values ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(user_id.to_string())
        .bind(tenant.to_string())
        .bind(&email)
        .bind(name)
        .bind(crate::NO_PASSWORD)
        .bind(ts(Utc::now()))
        .execute(&mut **tx)
        .await
        .map_err(on_constraint)?;
    }
    let user = sqlx::query(&format!("select {USER_COLS} from users where id = $1"))
        .bind(user_id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let user = user_from(&user)?;
    Ok((user, made && ours.is_none()))
}

/// Whether `lesson` is a lesson of `course`.
async fn lesson_of(
    tx: &mut Transaction<'static, Any>,
    course: uuid::Uuid,
    lesson: Option<LessonId>,
) -> StoreResult<bool> {
    let Some(lesson) = lesson else { return Ok(false) };
    let row = sqlx::query("select id from lessons where id = $1 and course_id = $2")
        .bind(lesson.to_string())
        .bind(course.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some())
}

/// A lesson after the course's last one.
async fn insert_lesson_last(
    tx: &mut Transaction<'static, Any>,
    tenant: TenantId,
    course: uuid::Uuid,
    id: uuid::Uuid,
    title: &str,
) -> StoreResult<()> {
    sqlx::query(
        "insert into lessons (id, tenant_id, course_id, title, lesson_order, created_at) \
         select $1, $2, $3, $4, coalesce(max(lesson_order), 0) + 1, $5 from lessons where course_id = $3",
    )
    .bind(id.to_string())
    .bind(tenant.to_string())
    .bind(course.to_string())
    .bind(title)
    .bind(ts(Utc::now()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A deep-linking request under way: what the answer to the platform needs.
#[derive(Clone, Debug, PartialEq)]
pub struct LtiPick {
    pub platform_id: uuid::Uuid,
    pub user_id: shared_types::UserId,
    pub course_id: CourseId,
    pub deployment_id: String,
    pub return_url: String,
    /// The request's `data`, given back as it came (JSON).
    pub data: Option<String>,
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
        let (user, _) = person(&mut w.tx, p, a.sub, a.email, a.name).await?;

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
        if let (Some(_), Some(url)) = (course, a.service_url) {
            sqlx::query(
                "update lti_links set service_url = $1 where platform_id = $2 and kind = 'context' and lti_id = $3",
            )
            .bind(url)
            .bind(p.id.to_string())
            .bind(a.context.0)
            .execute(&mut *w.tx)
            .await?;
        }
        if let (Some(course), Some(link)) = (course, a.link) {
            lesson = match local_in(&mut w.tx, p.id, "resource_link", link.0).await? {
                Some(l) => Some(l),
                // A link the platform made from a class placed here (deep linking): that class.
                None if lesson_of(&mut w.tx, course, a.lesson_hint).await? => {
                    let hint = a.lesson_hint.map(|l| l.0).unwrap_or_default();
                    Some(claim(&mut w.tx, p.id, "resource_link", link.0, hint).await?.0)
                }
                None if a.may_create => {
                    let (l, made) = claim(&mut w.tx, p.id, "resource_link", link.0, uuid::Uuid::new_v4()).await?;
                    if made {
                        insert_lesson_last(&mut w.tx, tenant, course, l, link.1).await?;
                    }
                    Some(l)
                }
                None => None,
            };
        }
        if let Some(course) = course {
            if user.active {
                let grant = RoleGrant { role: a.role, scope: Scope::Course, scope_id: Some(course) };
                insert_grant(&mut w.tx, tenant, user.user.id, grant).await?;
            }
        }
        w.commit().await?;
        Ok(LtiArrived { user, course: course.map(CourseId), lesson: lesson.map(LessonId) })
    }

    /// Where a course's platform lists its members (NRPS): the platform and the URL its launches
    /// gave; `None` when no launch of this school's platforms gave one for this course.
    pub async fn lti_roster_source(
        &self,
        tenant: TenantId,
        course: CourseId,
    ) -> StoreResult<Option<(LtiPlatform, String)>> {
        let row = sqlx::query(
            "select l.platform_id, l.service_url from lti_links l join lti_platforms p on p.id = l.platform_id \
             where l.kind = 'context' and l.local_id = $1 and p.tenant_id = $2 and l.service_url is not null \
             order by l.created_at limit 1",
        )
        .bind(course.to_string())
        .bind(tenant.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let platform = self.lti_platform(col_uuid(&row, "platform_id")?).await?.ok_or(StoreError::NotFound)?;
        Ok(Some((platform, row.try_get("service_url")?)))
    }

    /// Enrol a platform course's members in `course`, in one transaction: each person found or made
    /// (as a launch does) and granted their role; how many accounts were made.
    pub async fn lti_enrol(&self, p: &LtiPlatform, course: CourseId, members: &[LtiMember<'_>]) -> StoreResult<usize> {
        let mut w = self.write().await?;
        let mut made = 0;
        for m in members {
            let (user, new) = person(&mut w.tx, p, m.sub, m.email, m.name).await?;
            made += new as usize;
            if user.active {
                let grant = RoleGrant { role: m.role, scope: Scope::Course, scope_id: Some(course.0) };
                insert_grant(&mut w.tx, p.tenant_id, user.user.id, grant).await?;
            }
        }
        w.commit().await?;
        Ok(made)
    }

    /// The tool's signing keys (kid, sealed PKCS#8), newest first.
    pub async fn lti_tool_keys(&self) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query("select kid, private_sealed from lti_tool_keys order by created_at desc, kid desc")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("kid")?, r.try_get("private_sealed")?))).collect()
    }

    /// Keep a new signing key of the tool's (it signs from now on).
    pub async fn add_lti_tool_key(&self, kid: &str, sealed: &str) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("insert into lti_tool_keys (kid, private_sealed, created_at) values ($1, $2, $3)")
            .bind(kid)
            .bind(sealed)
            .bind(ts(Utc::now()))
            .execute(&mut *w.tx)
            .await?;
        w.commit().await
    }

    /// A lesson after the course's last one (a class placed by deep linking).
    pub async fn add_lesson_last(&self, tenant: TenantId, course: CourseId, title: &str) -> StoreResult<LessonId> {
        let id = uuid::Uuid::now_v7();
        let mut w = self.write().await?;
        insert_lesson_last(&mut w.tx, tenant, course.0, id, title).await?;
        w.commit().await?;
        Ok(LessonId(id))
    }

    /// Remember a deep-linking request until `expires_at`, by the hash of its choice page's token.
    pub async fn create_lti_pick(
        &self,
        state_hash: &str,
        pick: &LtiPick,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query("delete from lti_picks where expires_at < $1").bind(ts(Utc::now())).execute(&mut *w.tx).await?;
        sqlx::query(
            "insert into lti_picks (state_hash, platform_id, user_id, course_id, deployment_id, return_url, data, \
             expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(state_hash)
        .bind(pick.platform_id.to_string())
        .bind(pick.user_id.to_string())
        .bind(pick.course_id.to_string())
        .bind(&pick.deployment_id)
        .bind(&pick.return_url)
        .bind(pick.data.as_deref())
        .bind(ts(expires_at))
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }

    /// Spend a deep-linking request: `None` when unknown, used or expired.
    pub async fn take_lti_pick(&self, state_hash: &str) -> StoreResult<Option<LtiPick>> {
        let cols = "platform_id, user_id, course_id, deployment_id, return_url, data";
        let Some(row) = self.spend_state("lti_picks", cols, state_hash).await? else { return Ok(None) };
        Ok(Some(LtiPick {
            platform_id: col_uuid(&row, "platform_id")?,
            user_id: col_uuid(&row, "user_id")?,
            course_id: col_uuid(&row, "course_id")?,
            deployment_id: row.try_get("deployment_id")?,
            return_url: row.try_get("return_url")?,
            data: row.try_get("data")?,
        }))
    }
}
