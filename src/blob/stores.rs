//! The blob stores of a running service: the current one, where every new blob goes
//! (uploads, direct uploads, image variants), and while blobs move after the blob backend was
//! switched (`BLOBS_FALLBACK`), the old one. A file is read from the store its record names
//! in `storage.backend`, so nothing becomes unreadable between the switch and the end of
//! `quillstore migrate copy --from-fallback`, which moves each blob and then its record.
//!
//! A key names the same bytes in either store (keys are never reused and a move keeps them),
//! so the two stores share one cache and reference counting stays by key.

use std::ops::Deref;

use super::{BlobKey, BlobResult, BlobStore};
use crate::health::StoreHealth;

/// The current blob store and, while blobs move away from it, the old one. Cheap to clone.
/// It dereferences to the current store: everything not read through a file record goes
/// there.
#[derive(Clone)]
pub struct BlobStores {
    current: BlobStore,
    fallback: Option<BlobStore>,
}

impl BlobStores {
    /// `fallback` must be the other kind of store (the configuration refuses the same kind).
    pub fn new(current: BlobStore, fallback: Option<BlobStore>) -> Self {
        Self { current, fallback }
    }

    /// The store every new blob goes to.
    pub fn current(&self) -> &BlobStore {
        &self.current
    }

    /// The store blobs move away from (`BLOBS_FALLBACK`), while one is configured.
    pub fn fallback(&self) -> Option<&BlobStore> {
        self.fallback.as_ref()
    }

    /// The store holding the blob of a record whose `storage.backend` is `backend`: the
    /// fallback when the record names it, else the current store.
    pub fn holding(&self, backend: &str) -> &BlobStore {
        match &self.fallback {
            Some(fallback) if fallback.backend() == backend => fallback,
            _ => &self.current,
        }
    }

    /// Deletes the blob `key` from every store (its last record went): a move may have
    /// copied it to the current store before that record was flipped, and nothing may
    /// adopt that copy once no record names the key. A missing blob is not an error.
    pub async fn delete_everywhere(&self, key: &BlobKey) -> BlobResult<()> {
        if let Some(fallback) = &self.fallback {
            fallback.delete(key).await?;
        }
        self.current.delete(key).await
    }

    /// The health of the current store and of the fallback, probed together.
    pub async fn health(&self) -> (StoreHealth, Option<StoreHealth>) {
        match &self.fallback {
            None => (self.current.health().await, None),
            Some(fallback) => {
                let (current, fallback) = tokio::join!(self.current.health(), fallback.health());
                (current, Some(fallback))
            }
        }
    }
}

impl Deref for BlobStores {
    type Target = BlobStore;

    fn deref(&self) -> &BlobStore {
        &self.current
    }
}

impl From<BlobStore> for BlobStores {
    fn from(current: BlobStore) -> Self {
        Self::new(current, None)
    }
}
