//! Deleting an account: every document (chats with their messages), every file record, then
//! every blob under the user's prefixes (file blobs, image variants, direct uploads waiting to
//! be completed) and the account's own records. Dedup never crosses users, so once the last
//! record of the user is gone no blob under their prefix is referenced any more: deleting the
//! whole prefix is what reference counting (`files::removal`) would do one record at a time.
//! Metadata goes first, blobs second, as for a single file.
//!
//! Interrupted deletions finish: a marker (`account-deletions/{user}.json` in the blob store)
//! is written before anything is deleted and removed last. Startup finishes every deletion
//! whose marker it finds ([`resume_all`]); a second `DELETE /api/account` or
//! `quillstore users delete` finishes it too. Every step is idempotent.

use std::collections::BTreeMap;
use std::convert::Infallible;

use bytes::Bytes;
use futures_util::stream;
use serde::Serialize;
use serde_json::json;

use super::{AccountStores, DELETIONS_PREFIX, deletion_marker, page, records_prefix};
use crate::blob::{BlobError, BlobKey};
use crate::model::{Collection, Timestamp, UserId};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// What a deletion removed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionReport {
    pub user_id: String,
    /// Documents removed per collection (a chat's messages go with it).
    pub documents: BTreeMap<String, u64>,
    pub blobs: u64,
    /// True when this call finished a deletion an earlier one had started.
    pub resumed: bool,
}

/// What one step of a deletion removed, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// This many more documents.
    Documents(u64),
    /// One more blob.
    Blob,
}

/// Deletes everything `user` owns; `progress` hears of every batch.
pub async fn delete_account(
    stores: &AccountStores,
    user: &UserId,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<DeletionReport, DeletionError> {
    let marker = deletion_marker(user);
    let resumed = stores.blobs.exists(&marker).await?;
    if !resumed {
        let record = json!({"userId": user.as_str(), "startedAt": Timestamp::now().to_string()});
        let body = stream::iter([Ok::<_, Infallible>(Bytes::from(record.to_string()))]);
        stores.blobs.put(&marker, body, 4096).await?;
    }
    let mut report = DeletionReport {
        user_id: user.to_string(),
        resumed,
        ..DeletionReport::default()
    };
    // Chats first (their messages go with them), files after the documents naming them.
    let mut order: Vec<Collection> = Collection::DOCUMENTS.to_vec();
    order.sort_by_key(|collection| match collection {
        Collection::Chats => 0,
        Collection::Files => 2,
        _ => 1,
    });
    for collection in order {
        let mut removed = 0u64;
        loop {
            let batch = page(&stores.metadata, collection, user, None).await?;
            if batch.items.is_empty() {
                break;
            }
            let count = batch.items.len() as u64;
            for document in batch.items {
                match stores
                    .metadata
                    .delete(collection, user, document.id, None)
                    .await
                {
                    Ok(_) | Err(StoreError::NotFound) => removed += 1,
                    Err(error) => return Err(error.into()),
                }
            }
            progress(Step::Documents(count));
        }
        report
            .documents
            .insert(collection.name().to_owned(), removed);
    }
    let prefixes = [
        BlobKey::user_prefix(user),
        format!("{}{user}/", BlobKey::ALL_VARIANTS),
        format!("{}{user}/", BlobKey::ALL_UPLOADS),
        records_prefix(user),
    ];
    // The old store too, while blobs move away from it (`BLOBS_FALLBACK`).
    let all = std::iter::once(stores.blobs.current()).chain(stores.blobs.fallback());
    for store in all {
        for prefix in &prefixes {
            for entry in store.list(prefix).await? {
                if entry.key == marker {
                    continue;
                }
                store.delete(&entry.key).await?;
                report.blobs += 1;
                progress(Step::Blob);
            }
        }
    }
    stores.blobs.delete(&marker).await?;
    Ok(report)
}

/// Finishes every deletion a stop interrupted (run at startup).
pub async fn resume_all(stores: &AccountStores) -> Result<Vec<DeletionReport>, DeletionError> {
    let mut reports = Vec::new();
    for entry in stores.blobs.list(DELETIONS_PREFIX).await? {
        let segments: Vec<&str> = entry.key.segments().collect();
        let [_, marker] = segments.as_slice() else {
            continue;
        };
        let Some(Ok(user)) = marker.strip_suffix(".json").map(UserId::parse) else {
            continue;
        };
        tracing::warn!(%user, "finishing an interrupted account deletion");
        reports.push(delete_account(stores, &user, &|_| {}).await?);
    }
    Ok(reports)
}
