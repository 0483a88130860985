//! `quillstore secrets rotate`: re-encrypts every stored secret under the current master key.
//!
//! Resumable by construction: a record already sealed with the current key is skipped, so a
//! run that stopped half-way is finished by running it again. A record that does not open
//! (its key is in neither `ENCRYPTION_MASTER_KEY` nor `ENCRYPTION_PREVIOUS_KEYS`, or it was
//! altered) stops the run with an error naming the record: never a silent garbage decrypt,
//! never a record left half-written.

use std::fmt;

use anyhow::Context;
use serde_json::Value;

use super::{Keyring, Sealed};
use crate::migrate::progress::Progress;
use crate::model::{Collection, Document};
use crate::store::{MetadataStore, StoreError};

/// Records read per batch.
const BATCH: usize = 500;
/// How often one record is retried when a concurrent writer changes it.
const ATTEMPTS: usize = 16;

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub rotated: u64,
    pub already_current: u64,
}

impl fmt::Display for Rotation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            formatter,
            "secrets rotate: {} re-encrypted, {} already under the current key",
            self.rotated, self.already_current
        )
    }
}

fn sealed_of(document: &Document) -> anyhow::Result<Sealed> {
    let secret = document
        .body
        .get("secret")
        .cloned()
        .with_context(|| format!("API key {} has no sealed secret", document.id))?;
    serde_json::from_value(secret)
        .with_context(|| format!("API key {} has a malformed sealed secret", document.id))
}

/// Re-encrypts every API key not yet under the keyring's current key.
pub async fn rotate(store: &MetadataStore, keyring: &Keyring) -> anyhow::Result<Rotation> {
    let mut rotation = Rotation::default();
    let progress = Progress::items("api-keys", None);
    let mut after = None;
    loop {
        let batch = store
            .scan_documents(Collection::ApiKeys, after, BATCH)
            .await
            .context("cannot read the API keys")?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id);
        let done = batch.len() < BATCH;
        for document in batch {
            if rotate_one(store, keyring, document).await? {
                rotation.rotated += 1;
            } else {
                rotation.already_current += 1;
            }
            progress.add(1);
        }
        if done {
            break;
        }
    }
    progress.finish();
    Ok(rotation)
}

/// Re-seals one record; false when it already is under the current key.
async fn rotate_one(
    store: &MetadataStore,
    keyring: &Keyring,
    mut document: Document,
) -> anyhow::Result<bool> {
    let (id, user) = (document.id, document.user_id.clone());
    for _ in 0..ATTEMPTS {
        let sealed = sealed_of(&document)?;
        if !keyring.needs_rotation(&sealed) {
            return Ok(false);
        }
        let plaintext = keyring
            .open(&sealed, &user, id)
            .with_context(|| format!("API key {id} of user {user}"))?;
        let resealed = keyring.seal(&plaintext, &user, id)?;
        let mut body = document.body.clone();
        body.insert(
            "keyVersion".to_owned(),
            Value::from(resealed.key_version.clone()),
        );
        body.insert("secret".to_owned(), serde_json::to_value(&resealed)?);
        match store
            .replace(Collection::ApiKeys, &user, id, document.version, body)
            .await
        {
            Ok(_) => return Ok(true),
            Err(StoreError::VersionMismatch) => {
                document = store.get(Collection::ApiKeys, &user, id).await?;
            }
            Err(StoreError::NotFound) => return Ok(false),
            Err(error) => return Err(error.into()),
        }
    }
    anyhow::bail!("API key {id} kept changing during the rotation; run it again")
}
