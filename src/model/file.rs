//! Files: the metadata record of one uploaded binary. The bytes live in the blob store under
//! `storage.key`; several records of one user may share a blob (dedup by SHA-256).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::common::{Checks, tag_references};
use super::{Collection, Reference, Removal, Resource};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct File {
    pub category: FileCategory,
    /// Set at upload, fixed afterwards.
    #[serde(default)]
    #[schema(read_only)]
    pub source: FileSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Uuid>,
    #[serde(default)]
    pub linked_to: Vec<FileLink>,
    /// The client's file name, sanitized.
    #[schema(read_only)]
    pub original_filename: String,
    /// Sniffed from the content.
    #[schema(read_only)]
    pub mime_type: String,
    #[schema(read_only)]
    pub size: u64,
    #[schema(read_only, pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub height: Option<u32>,
    #[schema(read_only)]
    pub storage: StorageRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileCategory {
    Image,
    Avatar,
    Attachment,
    Document,
    Audio,
    Export,
}

impl FileCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Avatar => "avatar",
            Self::Attachment => "attachment",
            Self::Document => "document",
            Self::Audio => "audio",
            Self::Export => "export",
        }
    }

    /// The category of an upload that names none, from its type.
    pub fn for_mime_type(mime_type: &str) -> Self {
        match mime_type.split('/').next().unwrap_or_default() {
            "image" => Self::Image,
            "audio" => Self::Audio,
            "text" => Self::Document,
            _ if mime_type == "application/pdf" => Self::Document,
            _ => Self::Attachment,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileSource {
    #[default]
    Upload,
    Generated,
    Imported,
    System,
}

/// A typed link from a file to the document it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileLink {
    pub kind: LinkKind,
    pub id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    Character,
    Persona,
    Chat,
    Message,
}

/// Where the bytes are: the blob backend and the key inside it. Never set by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageRef {
    pub backend: String,
    pub key: String,
}

impl File {
    pub const MAX_DESCRIPTION: usize = 10_000;
}

impl Resource for File {
    const COLLECTION: Collection = Collection::Files;
    /// What a client may set at upload and change with `PATCH .../metadata`.
    const FIELDS: &'static [&'static str] = &["category", "description", "tags", "linkedTo"];
    /// `source` is given at upload only; the rest describes the bytes.
    const SERVER_FIELDS: &'static [&'static str] = &[
        "source",
        "originalFilename",
        "mimeType",
        "size",
        "sha256",
        "width",
        "height",
        "storage",
    ];
    /// Where the bytes lie is the service's business: kept in the record, never shown.
    const HIDDEN_FIELDS: &'static [&'static str] = &["storage"];

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        if let Some(description) = &self.description
            && description.chars().count() > Self::MAX_DESCRIPTION
        {
            checks.fail(
                "description",
                format!("must be at most {} characters", Self::MAX_DESCRIPTION),
            );
        }
        checks.no_duplicates("tags", &self.tags);
        let mut seen = std::collections::HashSet::new();
        if self.linked_to.iter().any(|link| !seen.insert(link)) {
            checks.fail("linkedTo", "must not list the same link twice");
        }
        checks.0
    }

    fn references(&self) -> Vec<Reference> {
        let links = self
            .linked_to
            .iter()
            .enumerate()
            .filter_map(|(index, link)| {
                let collection = match link.kind {
                    LinkKind::Character => Collection::Characters,
                    LinkKind::Persona => Collection::Personas,
                    LinkKind::Chat => Collection::Chats,
                    // Messages live in per-chat logs, which `existing_ids` does not see yet:
                    // message links are accepted unchecked until the store can look them up.
                    LinkKind::Message => return None,
                };
                Some(Reference {
                    field: format!("linkedTo[{index}].id"),
                    collection,
                    id: link.id,
                })
            });
        tag_references(&self.tags).chain(links).collect()
    }

    /// Every place a file id can sit among the documents. Hook for the chats work: message
    fn removals_on_delete(id: Uuid) -> Vec<(Collection, Removal)> {
        vec![
            (
                Collection::Characters,
                Removal::Scalar {
                    field: "defaultImageId",
                    id,
                },
            ),
            (
                Collection::Personas,
                Removal::Scalar {
                    field: "defaultImageId",
                    id,
                },
            ),
            (
                Collection::Characters,
                Removal::ArrayObject {
                    field: "avatarOverrides",
                    key: "fileId",
                    id,
                },
            ),
            (
                Collection::Characters,
                Removal::ArrayObject {
                    field: "assets",
                    key: "fileId",
                    id,
                },
            ),
            (
                Collection::Messages,
                Removal::ArrayValue {
                    field: "attachments",
                    id,
                },
            ),
        ]
    }
}

/// The references a character or persona holds to files: `defaultImageId` and
/// `avatarOverrides[].fileId`.
pub fn file_references(
    default_image: Option<Uuid>,
    avatar_files: impl Iterator<Item = Uuid>,
) -> impl Iterator<Item = Reference> {
    let default = default_image.map(|id| Reference {
        field: "defaultImageId".to_owned(),
        collection: Collection::Files,
        id,
    });
    let overrides = avatar_files.enumerate().map(|(index, id)| Reference {
        field: format!("avatarOverrides[{index}].fileId"),
        collection: Collection::Files,
        id,
    });
    default.into_iter().chain(overrides)
}

/// What deleting a character or persona removes from files: links to it.
pub fn link_removal(id: Uuid) -> (Collection, Removal) {
    (
        Collection::Files,
        Removal::ArrayObject {
            field: "linkedTo",
            key: "id",
            id,
        },
    )
}
