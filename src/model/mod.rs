//! Domain types and their rules. Every stored document is a [`Document`]: the server-owned
//! envelope (`id`, `userId`, timestamps, `version`) plus a body of client-owned fields whose
//! shape and rules come from a [`Resource`] type (one per collection).

pub mod api_key;
pub mod character;
pub mod chat;
pub mod common;
pub mod field_error;
pub mod file;
pub mod ids;
pub mod lorebook;
pub mod memory;
pub mod message;
pub mod persona;
pub mod profile;
pub mod secrets;
pub mod settings;
pub mod tag;
pub mod time;

#[cfg(test)]
mod indexed_fields_tests;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use self::field_error::FieldError;
pub use self::ids::UserId;
pub use self::time::Timestamp;

/// Fields every document has and no client may set.
pub const SERVER_OWNED_FIELDS: &[&str] = &["id", "userId", "createdAt", "updatedAt", "version"];

/// A stored document: the server-owned envelope and the resource's own fields, flattened into
/// one JSON object on disk and on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub id: Uuid,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
    #[serde(flatten)]
    pub body: Map<String, Value>,
}

impl Document {
    /// A document as it is first stored: version 1, created and last updated at `now`.
    pub fn new(id: Uuid, user_id: UserId, now: Timestamp, body: Map<String, Value>) -> Self {
        Self {
            id,
            user_id,
            created_at: now,
            updated_at: now,
            version: 1,
            body,
        }
    }
}

/// The kinds of stored record. Messages are stored apart from the document collections:
/// per chat, ordered by `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Collection {
    Tags,
    Characters,
    Personas,
    Chats,
    Messages,
    Files,
    Lorebooks,
    Memories,
    ApiKeys,
    ConnectionProfiles,
    ImageProfiles,
    EmbeddingProfiles,
    Settings,
}

impl Collection {
    /// The collections of standalone documents (everything but messages).
    pub const DOCUMENTS: [Collection; 12] = [
        Self::Tags,
        Self::Characters,
        Self::Personas,
        Self::Chats,
        Self::Files,
        Self::Lorebooks,
        Self::Memories,
        Self::ApiKeys,
        Self::ConnectionProfiles,
        Self::ImageProfiles,
        Self::EmbeddingProfiles,
        Self::Settings,
    ];

    /// The name used in routes, directories and database collections.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tags => "tags",
            Self::Characters => "characters",
            Self::Personas => "personas",
            Self::Chats => "chats",
            Self::Messages => "messages",
            Self::Files => "files",
            Self::Lorebooks => "lorebooks",
            Self::Memories => "memories",
            Self::ApiKeys => "api-keys",
            Self::ConnectionProfiles => "connection-profiles",
            Self::ImageProfiles => "image-profiles",
            Self::EmbeddingProfiles => "embedding-profiles",
            Self::Settings => "settings",
        }
    }

    /// The field `sort=name` orders by.
    pub fn name_field(self) -> &'static str {
        match self {
            Self::Chats => "title",
            Self::Files => "originalFilename",
            Self::Memories => "content",
            Self::ApiKeys => "label",
            _ => "name",
        }
    }

    /// Sorts beyond `updatedAt` and the name: each an integer key derived from the document
    /// (`crate::store::query::sort_key`), indexed by both backends.
    pub fn sort_keys(self) -> &'static [&'static str] {
        match self {
            Self::Memories => &["createdAt", "importance", "lastAccessedAt"],
            _ => &[],
        }
    }

    /// A field whose lowercased value is unique per user, if any.
    pub fn unique_field(self) -> Option<&'static str> {
        match self {
            Self::Tags => Some("name"),
            _ => None,
        }
    }

    /// The body fields a store may answer from its index without reading whole documents:
    /// the name, unique and sort fields, every field a list filter reads (`http::list`,
    /// imports, file dedup, exclusive flags) and every field a reference removal reads
    /// ([`Resource::removals_on_delete`]). The json store keeps only these in memory, so
    /// a field missing here costs a disk read per document when queried, never a wrong answer;
    /// tests keep the list complete.
    pub fn indexed_fields(self) -> &'static [&'static str] {
        match self {
            Self::Tags | Self::Lorebooks => &["name"],
            Self::Characters => &[
                "name",
                "title",
                "tags",
                "isFavorite",
                "personaLinks",
                "defaultImageId",
                "avatarOverrides",
                "assets",
                "lorebookId",
            ],
            Self::Personas => &["name", "title", "tags", "defaultImageId"],
            Self::Chats => &["title", "tags", "participants"],
            Self::Files => &[
                "originalFilename",
                "description",
                "tags",
                "category",
                "linkedTo",
                "mimeType",
                "sha256",
            ],
            Self::Memories => &[
                "content",
                "summary",
                "tags",
                "characterId",
                "chatId",
                "personaId",
                "source",
                "importance",
                "lastAccessedAt",
            ],
            Self::ApiKeys => &["label", "provider"],
            Self::ConnectionProfiles | Self::ImageProfiles | Self::EmbeddingProfiles => &[
                "name",
                "modelName",
                "tags",
                "provider",
                "isDefault",
                "apiKeyId",
            ],
            Self::Settings => &[
                "name",
                "defaultPersonaId",
                "defaultConnectionProfileId",
                "defaultImageProfileId",
                "defaultEmbeddingProfileId",
            ],
            // Messages live in per-chat logs with indexes of their own.
            Self::Messages => &[],
        }
    }
}

/// A reference from one document to another, checked on every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Where the reference sits, e.g. `tags[2]` or `personaLinks[0].personaId`.
    pub field: String,
    pub collection: Collection,
    pub id: Uuid,
}

/// How to remove a deleted document's id from the documents that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Remove the id from the array `field` (e.g. `tags`).
    ArrayValue { field: &'static str, id: Uuid },
    /// Remove every object of the array `field` whose `key` is the id (e.g. `personaLinks`).
    ArrayObject {
        field: &'static str,
        key: &'static str,
        id: Uuid,
    },
    /// Remove the optional scalar `field` when it holds the id (e.g. `defaultImageId`).
    Scalar { field: &'static str, id: Uuid },
    /// Remove `key` from every object of the array `field` whose `key` is the id, keeping
    /// the object (e.g. a chat participant's `connectionProfileId`).
    ArrayObjectKey {
        field: &'static str,
        key: &'static str,
        id: Uuid,
    },
    /// Delete every document whose scalar `field` is the id (a character's memories).
    Owned { field: &'static str, id: Uuid },
}

impl Removal {
    pub fn field(&self) -> &'static str {
        match self {
            Self::ArrayValue { field, .. }
            | Self::ArrayObject { field, .. }
            | Self::Scalar { field, .. }
            | Self::ArrayObjectKey { field, .. }
            | Self::Owned { field, .. } => field,
        }
    }

    /// Applies the removal to a body; true when something was removed. An [`Removal::Owned`]
    /// removal deletes whole documents instead: it changes no body.
    pub fn apply(&self, body: &mut Map<String, Value>) -> bool {
        let target = Value::String(self.id().to_string());
        match self {
            Self::Owned { .. } => false,
            Self::ArrayObjectKey { field, key, .. } => {
                let Some(Value::Array(items)) = body.get_mut(*field) else {
                    return false;
                };
                let mut changed = false;
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    if item.get(*key) == Some(&target) {
                        item.remove(*key);
                        changed = true;
                    }
                }
                changed
            }
            Self::ArrayValue { field, .. } => retain_in_array(body, field, |item| *item != target),
            Self::ArrayObject { field, key, .. } => {
                retain_in_array(body, field, |item| item.get(*key) != Some(&target))
            }
            Self::Scalar { field, .. } => {
                if body.get(*field) == Some(&target) {
                    body.remove(*field);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// True when the body holds the id where this removal looks.
    pub fn matches(&self, body: &Map<String, Value>) -> bool {
        let target = Value::String(self.id().to_string());
        let items = |field: &str| body.get(field).and_then(Value::as_array);
        match self {
            Self::ArrayValue { field, .. } => {
                items(field).is_some_and(|items| items.contains(&target))
            }
            Self::ArrayObject { field, key, .. } | Self::ArrayObjectKey { field, key, .. } => {
                items(field)
                    .is_some_and(|items| items.iter().any(|item| item.get(*key) == Some(&target)))
            }
            Self::Scalar { field, .. } | Self::Owned { field, .. } => {
                body.get(*field) == Some(&target)
            }
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Self::ArrayValue { id, .. }
            | Self::ArrayObject { id, .. }
            | Self::Scalar { id, .. }
            | Self::ArrayObjectKey { id, .. }
            | Self::Owned { id, .. } => *id,
        }
    }
}

fn retain_in_array(
    body: &mut Map<String, Value>,
    field: &str,
    keep: impl Fn(&Value) -> bool,
) -> bool {
    let Some(Value::Array(items)) = body.get_mut(field) else {
        return false;
    };
    let before = items.len();
    items.retain(|item| keep(item));
    items.len() != before
}

/// A kind of document: its client-owned fields, its rules and its references.
pub trait Resource: Serialize + DeserializeOwned + Send + Sync + 'static {
    const COLLECTION: Collection;
    /// Every top-level field a client may send.
    const FIELDS: &'static [&'static str];
    /// Fields beyond [`SERVER_OWNED_FIELDS`] that the server maintains.
    const SERVER_FIELDS: &'static [&'static str] = &[];
    /// Stored fields no response ever shows (an API key's sealed secret).
    const HIDDEN_FIELDS: &'static [&'static str] = &[];
    /// A boolean field at most one document of a user may hold true (`isDefault`): setting it
    /// on one clears it on the others.
    const EXCLUSIVE_FLAG: Option<&'static str> = None;

    /// Checks the rules and normalizes (trims names, assigns ids of nested items).
    fn validate(&mut self) -> Vec<FieldError>;

    /// The documents this one names; each must exist and belong to the same user.
    fn references(&self) -> Vec<Reference> {
        Vec::new()
    }

    /// What to remove from other documents when a document of this kind with `id` is deleted.
    fn removals_on_delete(_id: Uuid) -> Vec<(Collection, Removal)> {
        Vec::new()
    }

    /// The embedding model and dimension of the document's vector, if it has one: vectors
    /// of one model have one dimension per user.
    fn vector_shape(&self) -> Option<(&str, usize)> {
        None
    }

    /// Turns write-only secrets into their stored, encrypted form just before a write of the
    /// document `id` of `user` (API keys); nothing for other resources.
    fn seal(
        &mut self,
        _keyring: &secrets::Keyring,
        _user: &UserId,
        _id: Uuid,
    ) -> Result<(), secrets::SecretError> {
        Ok(())
    }
}
