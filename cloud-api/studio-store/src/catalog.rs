//! Courses, lessons and session rows (the session's facts live in the event log).

use super::*;
use shared_types::dto::{CourseDto, LessonDto, PersonDto, SessionDto};
use shared_types::{CourseId, LessonId, Role, TenantId, UserId};

fn course_from(r: &AnyRow) -> StoreResult<CourseDto> {
    Ok(CourseDto { id: col_uuid(r, "id")?, tenant_id: col_uuid(r, "tenant_id")?, title: r.try_get("title")? })
}

fn lesson_from(r: &AnyRow) -> StoreResult<LessonDto> {
    Ok(LessonDto {
        id: col_uuid(r, "id")?,
        course_id: col_uuid(r, "course_id")?,
        title: r.try_get("title")?,
        order: r.try_get::<i64, _>("lesson_order")? as i32,
    })
}

/// A session row with its head: the highest sequence in its log (the log's `(session_id, sequence)`
/// key assigns sequences; no column keeps a copy that every append would rewrite).
pub(crate) const SESSION_COLS: &str = "id, lesson_id, course_id, tenant_id, scheduled_start, scheduled_end, status, \
     (select coalesce(max(e.sequence), 0) from session_state_events e where e.session_id = sessions.id) as head, \
     (select l.title from lessons l where l.id = sessions.lesson_id) as lesson_title, \
     (select c.title from courses c where c.id = sessions.course_id) as course_title";

pub(crate) fn session_from(r: &AnyRow) -> StoreResult<SessionDto> {
    Ok(SessionDto {
        id: col_uuid(r, "id")?,
        lesson_id: col_uuid(r, "lesson_id")?,
        course_id: col_uuid(r, "course_id")?,
        tenant_id: col_uuid(r, "tenant_id")?,
        scheduled_start: col_ts(r, "scheduled_start")?,
        scheduled_end: col_ts(r, "scheduled_end")?,
        status: r.try_get("status")?,
        head: r.try_get::<i64, _>("head")? as u64,
        lesson_title: r.try_get::<Option<String>, _>("lesson_title")?.unwrap_or_default(),
        course_title: r.try_get::<Option<String>, _>("course_title")?.unwrap_or_default(),
    })
}

impl Store {
    pub async fn create_course(&self, tenant: TenantId, title: &str) -> StoreResult<CourseDto> {
        let id = CourseId::new();
        let mut w = self.write().await?;
        sqlx::query("insert into courses (id, tenant_id, title, created_at) values ($1, $2, $3, $4)")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(title)
            .bind(ts(Utc::now()))
            .execute(&mut *w.tx)
            .await?;
        w.commit().await?;
        Ok(CourseDto { id, tenant_id: tenant, title: title.to_string() })
    }

    /// A course of `tenant`; another tenant's course is `None`, like a missing one.
    pub async fn course(&self, tenant: TenantId, id: CourseId) -> StoreResult<Option<CourseDto>> {
        let r = sqlx::query("select id, tenant_id, title from courses where id = $1 and tenant_id = $2")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(course_from).transpose()
    }

    pub async fn courses(&self, tenant: TenantId) -> StoreResult<Vec<CourseDto>> {
        let rows = sqlx::query("select id, tenant_id, title from courses where tenant_id = $1 order by created_at, id")
            .bind(tenant.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(course_from).collect()
    }

    pub async fn course_by_title(&self, tenant: TenantId, title: &str) -> StoreResult<Option<CourseDto>> {
        let r = sqlx::query("select id, tenant_id, title from courses where tenant_id = $1 and title = $2 limit 1")
            .bind(tenant.to_string())
            .bind(title)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(course_from).transpose()
    }

    pub async fn create_lesson(
        &self,
        tenant: TenantId,
        course: CourseId,
        title: &str,
        order: i32,
    ) -> StoreResult<LessonDto> {
        let id = LessonId::new();
        let mut w = self.write().await?;
        sqlx::query(
            "insert into lessons (id, tenant_id, course_id, title, lesson_order, created_at) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(course.to_string())
        .bind(title)
        .bind(order as i64)
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await
        .map_err(on_constraint)?;
        w.commit().await?;
        Ok(LessonDto { id, course_id: course, title: title.to_string(), order })
    }

    pub async fn lesson(&self, tenant: TenantId, id: LessonId) -> StoreResult<Option<LessonDto>> {
        let r = sqlx::query("select id, course_id, title, lesson_order from lessons where id = $1 and tenant_id = $2")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(lesson_from).transpose()
    }

    pub async fn lessons(&self, tenant: TenantId, course: CourseId) -> StoreResult<Vec<LessonDto>> {
        let rows = sqlx::query(
            "select id, course_id, title, lesson_order from lessons where tenant_id = $1 and course_id = $2 \
             order by lesson_order, created_at",
        )
        .bind(tenant.to_string())
        .bind(course.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lesson_from).collect()
    }

    /// The people of a course: everyone with a grant on it, and the school's staff (tenant grants),
    /// each once with their course role when they have one; by name.
    pub async fn people(&self, tenant: TenantId, course: CourseId) -> StoreResult<Vec<PersonDto>> {
        let rows = sqlx::query(
            "select u.id, u.display_name, r.name as role, ur.scope from user_roles ur \
             join users u on u.id = ur.user_id and u.tenant_id = ur.tenant_id join roles r on r.id = ur.role_id \
             where ur.tenant_id = $1 and ((ur.scope = 'course' and ur.scope_id = $2) or ur.scope = 'tenant') \
             order by coalesce(u.display_name, ''), u.id, case when ur.scope = 'course' then 0 else 1 end",
        )
        .bind(tenant.to_string())
        .bind(course.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<PersonDto> = Vec::with_capacity(rows.len());
        for r in &rows {
            let user_id: UserId = col_uuid(r, "id")?;
            // The first row of a person is their course grant when they have one.
            if out.last().is_some_and(|p| p.user_id == user_id) {
                continue;
            }
            let role: String = r.try_get("role")?;
            out.push(PersonDto {
                user_id,
                name: r.try_get::<Option<String>, _>("display_name")?.filter(|n| !n.trim().is_empty()),
                role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
            });
        }
        Ok(out)
    }

    pub async fn session(&self, tenant: TenantId, id: SessionId) -> StoreResult<Option<SessionDto>> {
        let r = sqlx::query(&format!("select {SESSION_COLS} from sessions where id = $1 and tenant_id = $2"))
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(session_from).transpose()
    }

    pub async fn sessions_of_lesson(&self, tenant: TenantId, lesson: LessonId) -> StoreResult<Vec<SessionDto>> {
        let rows = sqlx::query(&format!(
            "select {SESSION_COLS} from sessions where tenant_id = $1 and lesson_id = $2 order by scheduled_start, id"
        ))
        .bind(tenant.to_string())
        .bind(lesson.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(session_from).collect()
    }
}

/// Session-owned objects addressed by their own id in the API.
#[derive(Clone, Copy, Debug)]
pub enum Owned {
    Message,
    Question,
    Poll,
    Scene,
    Asset,
}

impl Owned {
    /// The table that knows the object's session, and the condition that picks its kind.
    fn lookup(self) -> &'static str {
        match self {
            Owned::Message => "session_objects where kind = 'message' and",
            Owned::Question => "session_objects where kind = 'question' and",
            Owned::Poll => "session_objects where kind = 'poll' and",
            Owned::Scene => "session_objects where kind = 'scene' and",
            Owned::Asset => "studio_assets where",
        }
    }
}

impl Store {
    /// The session an object belongs to, within `tenant`.
    pub async fn owner_session(&self, tenant: TenantId, kind: Owned, id: uuid::Uuid) -> StoreResult<Option<SessionId>> {
        let r = sqlx::query(&format!("select session_id from {} id = $1 and tenant_id = $2", kind.lookup()))
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| col_uuid(&r, "session_id")).transpose()
    }
}

impl Store {
    /// A session by id alone (webhooks carry no tenant; the room name is the session).
    pub async fn session_by_id(&self, id: SessionId) -> StoreResult<Option<SessionDto>> {
        let r = sqlx::query(&format!("select {SESSION_COLS} from sessions where id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(session_from).transpose()
    }

    pub async fn webhook_seen(&self, id: &str) -> StoreResult<bool> {
        Ok(sqlx::query("select 1 from webhook_events where id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Forget webhook ids older than `keep` (LiveKit retries within minutes); how many went.
    pub async fn purge_webhooks(&self, keep: chrono::Duration) -> StoreResult<u64> {
        self.purge_older("webhook_events", "received_at", keep).await
    }

    pub async fn mark_webhook(&self, id: &str, kind: &str) -> StoreResult<()> {
        let mut w = self.write().await?;
        sqlx::query(
            "insert into webhook_events (id, kind, received_at) values ($1, $2, $3) on conflict (id) do nothing",
        )
        .bind(id)
        .bind(kind)
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await?;
        w.commit().await
    }
}
