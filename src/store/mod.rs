//! The metadata store: the one API handlers use to read and write documents, whatever the
//! backend. Backends form a closed enum; the json backend is the embedded default.

pub mod json;
pub mod messages;
mod query;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Map, Value};
use uuid::Uuid;

pub use self::json::JsonStore;
pub use self::messages::{ChatStats, MessageChange, MessagePage, MessageQuery};
pub use self::query::{Filter, ListQuery, Page, SortField, SortValue};
use crate::model::{Collection, Document, Removal, UserId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("version mismatch")]
    VersionMismatch,
    #[error("duplicate {field}")]
    Duplicate { field: String, existing_id: Uuid },
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a health probe of a store found.
#[derive(Debug, Clone)]
pub struct StoreHealth {
    pub backend: &'static str,
    pub status: HealthStatus,
    pub latency: Duration,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

/// Runs a write to its end even if the request that asked for it goes away (a timeout, a
/// client disconnect, shutdown): a write is never cut between the disk and the index.
async fn detach<T: Send + 'static>(
    work: impl std::future::Future<Output = StoreResult<T>> + Send + 'static,
) -> StoreResult<T> {
    tokio::spawn(work)
        .await
        .map_err(|error| StoreError::Internal(anyhow::anyhow!("a store task failed: {error}")))?
}

/// The metadata backends. Cheap to clone: each variant is a handle.
#[derive(Clone)]
pub enum MetadataStore {
    Json(JsonStore),
}

impl MetadataStore {
    pub async fn insert(
        &self,
        collection: Collection,
        document: Document,
    ) -> StoreResult<Document> {
        match self {
            Self::Json(store) => {
                let store = store.clone();
                detach(async move { store.insert(collection, document).await }).await
            }
        }
    }

    pub async fn get(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
    ) -> StoreResult<Document> {
        match self {
            Self::Json(store) => store.get(collection, user, id),
        }
    }

    /// Replaces the body of a document if its version is still `expected_version`; the new
    /// document has the next version and a fresh `updatedAt`.
    pub async fn replace(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
        expected_version: u64,
        body: Map<String, Value>,
    ) -> StoreResult<Document> {
        match self {
            Self::Json(store) => {
                let (store, user) = (store.clone(), user.clone());
                detach(async move {
                    store
                        .replace(collection, &user, id, expected_version, body)
                        .await
                })
                .await
            }
        }
    }

    /// Deletes a document; with `expected_version`, only if it is still that version.
    pub async fn delete(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> StoreResult<Document> {
        match self {
            Self::Json(store) => {
                let (store, user) = (store.clone(), user.clone());
                detach(async move { store.delete(collection, &user, id, expected_version).await })
                    .await
            }
        }
    }

    pub async fn list(&self, query: &ListQuery) -> StoreResult<Page> {
        match self {
            Self::Json(store) => store.list(query),
        }
    }

    /// Which of `ids` name documents of `user` in `collection`.
    pub async fn existing_ids(
        &self,
        collection: Collection,
        user: &UserId,
        ids: &[Uuid],
    ) -> StoreResult<HashSet<Uuid>> {
        match self {
            Self::Json(store) => Ok(store.existing_ids(collection, user, ids)),
        }
    }

    /// Removes a deleted document's id from every document of `user` in `collection`;
    /// returns how many documents changed (each gets a new version).
    pub async fn remove_references(
        &self,
        collection: Collection,
        user: &UserId,
        removal: &Removal,
    ) -> StoreResult<u64> {
        match self {
            Self::Json(store) => {
                let (store, user, removal) = (store.clone(), user.clone(), removal.clone());
                detach(async move { store.remove_references(collection, &user, &removal).await })
                    .await
            }
        }
    }

    /// Applies a batch of message changes to one chat atomically.
    pub async fn commit_messages(
        &self,
        user: &UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
    ) -> StoreResult<Vec<Document>> {
        match self {
            Self::Json(store) => {
                let (store, user) = (store.clone(), user.clone());
                detach(async move { store.commit_messages(&user, chat_id, changes).await }).await
            }
        }
    }

    pub async fn page_messages(&self, query: &MessageQuery) -> StoreResult<MessagePage> {
        match self {
            Self::Json(store) => store.page_messages(query).await,
        }
    }

    pub async fn get_message(
        &self,
        user: &UserId,
        chat_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Document> {
        match self {
            Self::Json(store) => store.get_message(user, chat_id, id).await,
        }
    }

    /// Every document of a collection, of every user (for maintenance such as `gc`).
    pub async fn all_documents(&self, collection: Collection) -> StoreResult<Vec<Document>> {
        match self {
            Self::Json(store) => Ok(store.all_documents(collection)),
        }
    }

    pub async fn health(&self) -> StoreHealth {
        match self {
            Self::Json(store) => store.health().await,
        }
    }
}
