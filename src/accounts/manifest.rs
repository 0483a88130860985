//! The manifest of an account archive: its last entry, listing every other entry with its
//! size and SHA-256, and how many documents, messages and blobs the archive holds. An import
//! checks all of it before it stores anything.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::Collection;

pub const FORMAT_NAME: &str = "quillstore-account";
pub const FORMAT_VERSION: u64 = 1;
pub const MANIFEST_PATH: &str = "manifest.json";
/// The largest manifest an import reads (about 300 000 entries).
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u64,
    /// Drawn at export: an account imports one archive once.
    pub archive_id: Uuid,
    /// Whose account it was.
    pub user_id: String,
    pub created_at: String,
    pub counts: Counts,
    pub entries: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Counts {
    /// Documents per collection name (chats included).
    pub documents: BTreeMap<String, u64>,
    pub messages: u64,
    /// Distinct blobs, and their bytes.
    pub blobs: u64,
    pub blob_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What an entry path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A page of a collection's documents.
    Documents(Collection),
    /// A part of a chat's export; part 1 starts with the header.
    Chat {
        chat_id: Uuid,
        part: u32,
    },
    /// The bytes of one content.
    Blob {
        sha256: String,
    },
    Manifest,
}

/// The path of page `part` (from 1) of a collection.
pub fn documents_path(collection: Collection, part: u32) -> String {
    format!("collections/{}/{part:06}.jsonl", collection.name())
}

pub fn chat_path(chat_id: Uuid, part: u32) -> String {
    format!("chats/{chat_id}/{part:06}.jsonl")
}

pub fn blob_path(sha256: &str) -> String {
    format!("blobs/{sha256}")
}

/// Reads an entry path; `None` for a path no archive of ours has.
pub fn kind_of(path: &str) -> Option<EntryKind> {
    let segments: Vec<&str> = path.split('/').collect();
    let part = |file: &str| {
        file.strip_suffix(".jsonl")
            .filter(|digits| digits.len() == 6)
            .and_then(|digits| digits.parse::<u32>().ok())
            .filter(|part| *part > 0)
    };
    match segments.as_slice() {
        [MANIFEST_PATH] => Some(EntryKind::Manifest),
        ["collections", name, file] => {
            part(file)?;
            Collection::DOCUMENTS
                .into_iter()
                .find(|collection| collection.name() == *name && *collection != Collection::Chats)
                .map(EntryKind::Documents)
        }
        ["chats", id, file] => Some(EntryKind::Chat {
            chat_id: Uuid::try_parse(id)
                .ok()
                .filter(|parsed| parsed.to_string() == *id)?,
            part: part(file)?,
        }),
        ["blobs", sha256]
            if sha256.len() == 64
                && sha256
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) =>
        {
            Some(EntryKind::Blob {
                sha256: (*sha256).to_owned(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_back_and_strangers_are_refused() {
        let id = Uuid::nil();
        assert_eq!(
            kind_of(&documents_path(Collection::ApiKeys, 3)),
            Some(EntryKind::Documents(Collection::ApiKeys))
        );
        assert_eq!(
            kind_of(&chat_path(id, 1)),
            Some(EntryKind::Chat {
                chat_id: id,
                part: 1
            })
        );
        let sha = "a".repeat(64);
        assert!(matches!(
            kind_of(&blob_path(&sha)),
            Some(EntryKind::Blob { .. })
        ));
        for stranger in [
            "collections/chats/000001.jsonl",
            "collections/tags/1.jsonl",
            "collections/nope/000001.jsonl",
            "blobs/ABC",
            "chats/x/000001.jsonl",
            "other",
        ] {
            assert_eq!(kind_of(stranger), None, "{stranger}");
        }
    }
}
