//! What the json store keeps of each document in memory: a summary, and a bounded cache of
//! whole documents read from disk on demand.
//!
//! Why: memory should grow with what queries use, not with everything stored. Holding every
//! document whole cost 266 MiB for 100,000 characters; summaries of every short field, as
//! parsed JSON maps (`serde_json` with `preserve_order` spends well over 100 bytes per field),
//! still cost 176 MiB. A summary now keeps only the collection's
//! [`Collection::indexed_fields`] (name, unique and sort fields, what list filters and
//! reference removals read), and holds them as one compact JSON text, parsed on demand (a
//! filter or removal parses only the fields it reads and skips the rest). Of those fields,
//! long values stay out too (strings over [`KEEP_TEXT_BYTES`], arrays and objects over
//! [`KEEP_STRUCTURED_BYTES`] as JSON) and are named. A query on a field the summary does not
//! hold (named as left out, or not indexed at all) reads the whole document instead: never a
//! wrong answer, only a slower one.
//!
//! A summary that holds every field *is* the document (a get or a list item reads no file):
//! so is every document of at most [`KEEP_WHOLE_BYTES`] as JSON (tags, most profiles), which
//! costs less kept whole than read. Memories are always kept whole and parsed (their vectors
//! are indexed from the body, and searches return them).

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{Collection, Document, Timestamp, UserId};

/// Strings longer than this (in bytes) are left out of a summary.
pub const KEEP_TEXT_BYTES: usize = 128;
/// Arrays and objects longer than this as JSON are left out of a summary.
pub const KEEP_STRUCTURED_BYTES: usize = 1024;
/// A body at most this long as compact JSON is kept whole, whatever its fields.
pub const KEEP_WHOLE_BYTES: usize = 256;
/// The budget of the cache of whole documents, in bytes of their files.
pub const BODY_CACHE_BYTES: usize = 32 << 20;

/// One document as the in-memory index holds it: its envelope (but the owner, which the
/// index is keyed by) and what it keeps of the body.
pub struct Entry {
    pub id: Uuid,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
    held: Held,
}

enum Held {
    /// Fields of the body as one compact JSON object.
    Fields {
        json: Box<str>,
        /// Indexed fields left out for their length.
        left_out: Box<[Box<str>]>,
        /// Whether `json` is the whole body.
        whole: bool,
    },
    /// The whole document, parsed (memories).
    Parsed(Arc<Document>),
}

impl Entry {
    /// The summary of `document` as stored in `collection`.
    pub fn of(collection: Collection, document: Document) -> Self {
        if collection == Collection::Memories {
            return Self::parsed(document);
        }
        let Document {
            id,
            created_at,
            updated_at,
            version,
            body,
            ..
        } = document;
        let held = if json_fits(&body, KEEP_WHOLE_BYTES) {
            Held::Fields {
                json: compact(&body),
                left_out: Box::new([]),
                whole: true,
            }
        } else {
            let indexed = collection.indexed_fields();
            let mut kept = Map::new();
            let mut left_out = Vec::new();
            let mut whole = true;
            for (field, value) in body {
                if !indexed.contains(&field.as_str()) {
                    whole = false;
                } else if short(&value) || keyed(collection, &field) {
                    kept.insert(field, value);
                } else {
                    left_out.push(field.into_boxed_str());
                }
            }
            Held::Fields {
                json: compact(&kept),
                whole: whole && left_out.is_empty(),
                left_out: left_out.into_boxed_slice(),
            }
        };
        Self {
            id,
            created_at,
            updated_at,
            version,
            held,
        }
    }

    /// An entry that holds the whole document, parsed.
    fn parsed(document: Document) -> Self {
        Self {
            id: document.id,
            created_at: document.created_at,
            updated_at: document.updated_at,
            version: document.version,
            held: Held::Parsed(Arc::new(document)),
        }
    }

    /// An entry as a persisted index row describes it: `json` the kept fields, `left_out`
    /// `None` when they are the whole body. `json` arrives already parsed as JSON (the row's
    /// parse checked it, once); it must be an object, so that reading its fields later
    /// cannot fail.
    pub fn from_row(
        envelope: (Uuid, Timestamp, Timestamp, u64),
        json: &RawValue,
        left_out: Option<Vec<String>>,
    ) -> Result<Self, NotAnObject> {
        let json = json.get();
        if !json.starts_with('{') {
            return Err(NotAnObject);
        }
        let (id, created_at, updated_at, version) = envelope;
        Ok(Self {
            id,
            created_at,
            updated_at,
            version,
            held: Held::Fields {
                json: json.into(),
                whole: left_out.is_none(),
                left_out: (left_out.unwrap_or_default().into_iter())
                    .map(String::into_boxed_str)
                    .collect(),
            },
        })
    }

    /// Whether the entry holds the whole body.
    pub fn is_whole(&self) -> bool {
        match &self.held {
            Held::Fields { whole, .. } => *whole,
            Held::Parsed(_) => true,
        }
    }

    /// Whether any of `fields` may be missing from what the entry holds: left out for its
    /// length, or not one of the collection's indexed fields.
    pub fn lacks_any(&self, collection: Collection, fields: &[&str]) -> bool {
        let Held::Fields {
            left_out,
            whole: false,
            ..
        } = &self.held
        else {
            return false;
        };
        let indexed = collection.indexed_fields();
        fields
            .iter()
            .any(|field| !indexed.contains(field) || left_out.iter().any(|left| **left == **field))
    }

    /// The held values of `fields` (those the body has), parsing nothing else. Callers ask
    /// only for fields the entry does not lack ([`Entry::lacks_any`]).
    pub fn fields(&self, fields: &[&str]) -> Map<String, Value> {
        match &self.held {
            Held::Fields { json, .. } => {
                let mut parser = serde_json::Deserializer::from_str(json);
                // `json` was made by serializing a map or checked by `from_row`.
                Select(fields).deserialize(&mut parser).unwrap_or_default()
            }
            Held::Parsed(document) => (fields.iter())
                .filter_map(|field| Some(((*field).to_owned(), document.body.get(*field)?.clone())))
                .collect(),
        }
    }

    /// The document, when the entry holds it parsed (memories).
    pub fn held_document(&self) -> Option<&Document> {
        match &self.held {
            Held::Parsed(document) => Some(document),
            Held::Fields { .. } => None,
        }
    }

    /// The whole document of `user`, when the entry holds it.
    pub fn document(&self, user: &UserId) -> Option<Arc<Document>> {
        match &self.held {
            Held::Parsed(document) => Some(Arc::clone(document)),
            Held::Fields {
                json, whole: true, ..
            } => Some(Arc::new(Document {
                body: serde_json::from_str(json).unwrap_or_default(),
                ..self.envelope(user)
            })),
            Held::Fields { .. } => None,
        }
    }

    /// The envelope of the document of `user` (id, owner, times, version), with no body.
    pub fn envelope(&self, user: &UserId) -> Document {
        Document {
            id: self.id,
            user_id: user.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
            body: Map::new(),
        }
    }

    /// What a persisted index row stores of the body: the held fields as compact JSON, and
    /// the indexed fields left out (`None` when the JSON is the whole body).
    pub fn row_body(&self) -> (Cow<'_, str>, Option<&[Box<str>]>) {
        match &self.held {
            Held::Fields {
                json,
                left_out,
                whole,
            } => (Cow::Borrowed(&**json), (!whole).then_some(&**left_out)),
            Held::Parsed(document) => (Cow::Owned(compact(&document.body).into()), None),
        }
    }
}

/// A persisted summary that is JSON but not an object.
#[derive(Debug, thiserror::Error)]
#[error("a summary is not a JSON object")]
pub struct NotAnObject;

/// Whether the in-memory orders and unique check are keyed by `field`: kept at any length.
fn keyed(collection: Collection, field: &str) -> bool {
    field == collection.name_field()
        || collection.unique_field() == Some(field)
        || collection.sort_keys().contains(&field)
}

/// Whether a value is short enough for a summary.
fn short(value: &Value) -> bool {
    match value {
        Value::String(text) => text.len() <= KEEP_TEXT_BYTES,
        Value::Array(_) | Value::Object(_) => json_fits(value, KEEP_STRUCTURED_BYTES),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compact(body: &Map<String, Value>) -> Box<str> {
    // A map of JSON values always serializes.
    serde_json::to_string(body)
        .unwrap_or_default()
        .into_boxed_str()
}

/// Whether `value` as compact JSON is at most `limit` bytes long, without building it: the
/// count stops at the limit, so a long description is not written out just to be measured.
fn json_fits(value: &impl serde::Serialize, limit: usize) -> bool {
    struct Count {
        written: usize,
        limit: usize,
    }
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.written += bytes.len();
            if self.written > self.limit {
                return Err(std::io::ErrorKind::Other.into());
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count { written: 0, limit };
    serde_json::to_writer(&mut count, value).is_ok()
}

/// Parses the named fields of a JSON object, skipping the others without building them.
struct Select<'a>(&'a [&'a str]);

impl<'de> DeserializeSeed<'de> for Select<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Select<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut selected = Map::new();
        while let Some(wanted) = map.next_key_seed(Wanted(self.0))? {
            match wanted {
                Some(index) => {
                    let value: Value = map.next_value()?;
                    selected.insert(self.0[index].to_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(selected)
    }
}

/// A key of [`Select`]: its position among the wanted names, if it is one.
struct Wanted<'a>(&'a [&'a str]);

impl<'de> DeserializeSeed<'de> for Wanted<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Wanted<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
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

    /// The cached whole document of `entry`'s version, if any.
    pub fn get(&self, collection: Collection, entry: &Entry) -> Option<Arc<Document>> {
        let mut state = self.state();
        let (document, _) = state.entries.get(&(collection, entry.id))?;
        (document.version == entry.version).then(|| Arc::clone(document))
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
    fn a_summary_keeps_short_indexed_fields_and_lacks_the_rest() {
        let long = "x".repeat(KEEP_WHOLE_BYTES);
        let entry = Entry::of(
            Collection::Characters,
            document(json!({"name": "n", "title": long, "description": "d", "tags": ["a"]})),
        );
        assert!(!entry.is_whole());
        let lacks = |fields: &[&str]| entry.lacks_any(Collection::Characters, fields);
        assert!(lacks(&["title"]), "left out for its length");
        assert!(lacks(&["description"]), "not an indexed field");
        assert!(lacks(&["tags", "description"]));
        assert!(
            !lacks(&["name", "tags", "isFavorite"]),
            "absent fields are known absent"
        );
        assert_eq!(
            Value::Object(entry.fields(&["tags", "name", "isFavorite"])),
            json!({"name": "n", "tags": ["a"]})
        );
        assert!(entry.document(&UserId::local()).is_none());
        let (json, left_out) = entry.row_body();
        assert_eq!(json, r#"{"name":"n","tags":["a"]}"#);
        assert_eq!(left_out, Some(&[Box::from("title")][..]));

        let entry = Entry::of(
            Collection::Characters,
            document(json!({"name": long, "description": "d"})),
        );
        assert!(!entry.lacks_any(Collection::Characters, &["name"]));
        assert_eq!(
            entry.fields(&["name"]).get("name"),
            Some(&json!(long)),
            "the name field stays at any length: the name order is keyed by it"
        );
    }

    #[test]
    fn small_documents_and_documents_of_indexed_fields_only_are_whole() {
        let small = document(json!({"name": "n", "color": "#a1b2c3", "quickHide": false}));
        let entry = Entry::of(Collection::Tags, small.clone());
        assert!(entry.is_whole());
        assert!(!entry.lacks_any(Collection::Tags, &["color"]));
        assert_eq!(entry.document(&UserId::local()).as_deref(), Some(&small));

        let indexed_only = document(json!({"name": "n".repeat(100), "title": "t".repeat(100),
            "tags": [], "isFavorite": true}));
        let entry = Entry::of(Collection::Characters, indexed_only.clone());
        assert!(entry.is_whole());
        assert_eq!(
            entry.document(&UserId::local()).as_deref(),
            Some(&indexed_only)
        );
    }

    #[test]
    fn fitting_is_measured_up_to_the_limit() {
        // `{"a":"xx…"}` is 8 bytes around the text.
        let body = |text_len: usize| json!({"a": "x".repeat(text_len)});
        assert!(json_fits(&body(KEEP_WHOLE_BYTES - 8), KEEP_WHOLE_BYTES));
        assert!(!json_fits(&body(KEEP_WHOLE_BYTES - 7), KEEP_WHOLE_BYTES));
        assert!(!json_fits(&body(1 << 20), KEEP_WHOLE_BYTES));
    }

    #[test]
    fn a_row_round_trips_and_a_bad_one_is_refused() {
        let long = "x".repeat(KEEP_WHOLE_BYTES);
        let entry = Entry::of(
            Collection::Personas,
            document(json!({"name": "n", "description": long})),
        );
        let (json, left_out) = entry.row_body();
        let envelope = (entry.id, entry.created_at, entry.updated_at, entry.version);
        let left_out =
            left_out.map(|fields| fields.iter().map(|field| field.to_string()).collect());
        let raw = RawValue::from_string(json.into_owned()).unwrap();
        let back = Entry::from_row(envelope, &raw, left_out).unwrap();
        assert!(!back.is_whole());
        assert!(back.lacks_any(Collection::Personas, &["description"]));
        assert_eq!(back.fields(&["name"]), entry.fields(&["name"]));
        // What a row's parse refuses (not JSON) or `from_row` refuses (not an object).
        let from_text = |text: &str| match RawValue::from_string(text.to_owned()) {
            Ok(raw) => Entry::from_row(envelope, &raw, None).is_err(),
            Err(_) => true,
        };
        for bad in ["[1]", "{\"a\": 1", "{} {}", "3"] {
            assert!(from_text(bad), "{bad}");
        }
    }

    #[test]
    fn memories_stay_whole() {
        let long = "x".repeat(KEEP_WHOLE_BYTES * 4);
        let memory = document(json!({"summary": long, "embedding": {"vector": [0.5]}}));
        let entry = Entry::of(Collection::Memories, memory.clone());
        assert!(entry.is_whole());
        assert_eq!(entry.document(&UserId::local()).as_deref(), Some(&memory));
    }

    #[test]
    fn the_cache_keeps_to_its_budget_and_to_versions() {
        let bodies = Bodies::default();
        let first = document(json!({"name": "a"}));
        bodies.put(
            Collection::Tags,
            Arc::new(first.clone()),
            BODY_CACHE_BYTES / 8,
        );
        let entry = Entry::of(Collection::Tags, first.clone());
        assert!(bodies.get(Collection::Tags, &entry).is_some());
        let newer = Entry::of(
            Collection::Tags,
            Document {
                version: 2,
                ..first.clone()
            },
        );
        assert!(bodies.get(Collection::Tags, &newer).is_none());
        for _ in 0..8 {
            let other = Arc::new(document(json!({"name": "b"})));
            bodies.put(Collection::Tags, other, BODY_CACHE_BYTES / 8);
        }
        assert!(bodies.get(Collection::Tags, &entry).is_none(), "evicted");
        assert!(bodies.state().bytes <= BODY_CACHE_BYTES);
    }
}
