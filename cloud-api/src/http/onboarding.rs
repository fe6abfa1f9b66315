//! School onboarding: a roster in one CSV, invite and password-reset links (one-time, expiring; the
//! API makes the link, delivering it is the school's), redeeming a link, changing one's password,
//! and reading the audit log.

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::admin::{tenant_for, validate_email, validate_password};
use crate::http::ensure;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, CsvBody};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{Duration, Utc};
use serde_json::json;
use shared_types::dto::{AuditEntryDto, AuditPage, ChangePassword, InviteLink, RosterImported, UserLink};
use shared_types::error::ErrorCode;
use shared_types::policy::{Action, Target};
use shared_types::requests::{AuditQuery, TenantQuery};
use shared_types::{CourseId, Role, RoleGrant, Scope, TenantId, UserId};
use std::collections::HashSet;
use studio_store::{AuditFilter, LinkPurpose, NewLink, RosterRow};

/// How long an invite stays good.
const INVITE_DAYS: i64 = 14;
/// How long a reset link stays good.
const RESET_HOURS: i64 = 2;
/// Rows one import takes.
const MAX_ROWS: usize = 10_000;
const HEADER: [&str; 4] = ["email", "name", "role", "courseid"];

/// Split CSV text into records (RFC 4180: quoted fields may hold commas, quotes as `""`, and line
/// breaks); blank lines are skipped. `Err(line)` for a quote left open.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, usize> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut line, mut started) = (false, 1usize, 1usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') | (false, '\r') => {
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.trim().is_empty()) {
                    records.push(std::mem::take(&mut record));
                } else {
                    record.clear();
                }
                line += 1;
                started = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(started);
    }
    record.push(field);
    if record.iter().any(|f| !f.trim().is_empty()) {
        records.push(record);
    }
    Ok(records)
}

fn roster_invalid(rows: Vec<(usize, String)>) -> ApiError {
    let n = rows.len();
    let list: Vec<_> = rows.into_iter().take(100).map(|(row, error)| json!({ "row": row, "error": error })).collect();
    ApiError::new(ErrorCode::RosterInvalid, format!("{n} row(s) of the roster are wrong; nothing was imported"))
        .details(json!({ "rows": list }))
}

/// One-time link of `purpose` for a user: the token (to put in the link) and what the store keeps.
fn new_link(purpose: LinkPurpose) -> (String, NewLink) {
    let (token, token_hash) = auth::new_token();
    let expires_at = Utc::now()
        + match purpose {
            LinkPurpose::Invite => Duration::days(INVITE_DAYS),
            LinkPurpose::Reset => Duration::hours(RESET_HOURS),
            LinkPurpose::Handoff | LinkPurpose::NativeSignIn => Duration::seconds(crate::http::login::HANDOFF_SECS),
        };
    (token, NewLink { token_hash, purpose, expires_at, challenge: None })
}

/// Where links point: `PUBLIC_URL`, else the host asked.
pub fn public_base(app: &AppState, headers: &HeaderMap) -> String {
    match &app.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// Where the web app's "choose your password" page is.
fn link_to(app: &AppState, headers: &HeaderMap, token: &str) -> String {
    format!("{}/app/#/welcome?token={token}", public_base(app, headers))
}

/// `POST /api/admin/users/import`: `email,name,role,courseId`, every row checked before anything is
/// written; then one transaction. Idempotent by email (a second run creates nobody).
pub async fn import_roster(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<TenantQuery>,
    CsvBody(text): CsvBody,
) -> ApiResult<Json<RosterImported>> {
    let tenant = tenant_for(&app, &caller, q.tenant_id).await?;
    ensure(&caller, Action::ManageUsers, &Target::tenant(tenant))?;
    audit.tenant(tenant);
    let records = parse_csv(&text).map_err(|line| {
        ApiError::new(ErrorCode::RosterInvalid, format!("a quoted field opened on line {line} never closes"))
            .details(json!({ "rows": [{ "row": 0, "error": "unclosed quote" }] }))
    })?;
    let Some((header, data)) = records.split_first() else {
        return Err(roster_invalid(vec![(0, "the file is empty".into())]));
    };
    let names: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    if names != HEADER {
        return Err(roster_invalid(vec![(0, "the first line must be: email,name,role,courseId".into())]));
    }
    if data.is_empty() {
        return Err(roster_invalid(vec![(0, "no rows after the header".into())]));
    }
    if data.len() > MAX_ROWS {
        return Err(roster_invalid(vec![(0, format!("at most {MAX_ROWS} rows per file"))]));
    }
    audit.target(format!("roster:{} rows", data.len()));

    let emails: Vec<String> =
        data.iter().map(|r| r.first().map(|e| e.trim().to_lowercase()).unwrap_or_default()).collect();
    let taken = app.store.tenants_of_emails(&emails).await?;
    let mut courses: std::collections::HashMap<CourseId, bool> = Default::default();
    let (mut rows, mut errors, mut seen) = (Vec::new(), Vec::new(), HashSet::new());
    for (i, (record, email)) in data.iter().zip(&emails).enumerate() {
        let n = i + 1;
        let problem = check_row(&app, tenant, record, email, &taken, &mut courses, &mut seen).await?;
        match problem {
            Err(e) => errors.push((n, e)),
            Ok((name, grant)) => {
                let (token, invite) = new_link(LinkPurpose::Invite);
                rows.push((RosterRow { email: email.clone(), name, grant, invite }, token));
            }
        }
    }
    if !errors.is_empty() {
        return Err(roster_invalid(errors));
    }
    let checked: Vec<RosterRow> = rows.iter().map(|(r, _)| r.clone()).collect();
    let done = app.store.import_roster(tenant, &checked).await.map_err(|e| match e {
        studio_store::StoreError::Conflict(_) => {
            ApiError::conflict("an email of the roster was taken by another school meanwhile; nothing was imported")
        }
        e => e.into(),
    })?;
    let invites = done
        .created
        .iter()
        .map(|&i| InviteLink { email: rows[i].0.email.clone(), link: link_to(&app, &headers, &rows[i].1) })
        .collect::<Vec<_>>();
    tracing::info!(%tenant, created = invites.len(), existing = done.existing, "roster imported");
    Ok(Json(RosterImported { created: invites.len() as u32, existing: done.existing, invites }))
}

/// One row's name and grant, or what is wrong with it.
async fn check_row(
    app: &AppState,
    tenant: TenantId,
    record: &[String],
    email: &str,
    taken: &std::collections::HashMap<String, TenantId>,
    courses: &mut std::collections::HashMap<CourseId, bool>,
    seen: &mut HashSet<String>,
) -> ApiResult<Result<(Option<String>, RoleGrant), String>> {
    if record.len() != 4 {
        return Ok(Err(format!("has {} fields; a row is email,name,role,courseId", record.len())));
    }
    if validate_email(email).is_err() {
        return Ok(Err(format!("{:?} is not an email address", record[0].trim())));
    }
    if !seen.insert(email.to_string()) {
        return Ok(Err(format!("{email} appears twice in the file")));
    }
    if taken.get(email).is_some_and(|t| *t != tenant) {
        return Ok(Err(format!("{email} is already used by an account outside this school")));
    }
    let name = record[1].trim();
    if name.chars().count() > 200 {
        return Ok(Err("the name is longer than 200 characters".into()));
    }
    let role = match Role::parse(&record[2].trim().to_lowercase()) {
        Some(r @ (Role::Student | Role::Teacher | Role::Assistant)) => r,
        Some(Role::Admin) => return Ok(Err("admins are granted one by one (POST /api/admin/roles)".into())),
        None => return Ok(Err(format!("role {:?} is not student, teacher or assistant", record[2].trim()))),
    };
    let course = record[3].trim();
    let grant = if course.is_empty() {
        RoleGrant { role, scope: Scope::Tenant, scope_id: Some(tenant.0) }
    } else {
        let Ok(id) = course.parse::<uuid::Uuid>() else {
            return Ok(Err(format!("courseId {course:?} is not an id")));
        };
        let exists = match courses.get(&CourseId(id)) {
            Some(e) => *e,
            None => {
                let e = app.store.course(tenant, CourseId(id)).await?.is_some();
                courses.insert(CourseId(id), e);
                e
            }
        };
        if !exists {
            return Ok(Err(format!("no course {id} in this school")));
        }
        RoleGrant { role, scope: Scope::Course, scope_id: Some(id) }
    };
    Ok(Ok(((!name.is_empty()).then(|| name.to_string()), grant)))
}

async fn make_link(
    app: &AppState,
    caller: &Caller,
    audit: &Audit,
    headers: &HeaderMap,
    id: UserId,
    purpose: LinkPurpose,
) -> ApiResult<(StatusCode, Json<UserLink>)> {
    let tenant =
        if caller.actor.platform_admin { app.store.user_tenant(id).await? } else { Some(caller.user.tenant_id) };
    let tenant = tenant.ok_or_else(|| ApiError::not_found("user"))?;
    ensure(caller, Action::ManageUsers, &Target::tenant(tenant))?;
    audit.tenant(tenant).target(format!("user:{id}"));
    let (token, link) = new_link(purpose);
    let email = app.store.create_link(tenant, id, &link).await?.ok_or_else(|| ApiError::not_found("user"))?;
    Ok((
        StatusCode::CREATED,
        Json(UserLink { email, link: link_to(app, headers, &token), expires_at: link.expires_at }),
    ))
}

/// A fresh invite link (14 days) for a user — say the first one was lost.
pub async fn invite(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    headers: HeaderMap,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<(StatusCode, Json<UserLink>)> {
    make_link(&app, &caller, &audit, &headers, id, LinkPurpose::Invite).await
}

/// A password-reset link (2 hours); using it signs the user out everywhere.
pub async fn reset_link(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    headers: HeaderMap,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<(StatusCode, Json<UserLink>)> {
    make_link(&app, &caller, &audit, &headers, id, LinkPurpose::Reset).await
}

/// Change one's own password (the current one is asked); every other session of theirs ends.
pub async fn change_password(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    validate_password(&req.new_password)?;
    let record = app.store.user_by_email(&caller.user.email).await?.ok_or_else(ApiError::unauthenticated)?;
    let ok = app.hashing.verify(req.current_password, Some(record.hashed_password), app.hash_wait()).await;
    if !ok.map_err(|_| ApiError::busy(2))? {
        return Err(ApiError::validation("currentPassword", "is not your current password"));
    }
    let hash = hash(&app, req.new_password).await?;
    app.store.set_password(caller.user.id, &hash, Some(&caller.token_hash)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hash a password in the bounded pool (503 when it stays busy).
pub async fn hash(app: &AppState, password: String) -> ApiResult<String> {
    app.hashing.hash(password, app.hash_wait()).await.map_err(|_| ApiError::busy(2))?.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        ApiError::internal()
    })
}

/// Entries per page of `GET /api/admin/audit`.
const AUDIT_PAGE: u32 = 100;

/// The audit log, newest first: a tenant admin's tenant, or every tenant for a platform admin.
pub async fn audit_log(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    ensure(&caller, Action::ManageUsers, &Target::tenant(caller.user.tenant_id))?;
    if q.action.as_deref().is_some_and(|a| a.len() > 200) {
        return Err(ApiError::validation("action", "at most 200 characters"));
    }
    let filter = AuditFilter {
        tenant: (!caller.actor.platform_admin).then_some(caller.user.tenant_id),
        actor: q.actor,
        action: q.action,
        from: q.from,
        to: q.to,
        before: q.cursor,
    };
    let rows = app.store.audit_entries(&filter, AUDIT_PAGE + 1).await?;
    let more = rows.len() > AUDIT_PAGE as usize;
    let entries: Vec<AuditEntryDto> = rows.into_iter().take(AUDIT_PAGE as usize).collect();
    let next_cursor = if more { entries.last().map(|e| e.id.to_string()) } else { None };
    Ok(Json(AuditPage { entries, next_cursor }))
}
