//! Recording an upload whose blob is already written (blob first, metadata second): the
//! record points at an identical blob the same user already has (dedup by SHA-256, never
//! across users) or at the new blob, and the new blob is removed on every path that does not
//! adopt it, also when the request that wrote it is dropped.

use serde_json::Value;
use uuid::Uuid;

use super::{FileStores, records_with_hash, storage_key};
use crate::blob::{BlobKey, BlobStore};
use crate::error::{ApiError, Result};
use crate::model::file::{File, StorageRef};
use crate::model::{Collection, Document, Timestamp, UserId};

/// A blob written for an upload and not yet owned by a record: deleted unless a record takes
/// it. Normal paths await [`PendingBlob::remove`]; if the request is dropped midway, `Drop`
/// hands the deletion to a task.
pub struct PendingBlob {
    blobs: BlobStore,
    key: Option<BlobKey>,
}

impl PendingBlob {
    pub fn new(blobs: BlobStore, key: BlobKey) -> Self {
        Self {
            blobs,
            key: Some(key),
        }
    }

    pub fn key(&self) -> &BlobKey {
        self.key
            .as_ref()
            .expect("a pending blob holds its key until it is settled")
    }

    /// Deletes the blob now; a failure is logged and left to `quillstore gc`.
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

impl Drop for PendingBlob {
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

/// Records `file` (checked, its `storage` naming the pending blob) as `file_id` of `user`.
/// Under the file lock of its SHA-256, an identical blob of the user takes the place of the
/// new one; the new blob is kept only if the stored record points at it.
pub async fn register_file(
    stores: FileStores<'_>,
    user: &UserId,
    file_id: Uuid,
    mut file: File,
    blob: PendingBlob,
) -> Result<Document> {
    let _shared = stores.locks.lock(user, &file.sha256).await;
    let inserted = async {
        if let Some(existing) = shared_storage(stores, user, &file.sha256).await? {
            file.storage = existing;
        }
        let Value::Object(body) = serde_json::to_value(&file).map_err(anyhow::Error::from)? else {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "a file record serialized to a non-object"
            )));
        };
        let now = Timestamp::now();
        let document = Document::new(file_id, user.clone(), now, body);
        Ok::<_, ApiError>(stores.metadata.insert(Collection::Files, document).await?)
    };
    match inserted.await {
        Ok(document) => {
            if storage_key(&document) == Some(blob.key().as_str()) {
                blob.keep();
            } else {
                blob.remove().await;
            }
            Ok(document)
        }
        Err(error) => {
            blob.remove().await;
            Err(error)
        }
    }
}

/// The storage of a file of `user` with this SHA-256 whose blob is still there, in the
/// current blob backend: the blob a new upload of the same content shares.
pub async fn shared_storage(
    stores: FileStores<'_>,
    user: &UserId,
    sha256: &str,
) -> Result<Option<StorageRef>> {
    for record in records_with_hash(stores.metadata, user, sha256).await? {
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
        if storage.backend == stores.blobs.backend() && stores.blobs.exists(&key).await? {
            return Ok(Some(storage));
        }
    }
    Ok(None)
}
