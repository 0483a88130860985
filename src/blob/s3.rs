//! The S3 blob backend (`S3_MODE=external|embedded`) on `aws-sdk-s3`: AWS S3, Garage, MinIO,
//! R2. Every key of [`BlobKey`] lives under `S3_PATH_PREFIX` in one bucket. Uploads stream in
//! bounded parts (`upload.rs`), downloads stream or are presigned (`presign.rs`), and every SDK
//! error is translated here (`errors.rs`): no SDK type leaves this module.
//!
//! Timeouts: connecting and every request without a file body are bounded by `S3_TIMEOUT_MS`
//! (retries included), so an unreachable store answers within that time instead of hanging.

mod checksum;
mod client;
mod errors;
mod plain;
mod presign;
#[cfg(unix)]
mod unix;
mod upload;

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::ChecksumMode as SdkChecksumMode;
use axum::body::Bytes;
use futures_util::Stream;

use self::errors::classify;
pub use self::presign::{DirectUpload, DownloadOverrides};
use super::{
    BlobBody, BlobEntry, BlobError, BlobHead, BlobKey, BlobRead, BlobResult, Meter, PutOutcome,
};
use crate::config::S3Config;
use crate::health::{HealthStatus, StoreHealth};

/// Health answers within 5 s even when S3_TIMEOUT_MS is longer.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);

/// A handle on one bucket (cheap to clone).
#[derive(Clone)]
pub struct S3BlobStore {
    inner: Arc<Inner>,
    /// Small file blobs kept in memory (`BLOB_CACHE_BYTES`), shared by clones.
    cache: Option<Arc<super::BlobCache>>,
}

struct Inner {
    client: Client,
    /// Signs presigned URLs (for `S3_PRESIGN_ENDPOINT` when set; else `client`).
    presigner: Client,
    config: S3Config,
    /// Whether the store verifies `x-amz-checksum-sha256` (decided at start, see
    /// `client.rs`): direct uploads then carry the client's SHA-256 and need no read-back.
    checksums: bool,
    /// What quillstore's own writes carry (decided at start).
    write_checksum: checksum::WriteChecksum,
    /// Streamed downloads on quillstore's own connections (`S3_RELAY=auto`, http endpoint).
    plain: Option<plain::PlainGet>,
}

impl S3BlobStore {
    /// Connects, checks the bucket (creating it when allowed) and decides about checksums.
    pub async fn open(config: &S3Config) -> anyhow::Result<Self> {
        let client = client::build(config).await;
        client::ensure_bucket(&client, config).await?;
        let (checksums, write_checksum) = client::decide_checksums(&client, config).await?;
        let presigner = client::presigner(config, &client).await;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                presigner,
                config: config.clone(),
                checksums,
                write_checksum,
                plain: plain::PlainGet::for_config(config),
            }),
            cache: None,
        })
    }

    /// This store with `cache` in front of its file blobs (see `BlobStore::get`).
    pub fn with_cache(mut self, cache: Option<Arc<super::BlobCache>>) -> Self {
        self.cache = cache;
        self
    }

    pub fn cache(&self) -> Option<&super::BlobCache> {
        self.cache.as_deref()
    }

    /// Whether the store verifies a SHA-256 sent with a write (direct uploads carry one).
    pub fn verifies_checksums(&self) -> bool {
        self.inner.checksums
    }

    /// The checksum quillstore's own writes carry, by name.
    pub fn write_checksum(&self) -> &'static str {
        self.inner.write_checksum.name()
    }

    pub fn config(&self) -> &S3Config {
        &self.inner.config
    }

    /// The object key of a blob: `S3_PATH_PREFIX` + the blob key.
    fn object_key(&self, key: &BlobKey) -> String {
        format!("{}{}", self.inner.config.path_prefix, key)
    }

    pub async fn put(
        &self,
        key: &BlobKey,
        body: impl Stream<Item = BlobResult<Bytes>> + Unpin,
        meter: Meter,
    ) -> BlobResult<PutOutcome> {
        upload::put(&self.inner, self.object_key(key), body, meter).await
    }

    pub async fn get(
        &self,
        key: &BlobKey,
        range: Option<RangeInclusive<u64>>,
    ) -> BlobResult<BlobRead> {
        if let Some(plain) = &self.inner.plain {
            let bucket = &self.inner.config.bucket;
            let key = self.object_key(key);
            if let Some(upstream) = plain
                .get(&self.inner.client, bucket, key, range.as_ref())
                .await?
            {
                metrics::counter!("quillstore_s3_streamed_gets_total", "path" => "plain")
                    .increment(1);
                return Ok(BlobRead {
                    length: upstream.length(),
                    body: BlobBody::Upstream(upstream),
                });
            }
            metrics::counter!("quillstore_s3_streamed_gets_total", "path" => "sdk").increment(1);
        }
        let mut request = self
            .inner
            .client
            .get_object()
            .bucket(&self.inner.config.bucket)
            .key(self.object_key(key));
        if let Some(range) = &range {
            request = request.range(format!("bytes={}-{}", range.start(), range.end()));
        }
        let output = request.send().await.map_err(classify("GetObject"))?;
        let length = match (&range, output.content_length()) {
            (_, Some(length)) => u64::try_from(length).unwrap_or_default(),
            (Some(range), None) => range.end() - range.start() + 1,
            (None, None) => 0,
        };
        let body = futures_util::stream::unfold(output.body, |mut body| async move {
            body.next()
                .await
                .map(|chunk| (chunk.map_err(std::io::Error::other), body))
        });
        Ok(BlobRead {
            body: BlobBody::chunks(body),
            length,
        })
    }

    /// Size (and the stored SHA-256, when the store keeps one) of a blob.
    pub async fn head(&self, key: &BlobKey) -> BlobResult<Option<BlobHead>> {
        let output = self
            .inner
            .client
            .head_object()
            .bucket(&self.inner.config.bucket)
            .key(self.object_key(key))
            .checksum_mode(SdkChecksumMode::Enabled)
            .send()
            .await
            .map_err(classify("HeadObject"));
        let output = match output {
            Ok(output) => output,
            Err(BlobError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let sha256 = output
            .checksum_sha256()
            .filter(|_| self.inner.checksums)
            .and_then(|encoded| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
            })
            .filter(|digest| digest.len() == 32)
            .map(hex::encode);
        Ok(Some(BlobHead {
            size: u64::try_from(output.content_length().unwrap_or_default()).unwrap_or_default(),
            sha256,
        }))
    }

    pub async fn delete(&self, key: &BlobKey) -> BlobResult<()> {
        let deleted = self
            .inner
            .client
            .delete_object()
            .bucket(&self.inner.config.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(classify("DeleteObject"));
        match deleted {
            Ok(_) | Err(BlobError::NotFound) => Ok(()),
            Err(error) => Err(error),
        }
    }

    pub async fn exists(&self, key: &BlobKey) -> BlobResult<bool> {
        Ok(self.head(key).await?.is_some())
    }

    /// Moves a blob to a new key (server-side copy, then delete).
    pub async fn rename(&self, from: &BlobKey, to: &BlobKey) -> BlobResult<()> {
        let source = format!(
            "{}/{}",
            self.inner.config.bucket,
            percent_encoding::utf8_percent_encode(
                &self.object_key(from),
                percent_encoding::NON_ALPHANUMERIC
            )
        );
        self.inner
            .client
            .copy_object()
            .bucket(&self.inner.config.bucket)
            .copy_source(source)
            .key(self.object_key(to))
            .send()
            .await
            .map_err(classify("CopyObject"))?;
        self.delete(from).await
    }

    /// Every blob under `prefix`, which must end with `/`: the listing asks S3 for
    /// `S3_PATH_PREFIX + prefix`, so `users/abc/` never matches `users/abcd/`.
    pub async fn list(&self, prefix: &str) -> BlobResult<Vec<BlobEntry>> {
        if !prefix.ends_with('/') {
            return Err(BlobError::InvalidKey(prefix.to_owned()));
        }
        let base = &self.inner.config.path_prefix;
        let mut pages = self
            .inner
            .client
            .list_objects_v2()
            .bucket(&self.inner.config.bucket)
            .prefix(format!("{base}{prefix}"))
            .into_paginator()
            .send();
        let mut entries = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify("ListObjectsV2"))?;
            for object in page.contents() {
                let Some(full) = object.key() else { continue };
                let relative = full.strip_prefix(base.as_str()).unwrap_or(full);
                match BlobKey::parse(relative) {
                    Ok(key) => entries.push(BlobEntry {
                        key,
                        size: u64::try_from(object.size().unwrap_or_default()).unwrap_or_default(),
                        modified: object
                            .last_modified()
                            .and_then(|at| std::time::SystemTime::try_from(*at).ok()),
                    }),
                    Err(_) => tracing::warn!(key = %full, "skipping an object that is not a blob"),
                }
            }
        }
        Ok(entries)
    }

    /// A HeadBucket, bounded by `S3_TIMEOUT_MS`.
    pub async fn health(&self) -> StoreHealth {
        let started = Instant::now();
        let probe = self
            .inner
            .client
            .head_bucket()
            .bucket(&self.inner.config.bucket)
            .send();
        let limit = self.inner.config.timeout.min(HEALTH_TIMEOUT);
        let outcome = match tokio::time::timeout(limit, probe).await {
            Ok(outcome) => outcome.map_err(classify("HeadBucket")),
            Err(_) => Err(BlobError::Unavailable(format!(
                "HeadBucket: no answer within {} ms",
                limit.as_millis()
            ))),
        };
        let bucket = &self.inner.config.bucket;
        let (status, message) = match outcome {
            Ok(_) => (HealthStatus::Healthy, None),
            Err(error) => {
                tracing::warn!(error = %error, "the S3 health probe failed");
                let message = match error {
                    BlobError::NotFound => format!("bucket {bucket} does not exist"),
                    BlobError::Unavailable(_) => {
                        format!("bucket {bucket} is unreachable or does not answer in time")
                    }
                    _ => format!("bucket {bucket} refuses the probe (credentials, permissions?)"),
                };
                (HealthStatus::Unhealthy, Some(message))
            }
        };
        StoreHealth {
            backend: "s3",
            status,
            latency: started.elapsed(),
            message,
        }
    }

    /// A URL that serves the blob without quillstore: `S3_PUBLIC_URL` + key, or a GET
    /// presigned at the start of the current window (so repeated requests get the same URL),
    /// with the least time it stays valid (`None`: forever). Reached through
    /// `BlobStore::delivery`.
    pub(super) async fn download_url(
        &self,
        key: &BlobKey,
        overrides: &DownloadOverrides,
    ) -> BlobResult<(String, Option<std::time::Duration>)> {
        presign::download_url(&self.inner, self.object_key(key), overrides).await
    }

    /// A presigned PUT of exactly `size` bytes to `key`, with the checksum when one is known.
    /// Reached through `BlobStore::direct_upload_target`.
    pub(super) async fn upload_url(
        &self,
        key: &BlobKey,
        size: u64,
        sha256: Option<&str>,
        lifetime: std::time::Duration,
    ) -> BlobResult<DirectUpload> {
        presign::upload_url(&self.inner, self.object_key(key), size, sha256, lifetime).await
    }
}
