//! Files beyond HTTP: content sniffing, names, signed links and who they let in (`links`),
//! how a file is served (`serving`), garbage collection, and the bookkeeping that lets several
//! records of one user share a blob: dedup by SHA-256 when an upload is recorded
//! (`registration`), the blob deleted with its last record (`removal`). The rules take the
//! stores as arguments, so unit tests run them on a json store and an fs blob store.

pub mod content;
pub mod gc;
pub mod links;
pub mod names;
pub mod registration;
pub mod removal;
pub mod serving;
pub mod signing;
pub mod uploads;

#[cfg(test)]
mod tests;

use std::hash::{Hash, Hasher};

use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};

use crate::blob::BlobStores;
use crate::images::Variants;
use crate::model::{Collection, Document, UserId};
use crate::store::{Filter, ListQuery, MetadataStore, SortField, StoreResult};

/// The stores the file rules work on, borrowed from the caller: records, blobs, and the
/// locks that keep dedup and reference counting consistent between them.
#[derive(Clone, Copy)]
pub struct FileStores<'a> {
    pub metadata: &'a MetadataStore,
    pub blobs: &'a BlobStores,
    pub locks: &'a FileLocks,
    /// Image variants, which go with the last record of their original's content.
    pub variants: &'a Variants,
}

const LOCK_STRIPES: usize = 64;
/// Page size when collecting every record of one blob.
const SCAN_PAGE: usize = 500;

/// Serializes the steps that decide whether a blob is shared: "find a record with this
/// SHA-256 and point a new record at its blob" against "delete a record and, if it was the
/// last one, its blob". Striped by user and hash; within one process (the embedded stores
/// are single-node by design).
pub struct FileLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for FileLocks {
    fn default() -> Self {
        Self {
            stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl FileLocks {
    pub async fn lock(&self, user: &UserId, sha256: &str) -> MutexGuard<'_, ()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (user, sha256).hash(&mut hasher);
        let stripe = (hasher.finish() % LOCK_STRIPES as u64) as usize;
        self.stripes[stripe].lock().await
    }
}

/// The files whose content has this SHA-256.
fn same_hash(sha256: &str) -> Filter {
    Filter::Equals {
        field: "sha256",
        value: Value::String(sha256.to_owned()),
    }
}

/// Every file record of `user` with this SHA-256 (the records that may share its blob).
pub async fn records_with_hash(
    store: &MetadataStore,
    user: &UserId,
    sha256: &str,
) -> StoreResult<Vec<Document>> {
    let mut query = ListQuery {
        collection: Collection::Files,
        user: user.clone(),
        filters: vec![same_hash(sha256)],
        sort: SortField::UpdatedAt,
        descending: false,
        after: None,
        limit: SCAN_PAGE,
        include_total: false,
    };
    let mut records = Vec::new();
    loop {
        let page = store.list(&query).await?;
        records.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(records),
        }
    }
}

/// The blob key a file record points at.
pub fn storage_key(document: &Document) -> Option<&str> {
    document.body.get("storage")?.get("key")?.as_str()
}

/// The blob backend a file record names (`storage.backend`; empty when it names none).
pub fn storage_backend(document: &Document) -> &str {
    document
        .body
        .get("storage")
        .and_then(|storage| storage.get("backend"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}
