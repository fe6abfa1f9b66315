//! Roles and the scopes a role is granted at (spec §3.1 Role / UserRole).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Teacher,
    Student,
    Assistant,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Teacher, Role::Student, Role::Assistant, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Teacher => "teacher",
            Role::Student => "student",
            Role::Assistant => "assistant",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Tenant,
    Course,
    Session,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Tenant => "tenant",
            Scope::Course => "course",
            Scope::Session => "session",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        [Scope::Tenant, Scope::Course, Scope::Session].into_iter().find(|r| r.as_str() == s)
    }
}

/// One grant: `role` at `scope`. For tenant scope `scope_id` is the tenant id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleGrant {
    pub role: Role,
    pub scope: Scope,
    pub scope_id: Option<Uuid>,
}
