//! `POST /api/files`: a multipart form streamed into the blob store. The bytes are counted,
//! hashed and sniffed as they flow and never held whole in memory. Blob first, record second
//! (`register.rs`): any failure after the blob was written removes it again (also when the
//! client goes away and the request is dropped).

use std::future::ready;

use axum::body::Bytes;
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header;
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::Value;
use uuid::Uuid;

use super::form::{FORM_OVERHEAD, FormFields, malformed};
use super::register::{StoredBlob, register};
use crate::accounts::quota::{Needs, Reservation};
use crate::blob::{BlobError, BlobKey};
use crate::error::{ApiError, Result};
use crate::files::content::{HEAD_LEN, image_dimensions, resolve_type};
use crate::files::names::sanitize_filename;
use crate::files::registration::PendingBlob;
use crate::http::AppState;
use crate::http::extract::CurrentUser;
use crate::model::file::FileCategory;
use crate::model::{UserId, ids};

pub async fn upload_file(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    request: Request,
) -> Result<Response> {
    let _slot = state.throttle.upload_slot()?;
    let limit = state.config.files.max_upload_size;
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit.saturating_add(FORM_OVERHEAD)) {
        return Err(too_large(limit));
    }
    let file_id = ids::new_id();
    // Room within the quotas, held until the record is stored (or the upload fails).
    let room = state
        .quotas
        .reserve(
            &state.store,
            &user,
            Needs {
                bytes: declared_length,
                files: 1,
                file: Some(file_id),
            },
            limit.saturating_add(FORM_OVERHEAD),
        )
        .await?;
    let mut multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|_| {
            ApiError::UnsupportedMediaType(
                "expected a multipart/form-data body with a `file` part".to_owned(),
            )
        })?;
    let mut form = FormFields::default();
    let mut stored = None;
    let read = read_parts(
        &state,
        &user,
        (file_id, &room),
        &mut multipart,
        &mut form,
        &mut stored,
    )
    .await;
    match (read, stored) {
        (Err(error), Some(blob)) => {
            blob.pending.remove().await;
            Err(error)
        }
        (Err(error), None) => Err(error),
        (Ok(()), None) => Err(ApiError::bad_request("the form has no `file` part")),
        (Ok(()), Some(blob)) => register(&state, &user, file_id, form, (blob, room)).await,
    }
}

async fn read_parts(
    state: &AppState,
    user: &UserId,
    (file_id, room): (Uuid, &Reservation),
    multipart: &mut Multipart,
    form: &mut FormFields,
    stored: &mut Option<StoredBlob>,
) -> Result<()> {
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" {
            form.read(&name, field).await?;
        } else if stored.is_some() {
            return Err(ApiError::bad_request(
                "a form may have only one `file` part",
            ));
        } else {
            let category = form.category.as_deref();
            *stored = Some(store_file(state, user, (file_id, room), category, field).await?);
        }
    }
    Ok(())
}

/// Sniffs the start of the file part, then streams all of it into a new blob.
async fn store_file(
    state: &AppState,
    user: &UserId,
    (file_id, room): (Uuid, &Reservation),
    category: Option<&str>,
    mut field: Field<'_>,
) -> Result<StoredBlob> {
    let files = &state.config.files;
    let filename = sanitize_filename(&decode_form_escapes(field.file_name().unwrap_or("file")));
    let declared = field.content_type().map(str::to_owned);
    let mut head = Vec::new();
    while head.len() < HEAD_LEN {
        match field.chunk().await.map_err(malformed)? {
            Some(chunk) => head.extend_from_slice(&chunk),
            None => break,
        }
    }
    if head.len() as u64 > files.max_upload_size {
        return Err(too_large(files.max_upload_size));
    }
    let mime_type = resolve_type(
        declared.as_deref(),
        &head,
        &filename,
        &files.allowed_mime_types,
    )
    .map_err(|problem| ApiError::UnsupportedMediaType(problem.to_string()))?;
    let dimensions = image_dimensions(&mime_type, &head);
    let category = category
        .and_then(|text| serde_json::from_value(Value::String(text.to_owned())).ok())
        .unwrap_or_else(|| FileCategory::for_mime_type(&mime_type));
    let key = BlobKey::for_file(user, category, file_id, &filename);
    let body = futures_util::stream::once(ready(Ok(Bytes::from(head)))).chain(field);
    let limit = files.max_upload_size.min(room.byte_limit());
    let outcome = state
        .blobs
        .put(&key, body, limit)
        .await
        .map_err(|error| match error {
            BlobError::TooLarge { .. } if limit < files.max_upload_size => room.cut_off().into(),
            BlobError::TooLarge { limit } => too_large(limit),
            other => ApiError::from(other),
        })?;
    Ok(StoredBlob {
        outcome,
        mime_type,
        dimensions,
        filename,
        pending: PendingBlob::new(state.blobs.current().clone(), key),
    })
}

/// Browsers write `"`, CR and LF in form file names as `%22`, `%0D` and `%0A` (HTML
/// multipart encoding); only those three are decoded.
fn decode_form_escapes(name: &str) -> String {
    let mut decoded = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(index) = rest.find('%') {
        decoded.push_str(&rest[..index]);
        let escape = rest.get(index..index + 3).unwrap_or_default();
        let replacement = match escape.to_ascii_uppercase().as_str() {
            "%22" => Some('"'),
            "%0D" => Some('\r'),
            "%0A" => Some('\n'),
            _ => None,
        };
        match replacement {
            Some(c) => {
                decoded.push(c);
                rest = &rest[index + 3..];
            }
            None => {
                decoded.push('%');
                rest = &rest[index + 1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

fn too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the file is larger than the upload limit of {limit} bytes (see GET /api/limits)"
    ))
}
