//! The RBAC policy table: the only place that answers "may actor X do Y on Z".

use crate::ids::{CourseId, SessionId, TenantId, UserId};
use crate::roles::{Role, RoleGrant, Scope};
use serde::{Deserialize, Serialize};

macro_rules! actions {
    ($($name:ident),* $(,)?) => {
        /// Everything an actor may ask to do.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub enum Action { $($name),* }

        impl Action {
            /// Every action, for deriving what an actor may do.
            pub const ALL: &'static [Action] = &[$(Action::$name),*];
        }
    };
}

actions!(
    CreateTenant,
    ManageUsers,
    GrantRoles,
    CreateCourse,
    ViewCourse,
    ManageLessons,
    ScheduleSession,
    ViewSession,
    StartSession,
    EndSession,
    SetLanguage,
    JoinSession,
    LeaveSession,
    ReadEvents,
    SyncJournal,
    Present,
    Moderate,
    Chat,
    AskQuestion,
    Vote,
    RaiseHand,
    MarkHighlight,
    UploadRecording,
    ProcessArtifacts,
    ViewReplay,
    ManageJobs,
    ManageStreams,
    ManageSettings,
);

/// Whether `role` presents (scenes, slides, whiteboard, polls, publishing media): the policy's
/// `Present` row, the one answer to "who presents".
pub fn presents(role: Role) -> bool {
    roles_for(Present).contains(&role)
}

use Action::*;
use Role::*;

/// The policy table: which roles (held at a scope covering the object) allow which action. A `match`,
/// so the compiler refuses an action without a row. Platform admins may additionally do anything an
/// `Admin` may, in any tenant.
pub const fn roles_for(action: Action) -> &'static [Role] {
    match action {
        CreateTenant => &[], // platform admins only
        ManageUsers => &[Admin],
        GrantRoles => &[Admin],
        CreateCourse => &[Admin, Teacher],
        ViewCourse => &[Admin, Teacher, Assistant, Student],
        ManageLessons => &[Admin, Teacher],
        ScheduleSession => &[Admin, Teacher],
        ViewSession => &[Admin, Teacher, Assistant, Student],
        StartSession => &[Teacher],
        EndSession => &[Teacher, Admin],
        SetLanguage => &[Teacher, Admin],
        JoinSession => &[Teacher, Assistant, Student],
        LeaveSession => &[Teacher, Assistant, Student],
        ReadEvents => &[Admin, Teacher, Assistant, Student],
        SyncJournal => &[Teacher, Assistant],
        Present => &[Teacher, Assistant],
        Moderate => &[Teacher, Assistant],
        Chat => &[Teacher, Assistant, Student],
        AskQuestion => &[Teacher, Assistant, Student],
        Vote => &[Teacher, Assistant, Student],
        RaiseHand => &[Teacher, Assistant, Student],
        MarkHighlight => &[Teacher, Assistant],
        UploadRecording => &[Teacher, Assistant],
        ProcessArtifacts => &[Admin],
        ViewReplay => &[Admin, Teacher, Assistant, Student],
        ManageJobs => &[Admin],
        ManageStreams => &[Teacher],
        ManageSettings => &[Admin],
    }
}

/// The object an action is aimed at: always a tenant, maybe narrower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub tenant: TenantId,
    pub course: Option<CourseId>,
    pub session: Option<SessionId>,
}

impl Target {
    pub fn tenant(tenant: TenantId) -> Self {
        Self { tenant, course: None, session: None }
    }
    pub fn course(tenant: TenantId, course: CourseId) -> Self {
        Self { tenant, course: Some(course), session: None }
    }
    pub fn session(tenant: TenantId, course: CourseId, session: SessionId) -> Self {
        Self { tenant, course: Some(course), session: Some(session) }
    }
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    pub tenant: TenantId,
    pub platform_admin: bool,
    pub grants: Vec<RoleGrant>,
}

impl Actor {
    /// Roles this actor holds at a scope that covers `target`. Another tenant's object yields none.
    pub fn roles_at(&self, target: &Target) -> Vec<Role> {
        if target.tenant != self.tenant {
            return Vec::new();
        }
        let mut roles: Vec<Role> = self
            .grants
            .iter()
            .filter(|g| match g.scope {
                Scope::Tenant => g.scope_id.is_none_or(|id| id == target.tenant.0),
                Scope::Course => target.course.is_some_and(|c| g.scope_id == Some(c.0)),
                Scope::Session => target.session.is_some_and(|s| g.scope_id == Some(s.0)),
            })
            .map(|g| g.role)
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// May this actor do `action` on `target`?
    pub fn may(&self, action: Action, target: &Target) -> bool {
        if self.platform_admin && action != JoinSession && action != StartSession {
            return true;
        }
        let allowed = roles_for(action);
        self.roles_at(target).iter().any(|r| allowed.contains(r))
    }

    /// The role this actor takes inside a session: teacher over assistant over student.
    pub fn session_role(&self, target: &Target) -> Option<Role> {
        let roles = self.roles_at(target);
        [Teacher, Assistant, Student].into_iter().find(|r| roles.contains(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn actor(grants: Vec<RoleGrant>, tenant: TenantId) -> Actor {
        Actor { user: UserId::new(), tenant, platform_admin: false, grants }
    }

    #[test]
    fn course_grant_covers_its_sessions_only() {
        let t = TenantId::new();
        let c1 = CourseId::new();
        let c2 = CourseId::new();
        let a = actor(vec![RoleGrant { role: Student, scope: Scope::Course, scope_id: Some(c1.0) }], t);
        assert!(a.may(JoinSession, &Target::session(t, c1, SessionId::new())));
        assert!(!a.may(JoinSession, &Target::session(t, c2, SessionId::new())));
        assert!(!a.may(Present, &Target::session(t, c1, SessionId::new())));
    }

    #[test]
    fn other_tenant_is_never_covered() {
        let t = TenantId::new();
        let a = actor(vec![RoleGrant { role: Admin, scope: Scope::Tenant, scope_id: Some(t.0) }], t);
        assert!(a.may(ManageUsers, &Target::tenant(t)));
        assert!(!a.may(ManageUsers, &Target::tenant(TenantId::new())));
    }

    #[test]
    fn session_grant_and_role_precedence() {
        let t = TenantId::new();
        let c = CourseId::new();
        let s = SessionId::new();
        let a = actor(
            vec![
                RoleGrant { role: Student, scope: Scope::Course, scope_id: Some(c.0) },
                RoleGrant { role: Assistant, scope: Scope::Session, scope_id: Some(s.0) },
            ],
            t,
        );
        assert_eq!(a.session_role(&Target::session(t, c, s)), Some(Assistant));
        assert_eq!(a.session_role(&Target::session(t, c, SessionId::new())), Some(Student));
        assert_eq!(a.session_role(&Target::session(t, CourseId(Uuid::nil()), SessionId::new())), None);
    }
}
