//! The closed sets of the artifact pipeline: job kinds and states, artifact kinds and statuses.
//! Stored and sent as their snake_case names.

use serde::{Deserialize, Serialize};

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),* }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($wire => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// What a pipeline job does.
    JobKind {
        ProcessRecording = "process_recording",
        FinalizeSession = "finalize_session",
        LiveCaptions = "live_captions",
    }
);

named_enum!(
    /// Where a job is: waiting, claimed by a worker, finished, or parked after its last attempt.
    JobState { Queued = "queued", Running = "running", Done = "done", Failed = "failed" }
);

named_enum!(
    /// What the pipeline makes from a recording.
    ArtifactKind {
        Transcript = "transcript",
        Chapters = "chapters",
        Highlights = "highlights",
        Captions = "captions",
        QaLinks = "qa_links",
    }
);

named_enum!(
    /// An artifact's outcome.
    ArtifactStatus { Ready = "ready", Failed = "failed" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::Value::from(k.as_str()));
        }
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(*s));
        }
        for a in ArtifactKind::ALL {
            assert_eq!(ArtifactKind::parse(a.as_str()), Some(*a));
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::Value::from(a.as_str()));
        }
        assert_eq!(JobState::parse("later"), None);
    }
}

/// A pipeline job as stored and as admins see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: crate::JobId,
    pub tenant_id: crate::TenantId,
    pub session_id: crate::SessionId,
    pub kind: JobKind,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_after: chrono::DateTime<chrono::Utc>,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
