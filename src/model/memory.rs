//! Memories: what a character remembers (of a chat, a persona, or set by hand), optionally
//! with an embedding so the nearest memories to a query vector can be found
//! (`POST /api/memories/search`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::common::{Checks, tag_references};
use super::{Collection, Reference, Resource, Timestamp};

/// The most dimensions an embedding may have.
pub const MAX_DIMENSIONS: usize = 4096;
/// The longest content or summary, in characters.
const MAX_TEXT: usize = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({
    "characterId": "0192f0c4-5d0e-7cc1-a3b2-9a1f1e0b7c11",
    "content": "The user's ship is called the Kestrel.",
    "keywords": ["ship", "Kestrel"],
    "importance": 0.8,
    "source": "manual",
    "embedding": {"model": "text-embedding-3-small", "vector": [0.12, -0.03, 0.5]}
})))]
pub struct Memory {
    /// The character that remembers (required).
    #[serde(default)]
    #[schema(required = true)]
    pub character_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<Uuid>,
    /// The message the memory came from (an id of a message of `chatId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_message_id: Option<Uuid>,
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 100000)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100000)]
    pub summary: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Uuid>,
    /// How much the memory matters, from 0 to 1.
    #[serde(default = "half")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub importance: f64,
    #[serde(default)]
    pub source: MemorySource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_accessed_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Embedding>,
}

fn half() -> f64 {
    0.5
}

/// Where a memory came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemorySource {
    /// Extracted by the app.
    Auto,
    /// Written by the user.
    #[default]
    Manual,
}

/// A vector of a memory and the model that made it. Vectors of one model have one dimension
/// per user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Embedding {
    #[schema(min_length = 1, max_length = 200)]
    pub model: String,
    #[schema(min_items = 1, max_items = 4096)]
    pub vector: Vec<f64>,
}

/// Checks a vector: 1 to [`MAX_DIMENSIONS`] finite numbers, not all zero (a zero vector has
/// no direction, so no cosine).
pub fn check_vector(checks: &mut Checks, field: &str, vector: &[f64]) {
    if vector.is_empty() || vector.len() > MAX_DIMENSIONS {
        checks.fail(field, format!("must have 1 to {MAX_DIMENSIONS} numbers"));
    } else if vector.iter().any(|value| !value.is_finite()) {
        checks.fail(field, "must hold finite numbers only");
    } else if vector.iter().all(|value| *value == 0.0) {
        checks.fail(field, "must not be all zeros");
    }
}

impl Resource for Memory {
    const COLLECTION: Collection = Collection::Memories;
    const FIELDS: &'static [&'static str] = &[
        "characterId",
        "personaId",
        "chatId",
        "sourceMessageId",
        "content",
        "summary",
        "keywords",
        "tags",
        "importance",
        "source",
        "lastAccessedAt",
        "embedding",
    ];

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        if self.character_id.is_none() {
            checks.fail("characterId", "is required");
        }
        if self.content.trim().is_empty() {
            checks.fail("content", "must not be empty");
        } else if self.content.chars().count() > MAX_TEXT {
            checks.fail("content", format!("must be at most {MAX_TEXT} characters"));
        }
        if self
            .summary
            .as_ref()
            .is_some_and(|summary| summary.chars().count() > MAX_TEXT)
        {
            checks.fail("summary", format!("must be at most {MAX_TEXT} characters"));
        }
        if self.source_message_id.is_some() && self.chat_id.is_none() {
            checks.fail("sourceMessageId", "needs chatId, the chat of the message");
        }
        if !(0.0..=1.0).contains(&self.importance) {
            checks.fail("importance", "must be between 0 and 1");
        }
        for (index, keyword) in self.keywords.iter().enumerate() {
            if keyword.trim().is_empty() || keyword.chars().count() > 200 {
                checks.fail(format!("keywords[{index}]"), "must be 1-200 characters");
            }
        }
        checks.no_duplicates("tags", &self.tags);
        if let Some(embedding) = &mut self.embedding {
            checks.name("embedding.model", &mut embedding.model, 200);
            check_vector(&mut checks, "embedding.vector", &embedding.vector);
        }
        checks.0
    }

    fn vector_shape(&self) -> Option<(&str, usize)> {
        let embedding = self.embedding.as_ref()?;
        Some((&embedding.model, embedding.vector.len()))
    }

    fn references(&self) -> Vec<Reference> {
        let scalar = |field: &str, collection, id: Option<Uuid>| {
            id.map(|id| Reference {
                field: field.to_owned(),
                collection,
                id,
            })
        };
        [
            scalar("characterId", Collection::Characters, self.character_id),
            scalar("personaId", Collection::Personas, self.persona_id),
            scalar("chatId", Collection::Chats, self.chat_id),
        ]
        .into_iter()
        .flatten()
        .chain(tag_references(&self.tags))
        .collect()
    }
}
