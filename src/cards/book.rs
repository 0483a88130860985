//! Lorebooks in the two shapes other apps exchange: a card's `character_book` (entries as an
//! array, snake_case keys) and a SillyTavern world-info file (`{"entries": {"<uid>": {...}}}`,
//! camelCase keys, `key`/`keysecondary`/`order`/`disable`). Keys without a field of ours are
//! kept verbatim in `unknownKeys` (of the book and of each entry) and written back on export.

use serde_json::{Map, Value, json};

use super::CardError;
use super::fields::{Field, Kind, finish, optional, put_fields, required, take_fields};

const BOOK: &[Field] = &[
    optional("name", "name", Kind::Text),
    optional("description", "description", Kind::Text),
    optional("scan_depth", "scanDepth", Kind::Integer),
    optional("token_budget", "tokenBudget", Kind::Integer),
    optional("recursive_scanning", "recursiveScanning", Kind::Boolean),
    required("extensions", "extensions", Kind::Object),
];

const ENTRY: &[Field] = &[
    required("keys", "keys", Kind::TextList),
    required("content", "content", Kind::Text),
    required("extensions", "extensions", Kind::Object),
    required("enabled", "enabled", Kind::Boolean),
    required("insertion_order", "insertionOrder", Kind::Integer),
    optional("case_sensitive", "caseSensitive", Kind::Boolean),
    optional("use_regex", "useRegex", Kind::Boolean),
    optional("name", "name", Kind::Text),
    optional("priority", "priority", Kind::Integer),
    optional("id", "uid", Kind::Integer),
    optional("comment", "comment", Kind::Text),
    optional("selective", "selective", Kind::Boolean),
    optional("secondary_keys", "secondaryKeys", Kind::TextList),
    optional("constant", "constant", Kind::Boolean),
    optional("position", "position", Kind::Text),
];

/// A world-info entry's fields (`disable` is mapped apart: it is `enabled` negated).
const WORLD_INFO_ENTRY: &[Field] = &[
    optional("uid", "uid", Kind::Integer),
    optional("key", "keys", Kind::TextList),
    optional("keysecondary", "secondaryKeys", Kind::TextList),
    optional("comment", "comment", Kind::Text),
    optional("content", "content", Kind::Text),
    optional("constant", "constant", Kind::Boolean),
    optional("selective", "selective", Kind::Boolean),
    optional("order", "insertionOrder", Kind::Integer),
    optional("caseSensitive", "caseSensitive", Kind::Boolean),
];

const WORLD_INFO: &[Field] = &[optional("name", "name", Kind::Text)];

/// A lorebook body from a card's `character_book`; `fallback_name` names a book without one.
pub fn from_character_book(
    mut book: Map<String, Value>,
    fallback_name: &str,
) -> Result<Map<String, Value>, CardError> {
    let entries = match book.remove("entries") {
        Some(Value::Array(entries)) => entries,
        None => Vec::new(),
        Some(_) => {
            return Err(CardError::invalid(
                "data.character_book.entries",
                "must be an array",
            ));
        }
    };
    let mut ours = Map::new();
    take_fields(BOOK, &mut book, &mut ours);
    name_or(&mut ours, fallback_name);
    let entries = entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| match entry {
            Value::Object(mut entry) => {
                let mut mapped = Map::new();
                take_fields(ENTRY, &mut entry, &mut mapped);
                keep(&mut mapped, entry);
                Ok(Value::Object(mapped))
            }
            _ => Err(CardError::invalid(
                format!("data.character_book.entries[{index}]"),
                "must be an object",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    ours.insert("entries".to_owned(), Value::Array(entries));
    keep(&mut ours, book);
    Ok(ours)
}

/// A lorebook body as a card's `character_book`.
pub fn to_character_book(lorebook: &Map<String, Value>) -> Value {
    let mut book = Map::new();
    put_fields(BOOK, lorebook, &mut book);
    let entries: Vec<Value> = entries_of(lorebook)
        .map(|entry| {
            let mut out = Map::new();
            put_fields(ENTRY, entry, &mut out);
            finish(ENTRY, kept(entry), &mut out);
            Value::Object(out)
        })
        .collect();
    book.insert("entries".to_owned(), Value::Array(entries));
    finish(BOOK, kept(lorebook), &mut book);
    Value::Object(book)
}

/// A lorebook body from a SillyTavern world-info file; `fallback_name` names a file
/// without a `name` (SillyTavern names books by file name).
pub fn from_world_info(
    mut file: Map<String, Value>,
    fallback_name: &str,
) -> Result<Map<String, Value>, CardError> {
    let entries = match file.remove("entries") {
        Some(Value::Object(entries)) => entries,
        _ => {
            return Err(CardError::invalid(
                "entries",
                "a world-info file has an `entries` object",
            ));
        }
    };
    let mut ours = Map::new();
    take_fields(WORLD_INFO, &mut file, &mut ours);
    name_or(&mut ours, fallback_name);
    let entries = entries
        .into_iter()
        .map(|(key, entry)| match entry {
            Value::Object(mut entry) => {
                let mut mapped = Map::new();
                take_fields(WORLD_INFO_ENTRY, &mut entry, &mut mapped);
                if let Some(disable) = entry.get("disable").and_then(Value::as_bool) {
                    entry.remove("disable");
                    mapped.insert("enabled".to_owned(), Value::Bool(!disable));
                }
                keep(&mut mapped, entry);
                Ok(Value::Object(mapped))
            }
            _ => Err(CardError::invalid(
                format!("entries.{key}"),
                "must be an object",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    ours.insert("entries".to_owned(), Value::Array(entries));
    keep(&mut ours, file);
    Ok(ours)
}

/// A lorebook body as a SillyTavern world-info file, entries keyed by `uid` (or position).
pub fn to_world_info(lorebook: &Map<String, Value>) -> Value {
    let mut entries = Map::new();
    for (index, entry) in entries_of(lorebook).enumerate() {
        let mut out = Map::new();
        put_fields(WORLD_INFO_ENTRY, entry, &mut out);
        if let Some(enabled) = entry.get("enabled").and_then(Value::as_bool) {
            out.insert("disable".to_owned(), Value::Bool(!enabled));
        }
        finish(&[], kept(entry), &mut out);
        let uid = entry
            .get("uid")
            .and_then(Value::as_i64)
            .unwrap_or(index as i64);
        out.entry("uid").or_insert_with(|| json!(uid));
        entries.insert(uid.to_string(), Value::Object(out));
    }
    let mut file = Map::new();
    file.insert("entries".to_owned(), Value::Object(entries));
    put_fields(WORLD_INFO, lorebook, &mut file);
    finish(&[], kept(lorebook), &mut file);
    Value::Object(file)
}

fn entries_of(lorebook: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    lorebook
        .get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn name_or(ours: &mut Map<String, Value>, fallback: &str) {
    let named = ours
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|name| !name.trim().is_empty());
    if !named {
        ours.insert("name".to_owned(), json!(fallback));
    }
}

fn keep(ours: &mut Map<String, Value>, rest: Map<String, Value>) {
    if !rest.is_empty() {
        ours.insert("unknownKeys".to_owned(), Value::Object(rest));
    }
}

fn kept(ours: &Map<String, Value>) -> Option<&Map<String, Value>> {
    ours.get("unknownKeys").and_then(Value::as_object)
}
