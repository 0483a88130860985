//! The embedded json metadata store: one file per document under `DATA_DIR/<collection>/`,
//! every write crash-safe and durable before it is acknowledged, indexes of document
//! summaries in memory (persisted per collection for a fast start), whole documents read on
//! demand through a bounded cache. One generic implementation serves every collection.

mod backend;
mod chat_logs;
mod disk;
mod doc_index;
mod index;
mod log;
mod log_index;
mod messages;
mod persisted;
mod search;
mod summary;

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
use self::persisted::Seal;
use self::summary::{Bodies, Entry};
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
    /// Whole documents recently read or written (summaries leave long fields out).
    bodies: Bodies,
    /// Each collection's persisted index on disk, removed by the first write of a run.
    seals: HashMap<Collection, std::sync::Mutex<Seal>>,
    /// Files found unreadable when each collection was last read file by file.
    document_problems: HashMap<Collection, Vec<String>>,
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
    /// temp files of interrupted writes and loads every document's summary (from the
    /// persisted indexes where they fit).
    pub async fn open(root: &Path) -> anyhow::Result<Self> {
        Self::open_with(root, true).await
    }

    /// Opens the store reading every document file, trusting no persisted index: for the
    /// migration commands, which copy and verify what is on disk (a file damaged or edited in
    /// place while the store was stopped does not change its directory's stamp).
    pub async fn open_reading_every_file(root: &Path) -> anyhow::Result<Self> {
        Self::open_with(root, false).await
    }

    async fn open_with(root: &Path, trust_indexes: bool) -> anyhow::Result<Self> {
        let root = root.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(root, trust_indexes))
            .await
            .context("store loader panicked")?
    }

    fn open_blocking(root: PathBuf, trust_indexes: bool) -> anyhow::Result<Self> {
        let lock = disk::lock_data_dir(&root)?;
        disk::check_format(&root)?;
        let started = Instant::now();
        let documents = persisted::load(&root, trust_indexes)?;
        let mut problems: Vec<String> = (Collection::DOCUMENTS.iter())
            .filter_map(|collection| documents.problems.get(collection))
            .flatten()
            .cloned()
            .collect();
        let count = documents.count;
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
        persisted::write_all(
            &root,
            &documents.indexes,
            &documents.problems,
            &documents.seals,
        );
        tracing::info!(
            root = %root.display(),
            documents = count,
            collections_read_file_by_file = documents.scanned,
            chats_with_messages = logs.len() + survey.dormant.len(),
            problems = problems.len(),
            documents_ms = documents_loaded.as_millis() as u64,
            message_logs_ms = logs_surveyed.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "json store opened"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                indexes: RwLock::new(documents.indexes),
                bodies: Bodies::default(),
                seals: documents.seals,
                document_problems: documents.problems,
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
        if let Some(stats) = self.maintained(collection, document.id) {
            stats.apply(&mut document.body);
        }
        document
    }

    /// [`Self::decorate`] for a shared document: copied only when something is added.
    fn decorate_shared(&self, collection: Collection, document: Arc<Document>) -> Arc<Document> {
        match self.maintained(collection, document.id) {
            None => document,
            Some(stats) => {
                let mut document = Arc::unwrap_or_clone(document);
                stats.apply(&mut document.body);
                Arc::new(document)
            }
        }
    }

    /// What the server maintains for a document of `collection` from other records.
    fn maintained(&self, collection: Collection, id: Uuid) -> Option<crate::store::ChatStats> {
        (collection == Collection::Chats).then(|| self.chat_stats(id))
    }

    async fn lock_document(&self, id: Uuid) -> MutexGuard<'_, ()> {
        let stripe = (id.as_u128() % WRITE_STRIPES as u128) as usize;
        self.inner.stripes[stripe].lock().await
    }

    /// The envelope of a stored document (id, owner, times, version), without its body.
    fn envelope(&self, collection: Collection, user: &UserId, id: Uuid) -> StoreResult<Document> {
        self.read()
            .user(collection, user)
            .and_then(|documents| documents.by_id.get(&id))
            .map(|entry| entry.envelope(user))
            .ok_or(StoreError::NotFound)
    }

    /// The whole stored document: from its summary when that holds the whole body, else from
    /// the cache or its file.
    async fn whole(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
    ) -> StoreResult<Arc<Document>> {
        {
            let indexes = self.read();
            let entry = (indexes.user(collection, user))
                .and_then(|documents| documents.by_id.get(&id))
                .ok_or(StoreError::NotFound)?;
            if let Some(document) = entry.document(user) {
                return Ok(document);
            }
            if let Some(document) = self.inner.bodies.get(collection, entry) {
                return Ok(document);
            }
        }
        let store = self.clone();
        let user = user.clone();
        run_blocking(move || {
            let indexes = store.read();
            (indexes.user(collection, &user))
                .and_then(|documents| documents.by_id.get(&id))
                .map(|entry| store.load_whole(collection, &user, entry))
                .transpose()
        })
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// The whole document of `entry` (owned by `user`), read from its file on a cache miss.
    /// The caller holds the index's read lock (so `entry` is current while the cache is
    /// filled) and may block.
    fn load_whole(
        &self,
        collection: Collection,
        user: &UserId,
        entry: &Entry,
    ) -> anyhow::Result<Arc<Document>> {
        if let Some(document) = entry.document(user) {
            return Ok(document);
        }
        if let Some(document) = self.inner.bodies.get(collection, entry) {
            return Ok(document);
        }
        let path = crate::layout::DataDir::new(&self.inner.root)
            .collection(collection.name())
            .join(disk::document_file_name(entry.id));
        let (document, bytes) = disk::read_document(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let document = Arc::new(document);
        // A writer renames its file before it updates the index: a newer file is returned
        // (it is durable) but not cached under the older summary.
        if document.version == entry.version {
            (self.inner.bodies).put(collection, Arc::clone(&document), bytes);
        }
        Ok(document)
    }

    /// Puts a document just written into the index (and the cache, when its summary leaves
    /// fields out).
    fn index_written(&self, collection: Collection, document: Document, bytes: usize) {
        let user = document.user_id.clone();
        let entry = Entry::of(collection, document.clone());
        let mut indexes = self.write();
        if entry.is_whole() {
            self.inner.bodies.remove(collection, document.id);
        } else {
            (self.inner.bodies).put(collection, Arc::new(document), bytes);
        }
        indexes.user_mut(collection, &user).put(collection, entry);
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

    /// Persists a new version of a document (or a new document) and indexes it, in one
    /// blocking task that runs to its end even when the caller goes away, so the index never
    /// misses a write that reached the disk. The caller holds the document's stripe lock when
    /// replacing.
    async fn write_new_version(
        &self,
        collection: Collection,
        document: Document,
    ) -> StoreResult<Document> {
        let reserved = self.reserve_unique(collection, &document)?;
        let store = self.clone();
        let written = document.clone();
        run_blocking(move || {
            let result = (|| {
                store.unseal(collection)?;
                let dir =
                    crate::layout::DataDir::new(&store.inner.root).collection(collection.name());
                let bytes =
                    serde_json::to_vec_pretty(&written).context("cannot serialize a document")?;
                disk::write_atomically(&dir, &disk::document_file_name(written.id), &bytes)?;
                Ok(bytes.len())
            })();
            match result {
                Ok(bytes) => {
                    store.index_written(collection, written, bytes);
                    Ok(())
                }
                Err(error) => {
                    store.release_unique(collection, &written.user_id, reserved, written.id);
                    Err(error)
                }
            }
        })
        .await?;
        Ok(self.decorate(collection, document))
    }

    /// The document as held in memory (or read into the cache), not a copy of it.
    async fn get(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
    ) -> StoreResult<Arc<Document>> {
        self.whole(collection, user, id)
            .await
            .map(|document| self.decorate_shared(collection, document))
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
        let current = self.envelope(collection, user, id)?;
        if current.version != expected_version {
            return Err(StoreError::VersionMismatch);
        }
        let next = Document {
            version: current.version + 1,
            updated_at: Timestamp::now().max(current.updated_at),
            body,
            ..current
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
        let current = self.whole(collection, user, id).await?;
        if expected_version.is_some_and(|expected| expected != current.version) {
            return Err(StoreError::VersionMismatch);
        }
        let store = self.clone();
        let owner = user.clone();
        run_blocking(move || {
            store.unseal(collection)?;
            let dir = crate::layout::DataDir::new(&store.inner.root).collection(collection.name());
            disk::remove_durably(&dir, &disk::document_file_name(id))?;
            let mut indexes = store.write();
            indexes.user_mut(collection, &owner).remove(collection, id);
            store.inner.bodies.remove(collection, id);
            Ok(())
        })
        .await?;
        if collection == Collection::Chats {
            // The document goes first: an append that raced this delete then finds no chat.
            // A crash in between leaves a log without a chat, removed at the next start.
            self.delete_chat_log(id).await?;
        }
        Ok(Document::clone(&current))
    }

    /// A page of a list, in a blocking task: items (and filters on fields the summaries do not
    /// hold) may read document files.
    async fn list(&self, query: &ListQuery) -> StoreResult<Page> {
        let store = self.clone();
        let owned = query.clone();
        let mut page = run_blocking(move || {
            let indexes = store.read();
            match indexes.user(owned.collection, &owned.user) {
                Some(documents) => documents.list(&owned, &|entry| {
                    store.load_whole(owned.collection, &owned.user, entry)
                }),
                None => Ok(Page {
                    items: Vec::new(),
                    next: None,
                    total: owned.include_total.then_some(0),
                }),
            }
        })
        .await?;
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

    /// Every user's documents of `collection` with ids after `after`, in id order, each read
    /// from its file (what a migration copies or verifies is what is on disk).
    async fn scan_documents(
        &self,
        collection: Collection,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<Document>> {
        let mut ids: Vec<Uuid> = self
            .read()
            .all_users(collection)
            .flat_map(|documents| documents.by_id.keys().copied())
            .filter(|id| after.is_none_or(|after| *id > after))
            .collect();
        ids.sort_unstable();
        ids.truncate(limit);
        let dir = crate::layout::DataDir::new(&self.inner.root).collection(collection.name());
        let documents = run_blocking(move || {
            let mut documents = Vec::with_capacity(ids.len());
            for id in ids {
                let path = dir.join(disk::document_file_name(id));
                match disk::read_document(&path) {
                    Ok((document, _)) => documents.push(document),
                    // Deleted since the ids were taken.
                    Err(_) if !path.exists() => {}
                    Err(error) => {
                        return Err(error.context(format!("cannot read {}", path.display())));
                    }
                }
            }
            Ok(documents)
        })
        .await?;
        Ok(documents
            .into_iter()
            .map(|document| self.decorate(collection, document))
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
        // Summaries answer unless they lack the field; those documents are read whole.
        let (mut candidates, unsure): (Vec<Uuid>, Vec<Uuid>) = {
            let indexes = self.read();
            let entries = (indexes.user(collection, user))
                .into_iter()
                .flat_map(|documents| documents.by_id.values());
            let mut candidates = Vec::new();
            let mut unsure = Vec::new();
            let field = [removal.field()];
            for entry in entries {
                if entry.lacks_any(collection, &field) {
                    unsure.push(entry.id);
                } else if removal.matches(&entry.fields(&field)) {
                    candidates.push(entry.id);
                }
            }
            (candidates, unsure)
        };
        for id in unsure {
            match self.whole(collection, user, id).await {
                Ok(document) if removal.matches(&document.body) => candidates.push(id),
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(error) => return Err(error),
            }
        }
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
                let Ok(current) = self.whole(collection, user, id).await else {
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
    /// (after a crash the next start replays what the indexes miss instead), then writes the
    /// document indexes a write of this run removed (after a crash the next start reads those
    /// collections file by file).
    fn drop(&mut self) {
        let logs = self
            .logs
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        chat_logs::checkpoint_all(logs.values());
        let indexes = self
            .indexes
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        persisted::write_all(&self.root, indexes, &self.document_problems, &self.seals);
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
