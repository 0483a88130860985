//! Backend-neutral list queries: filters, sort order and keyset pagination, so the cost of a
//! page does not grow with the number of documents.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{Collection, Document, UserId};

/// One condition a listed document must meet.
#[derive(Debug, Clone)]
pub enum Filter {
    /// The array `field` holds `value`.
    ArrayContains { field: &'static str, value: Value },
    /// `field` equals `value`.
    Equals { field: &'static str, value: Value },
    /// One of `fields` contains `needle` ignoring case (`needle` is already lowercase).
    TextContains {
        fields: &'static [&'static str],
        needle: String,
    },
    /// `field` is a string starting with `prefix`.
    StartsWith { field: &'static str, prefix: String },
    /// Some object of the array `field` has `key` equal to `value`.
    ArrayObjectHas {
        field: &'static str,
        key: &'static str,
        value: Value,
    },
}

impl Filter {
    /// The body fields this condition reads.
    pub fn fields(&self) -> &[&'static str] {
        match self {
            Self::TextContains { fields, .. } => fields,
            Self::ArrayContains { field, .. }
            | Self::Equals { field, .. }
            | Self::StartsWith { field, .. }
            | Self::ArrayObjectHas { field, .. } => std::slice::from_ref(field),
        }
    }

    /// Whether a document whose body holds (at least) [`Filter::fields`] meets the condition.
    pub fn matches(&self, body: &Map<String, Value>) -> bool {
        match self {
            Self::ArrayContains { field, value } => body
                .get(*field)
                .and_then(Value::as_array)
                .is_some_and(|items| items.contains(value)),
            Self::Equals { field, value } => body.get(*field) == Some(value),
            Self::TextContains { fields, needle } => fields.iter().any(|field| {
                body.get(*field)
                    .and_then(Value::as_str)
                    .is_some_and(|text| text.to_lowercase().contains(needle.as_str()))
            }),
            Self::StartsWith { field, prefix } => body
                .get(*field)
                .and_then(Value::as_str)
                .is_some_and(|text| text.starts_with(prefix.as_str())),
            Self::ArrayObjectHas { field, key, value } => body
                .get(*field)
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|item| item.get(*key) == Some(value))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    UpdatedAt,
    Name,
    /// One of the collection's integer sort keys ([`Collection::sort_keys`], [`sort_key`]).
    ///
    /// [`Collection::sort_keys`]: crate::model::Collection::sort_keys
    Key(&'static str),
}

/// The sort key of one document: what a cursor remembers besides the id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Millis(i64),
    Text(String),
}

impl SortValue {
    pub fn of(document: &Document, field: SortField, name_field: &str) -> Self {
        match field {
            SortField::UpdatedAt => Self::Millis(document.updated_at.millis()),
            SortField::Name => Self::Text(sort_text(document, name_field)),
            SortField::Key(field) => Self::Millis(sort_key(document, field)),
        }
    }
}

/// The integer a document sorts by on `field`: `createdAt` in milliseconds; a number field
/// in millionths (importance 0.25 → 250000); a timestamp field in milliseconds. A missing
/// value sorts before every other.
pub fn sort_key(document: &Document, field: &str) -> i64 {
    sort_key_of(&document.body, document.created_at, field)
}

/// [`sort_key`] from a body (or the part of it that holds `field`) and the creation time.
pub fn sort_key_of(
    body: &Map<String, Value>,
    created_at: crate::model::Timestamp,
    field: &str,
) -> i64 {
    if field == "createdAt" {
        return created_at.millis();
    }
    match body.get(field) {
        Some(Value::Number(number)) => number
            .as_f64()
            .map_or(i64::MIN, |value| (value * 1_000_000.0).round() as i64),
        Some(Value::String(text)) => {
            crate::model::Timestamp::parse(text).map_or(i64::MIN, |stamp| stamp.millis())
        }
        _ => i64::MIN,
    }
}

/// The lowercased name a document sorts by.
pub fn sort_text(document: &Document, name_field: &str) -> String {
    sort_text_of(&document.body, name_field)
}

/// [`sort_text`] from a body (or the part of it that holds `name_field`).
pub fn sort_text_of(body: &Map<String, Value>, name_field: &str) -> String {
    body.get(name_field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase()
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub collection: Collection,
    pub user: UserId,
    pub filters: Vec<Filter>,
    pub sort: SortField,
    pub descending: bool,
    /// Start strictly after this position (from the previous page's last document).
    pub after: Option<(SortValue, Uuid)>,
    pub limit: usize,
    pub include_total: bool,
}

impl ListQuery {
    /// The first page of `limit` of `user`'s documents of `collection`, oldest change first
    /// (no filter; walk on with `after`).
    pub fn all_of(collection: Collection, user: &UserId, limit: usize) -> Self {
        Self {
            collection,
            user: user.clone(),
            filters: Vec::new(),
            sort: SortField::UpdatedAt,
            descending: false,
            after: None,
            limit,
            include_total: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Document>,
    /// The position of the last item when more documents follow.
    pub next: Option<(SortValue, Uuid)>,
    pub total: Option<u64>,
}
