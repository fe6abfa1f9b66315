//! LTI 1.3 tool: the school admin registers the learning platforms it launches classes from; a
//! launch is the platform's third-party-initiated login (here, answered with a redirect to the
//! platform's authorization endpoint with a `state` and `nonce` of ours) and its id_token, posted
//! back by the browser. A launch that checks out lands the person in the web app through a one-time
//! hand-off link — a learner in the class (or its replay once it has ended), an instructor in the
//! present view (the class scheduled on their first launch) — and one that does not gets a page
//! that says why and an audit entry naming the reason.

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::admin::tenant_for;
use crate::http::ensure;
use crate::http::extract::{ApiForm, ApiJson, ApiPath, ApiQuery};
use crate::http::sso::{page, redirect};
use crate::lti::{self, Refusal};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use shared_types::dto::{LtiLaunch, LtiLogin, LtiPlatformDto, LtiPlatforms, LtiTool};
use shared_types::policy::{Action, Actor, Target};
use shared_types::{Role, RoleGrant, Scope};
use studio_store::{LtiArrival, LtiPlatform};

/// How long a launch may take to come back from the platform.
const LAUNCH_MINUTES: i64 = 10;
/// A class an instructor's first launch schedules: from now, this long.
const FIRST_CLASS_MINUTES: i64 = 60;

fn tool(app: &AppState, headers: &HeaderMap) -> LtiTool {
    let base = crate::http::onboarding::public_base(app, headers);
    LtiTool {
        login_url: format!("{base}/api/lti/login"),
        launch_url: format!("{base}/api/lti/launch"),
        jwks_url: format!("{base}/api/lti/jwks"),
    }
}

fn view(p: &LtiPlatform) -> LtiPlatformDto {
    LtiPlatformDto {
        id: Some(p.id),
        issuer: p.issuer.clone(),
        client_id: p.client_id.clone(),
        deployment_ids: p.deployment_ids.clone(),
        auth_url: p.auth_url.clone(),
        jwks_url: p.jwks_url.clone(),
        token_url: p.token_url.clone(),
    }
}

/// `GET /api/admin/tenants/{id}/lti/platforms` — the school's platforms and the tool's addresses.
pub async fn platforms(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<shared_types::TenantId>,
) -> ApiResult<Json<LtiPlatforms>> {
    let tenant = tenant_for(&app, &caller, Some(id)).await?;
    ensure(&caller, Action::ManageSettings, &Target::tenant(tenant))?;
    let platforms = app.store.lti_platforms(tenant).await?.iter().map(view).collect();
    Ok(Json(LtiPlatforms { platforms, tool: tool(&app, &headers) }))
}

/// An https URL (plain http on a loopback address) of at most 500 characters.
fn url_problem(u: &str) -> Option<&'static str> {
    if u.len() > 500 {
        return Some("must be at most 500 characters");
    }
    crate::http::sso::https_problem(u)
}

fn plain(s: &str, max: usize) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s.len() <= max && !s.contains(|c: char| c.is_whitespace() || c == ',')).then(|| s.to_string())
}

/// `POST /api/admin/tenants/{id}/lti/platforms` — register a platform (201). Its issuer and
/// client id name it: registered already (here or at another school) → 409.
pub async fn add_platform(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiPath(id): ApiPath<shared_types::TenantId>,
    ApiJson(req): ApiJson<LtiPlatformDto>,
) -> ApiResult<(StatusCode, Json<LtiPlatformDto>)> {
    let tenant = tenant_for(&app, &caller, Some(id)).await?;
    ensure(&caller, Action::ManageSettings, &Target::tenant(tenant))?;
    audit.tenant(tenant).target(format!("tenant:{tenant}"));
    let issuer = req.issuer.trim().to_string();
    for (field, value) in
        [("issuer", &issuer), ("authUrl", &req.auth_url), ("jwksUrl", &req.jwks_url), ("tokenUrl", &req.token_url)]
    {
        if let Some(p) = url_problem(value.trim()) {
            return Err(ApiError::validation(field, p));
        }
    }
    let client_id = plain(&req.client_id, 255)
        .ok_or_else(|| ApiError::validation("clientId", "must be 1 to 255 characters, no spaces or commas"))?;
    let deployments: Option<Vec<String>> = req.deployment_ids.iter().map(|d| plain(d, 255)).collect();
    let deployments = deployments.filter(|d| !d.is_empty() && d.len() <= 20).ok_or_else(|| {
        ApiError::validation("deploymentIds", "1 to 20 deployment ids, each 1 to 255 characters, no spaces or commas")
    })?;
    let platform = LtiPlatform {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant,
        issuer,
        client_id,
        deployment_ids: deployments,
        auth_url: req.auth_url.trim().to_string(),
        jwks_url: req.jwks_url.trim().to_string(),
        token_url: req.token_url.trim().to_string(),
    };
    if !app.store.add_lti_platform(&platform).await? {
        return Err(ApiError::conflict("this platform (issuer and client id) is registered already"));
    }
    audit.target(format!("lti_platform:{}", platform.id));
    Ok((StatusCode::CREATED, Json(view(&platform))))
}

/// `GET /api/lti/login` — a platform's third-party-initiated login (query).
pub async fn login_get(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LtiLogin>,
) -> ApiResult<Response> {
    login(&app, &headers, q).await
}

/// `POST /api/lti/login` — the same, posted as a form.
pub async fn login_post(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiForm(q): ApiForm<LtiLogin>,
) -> ApiResult<Response> {
    login(&app, &headers, q).await
}

fn given(v: &Option<String>, max: usize) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty() && s.len() <= max)
}

async fn login(app: &AppState, headers: &HeaderMap, q: LtiLogin) -> ApiResult<Response> {
    match redirect_to_platform(app, headers, &q).await? {
        Ok(location) => Ok(redirect(location)),
        Err(r) => {
            tracing::info!(reason = r.code(), detail = r.detail(), "lti login refused");
            Ok(refused_page(&r))
        }
    }
}

async fn redirect_to_platform(app: &AppState, headers: &HeaderMap, q: &LtiLogin) -> ApiResult<Result<String, Refusal>> {
    let (Some(iss), Some(login_hint), Some(target)) =
        (given(&q.iss, 500), given(&q.login_hint, 2000), given(&q.target_link_uri, 2000))
    else {
        return Ok(Err(Refusal::Incomplete("the login needs iss, login_hint and target_link_uri".into())));
    };
    let Some(platform) = app.store.lti_platform_for(iss, given(&q.client_id, 255)).await? else {
        return Ok(Err(Refusal::PlatformUnknown));
    };
    if given(&q.lti_deployment_id, 255).is_some_and(|d| !platform.deployment_ids.iter().any(|p| p == d)) {
        return Ok(Err(Refusal::Deployment));
    }
    let tool = tool(app, headers);
    let base = tool.login_url.trim_end_matches("/api/lti/login");
    if !target.starts_with(&format!("{base}/")) {
        return Ok(Err(Refusal::Incomplete("the target_link_uri is not this tool's".into())));
    }
    let (state, nonce) = (crate::sso::random(), crate::sso::random());
    let expires = chrono::Utc::now() + chrono::Duration::minutes(LAUNCH_MINUTES);
    app.store.create_lti_login(&auth::token_hash(&state), platform.id, &nonce, expires).await?;
    let mut pairs = vec![
        ("scope", "openid"),
        ("response_type", "id_token"),
        ("response_mode", "form_post"),
        ("prompt", "none"),
        ("client_id", platform.client_id.as_str()),
        ("redirect_uri", tool.launch_url.as_str()),
        ("login_hint", login_hint),
        ("state", state.as_str()),
        ("nonce", nonce.as_str()),
    ];
    if let Some(hint) = given(&q.lti_message_hint, 2000) {
        pairs.push(("lti_message_hint", hint));
    }
    Ok(Ok(crate::http::sso::with_query(&platform.auth_url, &pairs)))
}

/// `POST /api/lti/launch` — the platform's id_token and our `state`, posted by the browser. Checked:
/// off to the web app (302); refused: a page that says why.
pub async fn launch(
    State(app): State<AppState>,
    audit: Audit,
    headers: HeaderMap,
    ApiForm(form): ApiForm<LtiLaunch>,
) -> ApiResult<Response> {
    match land(&app, &audit, &headers, form).await? {
        Ok(location) => Ok(redirect(location)),
        Err(r) => {
            tracing::info!(reason = r.code(), detail = r.detail(), "lti launch refused");
            audit.target(match r.detail() {
                "" => format!("lti:{}", r.code()),
                d => format!("lti:{}: {}", r.code(), d.chars().take(200).collect::<String>()),
            });
            Ok(refused_page(&r))
        }
    }
}

async fn land(
    app: &AppState,
    audit: &Audit,
    headers: &HeaderMap,
    form: LtiLaunch,
) -> ApiResult<Result<String, Refusal>> {
    let state = given(&form.state, 100);
    let Some((platform_id, nonce)) = (match state {
        Some(s) => app.store.take_lti_login(&auth::token_hash(s)).await?,
        None => None,
    }) else {
        return Ok(Err(Refusal::State));
    };
    let Some(platform) = app.store.lti_platform(platform_id).await? else {
        return Ok(Err(Refusal::PlatformUnknown));
    };
    audit.tenant(platform.tenant_id);
    if let Some(e) = given(&form.error, 100) {
        return Ok(Err(Refusal::Incomplete(format!("the platform answered {e}"))));
    }
    let Some(id_token) = given(&form.id_token, 20_000) else {
        return Ok(Err(Refusal::Incomplete("no id_token".into())));
    };
    let keys = crate::sso::Provider {
        issuer: platform.issuer.clone(),
        authorization_endpoint: platform.auth_url.clone(),
        token_endpoint: platform.token_url.clone(),
        userinfo_endpoint: None,
        jwks_uri: platform.jwks_url.clone(),
    };
    let claims = match app.oidc.check_id_token(&keys, id_token, &platform.client_id, &nonce).await {
        Ok(t) => t.claims,
        Err(r) => return Ok(Err(r.into())),
    };
    let launch = match lti::read_launch(&claims, &platform.deployment_ids) {
        Ok(l) => l,
        Err(r) => return Ok(Err(r)),
    };
    let arrival = LtiArrival {
        platform: &platform,
        sub: &launch.sub,
        email: launch.email.as_deref(),
        name: launch.name.as_deref(),
        role: launch.role,
        context: (&launch.context.0, &launch.context.1),
        link: (&launch.link.0, &launch.link.1),
        may_create: launch.role == Role::Teacher,
    };
    let arrived = app.store.lti_arrive(&arrival).await?;
    let user = arrived.user.user.clone();
    audit.actor(user.id);
    if !arrived.user.active {
        return Ok(Err(Refusal::Deactivated));
    }
    let (Some(course), Some(lesson)) = (arrived.course, arrived.lesson) else {
        return Ok(Err(Refusal::NotSetUp));
    };
    let tenant = platform.tenant_id;
    let lesson = app.store.lesson(tenant, lesson).await?.ok_or_else(ApiError::internal)?;
    let sessions = app.store.sessions_of_lesson(tenant, lesson.id).await?;
    // The class to land in: the one under way or next, else the latest.
    let current = sessions
        .iter()
        .filter(|s| s.status != "ended")
        .min_by_key(|s| s.scheduled_start)
        .or_else(|| sessions.iter().max_by_key(|s| s.scheduled_start));
    let next = match (launch.role, current) {
        (Role::Teacher, Some(s)) if s.status != "ended" => format!("#/sessions/{}/present", s.id),
        (Role::Teacher, _) => {
            // The instructor's launch with no class to come: one now, for the hour.
            let grants = vec![RoleGrant { role: Role::Teacher, scope: Scope::Course, scope_id: Some(course.0) }];
            let actor = Actor { user: user.id, tenant, platform_admin: false, grants };
            let start = chrono::Utc::now();
            let end = start + chrono::Duration::minutes(FIRST_CLASS_MINUTES);
            let key = format!("{}/lti-launch/{}", user.id, auth::token_hash(&nonce));
            let s = crate::http::sessions::schedule(app, &actor, &lesson, (start, end), key).await?;
            format!("#/sessions/{}/present", s.id)
        }
        (_, Some(s)) if s.status == "ended" => format!("#/sessions/{}/replay", s.id),
        (_, Some(s)) => format!("#/sessions/{}", s.id),
        (_, None) => "#/courses".to_string(),
    };
    let Some((link, _)) = crate::http::login::handoff_link(app, headers, tenant, user.id, &next).await? else {
        return Ok(Err(Refusal::Deactivated));
    };
    audit.target(format!("user:{}", user.id));
    Ok(Ok(link))
}

fn refused_page(r: &Refusal) -> Response {
    page(r.status(), r.code(), &r.words())
}
