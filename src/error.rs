//! The one API error type. Every failure a client can see becomes an [`ApiError`], which
//! renders the envelope `{"error": {"code", "message", "details"}}` with the status taken from
//! the variant. Internal errors are logged once here, at the boundary, and their text never
//! reaches the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use crate::model::FieldError;
use crate::store::StoreError;

/// `Result` with [`ApiError`] as the default error.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Every `code` an error envelope can carry (see [`ApiError::code`]).
pub const ERROR_CODES: &[&str] = &[
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "request_timeout",
    "conflict",
    "precondition_failed",
    "payload_too_large",
    "quota_exceeded",
    "unsupported_media_type",
    "range_not_satisfiable",
    "validation_failed",
    "rate_limited",
    "unavailable",
    "internal",
];

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        details: Vec<FieldError>,
    },
    #[error("authentication required")]
    Unauthorized(String),
    /// Authenticated, but the token lacks what the operation needs (a scope).
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The client stopped sending its body (408).
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{message}")]
    Conflict {
        message: String,
        details: Vec<FieldError>,
    },
    /// `If-Match` names another state than the current one, whose ETag (quoted, as the
    /// header carries it) is sent back when known.
    #[error(
        "the resource changed since the ETag in If-Match: re-read it (GET), re-apply the \
         change, and send the new ETag in If-Match"
    )]
    PreconditionFailed { current_etag: Option<String> },
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A write would pass the user's quota: a 413 (not a 507: the client, not the server,
    /// must act, and a 5xx invites retries and pages operators); the details state the limit
    /// and the usage.
    #[error("{message}")]
    InsufficientStorage {
        message: String,
        details: Vec<FieldError>,
    },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("range not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A 409 that names no field.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A 412 whose answer carries `current_etag` (the quoted ETag of the current state).
    pub fn precondition_failed(current_etag: impl Into<String>) -> Self {
        Self::PreconditionFailed {
            current_etag: Some(current_etag.into()),
        }
    }

    /// A 400 naming the offending fields.
    pub fn bad_fields(message: impl Into<String>, fields: Vec<FieldError>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: fields,
        }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
            retry_after_secs: 5,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InsufficientStorage { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// One of [`ERROR_CODES`].
    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout(_) => "request_timeout",
            Self::Conflict { .. } => "conflict",
            Self::PreconditionFailed { .. } => "precondition_failed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::InsufficientStorage { .. } => "quota_exceeded",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            Self::Validation(_) => "validation_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Unauthorized(reason) => format!("authentication required: {reason}"),
            Self::NotFound => "no such resource".to_owned(),
            Self::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        }
    }

    /// Always an array: the fields at fault, empty when the error names none.
    fn details(&self) -> &[FieldError] {
        match self {
            Self::BadRequest { details, .. }
            | Self::Conflict { details, .. }
            | Self::InsufficientStorage { details, .. } => details,
            Self::Validation(fields) => fields,
            _ => &[],
        }
    }
}

/// The envelope body, also used by middleware that answers without a handler; `details` is
/// always an array of [`FieldError`].
pub fn envelope(code: &str, message: &str, details: &[FieldError]) -> Value {
    json!({"error": {"code": code, "message": message, "details": details}})
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(error) = &self {
            // The one place an internal error is logged; the client sees a generic message.
            tracing::error!(error = ?error, "request failed");
        }
        let body = envelope(self.code(), &self.message(), self.details());
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited { retry_after_secs }
            | Self::Unavailable {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::PreconditionFailed {
                current_etag: Some(etag),
            } => {
                if let Ok(value) = HeaderValue::from_str(etag) {
                    headers.insert(header::ETAG, value);
                }
            }
            Self::RangeNotSatisfiable { size } => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    headers.insert(header::CONTENT_RANGE, value);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<crate::blob::BlobError> for ApiError {
    fn from(error: crate::blob::BlobError) -> Self {
        use crate::blob::BlobError;
        match error {
            BlobError::TooLarge { limit } => Self::PayloadTooLarge(format!(
                "the file is larger than the upload limit of {limit} bytes (see GET /api/limits)"
            )),
            BlobError::Body(message) => Self::bad_request(message),
            BlobError::Unavailable(message) => {
                tracing::warn!(%message, "blob store unavailable");
                Self::unavailable("the file store is unavailable, try again shortly")
            }
            other @ (BlobError::NotFound | BlobError::InvalidKey(_) | BlobError::Internal(_)) => {
                Self::Internal(anyhow::Error::from(other))
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::VersionMismatch => Self::PreconditionFailed { current_etag: None },
            StoreError::Duplicate { field, existing_id } => Self::Conflict {
                message: format!("a document with this {field} already exists"),
                details: vec![
                    FieldError::new(&field, format!("is taken by document {existing_id}"))
                        .with_existing_id(existing_id),
                ],
            },
            StoreError::Contended => {
                Self::conflict("concurrent writers kept colliding on the same documents; retry")
            }
            StoreError::Unavailable(message) => {
                tracing::warn!(%message, "store unavailable");
                Self::unavailable("a storage backend is unavailable, try again shortly")
            }
            StoreError::Internal(error) => Self::Internal(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transaction that kept colliding (`StoreError::Contended`) is a conflict the client
    /// retries, never an absence (a client drops its copy on a 404).
    #[test]
    fn a_store_that_kept_colliding_is_a_409_not_a_404() {
        let response = ApiError::from(StoreError::Contended).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let response = ApiError::from(StoreError::VersionMismatch).into_response();
        assert_ne!(response.status(), StatusCode::NOT_FOUND);
    }
}
