//! Field tables: how the keys of an interchange format (a card's `data`, a `character_book`,
//! a SillyTavern world-info entry) map to our camelCase fields, and the two directions of that
//! mapping. A key moves to our field only when its value has the expected JSON type; anything
//! else (unknown keys, known keys with surprising values) is kept verbatim and written back
//! on export, so no key of an imported object is lost.

use serde_json::{Map, Value};

/// The JSON type a field must have to be mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// An array of strings.
    TextList,
    /// An object of strings.
    TextMap,
    Integer,
    Boolean,
    Object,
}

impl Kind {
    pub fn accepts(self, value: &Value) -> bool {
        match self {
            Self::Text => value.is_string(),
            Self::TextList => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            Self::TextMap => value
                .as_object()
                .is_some_and(|items| items.values().all(Value::is_string)),
            Self::Integer => value.is_i64(),
            Self::Boolean => value.is_boolean(),
            Self::Object => value.is_object(),
        }
    }

    /// The value written on export when a required field is missing.
    pub fn empty(self) -> Value {
        match self {
            Self::Text => Value::String(String::new()),
            Self::TextList => Value::Array(Vec::new()),
            Self::TextMap | Self::Object => Value::Object(Map::new()),
            Self::Integer => Value::from(0),
            Self::Boolean => Value::Bool(false),
        }
    }
}

/// One mapped field: its key in the format, its key in our model, its type, and whether the
/// format requires it (written empty on export when we have no value).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub source: &'static str,
    pub ours: &'static str,
    pub kind: Kind,
    pub required: bool,
}

/// A field the format may omit.
pub const fn optional(source: &'static str, ours: &'static str, kind: Kind) -> Field {
    Field {
        source,
        ours,
        kind,
        required: false,
    }
}

/// A field the format requires.
pub const fn required(source: &'static str, ours: &'static str, kind: Kind) -> Field {
    Field {
        source,
        ours,
        kind,
        required: true,
    }
}

/// Moves every field of `table` whose value has the right type from `source` into `ours`;
/// what stays in `source` is what we keep verbatim.
pub fn take_fields(
    table: &[Field],
    source: &mut Map<String, Value>,
    ours: &mut Map<String, Value>,
) {
    for field in table {
        if source
            .get(field.source)
            .is_some_and(|value| field.kind.accepts(value))
            && let Some(value) = source.remove(field.source)
        {
            ours.insert(field.ours.to_owned(), value);
        }
    }
}

/// Writes the fields of `table` that `ours` holds into `target`, in table order.
pub fn put_fields(table: &[Field], ours: &Map<String, Value>, target: &mut Map<String, Value>) {
    for field in table {
        if let Some(value) = ours.get(field.ours) {
            target.insert(field.source.to_owned(), value.clone());
        }
    }
}

/// Adds the keys kept verbatim that the export has not written, then the empty values of
/// required fields still missing (after the kept keys, so a kept value wins over an empty one).
pub fn finish(table: &[Field], kept: Option<&Map<String, Value>>, target: &mut Map<String, Value>) {
    for (key, value) in kept.into_iter().flatten() {
        if !target.contains_key(key) {
            target.insert(key.clone(), value.clone());
        }
    }
    for field in table.iter().filter(|field| field.required) {
        if !target.contains_key(field.source) {
            target.insert(field.source.to_owned(), field.kind.empty());
        }
    }
}
