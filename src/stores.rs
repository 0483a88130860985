//! Opening the two stores the configuration names, in the order that keeps `DATA_DIR` safe.
//! Shared by the server and the offline commands (`gc`).

use anyhow::Context;

use crate::blob::{BlobCache, BlobStore, BlobStores, FsBlobStore, S3BlobStore};
use crate::config::{self, BlobsFallback, Config};
use crate::layout::DataDir;
use crate::store::{self, MetadataStore};

/// Opens the metadata store (taking the `DATA_DIR` lock), then the blob store and its
/// `BLOBS_FALLBACK`: the fs store removes the temp files of uploads a crash interrupted, the
/// S3 store checks (or creates) its bucket.
pub async fn open_stores(config: &Config) -> anyhow::Result<(MetadataStore, BlobStores)> {
    let store = store::open(config).await?;
    let blobs = match &config.s3 {
        None => {
            // Opening the fs store clears the temp files of uploads in flight, so a second
            // process on the same DATA_DIR must not open it. The json store (json, dual) locks
            // DATA_DIR itself; with MongoDB metadata the blob store takes that lock.
            let lock = match config.data_backend {
                config::DataBackend::Mongodb => Some(store::json::lock_data_dir(&config.data_dir)?),
                config::DataBackend::Json | config::DataBackend::Dual { .. } => None,
            };
            let blobs = FsBlobStore::open(&DataDir::new(&config.data_dir).blobs()).await?;
            BlobStore::Fs(match lock {
                Some(lock) => blobs.holding(lock),
                None => blobs,
            })
        }
        Some(s3) => BlobStore::S3(S3BlobStore::open(s3).await?),
    };
    let cache = BlobCache::new(config.blob_cache.bytes, config.blob_cache.max_object_bytes)
        .map(std::sync::Arc::new);
    let fallback = match &config.blobs_fallback {
        Some(fallback) => Some(open_fallback(fallback).await?.with_cache(cache.clone())),
        None => None,
    };
    Ok((store, BlobStores::new(blobs.with_cache(cache), fallback)))
}

/// Opens the store of `BLOBS_FALLBACK`. Nothing new is written to it (only deletions), so
/// it takes no lock: `migrate copy --from-fallback` opens it beside the service.
pub async fn open_fallback(fallback: &BlobsFallback) -> anyhow::Result<BlobStore> {
    Ok(match fallback {
        BlobsFallback::Fs(data_dir) => {
            let root = DataDir::new(data_dir).blobs();
            let store = FsBlobStore::open(&root).await.with_context(|| {
                format!(
                    "BLOBS_FALLBACK: cannot open the blob store {}",
                    root.display()
                )
            })?;
            BlobStore::Fs(store)
        }
        BlobsFallback::S3(s3) => {
            BlobStore::S3(S3BlobStore::open(s3).await.with_context(|| {
                format!("BLOBS_FALLBACK=s3: cannot open the bucket {}", s3.bucket)
            })?)
        }
    })
}
