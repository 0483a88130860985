//! The embedded json metadata store: one file per document under `DATA_DIR/<collection>/`,
//! every write crash-safe and durable before it is acknowledged, indexes in memory. One
//! generic implementation serves every collection.

mod backend;
mod chat_logs;
mod disk;
mod index;
mod log;
mod log_index;
mod messages;
mod search;

pub use self::disk::lock_data_dir;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use anyhow::Context;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

pub use self::disk::FORMAT_VERSION;
use self::index::{Indexes, unique_value};
use super::{HealthStatus, ListQuery, Page, StoreError, StoreHealth, StoreResult};
use crate::model::{Collection, Document, Removal, Timestamp, UserId};

/// Writes to one document are serialized by one of these locks, picked by id.
const WRITE_STRIPES: usize = 64;
/// How often a reference removal retries a document that concurrent writers keep changing.
const REMOVAL_ATTEMPTS: usize = 16;

#[derive(Clone)]
pub struct JsonStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    indexes: RwLock<Indexes>,
    stripes: Vec<Mutex<()>>,
    /// Open message logs by chat id.
    logs: RwLock<HashMap<Uuid, Arc<log::ChatLog>>>,
    /// Closed message logs whose persisted index fits them, by chat id: its header.
    dormant: RwLock<HashMap<Uuid, log_index::Header>>,
    /// Serializes opening logs, so a log is read once and never while a writer has it.
    opening: Mutex<()>,
    /// Files found unreadable at start; they make health "degraded".
    problems: Vec<String>,
    /// Held open for the life of the store: the process-wide lock on `root`.
    _lock: File,
}

impl JsonStore {
    /// Opens (or creates) the store under `root`: takes the lock, checks the format, removes
    /// temp files of interrupted writes and loads every document.
    pub async fn open(root: &Path) -> anyhow::Result<Self> {
        let root = root.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(root))
            .await
            .context("store loader panicked")?
    }

    fn open_blocking(root: PathBuf) -> anyhow::Result<Self> {
        let lock = disk::lock_data_dir(&root)?;
        disk::check_format(&root)?;
        let mut indexes = Indexes::default();
        let mut problems = Vec::new();
        let mut count = 0usize;
        let started = Instant::now();
        for collection in Collection::DOCUMENTS {
            let loaded = disk::load_collection(
                &crate::layout::DataDir::new(&root).collection(collection.name()),
            )?;
            problems.extend(loaded.problems);
            count += loaded.documents.len();
            for document in loaded.documents {
                let user = document.user_id.clone();
                indexes
                    .user_mut(collection, &user)
                    .put(collection, Arc::new(document));
            }
        }
        let documents_loaded = started.elapsed();
        let chats = crate::layout::DataDir::new(&root).collection(Collection::Chats.name());
        let survey = chat_logs::survey(&chats)?;
        let logs_surveyed = started.elapsed() - documents_loaded;
        problems.extend(survey.problems);
        let logs: HashMap<_, _> = (survey.opened.into_iter())
            .map(|(chat_id, state)| {
                let log = log::ChatLog::new(
                    crate::layout::DataDir::new(&root).chat_log(Collection::Chats.name(), chat_id),
                    crate::layout::DataDir::new(&root)
                        .chat_log_index(Collection::Chats.name(), chat_id),
                    state,
                );
                (chat_id, Arc::new(log))
            })
            .collect();
        tracing::info!(
            root = %root.display(),
            documents = count,
            chats_with_messages = logs.len() + survey.dormant.len(),
            problems = problems.len(),
            documents_ms = documents_loaded.as_millis() as u64,
            message_logs_ms = logs_surveyed.as_millis() as u64,
            "json store opened"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                indexes: RwLock::new(indexes),
                stripes: (0..WRITE_STRIPES).map(|_| Mutex::new(())).collect(),
                logs: RwLock::new(logs),
                dormant: RwLock::new(survey.dormant),
                opening: Mutex::new(()),
                problems,
                _lock: lock,
            }),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Indexes> {
        self.inner
            .indexes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Indexes> {
        self.inner
            .indexes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn logs(&self) -> RwLockReadGuard<'_, HashMap<Uuid, Arc<log::ChatLog>>> {
        self.inner
            .logs
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn logs_mut(&self) -> RwLockWriteGuard<'_, HashMap<Uuid, Arc<log::ChatLog>>> {
        self.inner
            .logs
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn dormant(&self) -> RwLockReadGuard<'_, HashMap<Uuid, log_index::Header>> {
        self.inner
            .dormant
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn dormant_mut(&self) -> RwLockWriteGuard<'_, HashMap<Uuid, log_index::Header>> {
        self.inner
            .dormant
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds what the server maintains from other records (a chat's message stats).
    fn decorate(&self, collection: Collection, mut document: Document) -> Document {
        if collection == Collection::Chats {
            self.chat_stats(document.id).apply(&mut document.body);
        }
        document
    }

    async fn lock_document(&self, id: Uuid) -> MutexGuard<'_, ()> {
        let stripe = (id.as_u128() % WRITE_STRIPES as u128) as usize;
        self.inner.stripes[stripe].lock().await
    }

    fn current(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
    ) -> StoreResult<Arc<Document>> {
        self.read()
            .user(collection, user)
            .and_then(|documents| documents.by_id.get(&id).cloned())
            .ok_or(StoreError::NotFound)
    }

    async fn persist(&self, collection: Collection, document: &Document) -> StoreResult<()> {
        let dir = crate::layout::DataDir::new(&self.inner.root).collection(collection.name());
        let name = disk::document_file_name(document.id);
        let bytes = serde_json::to_vec_pretty(document).context("cannot serialize a document")?;
        run_blocking(move || disk::write_atomically(&dir, &name, &bytes)).await
    }

    /// Claims the unique value of `document` for it, unless another document holds it.
    fn reserve_unique(
        &self,
        collection: Collection,
        document: &Document,
    ) -> StoreResult<Option<String>> {
        let Some(value) = unique_value(collection, document) else {
            return Ok(None);
        };
        let mut indexes = self.write();
        let documents = indexes.user_mut(collection, &document.user_id);
        match documents.unique.get(&value) {
            Some(holder) if *holder != document.id => Err(StoreError::Duplicate {
                field: collection.unique_field().unwrap_or("name").to_owned(),
                existing_id: *holder,
            }),
            Some(_) => Ok(None),
            None => {
                documents.unique.insert(value.clone(), document.id);
                Ok(Some(value))
            }
        }
    }

    fn release_unique(
        &self,
        collection: Collection,
        user: &UserId,
        value: Option<String>,
        id: Uuid,
    ) {
        if let Some(value) = value {
            let mut indexes = self.write();
            let documents = indexes.user_mut(collection, user);
            if documents.unique.get(&value) == Some(&id) {
                documents.unique.remove(&value);
            }
        }
    }

    async fn insert(&self, collection: Collection, document: Document) -> StoreResult<Document> {
        self.write_new_version(collection, document).await
    }

    /// Persists a new version of a document (or a new document) and indexes it. The caller
    /// holds the document's stripe lock when replacing.
    async fn write_new_version(
        &self,
        collection: Collection,
        document: Document,
    ) -> StoreResult<Document> {
        let reserved = self.reserve_unique(collection, &document)?;
        if let Err(error) = self.persist(collection, &document).await {
            self.release_unique(collection, &document.user_id, reserved, document.id);
            return Err(error);
        }
        self.write()
            .user_mut(collection, &document.user_id)
            .put(collection, Arc::new(document.clone()));
        Ok(self.decorate(collection, document))
    }

    async fn get(&self, collection: Collection, user: &UserId, id: Uuid) -> StoreResult<Document> {
        self.current(collection, user, id)
            .map(|document| self.decorate(collection, Document::clone(&document)))
    }

    async fn replace(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
        expected_version: u64,
        body: Map<String, Value>,
    ) -> StoreResult<Document> {
        let _guard = self.lock_document(id).await;
        let current = self.current(collection, user, id)?;
        if current.version != expected_version {
            return Err(StoreError::VersionMismatch);
        }
        let next = Document {
            version: current.version + 1,
            updated_at: Timestamp::now().max(current.updated_at),
            body,
            ..Document::clone(&current)
        };
        self.write_new_version(collection, next).await
    }

    async fn delete(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> StoreResult<Document> {
        let _guard = self.lock_document(id).await;
        let current = self.current(collection, user, id)?;
        if expected_version.is_some_and(|expected| expected != current.version) {
            return Err(StoreError::VersionMismatch);
        }
        let dir = crate::layout::DataDir::new(&self.inner.root).collection(collection.name());
        let name = disk::document_file_name(id);
        run_blocking(move || disk::remove_durably(&dir, &name)).await?;
        self.write()
            .user_mut(collection, user)
            .remove(collection, id);
        if collection == Collection::Chats {
            // The document goes first: an append that raced this delete then finds no chat.
            // A crash in between leaves a log without a chat, removed at the next start.
            self.delete_chat_log(id).await?;
        }
        Ok(Document::clone(&current))
    }

    async fn list(&self, query: &ListQuery) -> StoreResult<Page> {
        let mut page = match self.read().user(query.collection, &query.user) {
            Some(documents) => documents.list(query),
            None => Page {
                items: Vec::new(),
                next: None,
                total: query.include_total.then_some(0),
            },
        };
        page.items = (page.items.into_iter())
            .map(|document| self.decorate(query.collection, document))
            .collect();
        Ok(page)
    }

    async fn existing_ids(
        &self,
        collection: Collection,
        user: &UserId,
        ids: &[Uuid],
    ) -> StoreResult<HashSet<Uuid>> {
        let indexes = self.read();
        let Some(documents) = indexes.user(collection, user) else {
            return Ok(HashSet::new());
        };
        Ok(ids
            .iter()
            .filter(|id| documents.by_id.contains_key(id))
            .copied()
            .collect())
    }

    async fn taken_ids(&self, collection: Collection, ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
        let indexes = self.read();
        Ok(ids
            .iter()
            .filter(|id| {
                indexes
                    .all_users(collection)
                    .any(|documents| documents.by_id.contains_key(id))
            })
            .copied()
            .collect())
    }

    /// Writes a document as given (a copy or a mirror), replacing whatever version is stored.
    async fn put_document(&self, collection: Collection, document: Document) -> StoreResult<()> {
        let _guard = self.lock_document(document.id).await;
        self.write_new_version(collection, document)
            .await
            .map(|_| ())
    }

    /// Every user's documents of `collection` with ids after `after`, in id order.
    async fn scan_documents(
        &self,
        collection: Collection,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<Document>> {
        let indexes = self.read();
        let mut found: Vec<&Arc<Document>> = indexes
            .all_users(collection)
            .flat_map(|documents| documents.by_id.values())
            .filter(|document| after.is_none_or(|after| document.id > after))
            .collect();
        found.sort_by_key(|document| document.id);
        Ok(found
            .into_iter()
            .take(limit)
            .map(|document| self.decorate(collection, Document::clone(document)))
            .collect())
    }

    async fn remove_references(
        &self,
        collection: Collection,
        user: &UserId,
        removal: &Removal,
    ) -> StoreResult<u64> {
        if collection == Collection::Messages {
            return self.remove_message_references(user, removal).await;
        }
        let candidates: Vec<Uuid> = {
            let indexes = self.read();
            indexes
                .user(collection, user)
                .map_or_else(Vec::new, |documents| {
                    documents
                        .by_id
                        .values()
                        .filter(|document| removal.matches(&document.body))
                        .map(|document| document.id)
                        .collect()
                })
        };
        let mut changed = 0;
        if let Removal::Owned { .. } = removal {
            for id in candidates {
                match self.delete(collection, user, id, None).await {
                    Ok(_) => changed += 1,
                    Err(StoreError::NotFound) => {}
                    Err(error) => return Err(error),
                }
            }
            return Ok(changed);
        }
        for id in candidates {
            for _ in 0..REMOVAL_ATTEMPTS {
                let Ok(current) = self.current(collection, user, id) else {
                    break;
                };
                let mut body = current.body.clone();
                if !removal.apply(&mut body) {
                    break;
                }
                match self
                    .replace(collection, user, id, current.version, body)
                    .await
                {
                    Ok(_) => {
                        changed += 1;
                        break;
                    }
                    Err(StoreError::VersionMismatch | StoreError::NotFound) => continue,
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(changed)
    }

    async fn health(&self) -> StoreHealth {
        let started = Instant::now();
        let root = self.inner.root.clone();
        let probe = tokio::task::spawn_blocking(move || {
            std::fs::metadata(crate::layout::DataDir::new(root).lock_file())
        })
        .await;
        let latency = started.elapsed();
        let (status, message) = match probe {
            Ok(Ok(_)) if self.inner.problems.is_empty() => (HealthStatus::Healthy, None),
            Ok(Ok(_)) => (
                HealthStatus::Degraded,
                Some(format!(
                    "{} document file(s) could not be read and were skipped: {}",
                    self.inner.problems.len(),
                    self.inner
                        .problems
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            ),
            Ok(Err(error)) => (
                HealthStatus::Unhealthy,
                Some(format!("DATA_DIR unreadable: {error}")),
            ),
            Err(_) => (
                HealthStatus::Unhealthy,
                Some("health probe failed".to_owned()),
            ),
        };
        StoreHealth {
            backend: "json",
            status,
            latency,
            message,
        }
    }
}

impl Drop for Inner {
    /// A clean shutdown checkpoints the open logs, so the next start reads index headers only
    /// (after a crash the next start replays what the indexes miss instead).
    fn drop(&mut self) {
        let logs = self
            .logs
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        chat_logs::checkpoint_all(logs.values());
    }
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> StoreResult<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(StoreError::Internal),
        Err(error) => Err(StoreError::Internal(anyhow::anyhow!(
            "blocking task failed: {error}"
        ))),
    }
}
