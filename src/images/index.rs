//! What this process knows of the variants in the blob store: variant key → size and
//! identity (the `ETag`, a SHA-256 not worth computing again on every request), so a
//! request for a variant made or found before is served without asking the store whether it
//! exists (no stat, no HEAD, no task, no lock), like a plain file.
//!
//! Why it is safe: a variant's key names its owner, its original's SHA-256 and its
//! parameters, so the bytes under it never change; it can only go stale by deletion. Every
//! removal of an original's variants through [`super::Variants::remove`] forgets them, and a
//! lookup that started before a removal does not record what it found (the blob cache's
//! rule for fills). A variant deleted by another process (`quillstore gc` run beside the
//! server) is forgotten when serving it finds its blob missing. Bounded: at most
//! [`CAPACITY`] entries, least recently used out first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::blob::BlobKey;

/// The most variants remembered (an entry is a key, a size and an identity: about 300 bytes).
pub const CAPACITY: usize = 16_384;

/// What is known of one stored variant.
#[derive(Clone)]
pub struct Known {
    pub size: u64,
    pub identity: Arc<str>,
}

pub struct VariantIndex {
    entries: Mutex<LruCache<BlobKey, Known>>,
    capacity: usize,
    /// Bumped by every removal: a lookup that started before one records nothing.
    removals: AtomicU64,
}

/// A lookup in the store whose result may be recorded, unless a removal came between.
pub struct Lookup {
    removals: u64,
}

impl VariantIndex {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(LruCache::unbounded()),
            capacity: capacity.max(1),
            removals: AtomicU64::new(0),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, LruCache<BlobKey, Known>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The size and identity of the variant stored at `key`, when it is known.
    pub fn get(&self, key: &BlobKey) -> Option<Known> {
        self.entries().get(key).cloned()
    }

    /// Starts a lookup whose result may be recorded with [`VariantIndex::record`].
    pub fn start(&self) -> Lookup {
        Lookup {
            removals: self.removals.load(Ordering::SeqCst),
        }
    }

    /// Remembers that the variant at `key` is stored with `size` bytes and has `identity`,
    /// unless a removal happened since `lookup` started.
    pub fn record(&self, lookup: Lookup, key: &BlobKey, size: u64, identity: &Arc<str>) {
        let mut entries = self.entries();
        // Checked under the lock removals take: a removal either comes before this check
        // (and nothing is recorded) or after the insert (and forgets it).
        if self.removals.load(Ordering::SeqCst) != lookup.removals {
            return;
        }
        let known = Known {
            size,
            identity: Arc::clone(identity),
        };
        entries.put(key.clone(), known);
        while entries.len() > self.capacity {
            entries.pop_lru();
        }
    }

    /// Forgets every variant whose key starts with `prefix` (its original's variants go).
    pub fn forget_prefix(&self, prefix: &str) {
        let mut entries = self.entries();
        self.removals.fetch_add(1, Ordering::SeqCst);
        let gone: Vec<BlobKey> = entries
            .iter()
            .map(|(key, _)| key)
            .filter(|key| key.as_str().starts_with(prefix))
            .cloned()
            .collect();
        for key in gone {
            entries.pop(&key);
        }
    }

    /// Forgets one variant (its blob was found missing).
    pub fn forget(&self, key: &BlobKey) {
        let mut entries = self.entries();
        self.removals.fetch_add(1, Ordering::SeqCst);
        entries.pop(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(index: &VariantIndex, key: &BlobKey) -> Option<u64> {
        index.get(key).map(|known| known.size)
    }

    fn key(sha: &str, name: &str) -> BlobKey {
        BlobKey::parse(&format!("variants/local/{sha}/{name}")).unwrap()
    }

    #[test]
    fn bounded_least_recently_used_first() {
        let index = VariantIndex::new(2);
        for name in ["a", "b", "c"] {
            index.record(index.start(), &key("s", name), 1, &Arc::from(name));
        }
        assert_eq!(&*index.get(&key("s", "c")).unwrap().identity, "c");
        assert_eq!(size(&index, &key("s", "a")), None);
        assert_eq!(size(&index, &key("s", "c")), Some(1));
    }

    #[test]
    fn removals_forget_an_originals_variants_and_stale_lookups() {
        let index = VariantIndex::new(10);
        index.record(index.start(), &key("one", "a"), 1, &Arc::from("id"));
        index.record(index.start(), &key("two", "a"), 2, &Arc::from("id"));
        let raced = index.start();
        index.forget_prefix("variants/local/one/");
        index.record(raced, &key("one", "b"), 3, &Arc::from("id"));
        assert_eq!(size(&index, &key("one", "a")), None);
        assert_eq!(
            size(&index, &key("one", "b")),
            None,
            "a lookup older than the removal"
        );
        assert_eq!(size(&index, &key("two", "a")), Some(2));
        index.forget(&key("two", "a"));
        assert_eq!(size(&index, &key("two", "a")), None);
    }
}
