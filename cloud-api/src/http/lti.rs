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
use crate::http::sso::{escape, html_page, page, redirect};
use crate::lti::{self, Refusal};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use shared_types::dto::{
    Jwks, LtiKeyRotated, LtiLaunch, LtiLogin, LtiPlace, LtiPlatformDto, LtiPlatforms, LtiRosterSync, LtiTool,
};
use shared_types::error::ErrorCode;
use shared_types::policy::{Action, Actor, Target};
use shared_types::CourseId;
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
        Ok(Landing::To(location)) => Ok(redirect(location)),
        Ok(Landing::Page(page)) => Ok(page),
        Err(r) => Ok(refused(&audit, &r, "lti launch refused")),
    }
}

/// Where a launch that checks out goes: into the app, or (deep linking) to the page choosing the class.
enum Landing {
    To(String),
    Page(Response),
}

async fn land(
    app: &AppState,
    audit: &Audit,
    headers: &HeaderMap,
    form: LtiLaunch,
) -> ApiResult<Result<Landing, Refusal>> {
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
    if launch.deep_link.is_some() && launch.role != Role::Teacher {
        return Ok(Err(Refusal::InstructorsOnly));
    }
    let arrival = LtiArrival {
        platform: &platform,
        sub: &launch.sub,
        email: launch.email.as_deref(),
        name: launch.name.as_deref(),
        role: launch.role,
        context: (&launch.context.0, &launch.context.1),
        link: launch.link.as_ref().map(|(id, title)| (id.as_str(), title.as_str())),
        lesson_hint: launch.lesson_hint.map(shared_types::LessonId),
        may_create: launch.role == Role::Teacher,
        service_url: launch.memberships_url.as_deref(),
    };
    let arrived = app.store.lti_arrive(&arrival).await?;
    let user = arrived.user.user.clone();
    audit.actor(user.id);
    if !arrived.user.active {
        return Ok(Err(Refusal::Deactivated));
    }
    if let (Some(dl), Some(course)) = (&launch.deep_link, arrived.course) {
        return Ok(Ok(Landing::Page(choose_page(app, &platform, user.id, course, &launch.deployment_id, dl).await?)));
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
    Ok(Ok(Landing::To(link)))
}

/// How long an instructor may take to choose the class to place.
const PICK_MINUTES: i64 = 30;

/// The page where an instructor chooses the class a deep link places: one of the course's, or a
/// new one; its form carries a one-time token of the request.
async fn choose_page(
    app: &AppState,
    platform: &LtiPlatform,
    user: shared_types::UserId,
    course: CourseId,
    deployment_id: &str,
    dl: &lti::DeepLink,
) -> ApiResult<Response> {
    let tenant = platform.tenant_id;
    let title = app.store.course(tenant, course).await?.map(|c| c.title).unwrap_or_default();
    let lessons = app.store.lessons(tenant, course).await?;
    let token = crate::sso::random();
    let pick = studio_store::LtiPick {
        platform_id: platform.id,
        user_id: user,
        course_id: course,
        deployment_id: deployment_id.to_string(),
        return_url: dl.return_url.clone(),
        data: dl.data.as_ref().map(|d| d.to_string()),
    };
    let expires = chrono::Utc::now() + chrono::Duration::minutes(PICK_MINUTES);
    app.store.create_lti_pick(&auth::token_hash(&token), &pick, expires).await?;
    let choices: String = lessons
        .iter()
        .map(|l| {
            format!(
                "<p><label><input type=\"radio\" name=\"lesson\" value=\"{}\"> {}</label></p>",
                l.id,
                escape(&l.title)
            )
        })
        .collect();
    let body = format!(
        "<h1>Place a class in {course}</h1>\
         <p>Choose the class this link in your learning platform opens.</p>\
         <form id=\"choose\" method=\"post\" action=\"/api/lti/deep-link\">\
         <input type=\"hidden\" name=\"pick\" value=\"{token}\">\
         <fieldset><legend>Class</legend>{choices}\
         <p><label><input type=\"radio\" name=\"lesson\" value=\"new\" checked> A new class called</label> \
         <input name=\"title\" id=\"title\" value=\"Class {n}\" maxlength=\"200\" aria-label=\"Title of the new class\"></p>\
         </fieldset><p><button type=\"submit\">Place it in the course</button></p></form>",
        course = escape(&title),
        n = lessons.len() + 1,
    );
    Ok(html_page(200, "Place a class", &body, None))
}

/// `POST /api/lti/deep-link` — the instructor's choice: the class (one of the course's, or a new
/// one) sent back to the platform as a deep-linking response signed with the tool's key, on a page
/// that posts it there.
pub async fn place(
    State(app): State<AppState>,
    audit: Audit,
    headers: HeaderMap,
    ApiForm(form): ApiForm<LtiPlace>,
) -> ApiResult<Response> {
    match placed(&app, &audit, &headers, form).await? {
        Ok(page) => Ok(page),
        Err(r) => Ok(refused(&audit, &r, "lti deep link refused")),
    }
}

const CLAIM: &str = "https://purl.imsglobal.org/spec/lti/claim/";
const DL_CLAIM: &str = "https://purl.imsglobal.org/spec/lti-dl/claim/";

async fn placed(
    app: &AppState,
    audit: &Audit,
    headers: &HeaderMap,
    form: LtiPlace,
) -> ApiResult<Result<Response, Refusal>> {
    let Some(pick) = (match given(&form.pick, 100) {
        Some(t) => app.store.take_lti_pick(&auth::token_hash(t)).await?,
        None => None,
    }) else {
        return Ok(Err(Refusal::State));
    };
    let Some(platform) = app.store.lti_platform(pick.platform_id).await? else {
        return Ok(Err(Refusal::PlatformUnknown));
    };
    let tenant = platform.tenant_id;
    audit.tenant(tenant).actor(pick.user_id);
    let lesson = match given(&form.lesson, 100) {
        Some("new") | None => {
            let title = given(&form.title, 200).unwrap_or("Class");
            let id = app.store.add_lesson_last(tenant, pick.course_id, title).await?;
            app.store.lesson(tenant, id).await?
        }
        Some(id) => match id.parse().ok().map(shared_types::LessonId) {
            Some(id) => app.store.lesson(tenant, id).await?.filter(|l| l.course_id == pick.course_id),
            None => None,
        },
    };
    let Some(lesson) = lesson else {
        return Ok(Err(Refusal::Incomplete("the class chosen is not one of this course's".into())));
    };
    let key = crate::lti_tool::keys(&app.store, &app.sealer).await.map_err(keys_failed)?.remove(0);
    let now = chrono::Utc::now().timestamp();
    let mut claims = serde_json::json!({
        "iss": platform.client_id, "aud": [platform.issuer], "iat": now, "exp": now + 600,
        "nonce": crate::sso::random(),
        (format!("{CLAIM}deployment_id")): pick.deployment_id,
        (format!("{CLAIM}message_type")): "LtiDeepLinkingResponse",
        (format!("{CLAIM}version")): "1.3.0",
        (format!("{DL_CLAIM}content_items")): [{
            "type": "ltiResourceLink", "title": lesson.title, "url": tool(app, headers).launch_url,
            "custom": { "lesson": lesson.id },
        }],
    });
    if let Some(data) = &pick.data {
        claims[format!("{DL_CLAIM}data")] = serde_json::from_str(data).unwrap_or_else(|_| data.clone().into());
    }
    audit.target(format!("lesson:{}", lesson.id));
    Ok(Ok(back_to_platform(&pick.return_url, &key.sign(&claims), &lesson.title)))
}

/// The page that posts the signed answer to the platform: at once (its one script, allowed by its
/// hash), or by its button; its form may post only to the platform.
fn back_to_platform(return_url: &str, jwt: &str, title: &str) -> Response {
    const SUBMIT: &str = "document.getElementById('back').submit();";
    use sha2::Digest;
    let origin = url::Url::parse(return_url).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    let hash = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sha2::Sha256::digest(SUBMIT));
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; form-action {origin}; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    let body = format!(
        "<h1>Placing “{title}” in your course</h1>\
         <form id=\"back\" method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"JWT\" value=\"{jwt}\">\
         <p><button type=\"submit\">Back to your course</button></p></form><script>{SUBMIT}</script>",
        title = escape(title),
        action = escape(return_url),
    );
    html_page(200, "Placing the class", &body, Some(csp))
}

fn refused_page(r: &Refusal) -> Response {
    page(r.status(), r.code(), &r.words())
}

/// A refused launch or choice: logged and audited with its reason (never a token), and its page.
fn refused(audit: &Audit, r: &Refusal, what: &'static str) -> Response {
    tracing::info!(reason = r.code(), detail = r.detail(), "{what}");
    audit.target(match r.detail() {
        "" => format!("lti:{}", r.code()),
        d => format!("lti:{}: {}", r.code(), d.chars().take(200).collect::<String>()),
    });
    refused_page(r)
}

fn keys_failed(e: anyhow::Error) -> ApiError {
    tracing::error!(error = %e, "the LTI tool's keys");
    ApiError::internal()
}

/// `GET /api/lti/jwks` — the tool's public keys (the first made when there is none).
pub async fn jwks(State(app): State<AppState>) -> ApiResult<Json<Jwks>> {
    let keys = crate::lti_tool::keys(&app.store, &app.sealer).await.map_err(keys_failed)?;
    Ok(Json(Jwks { keys: keys.iter().map(crate::lti_tool::ToolKey::jwk).collect() }))
}

/// `POST /api/admin/lti/keys` — a new signing key for the tool (platform admins): it signs from now
/// on; the ones before it stay published a while (the newest few), so platforms holding them still
/// verify what was signed with them.
pub async fn rotate_key(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
) -> ApiResult<(StatusCode, Json<LtiKeyRotated>)> {
    if !caller.actor.platform_admin {
        return Err(ApiError::forbidden());
    }
    let key = crate::lti_tool::rotate(&app.store, &app.sealer).await.map_err(keys_failed)?;
    audit.target(format!("lti_key:{}", key.kid));
    let published = crate::lti_tool::keys(&app.store, &app.sealer).await.map_err(keys_failed)?;
    let published = published.into_iter().map(|k| k.kid).collect();
    Ok((StatusCode::CREATED, Json(LtiKeyRotated { kid: key.kid, published })))
}

/// `POST /api/courses/{course_id}/lti/roster` — enrol the course's members as its learning platform
/// lists them (Names and Role Provisioning Services; the list's address came with a launch): each
/// found or made as a launch would, and given their role. The course's teacher or the school's admin.
pub async fn sync_roster(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiPath(course): ApiPath<CourseId>,
) -> ApiResult<Json<LtiRosterSync>> {
    let tenant = caller.user.tenant_id;
    app.store.course(tenant, course).await?.ok_or_else(|| ApiError::not_found("course"))?;
    ensure(&caller, Action::ManageLessons, &Target::course(tenant, course))?;
    audit.tenant(tenant).target(format!("course:{course}"));
    let Some((platform, url)) = app.store.lti_roster_source(tenant, course).await? else {
        return Err(ApiError::conflict(
            "no learning platform lists this course's members here yet: launch the course from the platform first",
        ));
    };
    let key = crate::lti_tool::keys(&app.store, &app.sealer).await.map_err(keys_failed)?.remove(0);
    let roster = crate::lti_tool::roster(app.oidc.http(), &platform, &url, &key).await.map_err(|why| {
        tracing::warn!(platform = %platform.issuer, why, "names and roles sync failed");
        ApiError::new(ErrorCode::PlatformUnavailable, format!("the learning platform did not give the members: {why}"))
    })?;
    let members: Vec<studio_store::LtiMember> = roster
        .members
        .iter()
        .map(|m| studio_store::LtiMember {
            sub: &m.sub,
            email: m.email.as_deref(),
            name: m.name.as_deref(),
            role: m.role,
        })
        .collect();
    let made = app.store.lti_enrol(&platform, course, &members).await?;
    Ok(Json(LtiRosterSync { enrolled: members.len(), made, skipped: roster.skipped }))
}
