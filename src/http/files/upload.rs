//! `POST /api/files`: a multipart form streamed into the blob store. The bytes are counted,
//! hashed and sniffed as they flow and never held whole in memory. Blob first, record second:
//! any failure after the blob was written removes it again (also when the client goes away
//! and the request is dropped).

use std::collections::HashSet;
use std::future::ready;

use axum::body::Bytes;
use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{Value, json};
use uuid::Uuid;

use super::form::{FORM_OVERHEAD, FormFields, malformed};
use crate::AppState;
use crate::blob::{BlobError, BlobKey, BlobStore, PutOutcome};
use crate::error::{ApiError, Result};
use crate::files::content::{HEAD_LEN, image_dimensions, resolve_type};
use crate::files::names::sanitize_filename;
use crate::files::{records_with_hash, storage_key};
use crate::http::extract::CurrentUser;
use crate::http::resource::{check_references, document_response, parse, to_body};
use crate::model::file::{File, FileCategory, StorageRef};
use crate::model::{Collection, Document, Resource, Timestamp, UserId, ids};

/// A blob written for this request and not yet owned by a record.
struct StoredBlob {
    outcome: PutOutcome,
    mime_type: String,
    dimensions: Option<(u32, u32)>,
    filename: String,
    cleanup: BlobCleanup,
}

/// Deletes a blob unless a record took it. Normal paths await [`BlobCleanup::remove`]; if the
/// request is dropped midway, `Drop` hands the deletion to a task.
struct BlobCleanup {
    blobs: BlobStore,
    key: Option<BlobKey>,
}

impl BlobCleanup {
    fn key(&self) -> &BlobKey {
        self.key
            .as_ref()
            .expect("a cleanup holds its key until it is done")
    }

    async fn remove(mut self) {
        if let Some(key) = self.key.take()
            && let Err(error) = self.blobs.delete(&key).await
        {
            tracing::error!(%key, error = %error, "cannot remove the blob of a failed upload; `quillstore gc` will");
        }
    }

    fn keep(mut self) {
        self.key = None;
    }
}

impl Drop for BlobCleanup {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let blobs = self.blobs.clone();
            tokio::spawn(async move {
                if let Err(error) = blobs.delete(&key).await {
                    tracing::error!(%key, error = %error, "cannot remove the blob of an abandoned upload");
                }
            });
        }
    }
}

pub async fn upload_file(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    request: Request,
) -> Result<Response> {
    let limit = state.config.files.max_upload_size;
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit.saturating_add(FORM_OVERHEAD)) {
        return Err(too_large(limit));
    }
    let mut multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|_| {
            ApiError::UnsupportedMediaType(
                "expected a multipart/form-data body with a `file` part".to_owned(),
            )
        })?;
    let file_id = ids::new_id();
    let mut form = FormFields::default();
    let mut stored = None;
    let read = read_parts(
        &state,
        &user,
        file_id,
        &mut multipart,
        &mut form,
        &mut stored,
    )
    .await;
    match (read, stored) {
        (Err(error), Some(blob)) => {
            blob.cleanup.remove().await;
            Err(error)
        }
        (Err(error), None) => Err(error),
        (Ok(()), None) => Err(ApiError::bad_request("the form has no `file` part")),
        (Ok(()), Some(blob)) => register(&state, &user, file_id, form, blob).await,
    }
}

async fn read_parts(
    state: &AppState,
    user: &UserId,
    file_id: Uuid,
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
            *stored = Some(store_file(state, user, file_id, category, field).await?);
        }
    }
    Ok(())
}

/// Sniffs the start of the file part, then streams all of it into a new blob.
async fn store_file(
    state: &AppState,
    user: &UserId,
    file_id: Uuid,
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
    let outcome = state
        .blobs
        .put(&key, body, files.max_upload_size)
        .await
        .map_err(|error| match error {
            BlobError::TooLarge { limit } => too_large(limit),
            BlobError::Body(message) => ApiError::bad_request(message),
            other => {
                ApiError::Internal(anyhow::Error::from(other).context("cannot store an upload"))
            }
        })?;
    Ok(StoredBlob {
        outcome,
        mime_type,
        dimensions,
        filename,
        cleanup: BlobCleanup {
            blobs: state.blobs.clone(),
            key: Some(key),
        },
    })
}

/// Checks the form, then records the file: pointing at an identical blob the user already
/// has (and dropping the new one), or at the new blob.
async fn register(
    state: &AppState,
    user: &UserId,
    file_id: Uuid,
    form: FormFields,
    blob: StoredBlob,
) -> Result<Response> {
    let mut body = form.into_body(FileCategory::for_mime_type(&blob.mime_type).as_str());
    body.insert("originalFilename".to_owned(), json!(blob.filename));
    body.insert("mimeType".to_owned(), json!(blob.mime_type));
    body.insert("size".to_owned(), json!(blob.outcome.size));
    body.insert("sha256".to_owned(), json!(blob.outcome.sha256));
    if let Some((width, height)) = blob.dimensions {
        body.insert("width".to_owned(), json!(width));
        body.insert("height".to_owned(), json!(height));
    }
    let storage = StorageRef {
        backend: state.blobs.backend().to_owned(),
        key: blob.cleanup.key().to_string(),
    };
    body.insert("storage".to_owned(), json!(storage));
    let checked = async {
        let file: File = parse(body)?;
        check_references(state, user, file.references(), &HashSet::new()).await?;
        Ok::<_, ApiError>(file)
    };
    let mut file = match checked.await {
        Ok(file) => file,
        Err(error) => {
            blob.cleanup.remove().await;
            return Err(error);
        }
    };
    let _shared = state.file_locks.lock(user, &file.sha256).await;
    let inserted = async {
        if let Some(existing) = shared_storage(state, user, &file.sha256).await? {
            file.storage = existing;
        }
        let now = Timestamp::now();
        let document = Document {
            id: file_id,
            user_id: user.clone(),
            created_at: now,
            updated_at: now,
            version: 1,
            body: to_body(&file)?,
        };
        Ok::<_, ApiError>(state.store.insert(Collection::Files, document).await?)
    };
    match inserted.await {
        Ok(document) => {
            if storage_key(&document) == Some(blob.cleanup.key().as_str()) {
                blob.cleanup.keep();
            } else {
                blob.cleanup.remove().await;
            }
            Ok(document_response(
                StatusCode::CREATED,
                &document,
                Some("/api/files"),
            ))
        }
        Err(error) => {
            blob.cleanup.remove().await;
            Err(error)
        }
    }
}

/// The storage of a file of `user` with the same content whose blob is still there.
async fn shared_storage(
    state: &AppState,
    user: &UserId,
    sha256: &str,
) -> Result<Option<StorageRef>> {
    for record in records_with_hash(&state.store, user, sha256).await? {
        let Some(storage) = record
            .body
            .get("storage")
            .and_then(|value| serde_json::from_value::<StorageRef>(value.clone()).ok())
        else {
            continue;
        };
        let Ok(key) = BlobKey::parse(&storage.key) else {
            continue;
        };
        if storage.backend == state.blobs.backend()
            && state
                .blobs
                .exists(&key)
                .await
                .map_err(anyhow::Error::from)?
        {
            return Ok(Some(storage));
        }
    }
    Ok(None)
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
