//! Courses and lessons.

use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::ensure;
use crate::http::extract::{ApiJson, ApiPath};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use shared_types::dto::{CourseDto, CreateCourse, CreateLesson, LessonDto, People};
use shared_types::policy::{Action, Target};
use shared_types::{CourseId, Scope, SessionId};

fn title(t: &str) -> ApiResult<&str> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 200 {
        return Err(ApiError::validation("title", "must be 1 to 200 characters"));
    }
    Ok(t)
}

pub async fn create_course(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiJson(req): ApiJson<CreateCourse>,
) -> ApiResult<(StatusCode, Json<CourseDto>)> {
    let tenant = caller.user.tenant_id;
    ensure(&caller, Action::CreateCourse, &Target::tenant(tenant))?;
    let course = app.store.create_course(tenant, title(&req.title)?).await?;
    audit.target(format!("course:{}", course.id));
    Ok((StatusCode::CREATED, Json(course)))
}

pub async fn list_courses(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<CourseDto>>> {
    let tenant = caller.user.tenant_id;
    // Courses reached through a session-scope grant are visible too.
    let mut via_session = Vec::new();
    for g in caller.actor.grants.iter().filter(|g| g.scope == Scope::Session) {
        if let Some(s) = app.store.session(tenant, SessionId(g.scope_id.unwrap_or_default())).await? {
            via_session.push(s.course_id);
        }
    }
    let all = app.store.courses(tenant).await?;
    let visible = all
        .into_iter()
        .filter(|c| caller.actor.may(Action::ViewCourse, &Target::course(tenant, c.id)) || via_session.contains(&c.id))
        .collect();
    Ok(Json(visible))
}

async fn course_target(app: &AppState, caller: &Caller, id: CourseId) -> ApiResult<Target> {
    let c = app.store.course(caller.user.tenant_id, id).await?.ok_or_else(|| ApiError::not_found("course"))?;
    Ok(Target::course(c.tenant_id, c.id))
}

pub async fn create_lesson(
    State(app): State<AppState>,
    caller: Caller,
    audit: Audit,
    ApiPath(course_id): ApiPath<CourseId>,
    ApiJson(req): ApiJson<CreateLesson>,
) -> ApiResult<(StatusCode, Json<LessonDto>)> {
    let target = course_target(&app, &caller, course_id).await?;
    ensure(&caller, Action::ManageLessons, &target)?;
    let lesson = app.store.create_lesson(target.tenant, course_id, title(&req.title)?, req.order).await?;
    audit.target(format!("course:{course_id} lesson:{}", lesson.id));
    Ok((StatusCode::CREATED, Json(lesson)))
}

pub async fn list_lessons(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(course_id): ApiPath<CourseId>,
) -> ApiResult<Json<Vec<LessonDto>>> {
    let target = course_target(&app, &caller, course_id).await?;
    ensure(&caller, Action::ViewCourse, &target)?;
    Ok(Json(app.store.lessons(target.tenant, course_id).await?))
}

/// Who is in a course, by name (no emails): the room, the present view, the replay and the studio
/// name chat and question authors with it.
pub async fn people(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(course_id): ApiPath<CourseId>,
) -> ApiResult<Json<People>> {
    let target = course_target(&app, &caller, course_id).await?;
    ensure(&caller, Action::ViewCourse, &target)?;
    Ok(Json(People { people: app.store.people(target.tenant, course_id).await? }))
}
