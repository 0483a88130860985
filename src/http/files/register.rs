//! The second half of an upload: the form is checked and the file recorded, pointing at an
//! identical blob the user already has (dedup) or at the new one. The new blob is removed on
//! every path that does not adopt it.

use std::collections::HashSet;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use super::form::FormFields;
use crate::AppState;
use crate::blob::{BlobKey, BlobStore, PutOutcome};
use crate::error::{ApiError, Result};
use crate::files::{records_with_hash, storage_key};
use crate::http::resource::{check_references, document_response, parse, to_body};
use crate::model::file::{File, FileCategory, StorageRef};
use crate::model::{Collection, Document, Resource, Timestamp, UserId};

/// A blob written for this request and not yet owned by a record.
pub struct StoredBlob {
    pub outcome: PutOutcome,
    pub mime_type: String,
    pub dimensions: Option<(u32, u32)>,
    pub filename: String,
    pub cleanup: BlobCleanup,
}

/// Deletes a blob unless a record took it. Normal paths await [`BlobCleanup::remove`]; if the
/// request is dropped midway, `Drop` hands the deletion to a task.
pub struct BlobCleanup {
    blobs: BlobStore,
    key: Option<BlobKey>,
}

impl BlobCleanup {
    pub fn new(blobs: BlobStore, key: BlobKey) -> Self {
        Self {
            blobs,
            key: Some(key),
        }
    }

    fn key(&self) -> &BlobKey {
        self.key
            .as_ref()
            .expect("a cleanup holds its key until it is done")
    }

    pub async fn remove(mut self) {
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

/// Checks the form, then records the file: pointing at an identical blob the user already
/// has (and dropping the new one), or at the new blob.
pub async fn register(
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
    let file = match checked.await {
        Ok(file) => file,
        Err(error) => {
            blob.cleanup.remove().await;
            return Err(error);
        }
    };
    // From here on the upload runs to its end even if the client goes away: a record written
    // by a dropped request must not lose its blob to the cleanup of that request.
    let (state, user) = (state.clone(), user.clone());
    let document = tokio::spawn(async move { commit(&state, &user, file_id, file, blob).await })
        .await
        .map_err(|error| anyhow::anyhow!("an upload task failed: {error}"))??;
    Ok(document_response(
        StatusCode::CREATED,
        &document,
        Some("/api/files"),
    ))
}

/// Records the file, sharing an identical blob of the user when there is one; the new blob
/// is removed unless the record points at it.
async fn commit(
    state: &AppState,
    user: &UserId,
    file_id: Uuid,
    mut file: File,
    blob: StoredBlob,
) -> Result<Document> {
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
            Ok(document)
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
        if storage.backend == state.blobs.backend() && state.blobs.exists(&key).await? {
            return Ok(Some(storage));
        }
    }
    Ok(None)
}
