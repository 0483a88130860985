//! Writing an account archive as a stream of bytes, with bounded memory: one page of
//! documents (or messages) at a time becomes one tar entry, and blobs flow from the blob store
//! into the stream chunk by chunk. A task writes into a channel of a few chunks; when the
//! reader goes away the task stops at its next send.

use std::collections::HashSet;
use std::io;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::archive::{self, END};
use super::manifest::{self, Counts, Manifest, ManifestEntry};
use super::{AccountStores, Pages};
use crate::blob::{BlobError, BlobKey};
use crate::chats::format::{export_header, export_line, seq_of};
use crate::files::storage_key;
use crate::model::{Collection, Document, Timestamp, UserId, ids};
use crate::store::{MessageQuery, StoreError};

/// Chunks in flight between the writing task and the response.
const CHANNEL_CHUNKS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the reader went away")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("{0}")]
    Corrupt(String),
}

/// The archive of everything `user` owns, as a byte stream. A failure midway ends the stream
/// with an error (the client sees a truncated body, never a well-formed partial archive: the
/// manifest comes last).
pub fn archive_stream(
    stores: AccountStores,
    user: UserId,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (sender, receiver) = mpsc::channel(CHANNEL_CHUNKS);
    tokio::spawn(async move {
        let mut writer = Writer {
            sender,
            entries: Vec::new(),
            counts: Counts::default(),
            mtime: Timestamp::now().millis().max(0) as u64 / 1000,
        };
        match write_archive(&stores, &user, &mut writer).await {
            Ok(()) | Err(ExportError::Closed) => {}
            Err(error) => {
                tracing::error!(%user, error = %error, "account export stopped");
                let _ = writer
                    .sender
                    .send(Err(io::Error::other("export failed")))
                    .await;
            }
        }
    });
    stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

struct Writer {
    sender: mpsc::Sender<io::Result<Bytes>>,
    entries: Vec<ManifestEntry>,
    counts: Counts,
    mtime: u64,
}

impl Writer {
    async fn send(&self, bytes: Bytes) -> Result<(), ExportError> {
        self.sender
            .send(Ok(bytes))
            .await
            .map_err(|_| ExportError::Closed)
    }

    /// One entry held whole (a page of JSON Lines).
    async fn entry(&mut self, path: String, data: Bytes) -> Result<(), ExportError> {
        let size = data.len() as u64;
        self.send(Bytes::copy_from_slice(&archive::header(
            &path, size, self.mtime,
        )))
        .await?;
        let sha256 = hex::encode(Sha256::digest(&data));
        self.send(data).await?;
        self.pad(size).await?;
        self.entries.push(ManifestEntry { path, size, sha256 });
        Ok(())
    }

    async fn pad(&self, size: u64) -> Result<(), ExportError> {
        let padding = archive::padding(size);
        if padding > 0 {
            self.send(Bytes::from(vec![0u8; padding])).await?;
        }
        Ok(())
    }

    /// The blob at `key` in the store of `backend`, streamed; its bytes must hash to
    /// `sha256`.
    async fn blob(
        &mut self,
        stores: &AccountStores,
        (backend, key): (&str, &BlobKey),
        sha256: &str,
    ) -> Result<(), ExportError> {
        let read = stores.blobs.holding(backend).get(key, None).await?;
        let path = manifest::blob_path(sha256);
        let size = read.length;
        self.send(Bytes::copy_from_slice(&archive::header(
            &path, size, self.mtime,
        )))
        .await?;
        let (mut hasher, mut sent) = (Sha256::new(), 0u64);
        let mut body = read.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| BlobError::Internal(error.into()))?;
            sent += chunk.len() as u64;
            hasher.update(&chunk);
            self.send(chunk).await?;
        }
        if sent != size || hex::encode(hasher.finalize()) != sha256 {
            return Err(ExportError::Corrupt(format!(
                "blob {key} does not match its record's size and SHA-256"
            )));
        }
        self.pad(size).await?;
        self.counts.blobs += 1;
        self.counts.blob_bytes += size;
        self.entries.push(ManifestEntry {
            path,
            size,
            sha256: sha256.to_owned(),
        });
        Ok(())
    }

    fn count(&mut self, collection: Collection, documents: usize) {
        *self
            .counts
            .documents
            .entry(collection.name().to_owned())
            .or_default() += documents as u64;
    }
}

fn lines<'a>(documents: impl Iterator<Item = &'a Document>) -> Bytes {
    let mut data = Vec::new();
    for document in documents {
        data.extend_from_slice(&export_line(document));
    }
    Bytes::from(data)
}

async fn write_archive(
    stores: &AccountStores,
    user: &UserId,
    writer: &mut Writer,
) -> Result<(), ExportError> {
    let store = &stores.metadata;
    for collection in Collection::DOCUMENTS {
        writer.count(collection, 0);
        if collection == Collection::Chats {
            continue;
        }
        let (mut pages, mut part) = (Pages::new(collection, user), 0);
        while let Some(documents) = pages.next(store).await? {
            if documents.is_empty() {
                continue;
            }
            part += 1;
            writer.count(collection, documents.len());
            let data = lines(documents.iter());
            writer
                .entry(manifest::documents_path(collection, part), data)
                .await?;
        }
    }
    let mut pages = Pages::new(Collection::Chats, user);
    while let Some(chats) = pages.next(store).await? {
        for chat in &chats {
            write_chat(stores, user, chat, writer).await?;
        }
        writer.count(Collection::Chats, chats.len());
    }
    let mut written: HashSet<String> = HashSet::new();
    let mut pages = Pages::new(Collection::Files, user);
    while let Some(files) = pages.next(store).await? {
        for file in &files {
            let sha256 = file.body.get("sha256").and_then(Value::as_str);
            let (Some(sha256), Some(key)) = (sha256, storage_key(file)) else {
                continue;
            };
            if written.contains(sha256) {
                continue;
            }
            let key = BlobKey::parse(key)?;
            let backend = file
                .body
                .get("storage")
                .and_then(|storage| storage.get("backend"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            writer.blob(stores, (backend, &key), sha256).await?;
            written.insert(sha256.to_owned());
        }
    }
    let manifest = Manifest {
        kind: manifest::FORMAT_NAME.to_owned(),
        version: manifest::FORMAT_VERSION,
        archive_id: ids::new_id(),
        user_id: user.to_string(),
        created_at: Timestamp::now().to_string(),
        counts: std::mem::take(&mut writer.counts),
        entries: std::mem::take(&mut writer.entries),
    };
    let data =
        serde_json::to_vec_pretty(&manifest).map_err(|error| StoreError::Internal(error.into()))?;
    let size = data.len() as u64;
    writer
        .send(Bytes::copy_from_slice(&archive::header(
            manifest::MANIFEST_PATH,
            size,
            writer.mtime,
        )))
        .await?;
    writer.send(Bytes::from(data)).await?;
    writer.pad(size).await?;
    writer.send(Bytes::from_static(&END)).await
}

/// One chat: its header line and messages, a page of positions per part.
async fn write_chat(
    stores: &AccountStores,
    user: &UserId,
    chat: &Document,
    writer: &mut Writer,
) -> Result<(), ExportError> {
    let mut after = 0u64;
    let mut part = 0u32;
    loop {
        let query = MessageQuery {
            user: user.clone(),
            chat_id: chat.id,
            after: Some(after),
            before: None,
            latest: false,
            limit: super::PAGE,
            include_swipes: true,
        };
        let page = stores.metadata.page_messages(&query).await?;
        part += 1;
        let mut data = Vec::new();
        if part == 1 {
            data.extend_from_slice(&export_header(chat));
        }
        data.extend_from_slice(&lines(page.items.iter()));
        writer.counts.messages += page.items.len() as u64;
        writer
            .entry(manifest::chat_path(chat.id, part), Bytes::from(data))
            .await?;
        match page.items.last() {
            Some(last) if page.has_more => after = seq_of(last),
            _ => return Ok(()),
        }
    }
}
