//! One lock per variant being made, so concurrent requests for the same missing variant
//! decode it once: the first makes it, the others wait and then find it in the blob store.
//! Entries live only while someone holds or waits for them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::blob::BlobKey;

type Entries = Mutex<HashMap<BlobKey, Arc<tokio::sync::Mutex<()>>>>;

/// Locks by blob key.
#[derive(Default)]
pub struct InFlight {
    entries: Arc<Entries>,
}

/// Held while one variant is made; dropping it lets the next request for the key in.
pub struct KeyGuard {
    key: BlobKey,
    entries: Arc<Entries>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl InFlight {
    pub async fn lock(&self, key: &BlobKey) -> KeyGuard {
        let lock = {
            let mut entries = self
                .entries
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            entries.entry(key.clone()).or_default().clone()
        };
        KeyGuard {
            key: key.clone(),
            entries: self.entries.clone(),
            guard: Some(lock.lock_owned().await),
        }
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        self.guard.take();
        // Only the map still holds the lock: nobody waits for it.
        if entries
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            entries.remove(&self.key);
        }
    }
}
