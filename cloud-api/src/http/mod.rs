//! HTTP surface: routes, extractors, middleware and handlers.

pub mod admin;
pub mod assets;
pub mod catalog;
pub mod classroom;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod live;
pub mod login;
pub mod lti;
pub mod meta;
pub mod onboarding;
pub mod openapi;
pub mod replay;
pub mod routes;
pub mod sessions;
pub mod sso;
pub mod streams;
pub mod studio;
pub mod webhooks;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use routes::ApiRouter;
use shared_types::dto::SessionDto;
use shared_types::policy::{Action, Target};

/// Every route of the API, in one table.
pub fn api() -> ApiRouter {
    ApiRouter::default()
        .get("/healthz", "Process is up", meta::healthz)
        .get("/readyz", "Store is reachable", meta::readyz)
        .get("/", "Landing page", meta::index)
        .post("/api/auth/login", "Log in with email and password", login::login)
        .answers::<shared_types::dto::LoginResponse>()
        .audited("auth.login")
        .post("/api/auth/logout", "Revoke the current token", login::logout)
        .audited("auth.logout")
        .get("/api/auth/me", "The caller and their roles", login::me)
        .post("/api/auth/password", "Change one's own password (other sessions end)", onboarding::change_password)
        .audited("auth.password_change")
        .post("/api/auth/redeem", "Use an invite or reset link: set the password and sign in", login::redeem)
        .answers::<shared_types::dto::LoginResponse>()
        .audited("auth.redeem")
        .post("/api/auth/handoff", "A one-time sign-in link (a minute) for the caller's browser", login::handoff)
        .audited("auth.handoff")
        .post("/api/auth/handoff/redeem", "Use a hand-off link once: sign in like a login", login::redeem_handoff)
        .answers::<shared_types::dto::LoginResponse>()
        .audited("auth.handoff_redeem")
        .get("/api/auth/sso/start", "Sign in with the school's own provider: off to it (302)", sso::start)
        .redirects()
        .error_pages()
        .get("/api/auth/sso/callback", "The school's provider sends the person back here", sso::callback)
        .redirects()
        .error_pages()
        .audited("auth.sso")
        .post(
            "/api/auth/sso/token",
            "A native app (the studio) trades its sign-in code and PKCE verifier for a session",
            sso::token,
        )
        .answers::<shared_types::dto::LoginResponse>()
        .audited("auth.sso_token")
        .get("/api/admin/tenants/{id}/sso", "A school's single sign-on (OpenID Connect) settings", sso::settings)
        .put(
            "/api/admin/tenants/{id}/sso",
            "Set the school's OpenID provider, email domains and password sign-in",
            sso::set_settings,
        )
        .audited("tenant.sso")
        .get(
            "/api/admin/tenants/{id}/lti/platforms",
            "A school's LTI 1.3 platforms and the tool's addresses",
            lti::platforms,
        )
        .post(
            "/api/admin/tenants/{id}/lti/platforms",
            "Register a learning platform (LMS) that launches classes with LTI 1.3",
            lti::add_platform,
        )
        .audited("tenant.lti_platform")
        .get("/api/lti/login", "A platform's LTI launch begins here: off to its authorization (302)", lti::login_get)
        .redirects()
        .error_pages()
        .post("/api/lti/login", "The same, posted as a form", lti::login_post)
        .redirects()
        .error_pages()
        .post(
            "/api/lti/launch",
            "The platform's signed launch, posted by the browser: into the class (302)",
            lti::launch,
        )
        .redirects()
        .error_pages()
        .audited("auth.lti_launch")
        .post("/api/lti/deep-link", "An instructor's choice of the class a deep link places (a page)", lti::place)
        .error_pages()
        .audited("lti.deep_link")
        .get("/api/lti/jwks", "The LTI tool's public keys (JWKS)", lti::jwks)
        .post("/api/admin/lti/keys", "A new signing key for the LTI tool (platform admin)", lti::rotate_key)
        .audited("lti.key_rotate")
        .post("/api/admin/tenants", "Create a tenant (platform admin)", admin::create_tenant)
        .audited("tenant.create")
        .get("/api/admin/tenants/{id}/settings", "A school's transcription settings", admin::tenant_settings)
        .put(
            "/api/admin/tenants/{id}/settings",
            "Set the school's recogniser model and default class language",
            admin::set_tenant_settings,
        )
        .audited("tenant.settings")
        .post("/api/admin/users", "Create a user", admin::create_user)
        .audited("user.create")
        .get("/api/admin/users", "Users of the tenant (?q= email or name, ?cursor=)", admin::list_users)
        .post(
            "/api/admin/users/{id}/deactivate",
            "Deactivate a user (revokes their tokens at once)",
            admin::deactivate_user,
        )
        .audited("user.deactivate")
        .post("/api/admin/users/{id}/reactivate", "Reactivate a user", admin::reactivate_user)
        .audited("user.reactivate")
        .post(
            "/api/admin/users/import",
            "Import a roster (text/csv: email,name,role,courseId)",
            onboarding::import_roster,
        )
        .audited("user.import")
        .post("/api/admin/users/{id}/invite", "A fresh invite link for a user", onboarding::invite)
        .audited("user.invite")
        .post("/api/admin/users/{id}/password-reset", "A password-reset link for a user", onboarding::reset_link)
        .audited("user.password_reset")
        .get(
            "/api/admin/audit",
            "The audit log, newest first (?actor=&action=&from=&to=&cursor=)",
            onboarding::audit_log,
        )
        .post("/api/admin/roles", "Grant a role", admin::grant_role)
        .audited("role.grant")
        .delete("/api/admin/roles", "Revoke a role", admin::revoke_role)
        .audited("role.revoke")
        .post("/api/courses", "Create a course", catalog::create_course)
        .audited("course.create")
        .get("/api/courses", "Courses the caller may see", catalog::list_courses)
        .post("/api/courses/{course_id}/lessons", "Add a lesson", catalog::create_lesson)
        .audited("lesson.create")
        .get("/api/courses/{course_id}/lessons", "Lessons of a course", catalog::list_lessons)
        .post(
            "/api/courses/{course_id}/lti/roster",
            "Enrol the course's members as its learning platform lists them (LTI names and roles)",
            lti::sync_roster,
        )
        .audited("course.lti_roster")
        .get("/api/courses/{course_id}/people", "People of a course by name (no emails)", catalog::people)
        .get("/api/lessons/{lesson_id}/sessions", "Sessions of a lesson", sessions::lesson_sessions)
        .post("/api/sessions", "Schedule a session", sessions::create)
        .get("/api/sessions/{id}", "One session", sessions::get)
        .post("/api/sessions/start", "Start a session (teacher)", sessions::start)
        .post("/api/sessions/join", "Join a live session", sessions::join)
        .post("/api/sessions/leave", "Leave a session", sessions::leave)
        .post("/api/sessions/end", "End a session", sessions::end)
        .get("/api/sessions/{id}/events", "Events after a sequence", events::list)
        .post("/api/sessions/{id}/events:batch", "Append a journal batch (studio sync)", events::batch)
        .get("/api/sessions/{id}/state", "Folded session state at head or ?at=SEQ", events::state)
        .get("/api/sessions/{id}/live", "WebSocket: events after ?after=SEQ, then live", live::socket)
        .get("/metrics", "Prometheus metrics", meta::metrics)
        .post("/api/studio/scenes", "Create a scene (presenters)", studio::create_scene)
        .patch("/api/studio/scenes/{scene_id}", "Update or activate a scene", studio::update_scene)
        .post_upload("/api/studio/assets", "Upload a slide deck (PDF) or image (multipart)", assets::upload)
        .get("/api/studio/assets/{asset_id}", "An asset with fresh signed URLs", assets::get_asset)
        .get("/api/blobs/{*key}", "Signed download from the local blob store", assets::download)
        .post("/api/studio/slides/show", "Show a slide page", studio::show_slide)
        .post("/api/whiteboard/strokes", "Add a batch of strokes", studio::add_strokes)
        .post("/api/whiteboard/erase", "Erase strokes", studio::erase)
        .post("/api/whiteboard/clear", "Clear a board", studio::clear)
        .post("/api/whiteboard/undo", "Undo the last stroke batch on a board", studio::undo)
        .post("/api/chat", "Post a chat message", classroom::post_chat)
        .post("/api/chat/{message_id}/hide", "Hide a chat message (moderators)", classroom::hide_chat)
        .get("/api/sessions/{id}/chat", "Chat of a session", classroom::list_chat)
        .post("/api/questions", "Ask a question", classroom::ask)
        .post("/api/questions/{question_id}/upvote", "Upvote a question (once per user)", classroom::upvote)
        .post("/api/questions/{question_id}/answer", "Mark a question answered", classroom::answer)
        .post("/api/questions/{question_id}/dismiss", "Dismiss a question", classroom::dismiss)
        .get("/api/sessions/{id}/questions", "Open questions, most upvoted first", classroom::list_questions)
        .post("/api/polls", "Open a poll (presenters)", classroom::open_poll)
        .post("/api/polls/{poll_id}/responses", "Vote (once per user)", classroom::vote)
        .post("/api/polls/{poll_id}/close", "Close a poll", classroom::close_poll)
        .get("/api/polls/{poll_id}", "A poll with its live tally", classroom::get_poll)
        .post("/api/sessions/{id}/hand", "Raise or lower one's hand", classroom::hand)
        .post("/api/sessions/{id}/hand/lower", "Lower a participant's hand (moderators)", classroom::lower_hand)
        .post("/api/sessions/{id}/highlights", "Mark a highlight", classroom::highlight)
        .post("/api/sessions/{id}/language", "Set the language the class is taught in", classroom::set_language)
        .post_upload(
            "/api/sessions/{id}/recordings",
            "Upload a class recording (raw body or multipart)",
            replay::upload_recording,
        )
        .post("/api/sessions/{id}/recordings/uploads", "Start a resumable recording upload", replay::start_upload)
        .get("/api/sessions/{id}/recordings/uploads/{upload_id}", "Parts received so far", replay::get_upload)
        .put_upload(
            "/api/sessions/{id}/recordings/uploads/{upload_id}/parts/{n}",
            "Send one part (replaces it if sent again)",
            replay::put_part,
        )
        .post(
            "/api/sessions/{id}/recordings/uploads/{upload_id}/complete",
            "Join the parts into the recording",
            replay::complete_upload,
        )
        .post("/api/artifacts/process", "Process a recording again (admins)", replay::process)
        .audited("job.process")
        .post("/api/webhooks/livekit", "LiveKit webhooks (signed)", webhooks::livekit)
        .post("/api/sessions/{id}/destinations", "Add an RTMP destination (key sealed, never returned)", streams::add)
        .audited("stream.destination.add")
        .get("/api/sessions/{id}/destinations", "Destinations of a session", streams::list)
        .delete(
            "/api/sessions/{id}/destinations/{dest_id}",
            "Remove a destination (live: UpdateStream)",
            streams::remove,
        )
        .audited("stream.destination.remove")
        .post("/api/sessions/{id}/stream", "Start or update the stream egress", streams::start)
        .audited("stream.start")
        .delete("/api/sessions/{id}/stream", "Stop the stream", streams::stop)
        .audited("stream.stop")
        .get("/api/replays/{id}", "Replay: state, recordings, transcript, chapters, highlights", replay::replay)
        .answers::<shared_types::media::ReplayDto>()
        .get("/api/courses/{course_id}/search", "Search transcripts across a course", replay::search)
        .get("/api/admin/jobs", "Pipeline jobs (?state=failed)", replay::jobs)
        .post("/api/admin/jobs/{id}/retry", "Retry a failed job", replay::retry)
        .audited("job.retry")
}

/// Allow `action` on `target`, or answer 403.
pub fn ensure(caller: &Caller, action: Action, target: &Target) -> ApiResult<()> {
    if caller.actor.may(action, target) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// The session's RBAC target once `action` on it is allowed: another tenant's session is 404, a
/// missing role 403.
pub async fn authorize(
    app: &AppState,
    caller: &Caller,
    id: shared_types::SessionId,
    action: Action,
) -> ApiResult<Target> {
    let (_, target) = session_target(app, caller, id).await?;
    ensure(caller, action, &target)?;
    Ok(target)
}

/// The session (in the caller's tenant, else 404) and its RBAC target.
pub async fn session_target(
    app: &AppState,
    caller: &Caller,
    id: shared_types::SessionId,
) -> ApiResult<(SessionDto, Target)> {
    let s = app.store.session(caller.user.tenant_id, id).await?.ok_or_else(|| ApiError::not_found("session"))?;
    let target = Target::session(s.tenant_id, s.course_id, s.id);
    Ok((s, target))
}
