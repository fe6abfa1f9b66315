//! `cloud-api demo`: a demo tenant with a course, a lesson, a session, a teacher and a student.

use crate::app::create_platform_admin;
use crate::auth;
use crate::store::{NewEvent, Store};
use chrono::{Duration, Utc};
use shared_types::{Role, RoleGrant, Scope, SessionEvent};

pub const TENANT: &str = "Demo School";
pub const COURSE: &str = "Physics 101";
pub const PASSWORD: &str = "demo-password";
pub const LOGINS: [(&str, &str); 3] =
    [("admin@demo.school", "admin"), ("teacher@demo.school", "teacher"), ("student@demo.school", "student")];
pub const PLATFORM_ADMIN: &str = "platform@demo.school";

/// Seed once; running it again changes nothing.
pub async fn seed(store: &Store) -> anyhow::Result<()> {
    if store.tenant_by_name(TENANT).await?.is_some() {
        return Ok(());
    }
    if store.user_by_email(PLATFORM_ADMIN).await?.is_none() {
        create_platform_admin(store, PLATFORM_ADMIN, PASSWORD).await?;
    }
    let tenant = store.create_tenant(TENANT).await?;
    let course = store.create_course(tenant.id, COURSE).await?;
    let lesson = store.create_lesson(tenant.id, course.id, "Lesson 1: Motion", 1).await?;
    let hash = auth::hash_password(PASSWORD)?;
    let mut teacher = None;
    for (email, role) in LOGINS {
        let user = store.create_user(tenant.id, email, Some(&format!("Demo {role}")), &hash, false).await?;
        let (role, scope, scope_id) = match role {
            "admin" => (Role::Admin, Scope::Tenant, tenant.id.0),
            "teacher" => (Role::Teacher, Scope::Course, course.id.0),
            _ => (Role::Student, Scope::Course, course.id.0),
        };
        store.grant(tenant.id, user.id, RoleGrant { role, scope, scope_id: Some(scope_id) }).await?;
        if role == Role::Teacher {
            teacher = Some(user.id);
        }
    }
    let start = Utc::now() + Duration::minutes(5);
    let end = start + Duration::hours(1);
    let first = NewEvent {
        idempotency_key: "demo-schedule".into(),
        actor_id: teacher,
        actor_role: Some(Role::Teacher),
        occurred_at: None,
        event: SessionEvent::SessionScheduled { scheduled_start: start, scheduled_end: end },
    };
    if store.create_session(tenant.id, &lesson, start, end, first).await?.is_err() {
        anyhow::bail!("the demo session could not be scheduled");
    }
    Ok(())
}

/// Newest modification time under `dir` (recursively).
fn newest(dir: &std::path::Path) -> Option<std::time::SystemTime> {
    let mut latest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() { newest(&path) } else { entry.metadata().and_then(|m| m.modified()).ok() };
        latest = latest.max(t);
    }
    latest
}

/// From a checkout, `cloud-api demo` builds the browser app when it is missing or older than its
/// sources (`scripts/build-web.sh`: wasm target, wasm-bindgen-cli, npm; minutes the first time,
/// seconds after), so a fresh clone's run command shows the sign-in page. Elsewhere (an installed
/// binary, `STUDENT_WEB_DIR` set) it does nothing.
pub fn build_web_if_stale() {
    let root = std::path::Path::new(".");
    let script = root.join("scripts/build-web.sh");
    if !script.exists() || std::env::var_os("STUDENT_WEB_DIR").is_some() {
        return;
    }
    let built = root.join(crate::config::DEFAULT_WEB_DIR).join("pkg/student_web_bg.wasm");
    let built_at = std::fs::metadata(&built).and_then(|m| m.modified()).ok();
    let sources = ["student-web/src", "student-web/media/src", "student-web/media/pages", "shared-types/src"]
        .iter()
        .filter_map(|d| newest(&root.join(d)))
        .max();
    if built_at.is_some() && built_at >= sources {
        return;
    }
    println!("building the browser app (scripts/build-web.sh; the first time takes a few minutes)…");
    match std::process::Command::new("bash").arg(&script).status() {
        Ok(s) if s.success() => {}
        _ => eprintln!("the browser app could not be built; the API still runs (see scripts/build-web.sh)"),
    }
}

pub fn print_logins(addr: std::net::SocketAddr) {
    println!("\nTeaching studio cloud-api with demo data (sign in with a login below): http://{addr}/");
    println!("  password for every demo login: {PASSWORD}");
    println!("  platform admin: {PLATFORM_ADMIN}");
    for (email, role) in LOGINS {
        println!("  {role:<8} {email}");
    }
    println!();
}
