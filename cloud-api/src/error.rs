//! One error type for every handler, rendered as problem+json (API.md "Errors").

use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use shared_types::error::{ErrorCode, Problem};
use shared_types::Rejection;

#[derive(Debug)]
pub struct ApiError {
    pub problem: Box<Problem>,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { problem: Box::new(Problem::of(code, message)), retry_after: None }
    }

    pub fn details(mut self, details: Value) -> Self {
        self.problem.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// 422 with `details.fields`: `{field: reason}`.
    pub fn validation(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(ErrorCode::ValidationFailed, format!("{field}: {reason}"))
            .details(json!({ "fields": { field: reason } }))
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "a valid bearer token is required")
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "you may not do this")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(ErrorCode::RateLimited, "too many attempts; try again later")
        }
    }

    /// 503 with `Retry-After`: the server sheds load instead of queueing without bound.
    pub fn busy(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(ErrorCode::ServerBusy, "the server is busy; try again in a moment")
        }
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "something went wrong on our side; it has been logged")
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(name) => match name.as_str() {
                "users_email_key" => ApiError::conflict("a user with this email already exists"),
                _ => {
                    tracing::warn!(constraint = %name, "constraint violation");
                    ApiError::conflict("the request conflicts with existing data")
                }
            },
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        let e = ApiError::new(r.error_code(), r.to_string());
        match &r {
            Rejection::Invalid(reason) => e.details(json!({ "fields": { "payload": reason } })),
            _ => e,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}
