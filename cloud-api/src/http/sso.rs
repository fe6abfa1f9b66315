//! Single sign-on through a school's own OpenID provider: the school admin's settings, the redirect
//! to the provider and the way back. A sign-in that succeeds lands in the web app through a one-time
//! hand-off link (as the studio's hand-off does); one that is refused gets a page that says why, in
//! words, and an audit entry naming the reason.

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::{self, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::admin::tenant_for;
use crate::http::ensure;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::sso::Refusal;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use shared_types::dto::{SsoCallback, SsoRoleRule, SsoSettings, SsoStart, SsoToken};
use shared_types::policy::{Action, Target};
use studio_store::{NativeClient, SsoLogin, SsoRecord};

/// How long a redirect to the provider may take to come back.
const SIGN_IN_MINUTES: i64 = 10;

fn view(rec: &SsoRecord) -> SsoSettings {
    SsoSettings {
        issuer: rec.issuer.clone(),
        client_id: rec.client_id.clone(),
        client_secret: None,
        allowed_domains: rec.allowed_domains.clone(),
        password_sign_in: rec.password_sign_in,
        secret_set: !rec.client_secret_sealed.is_empty(),
        role_claim: rec.role_claim.clone(),
        role_map: rec.role_map.iter().map(|(value, role)| SsoRoleRule { value: value.clone(), role: *role }).collect(),
    }
}

/// `GET /api/admin/tenants/{id}/sso` — the school's provider (404 when it has none).
pub async fn settings(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<shared_types::TenantId>,
) -> ApiResult<Json<SsoSettings>> {
    let tenant = tenant_for(&app, &caller, Some(id)).await?;
    ensure(&caller, Action::ManageSettings, &Target::tenant(tenant))?;
    let rec = app.store.sso_settings(tenant).await?.ok_or_else(|| ApiError::not_found("single sign-on"))?;
    Ok(Json(view(&rec)))
}

/// Loopback addresses may use plain http (development and the tests' provider or platform); others
/// need https.
pub(crate) fn https_problem(url: &str) -> Option<&'static str> {
    let Ok(u) = url::Url::parse(url) else { return Some("must be a URL") };
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match u.scheme() {
        "https" => None,
        "http" if loopback => None,
        _ => Some("must be an https URL"),
    }
}

fn domain_ok(d: &str) -> bool {
    d.len() <= 253
        && d.contains('.')
        && !d.starts_with(['.', '-'])
        && !d.ends_with(['.', '-'])
        && d.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

/// `PUT /api/admin/tenants/{id}/sso` — set the school's provider: its discovery document must answer
/// (so a typo is found now, not by the first student), its domains no other school's.
pub async fn set_settings(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiPath(id): ApiPath<shared_types::TenantId>,
    ApiJson(req): ApiJson<SsoSettings>,
) -> ApiResult<Json<SsoSettings>> {
    let tenant = tenant_for(&app, &caller, Some(id)).await?;
    ensure(&caller, Action::ManageSettings, &Target::tenant(tenant))?;
    audit.tenant(tenant).target(format!("tenant:{tenant}"));
    let issuer = req.issuer.trim().to_string();
    if let Some(p) = https_problem(&issuer).filter(|_| issuer.len() <= 500) {
        return Err(ApiError::validation("issuer", p));
    }
    if issuer.len() > 500 {
        return Err(ApiError::validation("issuer", "must be at most 500 characters"));
    }
    let client_id = req.client_id.trim().to_string();
    if client_id.is_empty() || client_id.len() > 255 || client_id.contains(char::is_whitespace) {
        return Err(ApiError::validation("clientId", "must be 1 to 255 characters, no spaces"));
    }
    let domains: Vec<String> = req.allowed_domains.iter().map(|d| d.trim().to_lowercase()).collect();
    if domains.is_empty() || domains.len() > 20 || !domains.iter().all(|d| domain_ok(d)) {
        return Err(ApiError::validation("allowedDomains", "1 to 20 email domains, like school.edu"));
    }
    let role_claim = req.role_claim.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if role_claim.is_some_and(|c| c.len() > 100 || !c.chars().all(|ch| ch.is_ascii_graphic())) {
        return Err(ApiError::validation("roleClaim", "a claim name: 1 to 100 visible characters"));
    }
    if req.role_map.len() > 50 || req.role_map.iter().any(|r| r.value.trim().is_empty() || r.value.len() > 200) {
        return Err(ApiError::validation("roleMap", "at most 50 rules, each value 1 to 200 characters"));
    }
    if role_claim.is_none() && !req.role_map.is_empty() {
        return Err(ApiError::validation("roleClaim", "is needed for a roleMap: the claim its values are read from"));
    }
    let kept = app.store.sso_settings(tenant).await?;
    let sealed = match req.client_secret.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() && s.len() <= 1000 => app.sealer.seal(s),
        Some(_) => return Err(ApiError::validation("clientSecret", "must be 1 to 1000 characters")),
        None => match &kept {
            Some(k) => k.client_secret_sealed.clone(),
            None => return Err(ApiError::validation("clientSecret", "is needed the first time")),
        },
    };
    for d in &domains {
        if app.store.sso_tenant_for_domain(d).await?.is_some_and(|t| t != tenant) {
            return Err(ApiError::conflict(format!("{d} already signs in to another school")));
        }
    }
    if let Err(r) = app.oidc.discover(&issuer).await {
        return Err(ApiError::validation(
            "issuer",
            format!("its discovery document could not be read ({})", r.detail()),
        ));
    }
    let rec = SsoRecord {
        issuer,
        client_id,
        client_secret_sealed: sealed,
        allowed_domains: domains,
        password_sign_in: req.password_sign_in,
        role_claim: role_claim.map(str::to_string),
        role_map: req.role_map.iter().map(|r| (r.value.trim().to_string(), r.role)).collect(),
    };
    app.store.set_sso_settings(tenant, &rec).await?;
    Ok(Json(view(&rec)))
}

fn callback_url(app: &AppState, headers: &HeaderMap) -> String {
    format!("{}/api/auth/sso/callback", crate::http::onboarding::public_base(app, headers))
}

/// `GET /api/auth/sso/start?email=…|tenant=…&next=#/…` — off to the school's provider (302), with a
/// fresh `state`, `nonce` and PKCE challenge; the school is the one whose domains hold the email's.
/// A browser (it asks for HTML) that cannot be sent on gets a page that says why.
pub async fn start(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SsoStart>,
) -> ApiResult<Response> {
    let browser = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    match begin(&app, &headers, q).await {
        Err(e) if browser && (e.problem.status < 500 || e.problem.status == 503) => {
            Ok(page(e.problem.status, &e.problem.code, &e.problem.message))
        }
        r => r,
    }
}

async fn begin(app: &AppState, headers: &HeaderMap, q: SsoStart) -> ApiResult<Response> {
    let next = crate::http::login::next_route(q.next.as_deref())?;
    let email = q.email.as_deref().map(|e| e.trim().to_lowercase()).filter(|e| !e.is_empty());
    let tenant = match (q.tenant, &email) {
        (Some(t), _) => t,
        (None, Some(e)) => {
            let domain = e.rsplit_once('@').map(|(_, d)| d).filter(|d| !d.is_empty() && e.len() <= 254);
            let domain = domain.ok_or_else(|| ApiError::validation("email", "must be an email address"))?;
            app.store.sso_tenant_for_domain(domain).await?.ok_or_else(|| {
                ApiError::new(
                    shared_types::error::ErrorCode::NotFound,
                    "No school signs in with this email's domain here. Sign in with your password, or check the email.",
                )
            })?
        }
        (None, None) => return Err(ApiError::validation("email", "give your school email (or the school's id)")),
    };
    let native = native_client(&q)?;
    let rec = app.store.sso_settings(tenant).await?.ok_or_else(|| ApiError::not_found("single sign-on"))?;
    let provider = app.oidc.discover(&rec.issuer).await.map_err(|r| {
        tracing::warn!(tenant = %tenant, detail = r.detail(), "single sign-on: provider unreachable");
        ApiError::new(shared_types::error::ErrorCode::NotReady, r.words())
    })?;
    let (state, nonce, verifier) = (crate::sso::random(), crate::sso::random(), crate::sso::random());
    let login = SsoLogin { tenant_id: tenant, nonce: nonce.clone(), verifier: verifier.clone(), next, native };
    let expires = chrono::Utc::now() + chrono::Duration::minutes(SIGN_IN_MINUTES);
    app.store.create_sso_login(&auth::token_hash(&state), &login, expires).await?;
    let mut to = url::Url::parse(&provider.authorization_endpoint).map_err(|_| {
        ApiError::new(shared_types::error::ErrorCode::NotReady, "the school's sign-in service is misconfigured")
    })?;
    to.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &rec.client_id)
        .append_pair("redirect_uri", &callback_url(app, headers))
        .append_pair("scope", "openid email profile")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &crate::sso::challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    if let Some(e) = &email {
        to.query_pairs_mut().append_pair("login_hint", e);
    }
    Ok(redirect(to.to_string()))
}

/// A native app's redirect (RFC 8252 §7.3): plain http to a loopback address literal (127.0.0.1 or
/// ::1, not `localhost`, which a resolver may send elsewhere), on the port the app listens on.
fn loopback_redirect(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok().filter(|_| uri.len() <= 300)?;
    let loopback = match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        _ => false,
    };
    let plain = u.username().is_empty() && u.password().is_none() && u.fragment().is_none();
    (u.scheme() == "http" && loopback && u.port().is_some() && plain).then(|| u.to_string())
}

/// The native app a sign-in is for, from `redirect_uri`, `code_challenge(_method)` and `state`
/// (all or none of them).
fn native_client(q: &SsoStart) -> ApiResult<Option<NativeClient>> {
    let Some(uri) = q.redirect_uri.as_deref() else {
        if q.code_challenge.is_some() || q.state.is_some() {
            return Err(ApiError::validation("redirect_uri", "a native app's sign-in needs its loopback redirect"));
        }
        return Ok(None);
    };
    let redirect_uri = loopback_redirect(uri).ok_or_else(|| {
        ApiError::validation("redirect_uri", "must be a loopback address with its port, like http://127.0.0.1:49152/")
    })?;
    if q.code_challenge_method.as_deref() != Some("S256") {
        return Err(ApiError::validation("code_challenge_method", "must be S256"));
    }
    let base64url = |c: &str| c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let challenge = q.code_challenge.as_deref().filter(|c| c.len() == 43 && base64url(c)).ok_or_else(|| {
        ApiError::validation("code_challenge", "the base64url SHA-256 of the verifier (43 characters)")
    })?;
    let state =
        q.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 200 && s.bytes().all(|b| b.is_ascii_graphic()));
    let state = state.ok_or_else(|| ApiError::validation("state", "1 to 200 visible ASCII characters"))?;
    Ok(Some(NativeClient { redirect_uri, challenge: challenge.to_string(), state: state.to_string() }))
}

/// `redirect_uri` with `pairs` added to its query.
pub(crate) fn with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(redirect_uri).expect("checked when the sign-in began");
    u.query_pairs_mut().extend_pairs(pairs);
    u.to_string()
}

/// How long a native app's code may take to be traded.
const NATIVE_CODE_SECS: i64 = 60;

/// The one-time code a native app's loopback address receives (with its state), or `None` when
/// the user is not the tenant's.
async fn native_landing(
    app: &AppState,
    tenant: shared_types::TenantId,
    user: shared_types::UserId,
    native: &NativeClient,
) -> ApiResult<Option<String>> {
    let (code, token_hash) = auth::new_token();
    let link = studio_store::NewLink {
        token_hash,
        purpose: studio_store::LinkPurpose::NativeSignIn,
        expires_at: chrono::Utc::now() + chrono::Duration::seconds(NATIVE_CODE_SECS),
        challenge: Some(native.challenge.clone()),
    };
    if app.store.create_link(tenant, user, &link).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(with_query(&native.redirect_uri, &[("code", &code), ("state", &native.state)])))
}

/// `POST /api/auth/sso/token` — a native app (the studio) trades the code its loopback address
/// received, with its PKCE verifier, for a session, as a login answers. A used, expired or unknown
/// code, or a verifier that does not meet the challenge: `422 link_invalid`, and the code is spent.
pub async fn token(
    State(app): State<AppState>,
    audit: Audit,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SsoToken>,
) -> ApiResult<Response> {
    // RFC 7636 §4.1: 43 to 128 unreserved characters.
    let unreserved = |v: &str| v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !(43..=128).contains(&req.code_verifier.len()) || !unreserved(&req.code_verifier) {
        return Err(ApiError::validation("codeVerifier", "43 to 128 letters, digits or -._~ (RFC 7636)"));
    }
    let invalid = || {
        ApiError::new(
            shared_types::error::ErrorCode::LinkInvalid,
            "this sign-in code was used already, has expired or is not yours; sign in again",
        )
    };
    if req.code.is_empty() || req.code.len() > 100 {
        return Err(invalid());
    }
    let code_hash = auth::token_hash(&req.code);
    let spent = app.store.spend_sign_in_link(&code_hash, studio_store::LinkPurpose::NativeSignIn).await?;
    let (record, challenge) = spent.ok_or_else(invalid)?;
    audit.tenant(record.user.tenant_id).actor(record.user.id).target(format!("user:{}", record.user.id));
    if challenge.as_deref() != Some(crate::sso::challenge(&req.code_verifier).as_str()) {
        tracing::info!("native sign-in refused: the verifier does not meet the code's challenge");
        return Err(invalid());
    }
    crate::http::login::sign_in(&app, &headers, record.user).await
}

/// `302` to `location`, never cached (it carries a one-time value).
pub(crate) fn redirect(location: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".into())]).into_response()
}

/// `GET /api/auth/sso/callback?code=…&state=…` — the provider's answer. Signed in: 302 to the web app
/// with a one-time hand-off link. Refused: a page that says why (and the audit entry says which).
pub async fn callback(
    State(app): State<AppState>,
    audit: Audit,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SsoCallback>,
) -> ApiResult<Response> {
    let mut native = None;
    match finish(&app, &audit, &headers, q, &mut native).await? {
        Ok(location) => Ok(redirect(location)),
        Err(refusal) => {
            tracing::info!(reason = refusal.code(), detail = refusal.detail(), "single sign-on refused");
            let target = match refusal.detail() {
                "" => format!("sso:{}", refusal.code()),
                d => format!("sso:{}: {}", refusal.code(), d.chars().take(200).collect::<String>()),
            };
            audit.target(target);
            match native {
                // The native app hears why (RFC 6749 §4.1.2.1), and shows it.
                Some(n) => Ok(redirect(with_query(
                    &n.redirect_uri,
                    &[
                        ("error", "access_denied"),
                        ("error_description", &refusal.words()),
                        ("error_reason", refusal.code()),
                        ("state", &n.state),
                    ],
                ))),
                None => Ok(refused_page(&refusal)),
            }
        }
    }
}

async fn finish(
    app: &AppState,
    audit: &Audit,
    headers: &HeaderMap,
    q: SsoCallback,
    native: &mut Option<NativeClient>,
) -> ApiResult<Result<String, Refusal>> {
    let state = q.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 100);
    let Some(login) = (match state {
        Some(s) => app.store.take_sso_login(&auth::token_hash(s)).await?,
        None => None,
    }) else {
        return Ok(Err(Refusal::State));
    };
    audit.tenant(login.tenant_id);
    native.clone_from(&login.native);
    if let Some(e) = q.error.as_deref() {
        return Ok(Err(Refusal::Provider(e.chars().take(100).collect())));
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty() && c.len() <= 2000) else {
        return Ok(Err(Refusal::Provider("no code".into())));
    };
    let Some(rec) = app.store.sso_settings(login.tenant_id).await? else {
        return Ok(Err(Refusal::Provider("the school's single sign-on was removed".into())));
    };
    let secret = app.sealer.open_sealed(&rec.client_secret_sealed).ok_or_else(ApiError::internal)?;
    let provider = match app.oidc.discover(&rec.issuer).await {
        Ok(p) => p,
        Err(r) => return Ok(Err(r)),
    };
    let redirect_uri = callback_url(app, headers);
    let client = (rec.client_id.as_str(), secret.as_str());
    let (_, info) = match app.oidc.redeem(&provider, client, code, &login.verifier, &redirect_uri, &login.nonce).await {
        Ok(x) => x,
        Err(r) => return Ok(Err(r)),
    };
    let Some(email) = info.email.map(|e| e.trim().to_lowercase()).filter(|e| e.contains('@')) else {
        return Ok(Err(Refusal::Token("the provider gave no email".into())));
    };
    if !info.email_verified {
        return Ok(Err(Refusal::Unverified));
    }
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
    if !rec.allowed_domains.contains(&domain) {
        return Ok(Err(Refusal::Domain(domain)));
    }
    // The person the roster import (or an invite) made, in this school only: an email of another
    // school is not theirs to take, and nobody is created here.
    let record = app.store.user_by_email(&email).await?.filter(|r| r.user.tenant_id == login.tenant_id);
    let Some(record) = record else { return Ok(Err(Refusal::NoAccount)) };
    audit.actor(record.user.id);
    if !record.active {
        return Ok(Err(Refusal::Deactivated));
    }
    follow_roles(app, &rec, &info.claims, record.user.id).await?;
    let link = match &login.native {
        Some(n) => native_landing(app, login.tenant_id, record.user.id, n).await?,
        None => {
            let link = crate::http::login::handoff_link(app, headers, login.tenant_id, record.user.id, &login.next);
            link.await?.map(|(link, _)| link)
        }
    };
    let Some(link) = link else { return Ok(Err(Refusal::NoAccount)) };
    audit.target(format!("user:{}", record.user.id));
    Ok(Ok(link))
}

/// The school-wide grants of the roles the school's map names follow the provider's role claim:
/// given when one of the person's values maps to the role, taken away when none does.
async fn follow_roles(
    app: &AppState,
    rec: &SsoRecord,
    claims: &serde_json::Value,
    user: shared_types::UserId,
) -> ApiResult<()> {
    let Some(claim) = rec.role_claim.as_deref() else { return Ok(()) };
    let values: Vec<&str> = match &claims[claim] {
        serde_json::Value::String(v) => vec![v.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => Vec::new(),
    };
    let tenant = app.store.user_tenant(user).await?.ok_or_else(ApiError::internal)?;
    let mapped: std::collections::BTreeSet<shared_types::Role> = rec.role_map.iter().map(|(_, r)| *r).collect();
    for role in mapped {
        let held = rec.role_map.iter().any(|(v, r)| *r == role && values.contains(&v.as_str()));
        let grant = shared_types::RoleGrant { role, scope: shared_types::Scope::Tenant, scope_id: Some(tenant.0) };
        if held {
            app.store.grant(tenant, user, grant).await?;
        } else {
            app.store.revoke(tenant, user, grant).await?;
        }
    }
    Ok(())
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A page of ours outside the app: `csp` replaces the app's policy when the page needs its own.
pub(crate) fn html_page(status: u16, title: &str, body: &str, csp: Option<String>) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Teaching studio</title><link rel=\"icon\" href=\"data:,\"></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5\">\
         <main>{body}</main></body></html>\n",
        title = escape(title),
    );
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut r =
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html)
            .into_response();
    if let Some(csp) = csp.and_then(|c| header::HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    r
}

/// The page a refused sign-in or launch lands on: what happened, in words, and the way back.
fn refused_page(r: &Refusal) -> Response {
    page(r.status(), r.code(), &r.words())
}

pub(crate) fn page(status: u16, reason: &str, words: &str) -> Response {
    let body = format!(
        "<h1>You are not signed in</h1><p id=\"sso-refused\" data-reason=\"{reason}\">{words}</p>\
         <p><a href=\"/app/\">Back to the sign-in page</a></p>",
        reason = escape(reason),
        words = escape(words),
    );
    html_page(if status >= 400 { status } else { 400 }, "Not signed in", &body, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_https_off_loopback() {
        assert_eq!(https_problem("https://login.school.edu"), None);
        assert_eq!(https_problem("http://127.0.0.1:5556/"), None);
        assert!(https_problem("http://login.school.edu").is_some());
        assert!(https_problem("not a url").is_some());
    }

    #[test]
    fn domains() {
        assert!(domain_ok("school.edu") && domain_ok("mail.school-x.ac.uk"));
        assert!(!domain_ok("school") && !domain_ok(".edu") && !domain_ok("a b.edu") && !domain_ok("Gmail.com"));
    }
}
