//! Documents to and from BSON, and list queries to MongoDB filters.
//!
//! A stored document keeps the API's field names, with timestamps as BSON dates and a few
//! derived fields the indexes need: `sortName` (lowercased name or title), `nameLower` (tags,
//! unique per user) and, on messages, `visible`. Derived and internal fields never leave this
//! module.
//!
//! Free-form objects (`extensions`, `sillyTavernData`, `rawResponse`...) may hold any key, but
//! MongoDB refuses `$`-prefixed names in updates and reads dotted names as paths. Keys are
//! therefore stored escaped (`%` → `%25`, `.` → `%2E`, a leading `$` → `%24`) and unescaped
//! when read; the API's own field names contain none of these and are stored as they are.

use std::borrow::Cow;

use anyhow::{Context, anyhow};
use mongodb::bson::{self, Bson, DateTime, doc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::message::Placement;
use crate::model::{Collection, Document, Timestamp, UserId};
use crate::store::query::{sort_key, sort_text};
use crate::store::{Filter, SortField, SortValue};

/// Fields the store adds for its own use; removed when reading.
const INTERNAL: &[&str] = &[
    "_id",
    "sortName",
    "sortKeys",
    "nameLower",
    "visible",
    "lastSeq",
];
/// Chat fields maintained from messages, never written from a chat body.
pub const CHAT_STATS: &[&str] = &["messageCount", "lastMessageAt"];

/// What `$unset` must remove when `set` replaces the body of `stored`: the fields the new
/// version no longer has, never identity, the store's own fields or a chat's counters.
pub fn stale_fields(stored: &bson::Document, set: &bson::Document) -> bson::Document {
    let kept = |key: &str| {
        ["id", "userId"].contains(&key) || INTERNAL.contains(&key) || CHAT_STATS.contains(&key)
    };
    stored
        .keys()
        .filter(|key| !set.contains_key(key.as_str()) && !kept(key))
        .map(|key| (key.clone(), Bson::String(String::new())))
        .collect()
}

pub fn millis(stamp: Timestamp) -> DateTime {
    DateTime::from_millis(stamp.millis())
}

/// The BSON form of a document of `collection` (or a message).
pub fn to_bson(collection: Collection, document: &Document) -> anyhow::Result<bson::Document> {
    let mut out = doc! {
        "id": document.id.to_string(),
        "userId": document.user_id.as_str(),
        "createdAt": millis(document.created_at),
        "updatedAt": millis(document.updated_at),
        "version": document.version as i64,
    };
    for (key, value) in &document.body {
        if collection == Collection::Chats && CHAT_STATS.contains(&key.as_str()) {
            continue;
        }
        out.insert(escape_key(key), json_to_bson(value));
    }
    match collection {
        Collection::Messages => {
            let placement = Placement::of(&document.body);
            out.insert("seq", placement.seq as i64);
            out.insert("swipeIndex", placement.swipe_index as i64);
            out.insert("visible", placement.visible);
        }
        _ => {
            out.insert("sortName", sort_text(document, collection.name_field()));
            if !collection.sort_keys().is_empty() {
                let keys: bson::Document = collection
                    .sort_keys()
                    .iter()
                    .map(|field| ((*field).to_owned(), Bson::Int64(sort_key(document, field))))
                    .collect();
                out.insert("sortKeys", keys);
            }
        }
    }
    if let Some(field) = collection.unique_field()
        && let Some(Value::String(value)) = document.body.get(field)
    {
        out.insert("nameLower", value.to_lowercase());
    }
    Ok(out)
}

/// The fields of a stored document that `$set` should write for a new body (all but the
/// identity and creation fields).
pub fn settable(collection: Collection, document: &Document) -> anyhow::Result<bson::Document> {
    let mut fields = to_bson(collection, document)?;
    for key in ["id", "userId", "createdAt"] {
        fields.remove(key);
    }
    Ok(fields)
}

/// Reads a stored document back into the API's shape.
pub fn from_bson(collection: Collection, mut stored: bson::Document) -> anyhow::Result<Document> {
    for key in INTERNAL {
        stored.remove(key);
    }
    let text = |stored: &mut bson::Document, key: &str| -> anyhow::Result<String> {
        match stored.remove(key) {
            Some(Bson::String(value)) => Ok(value),
            other => Err(anyhow!("stored document has no string {key}: {other:?}")),
        }
    };
    let date = |stored: &mut bson::Document, key: &str| -> anyhow::Result<Timestamp> {
        match stored.remove(key) {
            Some(Bson::DateTime(value)) => Ok(Timestamp::from_millis(value.timestamp_millis())),
            other => Err(anyhow!("stored document has no date {key}: {other:?}")),
        }
    };
    let id = Uuid::try_parse(&text(&mut stored, "id")?).context("stored id is not a UUID")?;
    let user_id = UserId::parse(&text(&mut stored, "userId")?)?;
    let created_at = date(&mut stored, "createdAt")?;
    let updated_at = date(&mut stored, "updatedAt")?;
    let version = integer(&stored, "version")
        .and_then(|value| u64::try_from(value).ok())
        .ok_or_else(|| {
            anyhow!(
                "stored document has no version: {:?}",
                stored.get("version")
            )
        })?;
    stored.remove("version");
    let mut body = Map::new();
    for (key, value) in stored {
        body.insert(unescape_key(key), bson_to_json(value));
    }
    if collection == Collection::Messages && !body.contains_key("swipeGroupId") {
        body.remove("swipeIndex");
    }
    if collection == Collection::Chats {
        body.entry("messageCount").or_insert(Value::from(0));
    }
    Ok(Document {
        id,
        user_id,
        created_at,
        updated_at,
        version,
        body,
    })
}

/// An integer field of a stored document, whichever integer width the server chose (a
/// counter raised with `$inc`, or a document written by another tool, may come back as a
/// 32-bit integer or a whole double).
pub fn integer(stored: &bson::Document, key: &str) -> Option<i64> {
    match stored.get(key)? {
        Bson::Int64(value) => Some(*value),
        Bson::Int32(value) => Some(i64::from(*value)),
        Bson::Double(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => Some(*value as i64),
        _ => None,
    }
}

/// A key as stored: `%`, `.` and a leading `$` percent-escaped (borrowed when none occur).
fn escape_key(key: &str) -> Cow<'_, str> {
    if !key.starts_with('$') && !key.contains(['.', '%']) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 6);
    for (index, character) in key.char_indices() {
        match character {
            '%' => out.push_str("%25"),
            '.' => out.push_str("%2E"),
            '$' if index == 0 => out.push_str("%24"),
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

/// The inverse of [`escape_key`]: every `%` in a stored key starts one of its three escapes.
fn unescape_key(key: String) -> String {
    if !key.contains('%') {
        return key;
    }
    key.replace("%2E", ".")
        .replace("%24", "$")
        .replace("%25", "%")
}

/// A JSON value as BSON, object keys escaped. Integers are stored as 64-bit integers; one
/// beyond the signed range (only `u64` can be) as a double, which is how a browser reads it.
pub fn json_to_bson(value: &Value) -> Bson {
    match value {
        Value::Null => Bson::Null,
        Value::Bool(flag) => Bson::Boolean(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Bson::Int64(integer),
            None => Bson::Double(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => Bson::String(text.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(json_to_bson).collect()),
        Value::Object(fields) => Bson::Document(
            fields
                .iter()
                .map(|(key, value)| (escape_key(key).into_owned(), json_to_bson(value)))
                .collect(),
        ),
    }
}

/// A stored value as JSON, object keys unescaped. Only the types [`json_to_bson`] writes occur
/// in a document body; anything else (written by hand, say) reads as relaxed extended JSON.
fn bson_to_json(value: Bson) -> Value {
    match value {
        Bson::Null => Value::Null,
        Bson::Boolean(flag) => Value::Bool(flag),
        Bson::Int32(integer) => Value::from(integer),
        Bson::Int64(integer) => Value::from(integer),
        Bson::Double(number) => {
            serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
        }
        Bson::String(text) => Value::String(text),
        Bson::Array(items) => Value::Array(items.into_iter().map(bson_to_json).collect()),
        Bson::Document(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| (unescape_key(key), bson_to_json(value)))
                .collect(),
        ),
        other => other.into_relaxed_extjson(),
    }
}

/// Escapes text for use inside a regular expression.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\^$.|?*+()[]{}".contains(character) {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

pub fn filter_to_bson(filter: &Filter) -> anyhow::Result<bson::Document> {
    Ok(match filter {
        Filter::ArrayContains { field, value } | Filter::Equals { field, value } => {
            doc! { *field: json_to_bson(value) }
        }
        Filter::TextContains { fields, needle } => {
            let pattern = regex_escape(needle);
            let alternatives: Vec<Bson> = fields
                .iter()
                .map(|field| {
                    Bson::Document(doc! { *field: { "$regex": &pattern, "$options": "i" } })
                })
                .collect();
            doc! { "$or": alternatives }
        }
        Filter::StartsWith { field, prefix } => {
            doc! { *field: { "$regex": format!("^{}", regex_escape(prefix)) } }
        }
        Filter::ArrayObjectHas { field, key, value } => {
            doc! { format!("{field}.{key}"): json_to_bson(value) }
        }
    })
}

/// The stored field a sort uses.
pub fn sort_field(sort: SortField) -> String {
    match sort {
        SortField::UpdatedAt => "updatedAt".to_owned(),
        SortField::Name => "sortName".to_owned(),
        SortField::Key(field) => format!("sortKeys.{field}"),
    }
}

pub fn sort_value(value: &SortValue, sort: SortField) -> Bson {
    match (value, sort) {
        (SortValue::Millis(key), SortField::Key(_)) => Bson::Int64(*key),
        (SortValue::Millis(millis), _) => Bson::DateTime(DateTime::from_millis(*millis)),
        (SortValue::Text(text), _) => Bson::String(text.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn documents_round_trip_through_bson() {
        let mut body = Map::new();
        body.insert("name".into(), json!("Élodie"));
        body.insert("tags".into(), json!(["a", "b"]));
        body.insert(
            "sillyTavernData".into(),
            json!({"nested": [1, 2.5, null, {"deep": true}]}),
        );
        let document = Document {
            id: Uuid::now_v7(),
            user_id: UserId::parse("user-1").unwrap(),
            created_at: Timestamp::from_millis(1_700_000_000_123),
            updated_at: Timestamp::from_millis(1_700_000_000_456),
            version: 3,
            body,
        };
        let stored = to_bson(Collection::Tags, &document).unwrap();
        assert_eq!(stored.get_str("nameLower").unwrap(), "élodie");
        assert_eq!(stored.get_str("sortName").unwrap(), "élodie");
        assert_eq!(from_bson(Collection::Tags, stored).unwrap(), document);
    }

    /// Every key of a stored value, at any depth.
    fn keys_of(value: &Bson, out: &mut Vec<String>) {
        match value {
            Bson::Document(fields) => {
                for (key, value) in fields {
                    out.push(key.clone());
                    keys_of(value, out);
                }
            }
            Bson::Array(items) => items.iter().for_each(|item| keys_of(item, out)),
            _ => {}
        }
    }

    #[test]
    fn free_form_keys_mongodb_refuses_are_stored_escaped_and_read_back_unchanged() {
        let awkward = json!({
            "$set": {"$inc": 1, "a.b": [{"$ref": "x", "%2E": "literal", "100%": true}]},
            "price.usd": 45.99,
            "mid$dle": "kept as is",
            "": "empty key",
            "big": u64::MAX,
            "negative": -7,
        });
        let mut body = Map::new();
        body.insert("name".into(), json!("Awkward"));
        body.insert("extensions".into(), awkward.clone());
        let document = Document {
            updated_at: Timestamp::from_millis(2),
            ..Document::new(
                Uuid::now_v7(),
                UserId::parse("user-1").unwrap(),
                Timestamp::from_millis(1),
                body,
            )
        };
        let stored = to_bson(Collection::Characters, &document).unwrap();
        let mut keys = Vec::new();
        keys_of(&Bson::Document(stored.clone()), &mut keys);
        for key in &keys {
            assert!(
                !key.starts_with('$') && !key.contains('.'),
                "{key} in {stored}"
            );
        }
        assert!(keys.contains(&"mid$dle".to_owned()), "{keys:?}");
        assert!(keys.contains(&"%252E".to_owned()), "{keys:?}");

        let read = from_bson(Collection::Characters, stored).unwrap();
        let mut expected = awkward;
        // A JSON client reads an integer beyond 2^63 as a double anyway.
        expected["big"] = json!(u64::MAX as f64);
        assert_eq!(read.body["extensions"], expected);
        assert_eq!(read.body["name"], json!("Awkward"));
    }

    #[test]
    fn a_put_removes_the_fields_the_new_version_lacks() {
        let stored = doc! {
            "_id": 1, "id": "x", "userId": "u", "createdAt": 1, "version": 1, "sortName": "a",
            "lastSeq": 4_i64, "messageCount": 2, "name": "a", "title": "old title",
        };
        let set = doc! { "version": 2, "sortName": "a", "name": "a", "updatedAt": 2 };
        let stale = stale_fields(
            &stored,
            &doc! { "createdAt": 1 }.into_iter().chain(set).collect(),
        );
        assert_eq!(stale, doc! { "title": "" });
    }

    #[test]
    fn text_filters_escape_regex_characters() {
        let filter = Filter::TextContains {
            fields: &["name"],
            needle: "a.b(c)".into(),
        };
        let query = filter_to_bson(&filter).unwrap();
        assert_eq!(
            query,
            doc! { "$or": [ { "name": { "$regex": "a\\.b\\(c\\)", "$options": "i" } } ] }
        );
    }
}
