//! Octopus-style JSON errors: `{ErrorMessage, Errors, ...}` with a 4xx/5xx status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use octopus_client::model::ErrorBody;

/// Summary used for validation failures, as Octopus does.
pub const VALIDATION_MESSAGE: &str = "There was a problem with your request.";

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `ErrorMessage`.
    pub message: String,
    /// `Errors`.
    pub errors: Vec<String>,
}

impl ApiError {
    /// Any status with a message and no detail list.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// 400 with one message, repeated in `Errors`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            errors: vec![message.clone()],
            message,
        }
    }

    /// 400 listing field problems (`"Field: problem"`).
    pub fn validation(errors: Vec<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: VALIDATION_MESSAGE.into(),
            errors,
        }
    }

    /// 404 for a missing resource.
    pub fn not_found(kind: &str, id: &str) -> Self {
        let id: String = id.chars().take(100).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            format!("The {kind} '{id}' was not found."),
        )
    }

    /// 409 for a stale document.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 401 for a missing or wrong API key.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "You must be logged in to perform this action. Please provide a valid API key or log in again.",
        )
    }

    /// 507: the disk (or the database's size limit) is full; `what` is what could not be stored.
    pub fn insufficient_storage(what: &str) -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            format!(
                "The server does not have enough disk space to store {what}; nothing was saved. Free some space and try again."
            ),
        )
    }

    /// 500 with a generic message (the detail goes to stderr, not to the client).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        eprintln!("octopus-lite: internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server failed to process the request.",
        )
    }
}

impl From<rusqlite::Error> for ApiError {
    /// A full disk (`SQLITE_FULL`) is 507, as for package files; anything else is 500.
    /// The transaction rolls back either way, so nothing of the write remains.
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            eprintln!("octopus-lite: storage full: {e}");
            return Self::insufficient_storage("the change");
        }
        Self::internal(format!("storage: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error_message: self.message,
            errors: self.errors,
            ..ErrorBody::default()
        };
        (self.status, Json(body)).into_response()
    }
}

/// Result of a handler or store operation.
pub type ApiResult<T> = Result<T, ApiError>;
