//! What the json store keeps of each document in memory: a summary, and a bounded cache of
//! whole documents read from disk on demand.
//!
//! Why: holding every document whole made memory grow with everything stored (266 MiB for
//! 100,000 characters). A summary keeps the fields lists filter, sort and clean references
//! on: every number, boolean and null, strings up to [`KEEP_TEXT_BYTES`], arrays and objects
//! up to [`KEEP_STRUCTURED_BYTES`] as JSON, and always the collection's name, unique and sort
//! fields. Long text (descriptions, greetings, sealed secrets) stays on disk; the summary
//! names the fields it left out, so a filter or removal that reads one of them reads the
//! whole document instead, never a wrong answer. A summary that left nothing out *is* the
//! document. Memories are always kept whole (their vectors are indexed from the body).

use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{Collection, Document};

/// Strings longer than this (in bytes) are left out of a summary.
pub const KEEP_TEXT_BYTES: usize = 128;
/// Arrays and objects longer than this as JSON are left out of a summary.
pub const KEEP_STRUCTURED_BYTES: usize = 1024;
/// The budget of the cache of whole documents, in bytes of their files.
pub const BODY_CACHE_BYTES: usize = 32 << 20;

/// One document as the in-memory index holds it.
pub struct Entry {
    /// The document, without the fields named in `dropped`.
    pub summary: Arc<Document>,
    /// Fields of the stored document left out of `summary`; empty when it is whole.
    pub dropped: Box<[Box<str>]>,
}

impl Entry {
    /// The summary of `document` as stored in `collection`.
    pub fn of(collection: Collection, document: Document) -> Self {
        if collection == Collection::Memories {
            return Self::whole(document);
        }
        let Document {
            id,
            user_id,
            created_at,
            updated_at,
            version,
            body,
        } = document;
        let mut kept = Map::new();
        let mut dropped = Vec::new();
        for (field, value) in body {
            if keeps(collection, &field, &value) {
                kept.insert(field, value);
            } else {
                dropped.push(field.into_boxed_str());
            }
        }
        Self {
            summary: Arc::new(Document {
                id,
                user_id,
                created_at,
                updated_at,
                version,
                body: kept,
            }),
            dropped: dropped.into_boxed_slice(),
        }
    }

    /// An entry that holds the whole document.
    pub fn whole(document: Document) -> Self {
        Self {
            summary: Arc::new(document),
            dropped: Box::new([]),
        }
    }

    pub fn is_whole(&self) -> bool {
        self.dropped.is_empty()
    }

    /// Whether the summary left out any of `fields`.
    pub fn lacks_any(&self, fields: &[&str]) -> bool {
        !self.is_whole()
            && (self.dropped.iter()).any(|dropped| fields.iter().any(|field| **dropped == **field))
    }
}

fn keeps(collection: Collection, field: &str, value: &Value) -> bool {
    if field == collection.name_field()
        || collection.unique_field() == Some(field)
        || collection.sort_keys().contains(&field)
    {
        return true;
    }
    match value {
        Value::String(text) => text.len() <= KEEP_TEXT_BYTES,
        Value::Array(_) | Value::Object(_) => json_len(value) <= KEEP_STRUCTURED_BYTES,
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

/// The length of `value` as compact JSON, without building it.
fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Whole documents recently read or written, least recently used out first, bounded by the
/// bytes of their files. Filled by readers only while they hold the index's read lock and the
/// entry still has the version read, and changed by writers only under its write lock, so an
/// older version never replaces a newer one.
pub struct Bodies {
    state: Mutex<Cached>,
}

struct Cached {
    entries: LruCache<(Collection, Uuid), (Arc<Document>, usize)>,
    bytes: usize,
}

impl Default for Bodies {
    fn default() -> Self {
        Self {
            state: Mutex::new(Cached {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }
}

impl Bodies {
    fn state(&self) -> MutexGuard<'_, Cached> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached whole document of `summary`'s version, if any.
    pub fn get(&self, collection: Collection, summary: &Document) -> Option<Arc<Document>> {
        let mut state = self.state();
        let (document, _) = state.entries.get(&(collection, summary.id))?;
        (document.version == summary.version).then(|| Arc::clone(document))
    }

    pub fn put(&self, collection: Collection, document: Arc<Document>, bytes: usize) {
        if bytes > BODY_CACHE_BYTES / 8 {
            self.remove(collection, document.id);
            return;
        }
        let mut state = self.state();
        if let Some((_, old)) = state
            .entries
            .put((collection, document.id), (document, bytes))
        {
            state.bytes -= old;
        }
        state.bytes += bytes;
        while state.bytes > BODY_CACHE_BYTES {
            match state.entries.pop_lru() {
                Some((_, (_, size))) => state.bytes -= size,
                None => break,
            }
        }
    }

    pub fn remove(&self, collection: Collection, id: Uuid) {
        let mut state = self.state();
        if let Some((_, size)) = state.entries.pop(&(collection, id)) {
            state.bytes -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{Timestamp, UserId};

    fn document(body: Value) -> Document {
        let Value::Object(body) = body else {
            panic!("an object")
        };
        Document::new(
            Uuid::now_v7(),
            UserId::local(),
            Timestamp::from_millis(1),
            body,
        )
    }

    #[test]
    fn a_summary_keeps_short_fields_and_names_the_long_ones() {
        let long = "x".repeat(KEEP_TEXT_BYTES + 1);
        let entry = Entry::of(
            Collection::Characters,
            document(json!({"name": long, "title": "t", "description": long, "tags": ["a"]})),
        );
        assert_eq!(entry.dropped.as_ref(), [Box::from("description")]);
        assert!(entry.lacks_any(&["title", "description"]));
        assert!(!entry.lacks_any(&["title", "tags"]));
        assert_eq!(
            entry.summary.body["name"],
            json!(long),
            "the name field stays"
        );
        let whole = Entry::of(Collection::Characters, document(json!({"name": "n"})));
        assert!(whole.is_whole());
    }

    #[test]
    fn memories_stay_whole() {
        let long = "x".repeat(KEEP_TEXT_BYTES * 4);
        let entry = Entry::of(Collection::Memories, document(json!({"summary": long})));
        assert!(entry.is_whole());
    }

    #[test]
    fn the_cache_keeps_to_its_budget_and_to_versions() {
        let bodies = Bodies::default();
        let first = Arc::new(document(json!({"name": "a"})));
        bodies.put(Collection::Tags, Arc::clone(&first), BODY_CACHE_BYTES / 8);
        assert!(bodies.get(Collection::Tags, &first).is_some());
        let newer = Document {
            version: 2,
            ..Document::clone(&first)
        };
        assert!(bodies.get(Collection::Tags, &newer).is_none());
        for _ in 0..8 {
            let other = Arc::new(document(json!({"name": "b"})));
            bodies.put(Collection::Tags, other, BODY_CACHE_BYTES / 8);
        }
        assert!(bodies.get(Collection::Tags, &first).is_none(), "evicted");
        assert!(bodies.state().bytes <= BODY_CACHE_BYTES);
    }
}
