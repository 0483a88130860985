//! Variants as cached blobs: a variant is looked up in the blob store under a key made of the
//! original's owner, SHA-256 and the canonical spec; when it is missing it is made once
//! (concurrent requests for it wait for that one run), off the async runtime, with at most
//! `IMAGE_MAX_CONCURRENT` images in memory at once, and stored. No file record is written:
//! a variant lives exactly as long as its original's blob (see [`Variants::remove`]).
//! Variants found or made once are remembered (`index`), so the next request for one finds
//! it without the store ([`Variants::known`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::in_flight::InFlight;
use super::index::{self, VariantIndex};
use super::render::{RenderError, render};
use super::spec::VariantSpec;
use crate::blob::{BlobError, BlobKey, BlobStore};
use crate::config::ImageConfig;
use crate::model::UserId;

/// The types variants are made from.
pub const SOURCE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The original a variant is made from.
#[derive(Debug, Clone)]
pub struct Original {
    pub user: UserId,
    pub sha256: String,
    pub mime_type: String,
    /// Where its bytes are.
    pub key: BlobKey,
}

/// Whether a variant was found in the store or made for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    Generated,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "hit",
            Self::Generated => "miss",
        }
    }
}

/// A variant in the blob store.
#[derive(Debug, Clone)]
pub struct VariantBlob {
    pub key: BlobKey,
    pub size: u64,
    /// A stable identity of the bytes (for `ETag`): the SHA-256 of the original's SHA-256
    /// and the blob name, known without reading the variant.
    pub identity: Arc<str>,
    pub mime_type: &'static str,
    pub outcome: Outcome,
}

#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    #[error("variants are made from JPEG, PNG, GIF and WebP images; this file is {0}")]
    NotAnImage(String),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Makes and finds variants. One per process, shared by every request.
pub struct Variants {
    permits: Semaphore,
    in_flight: InFlight,
    index: VariantIndex,
    max_pixels: u64,
    generated: AtomicU64,
}

impl Variants {
    pub fn new(config: &ImageConfig) -> Self {
        Self {
            permits: Semaphore::new(config.max_concurrent),
            in_flight: InFlight::default(),
            index: VariantIndex::new(index::CAPACITY),
            max_pixels: config.max_pixels,
            generated: AtomicU64::new(0),
        }
    }

    /// How many variants this process has decoded and encoded.
    pub fn generated(&self) -> u64 {
        self.generated.load(Ordering::Relaxed)
    }

    /// The variant `spec` of `original` (whose bytes are in `source`), from `blobs` (where
    /// new blobs go) or made now and stored there.
    pub async fn variant(
        self: &Arc<Self>,
        blobs: &BlobStore,
        source: &BlobStore,
        original: &Original,
        spec: &VariantSpec,
    ) -> Result<VariantBlob, VariantError> {
        if !SOURCE_TYPES.contains(&original.mime_type.as_str()) {
            return Err(VariantError::NotAnImage(original.mime_type.clone()));
        }
        let key = variant_key(original, spec)?;
        let identity: Arc<str> = identity(&original.sha256, spec).into();
        let found = |size, outcome| VariantBlob {
            key: key.clone(),
            size,
            identity: Arc::clone(&identity),
            mime_type: spec.format.mime_type(),
            outcome,
        };
        let lookup = self.index.start();
        if let Some(head) = blobs.head(&key).await? {
            self.index.record(lookup, &key, head.size, &identity);
            return Ok(found(head.size, Outcome::Stored));
        }
        let _making = self.in_flight.lock(&key).await;
        // Whoever held the lock before may have just stored it.
        if let Some(head) = blobs.head(&key).await? {
            self.index.record(lookup, &key, head.size, &identity);
            return Ok(found(head.size, Outcome::Stored));
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| anyhow::anyhow!("the image permits were closed"))
            .map_err(BlobError::from)?;
        let source = read_all(source, &original.key).await?;
        let (spec, max_pixels) = (*spec, self.max_pixels);
        let rendered = tokio::task::spawn_blocking(move || render(&source, &spec, max_pixels))
            .await
            .map_err(|error| anyhow::anyhow!("an image task failed: {error}"))
            .map_err(BlobError::from)??;
        self.generated.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("quillstore_image_variants_generated_total").increment(1);
        let body =
            futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(rendered.bytes))]);
        let stored = blobs.put(&key, body, u64::MAX).await?;
        self.index.record(lookup, &key, stored.size, &identity);
        Ok(found(stored.size, Outcome::Generated))
    }

    /// The variant `spec` of `original` when this process has found or made it before:
    /// answered from memory, without the store, a task or a lock. `None` means "ask
    /// [`Variants::variant`]" (unknown, or not an image: that one says why). The original is
    /// `user`'s of type `mime_type` and SHA-256 `sha256`. The variant's [`identity`] comes
    /// from memory too.
    pub fn known(
        &self,
        user: &UserId,
        sha256: &str,
        mime_type: &str,
        spec: &VariantSpec,
    ) -> Option<VariantBlob> {
        if !SOURCE_TYPES.contains(&mime_type) {
            return None;
        }
        let key = BlobKey::for_variant(user, sha256, &spec.blob_name()).ok()?;
        let known = self.index.get(&key)?;
        Some(VariantBlob {
            key,
            size: known.size,
            identity: known.identity,
            mime_type: spec.format.mime_type(),
            outcome: Outcome::Stored,
        })
    }

    /// Forgets a known variant whose blob turned out to be missing (deleted by another
    /// process), so the next request looks in the store again.
    pub fn forget(&self, key: &BlobKey) {
        self.index.forget(key);
    }

    /// Deletes every variant of the original `sha256` of `user` (when its blob goes) and
    /// forgets them; returns how many there were.
    pub async fn remove(
        &self,
        blobs: &BlobStore,
        user: &UserId,
        sha256: &str,
    ) -> Result<usize, BlobError> {
        let Ok(prefix) = BlobKey::variants_of(user, sha256) else {
            return Ok(0);
        };
        let removed = remove_prefix(blobs, &prefix).await;
        // After the deletes: a lookup that found a variant before they ran records nothing.
        self.index.forget_prefix(&prefix);
        removed
    }
}

async fn remove_prefix(blobs: &BlobStore, prefix: &str) -> Result<usize, BlobError> {
    let entries = blobs.list(prefix).await?;
    for entry in &entries {
        blobs.delete(&entry.key).await?;
    }
    Ok(entries.len())
}

fn variant_key(original: &Original, spec: &VariantSpec) -> Result<BlobKey, BlobError> {
    BlobKey::for_variant(&original.user, &original.sha256, &spec.blob_name())
}

/// The `ETag` identity of variant `spec` of the original with SHA-256 `sha256`: known
/// without the store, so a revalidation is answered without touching it.
pub fn identity(sha256: &str, spec: &VariantSpec) -> String {
    hex::encode(Sha256::digest(
        format!("{sha256}/{}", spec.blob_name()).as_bytes(),
    ))
}

/// The whole original, in memory (decoders need it all; the permit bounds how many at once).
async fn read_all(blobs: &BlobStore, key: &BlobKey) -> Result<Vec<u8>, BlobError> {
    let read = blobs.get(key, None).await?;
    let mut bytes = Vec::with_capacity(usize::try_from(read.length).unwrap_or(0));
    let mut body = read.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| anyhow::anyhow!("cannot read an original: {error}"))?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
