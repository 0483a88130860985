//! Direct uploads (`files::uploads`): `POST /api/files/uploads` hands out where to put the
//! bytes (a presigned PUT on S3; on fs, and on S3 behind `S3_SOCKET` without a presign
//! endpoint, a signed `PUT /api/files/uploads/{uploadId}` here),
//! `POST /api/files/uploads/{uploadId}/complete` checks what arrived (present, size, SHA-256,
//! sniffed type against the allow-list, reading only the head unless it must hash) and
//! records the file like a form upload (same record, same dedup).

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::form::FormFields;
use super::register::{StoredBlob, register};
use crate::accounts::quota::{Needs, QuotaError, Reservation};
use crate::blob::{BlobError, BlobKey, DirectUploadRequest, PutOutcome};
use crate::error::{ApiError, Result};
use crate::files::content::{image_dimensions, is_allowed, resolve_type};
use crate::files::links::LinkPurpose;
use crate::files::names::sanitize_filename;
use crate::files::registration::PendingBlob;
use crate::files::signing::SignedQuery;
use crate::files::uploads::{self, Ticket, URL_LIFETIME};
use crate::http::AppState;
use crate::http::extract::{CurrentUser, DocumentId, JsonObject};
use crate::model::file::FileCategory;
use crate::model::{Timestamp, UserId, ids};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UploadRequest {
    filename: String,
    mime_type: String,
    size: u64,
    category: Option<FileCategory>,
    sha256: Option<String>,
}

pub async fn create_upload(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    let request: UploadRequest = serde_json::from_value(Value::Object(body))
        .map_err(|error| ApiError::bad_request(format!("bad body: {error}")))?;
    let files = &state.config.files;
    let mime_type = request.mime_type.trim().to_ascii_lowercase();
    if !is_allowed(&mime_type, &files.allowed_mime_types) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "files of type {mime_type} are not accepted (see GET /api/limits)"
        )));
    }
    let limit = state.blobs.direct_upload_limit(files.max_upload_size);
    if request.size > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "the file is larger than the upload limit of {limit} bytes (see GET /api/limits)"
        )));
    }
    // A check only: the room is reserved when the upload is completed.
    let quota = Needs {
        bytes: Some(request.size),
        files: 1,
        file: None,
    };
    drop(
        state
            .quotas
            .reserve(&state.store, &user, quota, u64::MAX)
            .await?,
    );
    let sha256 = request.sha256.map(|text| text.to_ascii_lowercase());
    if let Some(digest) = &sha256
        && (digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(ApiError::validation("sha256", "must be 64 hex digits"));
    }
    let ticket = Ticket {
        file_id: ids::new_id(),
        filename: sanitize_filename(&request.filename),
        category: request
            .category
            .unwrap_or_else(|| FileCategory::for_mime_type(&mime_type)),
        mime_type,
        size: request.size,
        sha256,
    };
    let upload_id = ids::new_id();
    uploads::save_ticket(&state.blobs, &user, upload_id, &ticket).await?;
    let data = BlobKey::upload_data(&user, upload_id);
    let target = DirectUploadRequest {
        key: &data,
        size: ticket.size,
        sha256: ticket.sha256.as_deref(),
        lifetime: URL_LIFETIME,
    };
    let put = state
        .blobs
        .direct_upload_target(&target, |expires| {
            state.signer.signed_upload_path(upload_id, &user, expires)
        })
        .await?;
    let expires = put
        .expires_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let headers: Map<String, Value> = put
        .headers
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    let expires_at =
        Timestamp::from_millis(i64::try_from(expires).unwrap_or(i64::MAX / 1000) * 1000);
    let answer = json!({
        "uploadId": upload_id,
        "url": state.config.public_base_url.absolute(&put.url),
        "method": put.method,
        "headers": headers,
        "expiresAt": expires_at,
    });
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

/// `PUT /api/files/uploads/{uploadId}?user=..&expires=..&signature=..`: the bytes of a direct
/// upload, streamed into the blob store (at most the announced size). The `url` of uploads on
/// the fs store and on an S3 store browsers cannot reach (`S3_SOCKET`); it works on any S3
/// store too, and with the user's bearer token instead of a signature.
pub async fn put_upload(
    State(state): State<AppState>,
    path: std::result::Result<Path<String>, PathRejection>,
    query: std::result::Result<Query<SignedQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    // Credentials first: a caller without them learns nothing but 401 about this route.
    let id = path.ok().and_then(|Path(text)| ids::parse_id(&text));
    let signed = query
        .as_ref()
        .map(|Query(signed)| signed.clone())
        .unwrap_or_default();
    let user = super::link::link_or_bearer(&state, &headers, LinkPurpose::Upload, id, &signed)?;
    let upload_id =
        id.ok_or_else(|| ApiError::bad_request("the path does not name a valid upload id"))?;
    if let Err(rejection) = query {
        return Err(ApiError::bad_request(format!(
            "bad query: {}",
            rejection.body_text()
        )));
    }
    let ticket = uploads::load_ticket(&state.blobs, &user, upload_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let data = BlobKey::upload_data(&user, upload_id);
    if state.blobs.exists(&data).await? {
        return Err(ApiError::conflict(
            "the bytes of this upload were already put",
        ));
    }
    state
        .blobs
        .put(&data, body.into_data_stream(), ticket.size)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn complete_upload(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(upload_id): DocumentId,
) -> Result<Response> {
    // Two completions of one upload at once would both move and record it; one waits here
    // and then finds the ticket gone (404). Within one process, like the other file locks.
    let _completing = state.upload_locks.lock(&user, &upload_id.to_string()).await;
    let ticket = uploads::load_ticket(&state.blobs, &user, upload_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let data = BlobKey::upload_data(&user, upload_id);
    let Some(head) = state.blobs.head(&data).await? else {
        return Err(ApiError::conflict("no bytes were put for this upload yet"));
    };
    let quota = Needs {
        bytes: Some(ticket.size),
        files: 1,
        file: Some(ticket.file_id),
    };
    let room = match state
        .quotas
        .reserve(&state.store, &user, quota, u64::MAX)
        .await
    {
        Ok(room) => room,
        Err(error) => {
            if matches!(error, QuotaError::Exceeded { .. }) {
                uploads::discard(&state.blobs, &user, upload_id).await?;
            }
            return Err(error.into());
        }
    };
    let verified = verify(&state, &data, &ticket, head.size, head.sha256).await;
    let (mime_type, dimensions, sha256) = match verified {
        Ok(verified) => verified,
        Err(error) => {
            // Unavailable: the client may retry; anything else condemns the upload.
            if !matches!(error, ApiError::Unavailable { .. }) {
                uploads::discard(&state.blobs, &user, upload_id).await?;
            }
            return Err(error);
        }
    };
    let key = BlobKey::for_file(&user, ticket.category, ticket.file_id, &ticket.filename);
    match state.blobs.rename(&data, &key).await {
        Ok(()) => {}
        Err(BlobError::NotFound) => {
            return Err(ApiError::conflict(
                "this upload is being completed by another request",
            ));
        }
        Err(error) => return Err(error.into()),
    }
    finish(
        &state, &user, upload_id, ticket, key, mime_type, dimensions, sha256, room,
    )
    .await
}

/// The type, dimensions and SHA-256 of the bytes that arrived, if they are what the ticket
/// announced.
async fn verify(
    state: &AppState,
    data: &BlobKey,
    ticket: &Ticket,
    size: u64,
    stored_sha256: Option<String>,
) -> Result<(String, Option<(u32, u32)>, String)> {
    if size != ticket.size {
        return Err(ApiError::validation(
            "size",
            format!("{size} bytes arrived, {} were announced", ticket.size),
        ));
    }
    let head = uploads::read_head(&state.blobs, data, size).await?;
    let mime_type = resolve_type(
        Some(&ticket.mime_type),
        &head,
        &ticket.filename,
        &state.config.files.allowed_mime_types,
    )
    .map_err(|problem| ApiError::UnsupportedMediaType(problem.to_string()))?;
    let dimensions = image_dimensions(&mime_type, &head);
    // A checksum the store verified on the way in spares reading the whole object.
    let sha256 = match stored_sha256 {
        Some(sha256) => sha256,
        None => uploads::hash_blob(&state.blobs, data).await?.1,
    };
    if let Some(expected) = &ticket.sha256
        && *expected != sha256
    {
        return Err(ApiError::validation(
            "sha256",
            "the bytes that arrived have another SHA-256",
        ));
    }
    Ok((mime_type, dimensions, sha256))
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    state: &AppState,
    user: &UserId,
    upload_id: Uuid,
    ticket: Ticket,
    key: BlobKey,
    mime_type: String,
    dimensions: Option<(u32, u32)>,
    sha256: String,
    room: Reservation,
) -> Result<Response> {
    let mut form = FormFields::default();
    form.category = Some(ticket.category.as_str().to_owned());
    let blob = StoredBlob {
        outcome: PutOutcome {
            size: ticket.size,
            sha256,
        },
        mime_type,
        dimensions,
        filename: ticket.filename,
        pending: PendingBlob::new(state.blobs.current().clone(), key),
    };
    let registered = register(state, user, ticket.file_id, form, (blob, room)).await;
    if let Err(error) = uploads::discard(&state.blobs, user, upload_id).await {
        tracing::warn!(%upload_id, error = %error, "cannot remove the ticket of a completed upload; `quillstore gc` will");
    }
    registered
}
