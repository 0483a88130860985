//! Lorebooks (world info): books of entries that a chat app inserts into the prompt when their
//! keys appear in the conversation. A character card's embedded `character_book` becomes one
//! (linked from the character's `lorebookId`); SillyTavern world-info files import as one.
//! Field names follow the card spec's `character_book`, in camelCase; keys a source had that
//! no field holds are kept verbatim in `unknownKeys`, so an export gives them back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::common::Checks;
use super::{Collection, Removal, Resource};

/// The most entries one lorebook may hold.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({
    "name": "The Verdant Reach",
    "scanDepth": 4,
    "entries": [{"keys": ["Eldergrove"], "content": "An ancient forest city.", "enabled": true,
                 "insertionOrder": 100, "position": "before_char"}]
})))]
pub struct Lorebook {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How many recent messages are scanned for keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_depth: Option<i64>,
    /// The most tokens the book may add to a prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_budget: Option<i64>,
    /// Whether entry contents are scanned for further keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_scanning: Option<bool>,
    /// Kept verbatim: apps store their own data here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<Map<String, Value>>,
    #[serde(default)]
    pub entries: Vec<LorebookEntry>,
    /// Keys of an imported book that no field holds, kept verbatim for export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub unknown_keys: Option<Map<String, Value>>,
}

/// One entry: inserted when one of `keys` (and, when `selective`, one of `secondaryKeys`)
/// appears, or always when `constant`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LorebookEntry {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary_keys: Option<Vec<String>>,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The source's own entry number (card `id`, world-info `uid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selective: Option<bool>,
    /// Lower values are inserted first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insertion_order: Option<i64>,
    /// Which entries are dropped first when the token budget runs out (lower first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// `before_char` or `after_char` in the card spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_sensitive: Option<bool>,
    /// V3: keys are regular expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_regex: Option<bool>,
    /// Kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<Map<String, Value>>,
    /// Keys of an imported entry that no field holds, kept verbatim for export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub unknown_keys: Option<Map<String, Value>>,
}

impl Resource for Lorebook {
    const COLLECTION: Collection = Collection::Lorebooks;
    const FIELDS: &'static [&'static str] = &[
        "name",
        "description",
        "scanDepth",
        "tokenBudget",
        "recursiveScanning",
        "extensions",
        "entries",
        "unknownKeys",
    ];

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.name("name", &mut self.name, 200);
        if self.entries.len() > MAX_ENTRIES {
            checks.fail(
                "entries",
                format!("a lorebook may hold at most {MAX_ENTRIES} entries"),
            );
        }
        checks.0
    }

    fn removals_on_delete(id: Uuid) -> Vec<(Collection, Removal)> {
        vec![(
            Collection::Characters,
            Removal::Scalar {
                field: "lorebookId",
                id,
            },
        )]
    }
}
