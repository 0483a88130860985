//! The embedded blob backend: one file per blob under `DATA_DIR/blobs/{key}`. An upload is
//! written to `DATA_DIR/blobs/.tmp/`, fsynced, renamed into place and its directory fsynced,
//! so a crash leaves either no blob or a complete one; temp files of interrupted uploads are
//! removed when the store opens. The layout is documented in `docs/storage-layout.md`.

use std::io::SeekFrom;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::io::ReaderStream;
use uuid::Uuid;

use super::{
    BlobBody, BlobEntry, BlobError, BlobHead, BlobKey, BlobRead, BlobResult, Meter, PutOutcome,
};
use crate::health::{HealthStatus, StoreHealth};

/// Directory (under the blob root) of uploads in progress.
pub const TEMP_DIR: &str = ".tmp";
/// Bytes gathered before each write, and read per chunk when serving.
const IO_BUFFER: usize = 256 * 1024;

#[derive(Clone)]
pub struct FsBlobStore {
    root: Arc<PathBuf>,
    /// The `DATA_DIR` lock, when this store holds it (see [`FsBlobStore::holding`]).
    _lock: Option<Arc<std::fs::File>>,
    /// Small file blobs kept in memory (`BLOB_CACHE_BYTES`), shared by clones.
    cache: Option<Arc<super::BlobCache>>,
}

/// Removes a temp file unless disarmed: covers errors and uploads whose future is dropped
/// because the client went away.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl FsBlobStore {
    /// Opens the store at `root` (normally `DATA_DIR/blobs`), creating it, and removes the
    /// temp files uploads interrupted by a crash left behind.
    pub async fn open(root: &Path) -> anyhow::Result<Self> {
        let root = root.to_path_buf();
        let temp = root.join(TEMP_DIR);
        let removed = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            std::fs::create_dir_all(&temp)
                .with_context(|| format!("cannot create {}", temp.display()))?;
            let mut removed = 0;
            for entry in std::fs::read_dir(&temp)? {
                let path = entry?.path();
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                removed += 1;
            }
            Ok(removed)
        })
        .await
        .context("blob store opener panicked")??;
        if removed > 0 {
            tracing::warn!(removed, "removed temp files of interrupted uploads");
        }
        Ok(Self {
            root: Arc::new(root),
            _lock: None,
            cache: None,
        })
    }

    /// The store at `root` as a second process beside the service that owns it sees it: the
    /// temp files there may be uploads in flight, so they are left alone.
    pub async fn beside(root: &Path) -> anyhow::Result<Self> {
        let metadata = tokio::fs::metadata(root)
            .await
            .with_context(|| format!("cannot open the blob store {}", root.display()))?;
        anyhow::ensure!(metadata.is_dir(), "{} is not a directory", root.display());
        Ok(Self {
            root: Arc::new(root.to_path_buf()),
            _lock: None,
            cache: None,
        })
    }

    /// Keeps `lock` (a `DATA_DIR` lock) for as long as the store lives.
    pub fn holding(mut self, lock: std::fs::File) -> Self {
        self._lock = Some(Arc::new(lock));
        self
    }

    /// This store with `cache` in front of its file blobs (see `BlobStore::get`).
    pub fn with_cache(mut self, cache: Option<Arc<super::BlobCache>>) -> Self {
        self.cache = cache;
        self
    }

    pub fn cache(&self) -> Option<&super::BlobCache> {
        self.cache.as_deref()
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        let mut path = self.root.to_path_buf();
        path.extend(key.segments());
        path
    }

    pub async fn put(
        &self,
        key: &BlobKey,
        mut body: impl Stream<Item = BlobResult<Bytes>> + Unpin,
        mut meter: Meter,
    ) -> BlobResult<PutOutcome> {
        let temp_path = self
            .root
            .join(TEMP_DIR)
            .join(format!("{}.part", Uuid::new_v4()));
        let mut temp = TempFile(Some(temp_path.clone()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .await
            .context("cannot create an upload temp file")?;
        let mut writer = BufWriter::with_capacity(IO_BUFFER, file);
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            meter.update(&chunk)?;
            writer
                .write_all(&chunk)
                .await
                .context("cannot write an upload temp file")?;
        }
        writer.flush().await.context("cannot write a blob")?;
        let file = writer.into_inner();
        file.sync_all().await.context("cannot sync a blob")?;
        drop(file);
        let target = self.path(key);
        let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            std::fs::create_dir_all(&parent)?;
            if target.exists() {
                anyhow::bail!("blob {} already exists", target.display());
            }
            std::fs::rename(&temp_path, &target)?;
            std::fs::File::open(&parent)?.sync_all()?;
            Ok(())
        })
        .await
        .context("blob writer panicked")?
        .context("cannot move a blob into place")?;
        temp.0 = None;
        Ok(meter.finish())
    }

    pub async fn get(
        &self,
        key: &BlobKey,
        range: Option<RangeInclusive<u64>>,
    ) -> BlobResult<BlobRead> {
        let mut file = match tokio::fs::File::open(self.path(key)).await {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound);
            }
            Err(error) => {
                return Err(anyhow::Error::from(error)
                    .context("cannot open a blob")
                    .into());
            }
        };
        let total = file.metadata().await.context("cannot stat a blob")?.len();
        let (start, length) = match range {
            None => (0, total),
            Some(range) => (*range.start(), range.end() - range.start() + 1),
        };
        if start > 0 {
            file.seek(SeekFrom::Start(start))
                .await
                .context("cannot seek in a blob")?;
        }
        let reader = tokio::io::AsyncReadExt::take(file, length);
        Ok(BlobRead {
            body: BlobBody::chunks(ReaderStream::with_capacity(reader, IO_BUFFER)),
            length,
        })
    }

    pub async fn delete(&self, key: &BlobKey) -> BlobResult<()> {
        let path = self.path(key);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(error) => return Err(error.into()),
            }
            if let Some(parent) = path.parent() {
                std::fs::File::open(parent)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .context("blob remover panicked")?
        .context("cannot delete a blob")?;
        Ok(())
    }

    pub async fn exists(&self, key: &BlobKey) -> BlobResult<bool> {
        Ok(tokio::fs::try_exists(self.path(key))
            .await
            .context("cannot stat a blob")?)
    }

    pub async fn head(&self, key: &BlobKey) -> BlobResult<Option<BlobHead>> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(metadata) if metadata.is_file() => Ok(Some(BlobHead {
                size: metadata.len(),
                sha256: None,
            })),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(anyhow::Error::from(error)
                .context("cannot stat a blob")
                .into()),
        }
    }

    /// Moves a blob to a key no blob has, durably (both directories fsynced).
    pub async fn rename(&self, from: &BlobKey, to: &BlobKey) -> BlobResult<()> {
        let (source, target) = (self.path(from), self.path(to));
        let moved = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
            std::fs::create_dir_all(&parent)?;
            if target.exists() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "the target blob exists",
                ));
            }
            std::fs::rename(&source, &target)?;
            std::fs::File::open(&parent)?.sync_all()?;
            if let Some(old_parent) = source.parent() {
                std::fs::File::open(old_parent)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .context("blob mover panicked")?;
        match moved {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound),
            Err(error) => Err(anyhow::Error::from(error)
                .context("cannot move a blob")
                .into()),
        }
    }

    pub async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobEntry>> {
        let start = BlobKey::parse(prefix.trim_end_matches('/'))?;
        let dir = self.path(&start);
        let entries = tokio::task::spawn_blocking(move || {
            let mut entries = Vec::new();
            walk(&dir, start.as_str(), &mut entries).map(|()| entries)
        })
        .await
        .context("blob lister panicked")?
        .context("cannot list blobs")?;
        Ok(entries)
    }

    pub async fn health(&self) -> StoreHealth {
        let started = Instant::now();
        let probe = self
            .root
            .join(TEMP_DIR)
            .join(format!("health-{}", Uuid::new_v4()));
        let outcome = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::write(&probe, b"probe")?;
            std::fs::remove_file(&probe)
        })
        .await;
        let (status, message) = match outcome {
            Ok(Ok(())) => (HealthStatus::Healthy, None),
            Ok(Err(error)) => (
                HealthStatus::Unhealthy,
                Some(format!("blob directory is not writable: {error}")),
            ),
            Err(_) => (
                HealthStatus::Unhealthy,
                Some("health probe failed".to_owned()),
            ),
        };
        StoreHealth {
            backend: "fs",
            status,
            latency: started.elapsed(),
            message,
        }
    }
}

/// Collects the blobs under `dir`, whose key is `prefix`; a missing directory holds none.
fn walk(dir: &Path, prefix: &str, entries: &mut Vec<BlobEntry>) -> std::io::Result<()> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in listing {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let key = format!("{prefix}/{name}");
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), &key, entries)?;
        } else if kind.is_file() {
            match BlobKey::parse(&key) {
                Ok(key) => {
                    let metadata = entry.metadata()?;
                    entries.push(BlobEntry {
                        key,
                        size: metadata.len(),
                        modified: metadata.modified().ok(),
                    });
                }
                Err(_) => tracing::warn!(%key, "skipping a file that is not a blob"),
            }
        }
    }
    Ok(())
}
