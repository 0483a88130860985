//! The first pass of an import: read the whole archive, check every entry (path, size,
//! SHA-256, JSON) against the manifest, and collect what the import needs to decide ids
//! (every document id, each chat's message ids, the file records). Nothing is stored here.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use uuid::Uuid;

use super::archive::{self, ArchiveError, Entry};
use super::manifest::{self, Counts, EntryKind, Manifest, ManifestEntry};
use crate::chats::format::{FORMAT_NAME, FORMAT_VERSION};
use crate::model::{Collection, Document};

/// The largest page of JSON Lines an import reads whole (an export writes far smaller ones).
pub const MAX_PART_BYTES: u64 = 64 << 20;

/// What the first pass learned.
#[derive(Debug, Default)]
pub struct Plan {
    pub manifest: Option<Manifest>,
    pub ids: BTreeMap<Collection, Vec<Uuid>>,
    /// Each chat's message ids.
    pub messages: HashMap<Uuid, Vec<Uuid>>,
    pub files: Vec<Document>,
    /// Sealed API keys, to check whether this instance can open them.
    pub api_keys: Vec<Document>,
    /// Tag names, lowercased (unique per user).
    pub tag_names: Vec<String>,
}

impl Plan {
    pub fn manifest(&self) -> &Manifest {
        self.manifest
            .as_ref()
            .expect("a verified plan has its manifest")
    }
}

/// Why an archive is refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<ArchiveError> for Invalid {
    fn from(error: ArchiveError) -> Self {
        Self(error.to_string())
    }
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(message.into())
}

/// Reads and checks the archive at `path`.
pub async fn verify(path: &std::path::Path) -> Result<Plan, Invalid> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|error| invalid(format!("cannot read the archive: {error}")))?;
    let mut reader = BufReader::new(file);
    let mut plan = Plan::default();
    let mut seen: Vec<ManifestEntry> = Vec::new();
    let mut paths = HashSet::new();
    let mut counts = Counts::default();
    // The part each chat expects next (its parts come in order, header first).
    let mut next_part: HashMap<Uuid, u32> = HashMap::new();
    while let Some(entry) = archive::next_entry(&mut reader, u64::MAX).await? {
        if plan.manifest.is_some() {
            return Err(invalid("manifest.json must be the archive's last entry"));
        }
        if !paths.insert(entry.path.clone()) {
            return Err(invalid(format!("entry {:?} appears twice", entry.path)));
        }
        let kind = manifest::kind_of(&entry.path)
            .ok_or_else(|| invalid(format!("unexpected entry {:?}", entry.path)))?;
        match kind {
            EntryKind::Manifest => {
                let data = read_whole(&mut reader, &entry, manifest::MAX_MANIFEST_BYTES).await?;
                let parsed: Manifest = serde_json::from_slice(&data)
                    .map_err(|error| invalid(format!("manifest.json is malformed: {error}")))?;
                plan.manifest = Some(parsed);
            }
            EntryKind::Blob { sha256 } => {
                let actual = hash_stream(&mut reader, entry.size).await?;
                if actual != sha256 {
                    return Err(invalid(format!("{} does not hash to its name", entry.path)));
                }
                counts.blobs += 1;
                counts.blob_bytes += entry.size;
                seen.push(record(&entry, actual));
            }
            EntryKind::Documents(collection) => {
                let data = read_whole(&mut reader, &entry, MAX_PART_BYTES).await?;
                seen.push(record(&entry, hex::encode(Sha256::digest(&data))));
                for (number, object) in lines(&data, &entry.path)? {
                    let document = document(object, &entry.path, number)?;
                    plan.ids.entry(collection).or_default().push(document.id);
                    count(&mut counts, collection);
                    match collection {
                        Collection::Files => plan.files.push(document),
                        Collection::ApiKeys => plan.api_keys.push(document),
                        Collection::Tags => plan.tag_names.push(
                            document
                                .body
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_lowercase(),
                        ),
                        _ => {}
                    }
                }
            }
            EntryKind::Chat { chat_id, part } => {
                let expected = next_part.entry(chat_id).or_insert(1);
                if part != *expected {
                    return Err(invalid(format!("{} is out of order", entry.path)));
                }
                *expected += 1;
                let data = read_whole(&mut reader, &entry, MAX_PART_BYTES).await?;
                seen.push(record(&entry, hex::encode(Sha256::digest(&data))));
                let mut parsed = lines(&data, &entry.path)?.into_iter();
                if part == 1 {
                    let chat = chat_header(parsed.next(), &entry.path)?;
                    if chat.id != chat_id {
                        return Err(invalid(format!(
                            "{}: the header names another chat",
                            entry.path
                        )));
                    }
                    plan.ids.entry(Collection::Chats).or_default().push(chat_id);
                    count(&mut counts, Collection::Chats);
                }
                for (number, object) in parsed {
                    let message = document(object, &entry.path, number)?;
                    let chat_of = message.body.get("chatId").and_then(Value::as_str);
                    if chat_of != Some(chat_id.to_string().as_str()) {
                        return Err(invalid(format!(
                            "{} line {number}: a message of another chat",
                            entry.path
                        )));
                    }
                    plan.messages.entry(chat_id).or_default().push(message.id);
                    counts.messages += 1;
                }
            }
        }
        archive::skip_padding(&mut reader, entry.size).await?;
    }
    let Some(manifest) = &plan.manifest else {
        return Err(invalid("the archive has no manifest.json"));
    };
    check_manifest(manifest, seen, &counts)?;
    let blobs: HashSet<String> = manifest
        .entries
        .iter()
        .filter_map(|entry| entry.path.strip_prefix("blobs/").map(str::to_owned))
        .collect();
    for file in &plan.files {
        let sha256 = file
            .body
            .get("sha256")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !blobs.contains(sha256) {
            return Err(invalid(format!(
                "file {} has no blob in the archive",
                file.id
            )));
        }
    }
    Ok(plan)
}

fn record(entry: &Entry, sha256: String) -> ManifestEntry {
    ManifestEntry {
        path: entry.path.clone(),
        size: entry.size,
        sha256,
    }
}

fn count(counts: &mut Counts, collection: Collection) {
    *counts
        .documents
        .entry(collection.name().to_owned())
        .or_default() += 1;
}

/// The manifest must list exactly the entries read, with their sizes and hashes, and the
/// counts found.
fn check_manifest(
    manifest: &Manifest,
    mut seen: Vec<ManifestEntry>,
    counts: &Counts,
) -> Result<(), Invalid> {
    if manifest.kind != manifest::FORMAT_NAME || manifest.version != manifest::FORMAT_VERSION {
        return Err(invalid(format!(
            "not a {} archive of version {}",
            manifest::FORMAT_NAME,
            manifest::FORMAT_VERSION
        )));
    }
    let mut listed = manifest.entries.clone();
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    seen.sort_by(|a, b| a.path.cmp(&b.path));
    if listed.len() != seen.len() {
        return Err(invalid(format!(
            "the manifest lists {} entries, the archive holds {}",
            listed.len(),
            seen.len()
        )));
    }
    for (listed, seen) in listed.iter().zip(&seen) {
        if listed != seen {
            return Err(invalid(format!(
                "entry {:?} does not match the manifest (size or SHA-256)",
                seen.path
            )));
        }
    }
    let nonzero = |documents: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
        documents
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    };
    if nonzero(&manifest.counts.documents) != nonzero(&counts.documents)
        || manifest.counts.messages != counts.messages
        || manifest.counts.blobs != counts.blobs
        || manifest.counts.blob_bytes != counts.blob_bytes
    {
        return Err(invalid("the manifest's counts do not match the archive"));
    }
    Ok(())
}

async fn read_whole<R: AsyncRead + Unpin>(
    reader: &mut R,
    entry: &Entry,
    limit: u64,
) -> Result<Vec<u8>, Invalid> {
    if entry.size > limit {
        return Err(ArchiveError::TooLarge {
            path: entry.path.clone(),
            limit,
        }
        .into());
    }
    let mut data = vec![0u8; entry.size as usize];
    reader
        .read_exact(&mut data)
        .await
        .map_err(|_| archive::truncated())?;
    Ok(data)
}

async fn hash_stream<R: AsyncRead + Unpin>(reader: &mut R, size: u64) -> Result<String, Invalid> {
    let mut hasher = Sha256::new();
    let mut left = size;
    let mut buffer = vec![0u8; 64 << 10];
    while left > 0 {
        let want = buffer.len().min(left as usize);
        let read = reader
            .read(&mut buffer[..want])
            .await
            .map_err(|_| archive::truncated())?;
        if read == 0 {
            return Err(archive::truncated().into());
        }
        hasher.update(&buffer[..read]);
        left -= read as u64;
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A line of a page: its number (from 1) and its object.
pub type Line = (usize, Map<String, Value>);

/// The JSON objects of a page, one a line, numbered from 1.
pub fn lines(data: &[u8], path: &str) -> Result<Vec<Line>, Invalid> {
    let text = std::str::from_utf8(data).map_err(|_| invalid(format!("{path} is not UTF-8")))?;
    text.split('\n')
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => Ok((index + 1, object)),
            _ => Err(invalid(format!(
                "{path} line {}: not a JSON object",
                index + 1
            ))),
        })
        .collect()
}

pub fn document(
    object: Map<String, Value>,
    path: &str,
    number: usize,
) -> Result<Document, Invalid> {
    serde_json::from_value(Value::Object(object)).map_err(|error| {
        invalid(format!(
            "{path} line {number}: not a stored document: {error}"
        ))
    })
}

/// The chat a chat export's header line carries.
pub fn chat_header(line: Option<Line>, path: &str) -> Result<Document, Invalid> {
    let Some((number, header)) = line else {
        return Err(invalid(format!("{path} has no header line")));
    };
    if header.get("type").and_then(Value::as_str) != Some(FORMAT_NAME)
        || header.get("version").and_then(Value::as_u64) != Some(FORMAT_VERSION)
    {
        return Err(invalid(format!(
            "{path}: not a quillstore chat export header"
        )));
    }
    match header.get("chat") {
        Some(Value::Object(chat)) => document(chat.clone(), path, number),
        _ => Err(invalid(format!("{path}: the header has no chat"))),
    }
}
