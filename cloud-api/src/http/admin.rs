//! Tenants, users and role grants (admins; tenants need a platform admin).

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::ensure;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use shared_types::dto::{AdminUserDto, CreateTenant, CreateUser, GrantDto, GrantRole, TenantDto, UserDto, UserPage};
use shared_types::policy::{Action, Target};
use shared_types::requests::UsersQuery;
use shared_types::speech::TenantSettings;
use shared_types::{CourseId, RoleGrant, Scope, SessionId};

pub async fn create_tenant(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiJson(req): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantDto>)> {
    ensure(&caller, Action::CreateTenant, &Target::tenant(caller.user.tenant_id))?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("name", "must be 1 to 200 characters"));
    }
    let tenant = app.store.create_tenant(name).await?;
    audit.tenant(tenant.id).target(format!("tenant:{}", tenant.id));
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// A school's transcription settings (its admins; a platform admin for any school).
pub async fn tenant_settings(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<shared_types::TenantId>,
) -> ApiResult<Json<TenantSettings>> {
    let tenant = tenant_for(&app, &caller, Some(id)).await?;
    ensure(&caller, Action::ManageSettings, &Target::tenant(tenant))?;
    Ok(Json(app.store.tenant_settings(tenant).await?.ok_or_else(|| ApiError::not_found("tenant"))?))
}

/// Choose the school's recogniser and its classes' default language (one the recogniser
/// transcribes: English with tiny.en).
pub async fn set_tenant_settings(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiPath(id): ApiPath<shared_types::TenantId>,
    ApiJson(mut req): ApiJson<TenantSettings>,
) -> ApiResult<Json<TenantSettings>> {
    let tenant = tenant_for(&app, &caller, Some(id)).await?;
    ensure(&caller, Action::ManageSettings, &Target::tenant(tenant))?;
    req.language = req.language.trim().to_lowercase();
    if let Some(problem) = req.problem() {
        return Err(ApiError::validation("language", problem));
    }
    audit.tenant(tenant).target(format!("tenant:{tenant}"));
    if !app.store.set_tenant_settings(tenant, &req).await? {
        return Err(ApiError::not_found("tenant"));
    }
    Ok(Json(req))
}

/// The tenant an admin request is about: the caller's own unless a platform admin names another.
pub async fn tenant_for(
    app: &AppState,
    caller: &Caller,
    asked: Option<shared_types::TenantId>,
) -> ApiResult<shared_types::TenantId> {
    match asked {
        None => Ok(caller.user.tenant_id),
        Some(t) if t == caller.user.tenant_id => Ok(t),
        Some(t) if caller.actor.platform_admin && app.store.tenant_exists(t).await? => Ok(t),
        Some(_) => Err(ApiError::not_found("tenant")),
    }
}

pub fn validate_credentials(email: &str, password: &str) -> ApiResult<()> {
    validate_email(email)?;
    validate_password(password)
}

pub fn validate_email(email: &str) -> ApiResult<()> {
    let email = email.trim();
    let at = email.find('@');
    if email.len() > 254 || at.is_none_or(|i| i == 0 || i == email.len() - 1) || email.contains(char::is_whitespace) {
        return Err(ApiError::validation("email", "must be an email address"));
    }
    Ok(())
}

pub fn validate_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(ApiError::validation("password", "must be 8 to 1024 characters"));
    }
    Ok(())
}

pub async fn create_user(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiJson(req): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserDto>)> {
    let tenant = tenant_for(&app, &caller, req.tenant_id).await?;
    ensure(&caller, Action::ManageUsers, &Target::tenant(tenant))?;
    validate_credentials(&req.email, &req.password)?;
    audit.tenant(tenant).target(req.email.trim().to_lowercase());
    let hash = crate::http::onboarding::hash(&app, req.password.clone()).await?;
    let user = app.store.create_user(tenant, &req.email, req.display_name.as_deref(), &hash, false).await?;
    audit.target(format!("user:{}", user.id));
    Ok((StatusCode::CREATED, Json(user)))
}

/// Check the grant's target exists in the user's tenant and fill in the tenant scope id.
async fn resolve_grant(
    app: &AppState,
    caller: &Caller,
    audit: &Audit,
    req: &GrantRole,
) -> ApiResult<(shared_types::TenantId, RoleGrant)> {
    let user_tenant = if caller.actor.platform_admin {
        app.store.user_tenant(req.user_id).await?
    } else {
        app.store.user_in_tenant(caller.user.tenant_id, req.user_id).await?.map(|u| u.tenant_id)
    };
    let tenant = user_tenant.ok_or_else(|| ApiError::not_found("user"))?;
    let scope = req.scope_id.map(|id| format!(":{id}")).unwrap_or_default();
    audit.tenant(tenant).target(format!("user:{} {}@{}{scope}", req.user_id, req.role.as_str(), req.scope.as_str()));
    ensure(caller, Action::GrantRoles, &Target::tenant(tenant))?;
    let scope_id = match req.scope {
        Scope::Tenant => match req.scope_id {
            None => tenant.0,
            Some(id) if id == tenant.0 => id,
            Some(_) => return Err(ApiError::validation("scopeId", "a tenant grant's scopeId is the user's tenant")),
        },
        Scope::Course => {
            let id = req.scope_id.ok_or_else(|| ApiError::validation("scopeId", "required for course scope"))?;
            app.store.course(tenant, CourseId(id)).await?.ok_or_else(|| ApiError::not_found("course"))?;
            id
        }
        Scope::Session => {
            let id = req.scope_id.ok_or_else(|| ApiError::validation("scopeId", "required for session scope"))?;
            app.store.session(tenant, SessionId(id)).await?.ok_or_else(|| ApiError::not_found("session"))?;
            id
        }
    };
    Ok((tenant, RoleGrant { role: req.role, scope: req.scope, scope_id: Some(scope_id) }))
}

pub async fn grant_role(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiJson(req): ApiJson<GrantRole>,
) -> ApiResult<(StatusCode, Json<GrantDto>)> {
    let (tenant, grant) = resolve_grant(&app, &caller, &audit, &req).await?;
    app.store.grant(tenant, req.user_id, grant).await?;
    Ok((StatusCode::CREATED, Json(GrantDto { user_id: req.user_id, grant })))
}

pub async fn revoke_role(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiJson(req): ApiJson<GrantRole>,
) -> ApiResult<StatusCode> {
    let (tenant, grant) = resolve_grant(&app, &caller, &audit, &req).await?;
    app.store.revoke(tenant, req.user_id, grant).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn admin_user(r: studio_store::UserRecord) -> AdminUserDto {
    AdminUserDto {
        id: r.user.id,
        email: r.user.email,
        name: r.user.display_name,
        tenant_id: r.user.tenant_id,
        active: r.active,
    }
}

/// Users per page of `GET /api/admin/users`.
const USERS_PAGE: u32 = 100;

/// Tenant admins list their tenant's users, platform admins everyone's; `q` matches email or name.
pub async fn list_users(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UsersQuery>,
) -> ApiResult<Json<UserPage>> {
    ensure(&caller, Action::ManageUsers, &Target::tenant(caller.user.tenant_id))?;
    let scope = (!caller.actor.platform_admin).then_some(caller.user.tenant_id);
    if q.q.as_deref().is_some_and(|q| q.len() > 200) || q.cursor.as_deref().is_some_and(|c| c.len() > 254) {
        return Err(ApiError::validation("q", "at most 200 characters (cursor: 254)"));
    }
    let rows = app.store.list_users(scope, q.q.as_deref(), q.cursor.as_deref(), USERS_PAGE + 1).await?;
    let more = rows.len() > USERS_PAGE as usize;
    let users: Vec<AdminUserDto> = rows.into_iter().take(USERS_PAGE as usize).map(admin_user).collect();
    let next_cursor = if more { users.last().map(|u| u.email.clone()) } else { None };
    Ok(Json(UserPage { users, next_cursor }))
}

async fn set_active(
    app: &AppState,
    caller: &Caller,
    audit: &Audit,
    id: shared_types::UserId,
    active: bool,
) -> ApiResult<Json<AdminUserDto>> {
    let tenant =
        if caller.actor.platform_admin { app.store.user_tenant(id).await? } else { Some(caller.user.tenant_id) };
    let tenant = tenant.ok_or_else(|| ApiError::not_found("user"))?;
    audit.tenant(tenant).target(format!("user:{id}"));
    ensure(caller, Action::ManageUsers, &Target::tenant(tenant))?;
    if !active && id == caller.user.id {
        return Err(ApiError::validation("id", "an admin cannot deactivate themselves"));
    }
    let rec = app.store.set_user_active(tenant, id, active).await?.ok_or_else(|| ApiError::not_found("user"))?;
    tracing::info!(user = %id, active, "user activity changed");
    Ok(Json(admin_user(rec)))
}

/// Deactivate a user: they cannot sign in, and every token of theirs stops working at once.
pub async fn deactivate_user(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiPath(id): ApiPath<shared_types::UserId>,
) -> ApiResult<Json<AdminUserDto>> {
    set_active(&app, &caller, &audit, id, false).await
}

pub async fn reactivate_user(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiPath(id): ApiPath<shared_types::UserId>,
) -> ApiResult<Json<AdminUserDto>> {
    set_active(&app, &caller, &audit, id, true).await
}
