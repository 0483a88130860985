//! Documents to and from BSON, and list queries to MongoDB filters.
//!
//! A stored document keeps the API's field names, with timestamps as BSON dates and a few
//! derived fields the indexes need: `sortName` (lowercased name or title), `nameLower` (tags,
//! unique per user) and, on messages, `visible`. Derived and internal fields never leave this
//! module.

use anyhow::{Context, anyhow};
use mongodb::bson::{self, Bson, DateTime, doc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::message::Placement;
use crate::model::{Collection, Document, Timestamp, UserId};
use crate::store::query::sort_text;
use crate::store::{Filter, SortField, SortValue};

/// Fields the store adds for its own use; removed when reading.
const INTERNAL: &[&str] = &["_id", "sortName", "nameLower", "visible", "lastSeq"];
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
        out.insert(
            key.clone(),
            bson::to_bson(value).with_context(|| format!("field {key}"))?,
        );
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
    let version = match stored.remove("version") {
        Some(Bson::Int64(value)) => value as u64,
        Some(Bson::Int32(value)) => value as u64,
        other => return Err(anyhow!("stored document has no version: {other:?}")),
    };
    let mut body = Map::new();
    for (key, value) in stored {
        body.insert(key, value.into_relaxed_extjson());
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
            doc! { *field: bson::to_bson(value)? }
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
            doc! { format!("{field}.{key}"): bson::to_bson(value)? }
        }
    })
}

/// The stored field a sort uses.
pub fn sort_field(sort: SortField) -> &'static str {
    match sort {
        SortField::UpdatedAt => "updatedAt",
        SortField::Name => "sortName",
    }
}

pub fn sort_value(value: &SortValue) -> Bson {
    match value {
        SortValue::Millis(millis) => Bson::DateTime(DateTime::from_millis(*millis)),
        SortValue::Text(text) => Bson::String(text.clone()),
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
