//! The blob store: where the bytes of files live. Handlers see only this API (streams in and
//! out, keys computed here, errors of our own), never a backend's types. Backends form a closed
//! enum; `fs` (a directory under `DATA_DIR`) is the embedded default, `s3` any S3-compatible
//! store (`S3_MODE`). The store also says how its bytes reach a client (`delivery.rs`).
//!
//! Keys are `users/{userId}/{category}/{fileId}_{safeFilename}` for every backend (on S3 under
//! `S3_PATH_PREFIX`); a key is never reused, so an upload can never overwrite another file's
//! bytes. Direct uploads wait under `uploads/{userId}/{uploadId}/` until they are completed;
//! image variants live under `variants/{userId}/{sha256}/{name}`.

pub mod cache;
mod delivery;
pub mod fs;
pub mod s3;
mod stores;

use std::fmt;
use std::ops::RangeInclusive;
use std::pin::Pin;

use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use self::cache::BlobCache;
pub use self::delivery::{Delivery, DeliveryRequest, DirectUploadRequest};
pub use self::fs::FsBlobStore;
pub use self::s3::{DirectUpload, DownloadOverrides, S3BlobStore};
pub use self::stores::BlobStores;
use crate::health::StoreHealth;
use crate::model::UserId;
use crate::model::file::FileCategory;

/// The longest file name kept inside a key.
const MAX_KEY_FILENAME: usize = 80;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no such blob")]
    NotFound,
    #[error("the upload is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The incoming stream failed (the client went away or sent a malformed body).
    #[error("cannot read the upload: {0}")]
    Body(String),
    #[error("invalid blob key {0:?}")]
    InvalidKey(String),
    /// The store does not answer in time, refuses connections or is overloaded (503).
    #[error("the blob store is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type BlobResult<T> = Result<T, BlobError>;

/// A validated object key: `/`-separated segments of `A-Z a-z 0-9 . _ - @ | :`, none empty,
/// none starting with `.`, so a key read back from a record can never leave the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

impl BlobKey {
    /// The key of a new file: the one place the layout is decided.
    pub fn for_file(user: &UserId, category: FileCategory, file_id: Uuid, filename: &str) -> Self {
        Self(format!(
            "{}{}/{file_id}_{}",
            Self::user_prefix(user),
            category.as_str(),
            key_filename(filename)
        ))
    }

    /// The prefix under which all of a user's blobs live.
    pub fn user_prefix(user: &UserId) -> String {
        format!("users/{user}/")
    }

    /// The prefix under which every file blob lives (what `gc` walks).
    pub const ALL_USERS: &'static str = "users/";

    /// The prefix under which direct uploads wait to be completed.
    pub const ALL_UPLOADS: &'static str = "uploads/";

    /// The prefix under which every image variant lives (see `crate::images`).
    pub const ALL_VARIANTS: &'static str = "variants/";

    /// The prefix of the variants of one original: its owner and SHA-256 (lowercase hex).
    pub fn variants_of(user: &UserId, sha256: &str) -> BlobResult<String> {
        let prefix = format!("{}{user}/{sha256}/", Self::ALL_VARIANTS);
        if Self::valid(prefix.trim_end_matches('/')) {
            Ok(prefix)
        } else {
            Err(BlobError::InvalidKey(prefix))
        }
    }

    /// Where variant `name` of the original `sha256` of `user` is kept (one string made and
    /// checked: this is on the path of every variant download).
    pub fn for_variant(user: &UserId, sha256: &str, name: &str) -> BlobResult<Self> {
        let key = format!("{}{user}/{sha256}/{name}", Self::ALL_VARIANTS);
        if Self::valid(&key) {
            Ok(Self(key))
        } else {
            Err(BlobError::InvalidKey(key))
        }
    }

    /// Where the bytes of direct upload `upload_id` of `user` are put.
    pub fn upload_data(user: &UserId, upload_id: Uuid) -> Self {
        Self(format!("{}{user}/{upload_id}/data", Self::ALL_UPLOADS))
    }

    /// Where the description of direct upload `upload_id` of `user` is kept.
    pub fn upload_ticket(user: &UserId, upload_id: Uuid) -> Self {
        Self(format!(
            "{}{user}/{upload_id}/ticket.json",
            Self::ALL_UPLOADS
        ))
    }

    pub fn parse(text: &str) -> BlobResult<Self> {
        if Self::valid(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(BlobError::InvalidKey(text.to_owned()))
        }
    }

    /// Whether `text` is a safe key: at most 1024 bytes, `/`-separated segments that are not
    /// empty, do not start with a dot, and hold only ASCII letters, digits and `._-@|:`.
    fn valid(text: &str) -> bool {
        let safe_segment = |segment: &str| {
            !segment.is_empty()
                && !segment.starts_with('.')
                && (segment.bytes()).all(|c| c.is_ascii_alphanumeric() || b"._-@|:".contains(&c))
        };
        text.len() <= 1024 && text.split('/').all(safe_segment)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A file name reduced to what is safe in any key and path: ASCII letters, digits, `.`, `-`
/// and `_`, no leading dot, at most [`MAX_KEY_FILENAME`] bytes, never empty.
fn key_filename(name: &str) -> String {
    let mut safe = String::with_capacity(name.len().min(MAX_KEY_FILENAME));
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '_'
        };
        if !(c == '_' && safe.ends_with('_')) {
            safe.push(c);
        }
    }
    let trimmed = safe.trim_start_matches(['.', '_']);
    let mut safe: String = trimmed.chars().take(MAX_KEY_FILENAME).collect();
    if safe.is_empty() {
        safe.push_str("file");
    }
    safe
}

/// What a finished upload wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// One stored blob, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobEntry {
    pub key: BlobKey,
    pub size: u64,
    /// When the blob was last written, where the store says.
    pub modified: Option<std::time::SystemTime>,
}

/// What the store knows about a blob without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHead {
    pub size: u64,
    /// Lowercase hex, when the store verified a SHA-256 checksum of the whole blob.
    pub sha256: Option<String>,
}

/// The bytes of a blob (or of a range of it) as a stream, with their exact length.
pub struct BlobRead {
    pub body: BlobBody,
    pub length: u64,
}

/// A stream of a blob's bytes: all of them at once when they are in memory (a cached blob),
/// which a response can send without polling a stream, or chunks as the store reads them.
pub enum BlobBody {
    Whole(Option<Bytes>),
    Chunks(Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>),
    /// Still on the store's connection (`blob::s3::plain`): a download offers it to the server,
    /// which may pass it to the client without reading it (`crate::relay`).
    Upstream(crate::relay::Upstream),
}

impl BlobBody {
    pub fn whole(bytes: Bytes) -> Self {
        Self::Whole(Some(bytes))
    }

    pub fn chunks(stream: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static) -> Self {
        Self::Chunks(Box::pin(stream))
    }
}

impl Stream for BlobBody {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        self: Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match self.get_mut() {
            Self::Whole(bytes) => std::task::Poll::Ready(bytes.take().map(Ok)),
            Self::Chunks(chunks) => chunks.as_mut().poll_next(context),
            Self::Upstream(upstream) => Pin::new(upstream).poll_next(context),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Self::Whole(bytes) => {
                let left = usize::from(bytes.is_some());
                (left, Some(left))
            }
            Self::Chunks(chunks) => chunks.size_hint(),
            Self::Upstream(upstream) => upstream.size_hint(),
        }
    }
}

/// Counts and hashes the bytes of an upload as they flow and stops it past the limit, so no
/// backend holds more than the limit plus one chunk.
pub struct Meter {
    hasher: Sha256,
    size: u64,
    limit: u64,
}

impl Meter {
    pub fn new(limit: u64) -> Self {
        Self {
            hasher: Sha256::new(),
            size: 0,
            limit,
        }
    }

    pub fn update(&mut self, chunk: &[u8]) -> BlobResult<()> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(BlobError::TooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        Ok(())
    }

    pub fn finish(self) -> PutOutcome {
        PutOutcome {
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

/// The blob backends. Cheap to clone: each variant is a handle.
#[derive(Clone)]
pub enum BlobStore {
    Fs(FsBlobStore),
    S3(S3BlobStore),
}

impl BlobStore {
    /// The name recorded in `storage.backend` and shown by health.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Fs(_) => "fs",
            Self::S3(_) => "s3",
        }
    }

    /// Streams `body` into a new blob at `key`, counting and hashing it; more than `limit`
    /// bytes fail with [`BlobError::TooLarge`]. On any failure (or if the future is dropped)
    /// nothing is left behind.
    pub async fn put<S, E>(&self, key: &BlobKey, body: S, limit: u64) -> BlobResult<PutOutcome>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: fmt::Display,
    {
        let body = body.map(|chunk| chunk.map_err(|error| BlobError::Body(error.to_string())));
        match self {
            Self::Fs(store) => store.put(key, body, Meter::new(limit)).await,
            Self::S3(store) => store.put(key, body, Meter::new(limit)).await,
        }
    }

    /// This store with a cache of small file blobs in front of it (`None`: no cache).
    pub fn with_cache(self, cache: Option<std::sync::Arc<BlobCache>>) -> Self {
        match self {
            Self::Fs(store) => Self::Fs(store.with_cache(cache)),
            Self::S3(store) => Self::S3(store.with_cache(cache)),
        }
    }

    fn cache(&self) -> Option<&BlobCache> {
        match self {
            Self::Fs(store) => store.cache(),
            Self::S3(store) => store.cache(),
        }
    }

    /// Streams a blob, or the inclusive byte `range` of it: from the cache when it holds the
    /// blob; a whole small blob read from the store is kept there for the next read.
    pub async fn get(
        &self,
        key: &BlobKey,
        range: Option<RangeInclusive<u64>>,
    ) -> BlobResult<BlobRead> {
        let Some(cache) = self.cache().filter(|_| BlobCache::holds(key)) else {
            return self.get_from_store(key, range).await;
        };
        if let Some(read) = cache.read(key, range.as_ref()) {
            return Ok(read);
        }
        if range.is_some() {
            return self.get_from_store(key, range).await;
        }
        let fill = cache.start_fill();
        let read = self.get_from_store(key, None).await?;
        if read.length > cache.max_object() {
            return Ok(read);
        }
        let bytes = collect(read).await?;
        cache.finish(fill, key, bytes.clone());
        Ok(cache::whole(bytes))
    }

    async fn get_from_store(
        &self,
        key: &BlobKey,
        range: Option<RangeInclusive<u64>>,
    ) -> BlobResult<BlobRead> {
        // Boxed: a store read (the S3 SDK's above all) is a large future, which would make
        // every caller's as large, and a read from the cache needs none of it.
        match self {
            Self::Fs(store) => Box::pin(store.get(key, range)).await,
            Self::S3(store) => Box::pin(store.get(key, range)).await,
        }
    }

    /// Deletes a blob (evicting it from the cache first); a missing one is not an error.
    pub async fn delete(&self, key: &BlobKey) -> BlobResult<()> {
        if let Some(cache) = self.cache() {
            cache.evict(key);
        }
        match self {
            Self::Fs(store) => store.delete(key).await,
            Self::S3(store) => store.delete(key).await,
        }
    }

    pub async fn exists(&self, key: &BlobKey) -> BlobResult<bool> {
        match self {
            Self::Fs(store) => store.exists(key).await,
            Self::S3(store) => store.exists(key).await,
        }
    }

    /// Every blob whose key starts with `prefix` (a whole number of segments ending in `/`).
    pub async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobEntry>> {
        match self {
            Self::Fs(store) => store.list(prefix).await,
            Self::S3(store) => store.list(prefix).await,
        }
    }

    /// Size (and verified SHA-256, when known) of a blob; `None` when it is missing.
    pub async fn head(&self, key: &BlobKey) -> BlobResult<Option<BlobHead>> {
        match self {
            Self::Fs(store) => store.head(key).await,
            Self::S3(store) => store.head(key).await,
        }
    }

    /// Moves a blob to a key no blob has (completing a direct upload).
    pub async fn rename(&self, from: &BlobKey, to: &BlobKey) -> BlobResult<()> {
        if let Some(cache) = self.cache() {
            cache.evict(from);
        }
        match self {
            Self::Fs(store) => store.rename(from, to).await,
            Self::S3(store) => store.rename(from, to).await,
        }
    }

    pub async fn health(&self) -> StoreHealth {
        match self {
            Self::Fs(store) => store.health().await,
            Self::S3(store) => store.health().await,
        }
    }
}

/// The bytes of a small read, held whole (at most the cache's object limit).
async fn collect(read: BlobRead) -> BlobResult<Bytes> {
    let mut bytes = Vec::with_capacity(read.length as usize);
    let mut body = read.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| BlobError::Internal(anyhow::Error::new(error)))?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_whole_body_yields_its_bytes_once_and_chunks_pass_through() {
        let mut whole = BlobBody::whole(Bytes::from_static(b"abc"));
        assert_eq!(whole.size_hint(), (1, Some(1)));
        assert_eq!(whole.next().await.unwrap().unwrap(), "abc");
        assert_eq!(whole.size_hint(), (0, Some(0)));
        assert!(whole.next().await.is_none());
        assert!(whole.next().await.is_none());

        let pieces = [Ok(Bytes::from_static(b"a")), Ok(Bytes::from_static(b"bc"))];
        let chunks = BlobBody::chunks(futures_util::stream::iter(pieces));
        let read = BlobRead {
            body: chunks,
            length: 3,
        };
        assert_eq!(collect(read).await.unwrap(), "abc");
    }

    #[test]
    fn keys_hold_only_safe_segments() {
        let id = Uuid::nil();
        let key = BlobKey::for_file(
            &UserId::local(),
            FileCategory::Image,
            id,
            "../../etc/pässwd\r\n\".png",
        );
        assert_eq!(
            key.as_str(),
            format!("users/local/image/{id}_etc_p_sswd_.png")
        );
        assert!(BlobKey::parse(key.as_str()).is_ok());
        for bad in [
            "",
            "users/../x",
            "users//x",
            "/etc/passwd",
            "users/.tmp/x",
            "a\\b",
        ] {
            assert!(BlobKey::parse(bad).is_err(), "{bad:?}");
        }
        let empty = BlobKey::for_file(&UserId::local(), FileCategory::Avatar, id, "..");
        assert!(empty.as_str().ends_with("_file"));
    }

    #[test]
    fn the_meter_stops_past_the_limit() {
        let mut meter = Meter::new(3);
        assert!(meter.update(b"abc").is_ok());
        assert!(matches!(
            meter.update(b"d"),
            Err(BlobError::TooLarge { limit: 3 })
        ));
        let outcome = Meter::new(10).finish();
        assert_eq!(outcome.size, 0);
        assert_eq!(
            outcome.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
