//! Removing a file: metadata first, then the blob, and the blob only when no other record of
//! the same user still points at it (reference counting over the records that share one
//! SHA-256); its image variants go when no record of that SHA-256 is left. A blob that cannot be deleted is logged and left to `quillstore gc`, which finds
//! blobs without records; the reverse order could leave records without bytes.

use std::future::Future;

use serde_json::Value;
use uuid::Uuid;

use super::{FileStores, records_with_hash, storage_key};
use crate::blob::BlobKey;
use crate::error::Result;
use crate::images::remove_variants;
use crate::model::{Collection, Document, UserId};

/// Removes file `id` of `user`. `delete_record` deletes the record (with its precondition,
/// and the id from every document naming it); it runs under the file lock of the record's
/// SHA-256, so no upload adopts the blob between the record going and the blob going.
pub async fn remove_file<T>(
    stores: FileStores<'_>,
    user: &UserId,
    id: Uuid,
    delete_record: impl Future<Output = Result<T>>,
) -> Result<()> {
    let current = stores.metadata.get(Collection::Files, user, id).await?;
    let sha256 = current
        .body
        .get("sha256")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = storage_key(&current).unwrap_or_default().to_owned();
    let _shared = stores.locks.lock(user, sha256).await;
    delete_record.await?;
    let remaining = records_with_hash(stores.metadata, user, sha256).await?;
    if !still_used(&remaining, &key) {
        let removed = match BlobKey::parse(&key) {
            Ok(key) => stores.blobs.delete_everywhere(&key).await,
            Err(error) => Err(error),
        };
        if let Err(error) = removed {
            tracing::error!(%key, error = %error, "cannot delete the blob of a deleted file; `quillstore gc` will find it");
        }
    }
    // The variants go with the last record of their original's content.
    if remaining.is_empty() {
        let current = stores.blobs.current();
        for store in std::iter::once(current).chain(stores.blobs.fallback()) {
            if let Err(error) = remove_variants(store, user, sha256).await {
                tracing::error!(%sha256, error = %error, "cannot delete the image variants of a deleted file; `quillstore gc` will find them");
            }
        }
    }
    Ok(())
}

/// Whether any of `records` points at the blob `key`: its reference count is not zero.
pub fn still_used(records: &[Document], key: &str) -> bool {
    records
        .iter()
        .any(|record| storage_key(record) == Some(key))
}
