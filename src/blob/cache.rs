//! A bounded in-memory cache of small file blobs (`BLOB_CACHE_BYTES`, objects up to
//! `BLOB_CACHE_MAX_OBJECT_BYTES`), least recently used out first.
//!
//! Why it is safe: the bytes under a file key never change (keys are never reused, an upload
//! never overwrites), so a cached copy can only go stale by deletion, and every delete through
//! the store evicts. A read that raced a delete does not fill the cache (see [`Fill`]).
//! Only keys under `users/` and `variants/` are cached: upload tickets and direct-upload data
//! may change.
//!
//! Hits, misses, size and object count are exported to `/metrics`.

use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use lru::LruCache;
use metrics::gauge;

use super::{BlobKey, BlobRead};

/// The cache of one blob store.
pub struct BlobCache {
    capacity: u64,
    max_object: u64,
    state: Mutex<State>,
    /// Bumped by every eviction for a delete: a fill that started before one is dropped.
    deletions: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

struct State {
    entries: LruCache<BlobKey, Bytes>,
    bytes: u64,
}

/// A read that may fill the cache once it has the whole blob, unless a delete came between.
pub struct Fill {
    deletions: u64,
}

impl BlobCache {
    /// A cache of at most `capacity` bytes of blobs of at most `max_object` bytes each;
    /// `None` when `capacity` is 0 (caching off).
    pub fn new(capacity: u64, max_object: u64) -> Option<Self> {
        (capacity > 0 && max_object > 0).then(|| Self {
            capacity,
            max_object: max_object.min(capacity),
            state: Mutex::new(State {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
            deletions: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// Whether blobs at `key` may be cached: file blobs and image variants, whose content
    /// never changes under their key (a variant's key names its original's SHA-256, its
    /// parameters and its rendering version).
    pub fn holds(key: &BlobKey) -> bool {
        let key = key.as_str();
        key.starts_with(BlobKey::ALL_USERS) || key.starts_with(BlobKey::ALL_VARIANTS)
    }

    /// The largest blob this cache keeps.
    pub fn max_object(&self) -> u64 {
        self.max_object
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached blob, or its `range`, as a read; `None` on a miss (or a range the cached
    /// bytes do not hold, left to the store to answer).
    pub fn read(&self, key: &BlobKey, range: Option<&RangeInclusive<u64>>) -> Option<BlobRead> {
        let found = self.state().entries.get(key).cloned();
        let Some(bytes) = found else {
            self.count(false);
            return None;
        };
        let bytes = match range {
            None => bytes,
            Some(range) if *range.end() < bytes.len() as u64 && range.start() <= range.end() => {
                bytes.slice(*range.start() as usize..=*range.end() as usize)
            }
            Some(_) => return None,
        };
        self.count(true);
        Some(whole(bytes))
    }

    fn count(&self, hit: bool) {
        let mine = if hit { &self.hits } else { &self.misses };
        mine.fetch_add(1, Ordering::Relaxed);
        let hits = self.hits.load(Ordering::Relaxed) as f64;
        let misses = self.misses.load(Ordering::Relaxed) as f64;
        crate::metrics::record_blob_cache_read(hit, hits / (hits + misses));
    }

    /// Starts a read whose result may be cached with [`BlobCache::finish`].
    pub fn start_fill(&self) -> Fill {
        Fill {
            deletions: self.deletions.load(Ordering::SeqCst),
        }
    }

    /// Caches `bytes` read from `key`, unless a delete happened since `fill` started.
    pub fn finish(&self, fill: Fill, key: &BlobKey, bytes: Bytes) {
        let size = bytes.len() as u64;
        if size > self.max_object {
            return;
        }
        let mut state = self.state();
        // Checked under the lock that evictions take, so a delete either comes before this
        // check (and the fill is dropped) or after the insert (and evicts it).
        if self.deletions.load(Ordering::SeqCst) != fill.deletions {
            return;
        }
        if let Some(previous) = state.entries.put(key.clone(), bytes) {
            state.bytes -= previous.len() as u64;
        }
        state.bytes += size;
        while state.bytes > self.capacity {
            match state.entries.pop_lru() {
                Some((_, evicted)) => state.bytes -= evicted.len() as u64,
                None => break,
            }
        }
        publish(&state);
    }

    /// Forgets `key` (its blob is being deleted).
    pub fn evict(&self, key: &BlobKey) {
        let mut state = self.state();
        self.deletions.fetch_add(1, Ordering::SeqCst);
        if let Some(evicted) = state.entries.pop(key) {
            state.bytes -= evicted.len() as u64;
        }
        publish(&state);
    }
}

fn publish(state: &State) {
    gauge!("quillstore_blob_cache_bytes").set(state.bytes as f64);
    gauge!("quillstore_blob_cache_objects").set(state.entries.len() as f64);
}

/// A read of bytes already in memory.
pub fn whole(bytes: Bytes) -> BlobRead {
    BlobRead {
        length: bytes.len() as u64,
        body: super::BlobBody::whole(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> BlobKey {
        BlobKey::parse(&format!("users/local/image/{name}")).unwrap()
    }

    #[test]
    fn the_least_recently_used_go_first_and_the_size_stays_bounded() {
        let cache = BlobCache::new(10, 4).unwrap();
        for name in ["a", "b", "c"] {
            let fill = cache.start_fill();
            cache.finish(fill, &key(name), Bytes::from_static(b"1234"));
        }
        assert!(cache.read(&key("a"), None).is_none(), "a went first");
        assert!(cache.read(&key("b"), None).is_some());
        let fill = cache.start_fill();
        cache.finish(fill, &key("big"), Bytes::from_static(b"12345"));
        assert!(
            cache.read(&key("big"), None).is_none(),
            "over the object limit"
        );
        assert!(cache.state().bytes <= 10);
    }

    #[test]
    fn a_read_that_raced_a_delete_does_not_fill() {
        let cache = BlobCache::new(100, 10).unwrap();
        let fill = cache.start_fill();
        cache.evict(&key("x"));
        cache.finish(fill, &key("x"), Bytes::from_static(b"old"));
        assert!(cache.read(&key("x"), None).is_none());
    }

    #[test]
    fn ranges_are_sliced_from_the_cached_bytes() {
        let cache = BlobCache::new(100, 10).unwrap();
        let fill = cache.start_fill();
        cache.finish(fill, &key("r"), Bytes::from_static(b"0123456789"));
        assert_eq!(cache.read(&key("r"), Some(&(2..=4))).unwrap().length, 3);
        assert!(cache.read(&key("r"), Some(&(5..=10))).is_none());
        assert!(!BlobCache::holds(&BlobKey::upload_ticket(
            &crate::model::UserId::local(),
            uuid::Uuid::nil()
        )));
    }
}
