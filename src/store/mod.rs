//! The metadata store: the one API handlers use to read and write documents, whatever the
//! backend. Every backend implements [`MetadataBackend`] (json, the embedded default;
//! mongodb; dual, written once over any two); [`MetadataStore`] is the cheap handle over the
//! configured one, and adds what all share: a metric per operation, and `detach` for writes.
//!
//! Writes keep running to their end when the request goes away: the handle clones itself
//! (every backend is a handle) into a spawned task, so the backend's future is `'static`
//! there and nothing cuts it between its steps; the dual store's mirror write runs in the same
//! task, after the primary's.

mod backend;
mod dual;
mod flags;
pub mod json;
pub mod messages;
pub mod mongo;
pub mod query;
pub mod retry;
pub mod vectors;

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Map, Value};
use uuid::Uuid;

pub use self::backend::MetadataBackend;
pub use self::dual::DualStore;
pub use self::json::JsonStore;
pub use self::messages::{
    ChatStats, MessageChange, MessagePage, MessageQuery, ORIGINAL_CREATED_AT,
};
pub use self::mongo::MongoStore;
pub use self::query::{Filter, ListQuery, Page, SortField, SortValue};
use crate::config::{Config, DataBackend, Primary};
pub use crate::health::{HealthStatus, StoreHealth};
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
    /// Concurrent writers kept colliding on the same documents; the write was not made.
    #[error("concurrent writers kept colliding")]
    Contended,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Runs a write to its end even if the request that asked for it goes away (a timeout, a
/// client disconnect, shutdown): a write is never cut between its steps.
async fn detach<T: Send + 'static>(
    work: impl std::future::Future<Output = StoreResult<T>> + Send + 'static,
) -> StoreResult<T> {
    tokio::spawn(work)
        .await
        .map_err(|error| StoreError::Internal(anyhow::anyhow!("a store task failed: {error}")))?
}

/// The handle handlers hold: the configured backend, cheap to clone (each variant is a handle).
/// Its methods add what every backend shares: a metric per operation, and writes detached
/// from the request that asked for them.
#[derive(Clone)]
pub enum MetadataStore {
    Json(JsonStore),
    Mongo(MongoStore),
    /// A [`DualStore`] over both backends; which one is primary is chosen at startup.
    Dual(Arc<dyn MetadataBackend>),
}

/// Opens the metadata backend the configuration names.
pub async fn open(config: &Config) -> anyhow::Result<MetadataStore> {
    let mongo = || async {
        let settings = config.mongodb.as_ref().context("MONGODB_URI is required")?;
        MongoStore::connect(settings)
            .await
            .context("cannot open the MongoDB metadata store")
    };
    Ok(match config.data_backend {
        DataBackend::Json => MetadataStore::Json(JsonStore::open(&config.data_dir).await?),
        DataBackend::Mongodb => MetadataStore::Mongo(mongo().await?),
        DataBackend::Dual { primary } => {
            let json = JsonStore::open(&config.data_dir).await?;
            let mongo = mongo().await?;
            // Each with its repair task, which copies again what the secondary missed.
            let dual: Arc<dyn MetadataBackend> = match primary {
                Primary::Json => dual::repair::start(DualStore::new(json, mongo)),
                Primary::Mongodb => dual::repair::start(DualStore::new(mongo, json)),
            };
            MetadataStore::Dual(dual)
        }
    })
}

impl MetadataStore {
    pub async fn insert(
        &self,
        collection: Collection,
        document: Document,
    ) -> StoreResult<Document> {
        let this = self.clone();
        self.observed(
            "insert",
            detach(async move { this.backend().insert(collection, document).await }),
        )
        .await
    }

    pub async fn get(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
    ) -> StoreResult<Document> {
        self.get_shared(collection, user, id)
            .await
            .map(Arc::unwrap_or_clone)
    }

    /// [`Self::get`] for a reader that only looks: the json store hands out the document it
    /// holds in memory instead of a copy.
    pub async fn get_shared(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
    ) -> StoreResult<Arc<Document>> {
        self.observed("get", self.backend().get(collection, user, id))
            .await
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
        let (this, user) = (self.clone(), user.clone());
        self.observed(
            "replace",
            detach(async move {
                this.backend()
                    .replace(collection, &user, id, expected_version, body)
                    .await
            }),
        )
        .await
    }

    /// Deletes a document (a chat with its messages); with `expected_version`, only if it is
    /// still that version.
    pub async fn delete(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> StoreResult<Document> {
        let (this, user) = (self.clone(), user.clone());
        self.observed(
            "delete",
            detach(async move {
                this.backend()
                    .delete(collection, &user, id, expected_version)
                    .await
            }),
        )
        .await
    }

    pub async fn list(&self, query: &ListQuery) -> StoreResult<Page> {
        self.observed("list", self.backend().list(query)).await
    }

    /// Which of `ids` name documents of `user` in `collection`.
    pub async fn existing_ids(
        &self,
        collection: Collection,
        user: &UserId,
        ids: &[Uuid],
    ) -> StoreResult<HashSet<Uuid>> {
        self.observed(
            "existing_ids",
            self.backend().existing_ids(collection, user, ids),
        )
        .await
    }

    /// Which of `ids` name documents of any user in `collection`.
    pub async fn taken_ids(
        &self,
        collection: Collection,
        ids: &[Uuid],
    ) -> StoreResult<HashSet<Uuid>> {
        self.observed("taken_ids", self.backend().taken_ids(collection, ids))
            .await
    }

    /// Removes a deleted document's id from every document of `user` in `collection`;
    /// returns how many documents changed (each gets a new version).
    pub async fn remove_references(
        &self,
        collection: Collection,
        user: &UserId,
        removal: &Removal,
    ) -> StoreResult<u64> {
        let (this, user, removal) = (self.clone(), user.clone(), removal.clone());
        self.observed(
            "remove_references",
            detach(async move {
                this.backend()
                    .remove_references(collection, &user, &removal)
                    .await
            }),
        )
        .await
    }

    /// Applies a batch of message changes to one chat atomically.
    pub async fn commit_messages(
        &self,
        user: &UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
    ) -> StoreResult<Vec<Document>> {
        let (this, user) = (self.clone(), user.clone());
        self.observed(
            "commit_messages",
            detach(async move {
                this.backend()
                    .commit_messages(&user, chat_id, changes)
                    .await
            }),
        )
        .await
    }

    pub async fn page_messages(&self, query: &MessageQuery) -> StoreResult<MessagePage> {
        self.observed("page_messages", self.backend().page_messages(query))
            .await
    }

    pub async fn get_message(
        &self,
        user: &UserId,
        chat_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Document> {
        self.observed("get_message", self.backend().get_message(user, chat_id, id))
            .await
    }

    /// Writes a document as given, whatever is stored (copies and the dual store's mirror).
    pub async fn put_document(
        &self,
        collection: Collection,
        document: Document,
    ) -> StoreResult<()> {
        let this = self.clone();
        self.observed(
            "put_document",
            detach(async move { this.backend().put_document(collection, document).await }),
        )
        .await
    }

    /// Writes messages as given and removes `deleted`, whatever is stored (copies, mirrors).
    pub async fn put_messages(
        &self,
        chat_id: Uuid,
        messages: Vec<Document>,
        deleted: Vec<Uuid>,
    ) -> StoreResult<()> {
        let this = self.clone();
        self.observed(
            "put_messages",
            detach(async move {
                this.backend()
                    .put_messages(chat_id, messages, deleted)
                    .await
            }),
        )
        .await
    }

    /// The highest `seq` ever assigned in a chat, deleted messages included (copies keep it,
    /// so a `seq` is never handed out twice, not even after a migration).
    pub async fn last_seq(&self, user: &UserId, chat_id: Uuid) -> StoreResult<u64> {
        self.backend().last_seq(user, chat_id).await
    }

    /// Raises a chat's highest assigned `seq` to at least `seq`.
    pub async fn raise_last_seq(&self, user: &UserId, chat_id: Uuid, seq: u64) -> StoreResult<()> {
        let (this, user) = (self.clone(), user.clone());
        detach(async move { this.backend().raise_last_seq(&user, chat_id, seq).await }).await
    }

    /// Documents of every user in `collection`, by id, after `after` (for copies and checks).
    pub async fn scan_documents(
        &self,
        collection: Collection,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<Document>> {
        self.observed(
            "scan_documents",
            self.backend().scan_documents(collection, after, limit),
        )
        .await
    }

    /// Every document of a collection, of every user (for maintenance such as `gc`).
    pub async fn all_documents(&self, collection: Collection) -> StoreResult<Vec<Document>> {
        const BATCH: usize = 1000;
        let mut all = Vec::new();
        loop {
            let after = all.last().map(|document: &Document| document.id);
            let batch = self.scan_documents(collection, after, BATCH).await?;
            let done = batch.len() < BATCH;
            all.extend(batch);
            if done {
                return Ok(all);
            }
        }
    }

    /// The backend behind this handle: the one place that tells the variants apart.
    fn backend(&self) -> &dyn MetadataBackend {
        match self {
            Self::Json(store) => store,
            Self::Mongo(store) => store,
            Self::Dual(store) => store.as_ref(),
        }
    }

    /// Runs one store operation, recording its latency and its failure kind.
    async fn observed<T>(
        &self,
        operation: &'static str,
        work: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let started = std::time::Instant::now();
        let result = work.await;
        let failure = match &result {
            Err(StoreError::Unavailable(_)) => Some("unavailable"),
            Err(StoreError::Internal(_)) => Some("internal"),
            _ => None,
        };
        crate::metrics::record_store(self.backend().name(), operation, started.elapsed(), failure);
        result
    }

    /// The nearest memories of one user and character to a vector (exact cosine), best first.
    pub async fn nearest(&self, query: &vectors::VectorQuery) -> StoreResult<Vec<vectors::Scored>> {
        self.observed("nearest", self.backend().nearest(query))
            .await
    }

    /// The dimension of `user`'s stored memory vectors of `model`, if there are any.
    pub async fn vector_dimension(&self, user: &UserId, model: &str) -> StoreResult<Option<usize>> {
        self.observed(
            "vector_dimension",
            self.backend().vector_dimension(user, model),
        )
        .await
    }

    pub async fn health(&self) -> StoreHealth {
        self.backend().health().await
    }

    /// Stops the store's background work (the dual store's repair task), at shutdown.
    pub async fn close(&self) {
        self.backend().close().await
    }
}
