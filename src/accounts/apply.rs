//! The writing side of an import: how an archived document becomes one of the importing
//! user ([`Rewrite`]), the documents and messages written ([`store_documents`]), and what was
//! written, to undo it ([`Applied`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, BufReader};
use uuid::Uuid;

use super::import_error::ImportError;
use super::manifest::{self, EntryKind};
use super::verify::{Invalid, MAX_PART_BYTES, chat_header, document, lines};
use super::{AccountStores, archive};
use crate::blob::BlobKey;
use crate::chats::format::seq_of;
use crate::model::api_key::ApiKey;
use crate::model::file::FileCategory;
use crate::model::secrets::{Keyring, Sealed};
use crate::model::{Collection, Document, Removal, Resource, UserId};
use crate::store::StoreError;

/// Old ids to new ones, and the owner to write.
pub struct Rewrite {
    user: UserId,
    source: UserId,
    ids: HashMap<Uuid, Uuid>,
    strings: HashMap<String, String>,
    /// API keys left out (sealed under a key this instance lacks).
    pub skipped: HashSet<Uuid>,
}

impl Rewrite {
    pub fn new(user: UserId, source: UserId) -> Self {
        Self {
            user,
            source,
            ids: HashMap::new(),
            strings: HashMap::new(),
            skipped: HashSet::new(),
        }
    }

    pub fn remap(&mut self, old: Uuid, new: Uuid) {
        self.ids.insert(old, new);
        self.strings.insert(old.to_string(), new.to_string());
    }

    pub fn remapped(&self) -> u64 {
        self.ids.len() as u64
    }

    fn id(&self, old: Uuid) -> Uuid {
        self.ids.get(&old).copied().unwrap_or(old)
    }

    fn value(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Some(new) = self.strings.get(text.as_str()) {
                    *text = new.clone();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item)),
            Value::Object(object) => object.values_mut().for_each(|item| self.value(item)),
            _ => {}
        }
    }

    /// The document as the importing user's, with every remapped id rewritten.
    fn document(&self, mut document: Document) -> Document {
        document.id = self.id(document.id);
        document.user_id = self.user.clone();
        document
            .body
            .values_mut()
            .for_each(|value| self.value(value));
        document
    }

    /// Where the blob of an archived file record goes: under the importing user's prefix.
    pub fn blob_key(&self, file: &Document) -> BlobKey {
        let category = file
            .body
            .get("category")
            .and_then(|value| serde_json::from_value::<FileCategory>(value.clone()).ok())
            .unwrap_or(FileCategory::Attachment);
        let filename = file
            .body
            .get("originalFilename")
            .and_then(Value::as_str)
            .unwrap_or("file");
        BlobKey::for_file(&self.user, category, self.id(file.id), filename)
    }

    /// False when the document goes with a skipped API key; else removes the skipped keys
    /// from it as their deletion would.
    fn keep(&self, collection: Collection, document: &mut Document) -> bool {
        if collection == Collection::ApiKeys && self.skipped.contains(&document.id) {
            return false;
        }
        for id in &self.skipped {
            for (target, removal) in ApiKey::removals_on_delete(*id) {
                if target != collection {
                    continue;
                }
                if matches!(removal, Removal::Owned { .. }) && removal.matches(&document.body) {
                    return false;
                }
                removal.apply(&mut document.body);
            }
        }
        true
    }
}

/// What an import wrote, so a failure can take it back.
#[derive(Default)]
pub struct Applied {
    pub documents: BTreeMap<String, u64>,
    pub messages: u64,
    /// The blob written for each content.
    pub blobs: HashMap<String, BlobKey>,
    written: Vec<(Collection, Uuid)>,
    replaced_settings: Option<Document>,
}

impl Applied {
    /// Removes everything written (chats take their messages) and restores the settings.
    pub async fn undo(&self, stores: &AccountStores, user: &UserId) {
        for (collection, id) in self.written.iter().rev() {
            match stores.metadata.delete(*collection, user, *id, None).await {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(error) => {
                    tracing::error!(%id, error = %error, "cannot undo an imported document")
                }
            }
        }
        if let Some(settings) = &self.replaced_settings
            && let Err(error) = stores
                .metadata
                .put_document(Collection::Settings, settings.clone())
                .await
        {
            tracing::error!(error = %error, "cannot restore the settings an import replaced");
        }
        for key in self.blobs.values() {
            if let Err(error) = stores.blobs.delete(key).await {
                tracing::error!(%key, error = %error, "cannot undo an imported blob; `quillstore gc` will find it");
            }
        }
    }

    fn wrote(&mut self, collection: Collection, id: Uuid) {
        self.written.push((collection, id));
        *self
            .documents
            .entry(collection.name().to_owned())
            .or_default() += 1;
    }
}

/// The third read: every document and message, rewritten and stored.
pub async fn store_documents(
    stores: &AccountStores,
    keyring: &Keyring,
    path: &Path,
    rewrite: &Rewrite,
    applied: &mut Applied,
) -> Result<(), ImportError> {
    let mut reader = BufReader::new(tokio::fs::File::open(path).await?);
    while let Some(entry) = archive::next_entry(&mut reader, u64::MAX)
        .await
        .map_err(Invalid::from)?
    {
        let kind = manifest::kind_of(&entry.path);
        let mut data = Vec::new();
        let mut part = (&mut reader).take(entry.size);
        match kind {
            Some(EntryKind::Documents(_) | EntryKind::Chat { .. })
                if entry.size <= MAX_PART_BYTES =>
            {
                part.read_to_end(&mut data).await?;
            }
            _ => {
                tokio::io::copy(&mut part, &mut tokio::io::sink()).await?;
            }
        }
        archive::skip_padding(&mut reader, entry.size)
            .await
            .map_err(Invalid::from)?;
        match kind {
            Some(EntryKind::Documents(collection)) => {
                for (number, object) in lines(&data, &entry.path)? {
                    let archived = document(object, &entry.path, number)?;
                    store_document(stores, keyring, rewrite, applied, collection, archived).await?;
                }
            }
            Some(EntryKind::Chat { chat_id, part }) => {
                let mut parsed = lines(&data, &entry.path)?.into_iter();
                let chat_id = rewrite.id(chat_id);
                if part == 1 {
                    let chat = rewrite.document(chat_header(parsed.next(), &entry.path)?);
                    stores
                        .metadata
                        .put_document(Collection::Chats, chat)
                        .await?;
                    applied.wrote(Collection::Chats, chat_id);
                }
                let mut messages = Vec::new();
                for (number, object) in parsed {
                    messages.push(rewrite.document(document(object, &entry.path, number)?));
                }
                let Some(last_seq) = messages.iter().map(seq_of).max() else {
                    continue;
                };
                applied.messages += messages.len() as u64;
                stores
                    .metadata
                    .put_messages(chat_id, messages, Vec::new())
                    .await?;
                stores
                    .metadata
                    .raise_last_seq(&rewrite.user, chat_id, last_seq)
                    .await?;
            }
            _ => {}
        }
    }
    Ok(())
}

async fn store_document(
    stores: &AccountStores,
    keyring: &Keyring,
    rewrite: &Rewrite,
    applied: &mut Applied,
    collection: Collection,
    archived: Document,
) -> Result<(), ImportError> {
    let old_id = archived.id;
    let mut archived = archived;
    if !rewrite.keep(collection, &mut archived) {
        return Ok(());
    }
    let mut document = rewrite.document(archived);
    match collection {
        Collection::Files => {
            let sha256 = document
                .body
                .get("sha256")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let key = applied
                .blobs
                .get(sha256)
                .ok_or_else(|| Invalid(format!("file {old_id} has no blob in the archive")))?;
            let storage = json!({"backend": stores.blobs.backend(), "key": key.as_str()});
            document.body.insert("storage".to_owned(), storage);
        }
        Collection::ApiKeys if document.id != old_id || rewrite.user != rewrite.source => {
            reseal(keyring, rewrite, old_id, &mut document)?;
        }
        Collection::Settings => {
            match stores
                .metadata
                .get(Collection::Settings, &rewrite.user, document.id)
                .await
            {
                Ok(existing) => applied.replaced_settings = Some(existing),
                Err(StoreError::NotFound) => {}
                Err(error) => return Err(error.into()),
            }
        }
        _ => {}
    }
    let id = document.id;
    stores.metadata.put_document(collection, document).await?;
    applied.wrote(collection, id);
    Ok(())
}

/// Seals an API key's secret again for its new owner and id (the old binding no longer
/// opens it). The import checked before that this instance opens it.
fn reseal(
    keyring: &Keyring,
    rewrite: &Rewrite,
    old_id: Uuid,
    document: &mut Document,
) -> Result<(), ImportError> {
    let Some(sealed) = document
        .body
        .get("secret")
        .and_then(|sealed| serde_json::from_value::<Sealed>(sealed.clone()).ok())
    else {
        return Ok(());
    };
    let failed = |_| Invalid(format!("API key {old_id} cannot be sealed again"));
    let plain = keyring
        .open(&sealed, &rewrite.source, old_id)
        .map_err(failed)?;
    let resealed = keyring
        .seal(&plain, &rewrite.user, document.id)
        .map_err(failed)?;
    document.body.insert(
        "keyVersion".to_owned(),
        Value::String(resealed.key_version.clone()),
    );
    document.body.insert("secret".to_owned(), json!(resealed));
    Ok(())
}
