//! A school to test in: tenant, course, lesson, session and one user per role.

use crate::*;
use serde_json::{json, Value};
use shared_types::{CourseId, Role, Scope, TenantId};

/// A school: tenant, course, lesson, a scheduled session, and one user per role.
pub struct School {
    pub tenant: TenantId,
    pub course: CourseId,
    pub lesson: String,
    pub session: String,
    pub admin: TestUser,
    pub teacher: TestUser,
    pub assistant: TestUser,
    pub student: TestUser,
    /// A student of the same tenant with no grant on this course.
    pub outsider: TestUser,
}

impl TestApp {
    pub async fn school(&self, name: &str) -> School {
        let tenant = self.store.create_tenant(name).await.expect("tenant").id;
        let course = self.store.create_course(tenant, "Course").await.expect("course").id;
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let admin = self.user(tenant, &format!("admin-{tag}@x.test"), &[(Role::Admin, Scope::Tenant, tenant.0)]).await;
        let teacher =
            self.user(tenant, &format!("teacher-{tag}@x.test"), &[(Role::Teacher, Scope::Course, course.0)]).await;
        let assistant =
            self.user(tenant, &format!("assistant-{tag}@x.test"), &[(Role::Assistant, Scope::Course, course.0)]).await;
        let student =
            self.user(tenant, &format!("student-{tag}@x.test"), &[(Role::Student, Scope::Course, course.0)]).await;
        let other_course = self.store.create_course(tenant, "Other").await.expect("course").id;
        let outsider = self
            .user(tenant, &format!("outsider-{tag}@x.test"), &[(Role::Student, Scope::Course, other_course.0)])
            .await;
        let lesson = self
            .post(&format!("/api/courses/{course}/lessons"), &teacher.token, json!({"title": "L1", "order": 1}))
            .await;
        assert_eq!(lesson.status, 201, "{:?}", lesson.body);
        let lesson = lesson.body["id"].as_str().expect("lesson id").to_string();
        let session = self.schedule(&teacher.token, &lesson).await;
        School { tenant, course, lesson, session, admin, teacher, assistant, student, outsider }
    }

    pub async fn schedule(&self, token: &str, lesson: &str) -> String {
        let start = chrono::Utc::now();
        let s = self
            .post(
                "/api/sessions",
                token,
                json!({"lessonId": lesson, "scheduledStart": start, "scheduledEnd": start + chrono::Duration::hours(1)}),
            )
            .await;
        assert_eq!(s.status, 201, "{:?}", s.body);
        s.body["id"].as_str().expect("session id").to_string()
    }

    /// Start (teacher) and join (student) in one go.
    pub async fn live(&self, school: &School) {
        let a = self.post("/api/sessions/start", &school.teacher.token, json!({"sessionId": school.session})).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        let a = self.post("/api/sessions/join", &school.student.token, json!({"sessionId": school.session})).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
    }

    /// All events of a session, read page by page.
    pub async fn all_events(&self, token: &str, session: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let a = self.get(&format!("/api/sessions/{session}/events?after={after}&limit=1000"), token).await;
            assert_eq!(a.status, 200, "{:?}", a.body);
            let page = a.body["events"].as_array().expect("events").clone();
            if page.is_empty() {
                return out;
            }
            after = page.last().expect("last")["sequence"].as_u64().expect("seq");
            out.extend(page);
        }
    }
}

/// Assert `events` carry sequences exactly 1..=n.
pub fn assert_gap_free(events: &[Value]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence"].as_u64(), Some(i as u64 + 1), "gap or duplicate at index {i}");
    }
}
