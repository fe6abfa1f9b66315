//! Extractors whose rejections are problem+json instead of axum's plain text.

use crate::error::ApiError;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;
use shared_types::error::ErrorCode;

/// JSON body: syntax errors → 400, shape/type errors → 422 `validation_failed`, too big → 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                let reason = e.body_text();
                Err(ApiError::new(ErrorCode::ValidationFailed, "the request body does not match the expected shape")
                    .details(json!({ "fields": { "body": reason } })))
            }
            Err(JsonRejection::JsonSyntaxError(_)) => Err(ApiError::bad_request("the request body is not valid JSON")),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(ApiError::new(ErrorCode::UnsupportedMediaType, "send the body as application/json"))
            }
            Err(JsonRejection::BytesRejection(_)) => {
                Err(ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large"))
            }
            Err(_) => Err(ApiError::bad_request("the request body could not be read")),
        }
    }
}

/// A form body as a browser posts one (`application/x-www-form-urlencoded`): another type → 415,
/// unreadable → 400.
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(ApiForm(v)),
            Err(FormRejection::InvalidFormContentType(_)) => Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as application/x-www-form-urlencoded",
            )),
            Err(e) => Err(ApiError::bad_request(format!("invalid form: {}", e.body_text()))),
        }
    }
}

/// An extractor over request parts whose rejection is a problem+json 400 naming what was wrong.
macro_rules! parts_extractor {
    ($(#[$m:meta])* $name:ident, $inner:ident, $rejection:ty, $what:literal) => {
        $(#[$m])*
        pub struct $name<T>(pub T);

        impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for $name<T> {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                axum::extract::$inner::<T>::from_request_parts(parts, state)
                    .await
                    .map(|v| $name(v.0))
                    .map_err(|e: $rejection| ApiError::bad_request(format!(concat!($what, ": {}"), e.body_text())))
            }
        }
    };
}

parts_extractor!(
    /// Path parameters: a malformed id → 400.
    ApiPath, Path, PathRejection, "invalid path parameter"
);
parts_extractor!(
    /// Query string: malformed → 400.
    ApiQuery, Query, QueryRejection, "invalid query"
);

/// A multipart form: a body that is not one → 415 `unsupported_media_type`.
pub struct ApiMultipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Multipart::from_request(req, state).await.map(ApiMultipart).map_err(|_| {
            ApiError::new(ErrorCode::UnsupportedMediaType, "send the file as multipart/form-data with a boundary")
        })
    }
}

/// A `text/csv` body as text: another type → 415, not UTF-8 → 422, too big → 413.
pub struct CsvBody(pub String);

impl<S: Send + Sync> FromRequest<S> for CsvBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("text/csv") {
            return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "send the roster as text/csv"));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large"))?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::validation("body", "the file is not UTF-8 text (save it as CSV UTF-8)"))?;
        Ok(CsvBody(text.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(text)))
    }
}
