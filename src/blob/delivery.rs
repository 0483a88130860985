//! How the bytes of a blob reach a client, decided by the store that holds them, so handlers
//! never ask which backend they have: a download is streamed through quillstore or
//! redirected (a presigned GET, or `S3_PUBLIC_URL`); a direct upload goes straight into S3
//! with a presigned PUT, or to the service's own PUT route when no client can reach the store
//! (a local directory, or S3 on a Unix socket without `S3_PRESIGN_ENDPOINT`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{BlobKey, BlobResult, BlobStore, DirectUpload, DownloadOverrides, S3BlobStore};
use crate::config::RedirectMode;

/// The largest object one S3 PUT may write.
const MAX_SINGLE_PUT: u64 = 5 << 30;

/// What a download asks of the store: the headers a redirected response must carry, and
/// when to redirect (`FILES_REDIRECT`, `FILES_REDIRECT_THRESHOLD`).
#[derive(Debug, Clone)]
pub struct DeliveryRequest {
    pub overrides: DownloadOverrides,
    pub redirect: RedirectMode,
    pub redirect_threshold: u64,
}

/// How a blob is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// quillstore streams the bytes itself (ranges passed on to the store).
    Stream,
    /// The client fetches the bytes from `url` (a presigned GET or `S3_PUBLIC_URL`), which
    /// stays valid at least `valid_for` (`None`: it does not expire).
    Redirect {
        url: String,
        valid_for: Option<Duration>,
    },
}

/// A direct upload to place: `size` bytes (with their SHA-256 when the client gave it) to
/// `key`, put within `lifetime`.
#[derive(Debug, Clone)]
pub struct DirectUploadRequest<'a> {
    pub key: &'a BlobKey,
    pub size: u64,
    pub sha256: Option<&'a str>,
    pub lifetime: Duration,
}

impl BlobStore {
    /// How the blob at `key` (`size` bytes) is served: on S3, redirected when the mode and
    /// threshold say so; streamed otherwise, and always from the fs store.
    pub async fn delivery(
        &self,
        key: &BlobKey,
        size: u64,
        request: &DeliveryRequest,
    ) -> BlobResult<Delivery> {
        match self {
            Self::S3(store) if redirects(request.redirect, request.redirect_threshold, size) => {
                // Boxed: the SDK's presigning future is large, and it would make every caller's
                // future as large (moved on each request), streamed or not.
                let (url, valid_for) =
                    Box::pin(store.download_url(key, &request.overrides)).await?;
                Ok(Delivery::Redirect { url, valid_for })
            }
            Self::S3(_) | Self::Fs(_) => Ok(Delivery::Stream),
        }
    }

    /// Whether a blob of `size` bytes is streamed through quillstore rather than redirected
    /// (a stream finds out when the blob is missing; a redirect leaves that to the client).
    pub fn streams(&self, size: u64, redirect: RedirectMode, threshold: u64) -> bool {
        match self {
            Self::S3(_) => !redirects(redirect, threshold, size),
            Self::Fs(_) => true,
        }
    }

    /// The S3 store that direct uploads go straight into with a presigned PUT, if any: not
    /// the fs store, nor an S3 store whose presigned URLs browsers cannot reach (`S3_SOCKET`
    /// without `S3_PRESIGN_ENDPOINT`); those get the service's own route.
    fn presigned_uploads(&self) -> Option<&S3BlobStore> {
        match self {
            Self::S3(store) if store.config().presigns_for_browsers() => Some(store),
            Self::S3(_) | Self::Fs(_) => None,
        }
    }

    /// The largest direct upload a client may put in one request under the `configured`
    /// upload limit: one S3 PUT writes at most 5 GiB (the service's own route has no such
    /// bound: it writes in parts).
    pub fn direct_upload_limit(&self, configured: u64) -> u64 {
        match self.presigned_uploads() {
            Some(_) => configured.min(MAX_SINGLE_PUT),
            None => configured,
        }
    }

    /// Where the client puts the bytes of a direct upload: a presigned PUT into S3, or the
    /// service's own PUT route, which `own_route` builds for an expiry in Unix seconds (it
    /// signs the route; the blob store holds no signing key): on the fs store, and on an S3
    /// store whose presigned URLs browsers cannot reach (`S3_SOCKET` without
    /// `S3_PRESIGN_ENDPOINT`), where the route streams the bytes into the store itself.
    pub async fn direct_upload_target(
        &self,
        request: &DirectUploadRequest<'_>,
        own_route: impl FnOnce(u64) -> String,
    ) -> BlobResult<DirectUpload> {
        match self.presigned_uploads() {
            Some(store) => {
                store
                    .upload_url(request.key, request.size, request.sha256, request.lifetime)
                    .await
            }
            None => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |elapsed| elapsed.as_secs());
                let expires = now + request.lifetime.as_secs();
                Ok(DirectUpload {
                    url: own_route(expires),
                    method: "PUT".to_owned(),
                    headers: Vec::new(),
                    expires_at: UNIX_EPOCH + Duration::from_secs(expires),
                })
            }
        }
    }
}

/// Whether a download of `size` bytes from S3 is answered with a redirect.
fn redirects(mode: RedirectMode, threshold: u64, size: u64) -> bool {
    match mode {
        RedirectMode::Never => false,
        RedirectMode::Always => true,
        RedirectMode::Auto => size > threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::FsBlobStore;
    use crate::model::UserId;

    #[test]
    fn redirects_follow_the_mode_and_threshold() {
        assert!(!redirects(RedirectMode::Auto, 10, 10));
        assert!(redirects(RedirectMode::Auto, 10, 11));
        assert!(!redirects(RedirectMode::Never, 0, 1 << 40));
        assert!(redirects(RedirectMode::Always, 10, 0));
    }

    #[tokio::test]
    async fn the_fs_store_streams_everything_and_takes_uploads_on_the_service_route() {
        let directory = tempfile::tempdir().unwrap();
        let blobs = BlobStore::Fs(FsBlobStore::open(directory.path()).await.unwrap());
        let key = BlobKey::upload_data(&UserId::local(), uuid::Uuid::nil());
        let request = DeliveryRequest {
            overrides: DownloadOverrides {
                content_type: "image/png".to_owned(),
                content_disposition: "inline".to_owned(),
                cache_control: "private".to_owned(),
            },
            redirect: RedirectMode::Always,
            redirect_threshold: 0,
        };
        assert_eq!(
            blobs.delivery(&key, 1 << 40, &request).await.unwrap(),
            Delivery::Stream
        );
        assert_eq!(blobs.direct_upload_limit(u64::MAX), u64::MAX);
        let upload = DirectUploadRequest {
            key: &key,
            size: 3,
            sha256: None,
            lifetime: Duration::from_secs(60),
        };
        let target = blobs
            .direct_upload_target(&upload, |expires| format!("/own?expires={expires}"))
            .await
            .unwrap();
        let expires = target
            .expires_at
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(target.url, format!("/own?expires={expires}"));
        assert_eq!(target.method, "PUT");
        assert!(target.headers.is_empty());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!((now.as_secs() + 59..=now.as_secs() + 60).contains(&expires));
    }
}
