//! Opening the two stores the configuration names, in the order that keeps `DATA_DIR` safe.
//! Shared by the server and the offline commands (`gc`).

use crate::blob::{BlobCache, BlobStore, FsBlobStore, S3BlobStore};
use crate::config::{self, Config};
use crate::layout::DataDir;
use crate::store::{self, MetadataStore};

/// Opens the metadata store (taking the `DATA_DIR` lock) and then the blob store: the fs
/// store removes the temp files of uploads a crash interrupted, the S3 store checks (or
/// creates) its bucket.
pub async fn open_stores(config: &Config) -> anyhow::Result<(MetadataStore, BlobStore)> {
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
    let cache = BlobCache::new(config.blob_cache.bytes, config.blob_cache.max_object_bytes);
    let blobs = blobs.with_cache(cache.map(std::sync::Arc::new));
    Ok((store, blobs))
}
