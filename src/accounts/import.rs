//! Importing an account archive into an account, all or nothing. The archive is spooled to
//! `DATA_DIR/imports/` (bounded by `MAX_ACCOUNT_IMPORT_BYTES`) and read three times: checked
//! whole against its manifest (`verify`), then its blobs are written, then its documents and
//! messages. Nothing is stored before the check passes; a failure later removes everything
//! the import wrote and puts back the settings it replaced.
//!
//! Ids are kept when no one holds them and remapped when someone does (another user, or this
//! one): a remapped document gets a fresh id, and every string in the imported documents
//! equal to the old id is rewritten, which covers every reference (`Resource::references`),
//! nested ones included. A chat whose id is remapped gets fresh message ids too. The settings
//! document takes the importing user's settings id. Blobs are written under the importing
//! user's keys, one per distinct content, shared by the records of that content.
//!
//! An account imports an archive once: a record `accounts/{user}/imports/{archiveId}.json`
//! is written at the end, and an archive whose id is recorded is refused (409).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, BufReader};
use uuid::Uuid;

use super::apply::{Applied, Rewrite};
pub use super::import_error::ImportError;
use super::verify::{Invalid, Plan, verify};
use super::{AccountStores, archive, records_prefix};
use crate::blob::BlobKey;
use crate::model::secrets::{Keyring, Sealed};
use crate::model::settings::Settings;
use crate::model::{Collection, Timestamp, UserId, ids};

/// What an import stored.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub archive_id: Uuid,
    /// The account the archive was exported from.
    pub source_user_id: String,
    pub documents: BTreeMap<String, u64>,
    pub messages: u64,
    pub blobs: u64,
    /// Documents and messages stored under a new id because their id was taken.
    pub remapped: u64,
    /// API keys left out: sealed under a master key this instance does not have.
    pub skipped_api_keys: u64,
}

/// An archive spooled to disk; the file is removed when this is dropped.
pub struct Spooled(PathBuf);

impl Spooled {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes archives a stop left in the spool directory (run at startup).
pub fn clear_spooled(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes `body` to a new file in `dir`, refusing more than `limit` bytes.
pub async fn spool<S, E>(dir: &Path, body: S, limit: u64) -> Result<Spooled, ImportError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use tokio::io::AsyncWriteExt;
    tokio::fs::create_dir_all(dir).await?;
    let spooled = Spooled(dir.join(format!("{}.tar", ids::new_id())));
    let mut file = tokio::fs::File::create(spooled.path()).await?;
    let (mut body, mut written) = (body, 0u64);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| ImportError::Body(error.to_string()))?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(ImportError::TooLarge(limit));
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(spooled)
}

fn import_record(user: &UserId, archive_id: Uuid) -> BlobKey {
    BlobKey::parse(&format!(
        "{}imports/{archive_id}.json",
        records_prefix(user)
    ))
    .expect("user ids and uuids are valid key segments")
}

/// Imports the spooled archive into `user`'s account.
pub async fn import_archive(
    stores: &AccountStores,
    keyring: &Keyring,
    quotas: &std::sync::Arc<super::quota::Quotas>,
    user: &UserId,
    archive: &Spooled,
) -> Result<ImportReport, ImportError> {
    let plan = verify(archive.path()).await?;
    let manifest = plan.manifest().clone();
    let record = import_record(user, manifest.archive_id);
    if stores.blobs.exists(&record).await? {
        return Err(ImportError::AlreadyImported(manifest.archive_id));
    }
    let source = UserId::parse(&manifest.user_id)
        .map_err(|_| Invalid("the manifest's userId is not a valid user id".to_owned()))?;
    let bytes: u64 = plan
        .files
        .iter()
        .map(|file| file.body.get("size").and_then(Value::as_u64).unwrap_or(0))
        .sum();
    let request = super::quota::Needs {
        bytes: Some(bytes),
        files: plan.files.len() as u64,
        // The ids are rewritten later: until it ends, a check counts the reservation whole,
        // even beside the records already stored (more, never less, than the truth).
        file: None,
    };
    let _room = quotas
        .reserve(&stores.metadata, user, request, u64::MAX)
        .await?;
    check_tag_names(stores, user, &plan).await?;
    let rewrite = plan_ids(stores, keyring, user, &source, &plan).await?;
    let mut applied = Applied::default();
    match store_all(
        stores,
        keyring,
        archive.path(),
        &rewrite,
        &plan,
        &mut applied,
    )
    .await
    {
        Ok(()) => {
            let body = json!({"archiveId": manifest.archive_id, "sourceUserId": source.as_str(),
                "importedAt": Timestamp::now().to_string()});
            let body = stream::iter([Ok::<_, Infallible>(Bytes::from(body.to_string()))]);
            if let Err(error) = stores.blobs.put(&record, body, 4096).await {
                applied.undo(stores, user).await;
                return Err(error.into());
            }
            Ok(ImportReport {
                archive_id: manifest.archive_id,
                source_user_id: source.to_string(),
                documents: applied.documents.clone(),
                messages: applied.messages,
                blobs: applied.blobs.len() as u64,
                remapped: rewrite.remapped(),
                skipped_api_keys: rewrite.skipped.len() as u64,
            })
        }
        Err(error) => {
            applied.undo(stores, user).await;
            Err(error)
        }
    }
}

/// Tag names are unique per user (ignoring case): an archive naming a tag the account already
/// has is refused whole (409), on every backend alike, rather than half imported.
async fn check_tag_names(
    stores: &AccountStores,
    user: &UserId,
    plan: &Plan,
) -> Result<(), ImportError> {
    let mut pages = super::Pages::new(Collection::Tags, user);
    let mut clashes = Vec::new();
    while let Some(tags) = pages.next(&stores.metadata).await? {
        for tag in tags {
            let name = tag
                .body
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if plan.tag_names.contains(&name.to_lowercase()) {
                clashes.push(name.to_owned());
            }
        }
    }
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(ImportError::TagClash(clashes.join(", ")))
    }
}

/// Decides every id: kept when free, fresh when taken; the settings id is the user's.
async fn plan_ids(
    stores: &AccountStores,
    keyring: &Keyring,
    user: &UserId,
    source: &UserId,
    plan: &Plan,
) -> Result<Rewrite, ImportError> {
    let mut rewrite = Rewrite::new(user.clone(), source.clone());
    for (collection, ids) in &plan.ids {
        let mut taken = HashSet::new();
        for chunk in ids.chunks(super::PAGE) {
            taken.extend(stores.metadata.taken_ids(*collection, chunk).await?);
        }
        for id in ids {
            let new = match collection {
                Collection::Settings => Settings::id_for(user),
                _ if taken.contains(id) => ids::new_id(),
                _ => *id,
            };
            if new != *id {
                rewrite.remap(*id, new);
                if *collection == Collection::Chats {
                    for message in plan.messages.get(id).into_iter().flatten() {
                        rewrite.remap(*message, ids::new_id());
                    }
                }
            }
        }
    }
    for key in &plan.api_keys {
        let opens = key
            .body
            .get("secret")
            .and_then(|sealed| serde_json::from_value::<Sealed>(sealed.clone()).ok())
            .is_some_and(|sealed| keyring.open(&sealed, source, key.id).is_ok());
        if !opens {
            rewrite.skipped.insert(key.id);
        }
    }
    Ok(rewrite)
}

/// The second and third reads: blobs, then documents and messages.
async fn store_all(
    stores: &AccountStores,
    keyring: &Keyring,
    path: &Path,
    rewrite: &Rewrite,
    plan: &Plan,
    applied: &mut Applied,
) -> Result<(), ImportError> {
    let mut first_record: HashMap<&str, &crate::model::Document> = HashMap::new();
    for file in &plan.files {
        if let Some(sha256) = file.body.get("sha256").and_then(Value::as_str) {
            first_record.entry(sha256).or_insert(file);
        }
    }
    let mut reader = BufReader::new(tokio::fs::File::open(path).await?);
    while let Some(entry) = archive::next_entry(&mut reader, u64::MAX)
        .await
        .map_err(Invalid::from)?
    {
        let mut data = (&mut reader).take(entry.size);
        let sha256 = entry.path.strip_prefix("blobs/");
        match sha256.and_then(|sha256| first_record.get(sha256).map(|file| (sha256, file))) {
            Some((sha256, file)) => {
                let key = rewrite.blob_key(file);
                let body = tokio_util::io::ReaderStream::new(&mut data);
                stores.blobs.put(&key, body, entry.size).await?;
                applied.blobs.insert(sha256.to_owned(), key);
            }
            None => {
                tokio::io::copy(&mut data, &mut tokio::io::sink()).await?;
            }
        }
        archive::skip_padding(&mut reader, entry.size)
            .await
            .map_err(Invalid::from)?;
    }
    super::apply::store_documents(stores, keyring, path, rewrite, applied).await
}
