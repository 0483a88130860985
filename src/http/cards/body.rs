//! The body of an import: the raw request body, or the `file` part of a multipart form,
//! read up to `MAX_IMPORT_BYTES` (413 beyond, having read at most the limit plus one chunk).

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;

use crate::error::{ApiError, Result};
use crate::files::names::sanitize_filename;
use crate::http::AppState;

/// The bytes of an import and the file name the client gave, if any.
pub struct ImportBody {
    pub bytes: Vec<u8>,
    pub filename: Option<String>,
}

pub async fn read(state: &AppState, request: Request) -> Result<ImportBody> {
    let limit = state.config.max_import_bytes;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "an import may be at most {limit} bytes (MAX_IMPORT_BYTES)"
        ))
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !multipart {
        if declared.is_some_and(|length| length > limit) {
            return Err(too_large());
        }
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| too_large())?;
        return Ok(ImportBody {
            bytes: bytes.to_vec(),
            filename: None,
        });
    }
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|error| ApiError::bad_request(format!("malformed multipart form: {error}")))?;
    let malformed = |error: axum::extract::multipart::MultipartError| {
        if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request(format!("malformed multipart form: {error}"))
        }
    };
    while let Some(mut field) = form.next_field().await.map_err(malformed)? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().map(sanitize_filename);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(ImportBody { bytes, filename });
    }
    Err(ApiError::bad_request("the form has no `file` part"))
}
