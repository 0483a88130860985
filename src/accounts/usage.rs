//! What one user stores: documents per collection, messages, files and their bytes, beside
//! the quotas that bound them (`GET /api/usage`, and the figures quota checks read).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Pages;
use crate::config::AccountsConfig;
use crate::model::{Collection, UserId};
use crate::store::{ListQuery, MetadataStore, StoreResult};

/// A user's files: how many records, and the sum of their sizes (what the byte quota
/// counts: a file shared by dedup counts once per record, as the user sees them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FileUsage {
    pub files: u64,
    pub bytes: u64,
}

pub async fn file_usage(store: &MetadataStore, user: &UserId) -> StoreResult<FileUsage> {
    Ok(file_records(store, user).await?.0)
}

/// [`file_usage`], and the ids of the records it counts.
pub async fn file_records(
    store: &MetadataStore,
    user: &UserId,
) -> StoreResult<(FileUsage, HashSet<Uuid>)> {
    let mut usage = FileUsage::default();
    let mut ids = HashSet::new();
    let mut pages = Pages::new(Collection::Files, user);
    while let Some(files) = pages.next(store).await? {
        for file in files {
            usage.files += 1;
            usage.bytes += file.body.get("size").and_then(Value::as_u64).unwrap_or(0);
            ids.insert(file.id);
        }
    }
    Ok((usage, ids))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub user_id: String,
    /// Documents per collection name; `files` also has its `bytes`.
    pub collections: BTreeMap<String, CollectionUsage>,
    /// Messages in all the user's chats (swipes included).
    pub messages: u64,
    pub files: u64,
    pub bytes: u64,
    pub quotas: QuotaLimits,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CollectionUsage {
    pub documents: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// The quotas in force; `null`: none.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaLimits {
    /// `QUOTA_BYTES_PER_USER`
    pub bytes: Option<u64>,
    /// `QUOTA_FILES_PER_USER`
    pub files: Option<u64>,
}

pub async fn usage(
    store: &MetadataStore,
    user: &UserId,
    config: &AccountsConfig,
) -> StoreResult<Usage> {
    let mut collections = BTreeMap::new();
    for collection in Collection::DOCUMENTS {
        let query = ListQuery {
            include_total: true,
            ..ListQuery::all_of(collection, user, 1)
        };
        let documents = store.list(&query).await?.total.unwrap_or_default();
        collections.insert(
            collection.name().to_owned(),
            CollectionUsage {
                documents,
                bytes: None,
            },
        );
    }
    let mut messages = 0;
    let mut pages = Pages::new(Collection::Chats, user);
    while let Some(chats) = pages.next(store).await? {
        for chat in chats {
            messages += chat
                .body
                .get("messageCount")
                .and_then(Value::as_u64)
                .unwrap_or(0);
        }
    }
    let files = file_usage(store, user).await?;
    if let Some(entry) = collections.get_mut(Collection::Files.name()) {
        entry.bytes = Some(files.bytes);
    }
    Ok(Usage {
        user_id: user.to_string(),
        collections,
        messages,
        files: files.files,
        bytes: files.bytes,
        quotas: QuotaLimits {
            bytes: config.quota_bytes,
            files: config.quota_files,
        },
    })
}
