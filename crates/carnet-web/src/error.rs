//! Maps the application error to HTTP once: JSON error bodies for the API,
//! an error page for the browser. Internal details are logged, never shown.

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::AppError;
use serde_json::json;

fn status_and_code(e: &AppError) -> (StatusCode, &'static str) {
    match e {
        AppError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        AppError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
        AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        AppError::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
        AppError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        AppError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// An error answered as JSON: `{"error": {"code", "message", "fields"}}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

/// The one error shape of the API.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `validation_failed`, `not_found`, `conflict`, …
    pub code: String,
    /// For people.
    pub message: String,
    /// The reason per field name (input errors; empty otherwise).
    pub fields: std::collections::BTreeMap<String, String>,
}

pub fn json_error(status: StatusCode, code: &str, message: &str, fields: serde_json::Value) -> Response {
    let fields = serde_json::from_value(fields).unwrap_or_default();
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message: message.into(),
            fields,
        },
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = status_and_code(&self.0);
        let (message, fields) = match &self.0 {
            AppError::Invalid(f) => (
                format!("Invalid input: {}", f.summary()),
                serde_json::to_value(&f.0).unwrap_or_default(),
            ),
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                ("Something went wrong on our side; it has been logged.".to_string(), json!({}))
            }
            AppError::Unauthorized => (
                "Authentication required: a session or an API key (Authorization: Bearer).".into(),
                json!({}),
            ),
            AppError::Forbidden => ("Your role does not allow this.".into(), json!({})),
            AppError::NotFound => ("Not found.".into(), json!({})),
            other => (other.to_string(), json!({})),
        };
        json_error(status, code, &message, fields)
    }
}

/// Unknown routes: JSON under /api, a page elsewhere.
pub async fn fallback(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        json_error(StatusCode::NOT_FOUND, "route_not_found", "No such API route.", json!({}))
    } else {
        crate::pages::error_page(StatusCode::NOT_FOUND, None, "error.not_found")
    }
}

pub fn status_of(e: &AppError) -> StatusCode {
    status_and_code(e).0
}
