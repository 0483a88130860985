//! Loading the documents at start (from the persisted indexes where they fit, else file by
//! file), keeping the persisted indexes honest while the store runs (the first write of a
//! collection removes its index) and writing them again at start and at a clean shutdown.
//! See `doc_index.rs` for when an index is trusted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use super::doc_index::{self, DirStamp};
use super::index::Indexes;
use super::summary::Entry;
use super::{JsonStore, disk};
use crate::layout::DataDir;
use crate::model::{Collection, UserId};

/// Whether a collection has a persisted index (memories are read whole at every start: their
/// vectors are indexed from the bodies).
pub fn persisted(collection: Collection) -> bool {
    collection != Collection::Memories
}

/// The documents of every collection as loaded at start.
pub struct Documents {
    pub indexes: Indexes,
    pub problems: HashMap<Collection, Vec<String>>,
    pub seals: HashMap<Collection, Mutex<Seal>>,
    /// How many collections were read file by file (no index fitted).
    pub scanned: usize,
    pub count: usize,
}

/// The persisted index of one collection as it is on disk.
#[derive(Default)]
pub struct Seal {
    /// The stamp of the index file on disk, if there is one (then no write of this run has
    /// touched the collection yet).
    on_disk: Option<DirStamp>,
}

/// Loads every collection: from its index when one fits the directory (and `trust_indexes`),
/// else file by file.
pub fn load(root: &Path, trust_indexes: bool) -> anyhow::Result<Documents> {
    doc_index::clean(root)?;
    let mut documents = Documents {
        indexes: Indexes::default(),
        problems: HashMap::new(),
        seals: HashMap::new(),
        scanned: 0,
        count: 0,
    };
    for collection in Collection::DOCUMENTS {
        let indexed = (trust_indexes && persisted(collection))
            .then(|| doc_index::read(root, collection))
            .flatten();
        let (entries, problems, on_disk) = match indexed {
            Some(indexed) => (indexed.entries, indexed.problems, Some(indexed.stamp)),
            None => {
                documents.scanned += 1;
                let dir = DataDir::new(root).collection(collection.name());
                let loaded = disk::load_collection(&dir, |document| {
                    (document.user_id.clone(), Entry::of(collection, document))
                })?;
                (loaded.documents, loaded.problems, None)
            }
        };
        documents.count += entries.len();
        for (user, entry) in entries {
            (documents.indexes)
                .user_mut(collection, &user)
                .put(collection, entry);
        }
        documents.problems.insert(collection, problems);
        documents
            .seals
            .insert(collection, Mutex::new(Seal { on_disk }));
    }
    Ok(documents)
}

/// Writes the index of every persisted collection whose index on disk is missing or no longer
/// fits its directory. The caller keeps writers out (at start, and when the store is dropped).
pub fn write_all(
    root: &Path,
    indexes: &Indexes,
    problems: &HashMap<Collection, Vec<String>>,
    seals: &HashMap<Collection, Mutex<Seal>>,
) {
    for collection in Collection::DOCUMENTS
        .into_iter()
        .filter(|collection| persisted(*collection))
    {
        let Some(seal) = seals.get(&collection) else {
            continue;
        };
        let mut seal = lock(seal);
        let dir = DataDir::new(root).collection(collection.name());
        if seal.on_disk.is_some() && seal.on_disk == DirStamp::of(&dir).ok() {
            continue;
        }
        let entries: Vec<(&UserId, &Entry)> = indexes
            .users(collection)
            .flat_map(|(user, documents)| documents.by_id.values().map(move |entry| (user, entry)))
            .collect();
        if entries.is_empty() {
            // Nothing to read at start: no index (an empty directory is read at once).
            if seal.on_disk.take().is_some()
                && let Err(error) = doc_index::remove(root, collection)
            {
                tracing::warn!(collection = collection.name(), error = %format!("{error:#}"), "cannot remove a document index");
            }
            continue;
        }
        let no_problems = Vec::new();
        let problems = problems.get(&collection).unwrap_or(&no_problems);
        match doc_index::write(root, collection, entries.into_iter(), problems) {
            Ok(stamp) => seal.on_disk = Some(stamp),
            Err(error) => {
                tracing::warn!(collection = collection.name(), error = %format!("{error:#}"), "cannot write a document index; the next start reads the collection file by file");
            }
        }
    }
}

fn lock(seal: &Mutex<Seal>) -> MutexGuard<'_, Seal> {
    seal.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl JsonStore {
    /// Before the first write of a run to `collection`: removes its persisted index durably,
    /// so a crash after the write leaves no stale index to trust.
    pub(super) fn unseal(&self, collection: Collection) -> anyhow::Result<()> {
        let Some(seal) = self.inner.seals.get(&collection) else {
            return Ok(());
        };
        let mut seal = lock(seal);
        if seal.on_disk.is_some() {
            doc_index::remove(&self.inner.root, collection)?;
            seal.on_disk = None;
        }
        Ok(())
    }
}
