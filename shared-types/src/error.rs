//! The problem+json body every non-2xx answer carries (RFC 9457-compatible).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

macro_rules! error_codes {
    ($($(#[$m:meta])* $variant:ident = ($status:literal, $code:literal)),* $(,)?) => {
        /// Every error code the API answers with, each with its HTTP status (API.md "Errors").
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $($(#[$m])* $variant),* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The `code` field of the problem+json body.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),* }
            }

            /// The HTTP status this code is answered with.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status),* }
            }
        }
    };
}

error_codes! {
    BadRequest = (400, "bad_request"),
    IdempotencyKeyMissing = (400, "idempotency_key_missing"),
    Unauthenticated = (401, "unauthenticated"),
    Forbidden = (403, "forbidden"),
    SignatureInvalid = (403, "signature_invalid"),
    NotParticipant = (403, "not_participant"),
    NotFound = (404, "not_found"),
    MethodNotAllowed = (405, "method_not_allowed"),
    RequestTimeout = (408, "request_timeout"),
    Conflict = (409, "conflict"),
    IdempotencyKeyInFlight = (409, "idempotency_key_in_flight"),
    OutOfOrder = (409, "out_of_order"),
    SessionNotLive = (409, "session_not_live"),
    SessionAlreadyStarted = (409, "session_already_started"),
    SessionEnded = (409, "session_ended"),
    SessionAlreadyScheduled = (409, "session_already_scheduled"),
    Duplicate = (409, "duplicate"),
    PollClosed = (409, "poll_closed"),
    NothingToStream = (409, "nothing_to_stream"),
    AlreadyVoted = (409, "already_voted"),
    AlreadyUpvoted = (409, "already_upvoted"),
    PayloadTooLarge = (413, "payload_too_large"),
    UnsupportedMediaType = (415, "unsupported_media_type"),
    ValidationFailed = (422, "validation_failed"),
    IdempotencyKeyReused = (422, "idempotency_key_reused"),
    RosterInvalid = (422, "roster_invalid"),
    LinkInvalid = (422, "link_invalid"),
    UpgradeRequired = (426, "upgrade_required"),
    RateLimited = (429, "rate_limited"),
    Internal = (500, "internal"),
    /// A school's learning platform (LTI) did not answer, or refused the tool.
    PlatformUnavailable = (502, "platform_unavailable"),
    LivekitUnavailable = (503, "livekit_unavailable"),
    EgressUnavailable = (503, "egress_unavailable"),
    BlobStoreUnavailable = (503, "blob_store_unavailable"),
    NotReady = (503, "not_ready"),
    ServerBusy = (503, "server_busy"),
}

impl Problem {
    /// The problem for `code`, with its status.
    pub fn of(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(code.status(), code.as_str(), message)
    }

    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            type_uri: format!("https://studio.example/errors/{code}"),
            title: title_for(status).to_string(),
            status,
            code: code.to_string(),
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

fn title_for(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c:?} repeats its code");
            assert!((400..600).contains(&c.status()), "{c:?}");
            // The serde name is the wire code.
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::Value::from(c.as_str()));
        }
        let p = Problem::of(ErrorCode::IdempotencyKeyInFlight, "busy");
        assert_eq!((p.status, p.code.as_str()), (409, "idempotency_key_in_flight"));
    }
}
