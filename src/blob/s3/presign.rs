//! Presigned URLs. Downloads are signed at the start of fixed windows half as long as
//! `S3_PRESIGN_EXPIRY`, so every request within a window gets the same URL (browsers and CDNs
//! can cache it) and every URL handed out stays valid for at least half the expiry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::Inner;
use super::errors::classify;
use crate::blob::{BlobError, BlobResult};

/// What a redirected download must look like to the browser.
#[derive(Debug, Clone)]
pub struct DownloadOverrides {
    pub content_type: String,
    pub content_disposition: String,
    pub cache_control: String,
}

/// A request the client sends itself to put the bytes of a direct upload.
#[derive(Debug, Clone)]
pub struct DirectUpload {
    pub url: String,
    pub method: String,
    /// Headers the client must send as they are (they are signed).
    pub headers: Vec<(String, String)>,
    pub expires_at: SystemTime,
}

/// Characters left as they are in a key placed in a URL path.
const KEY_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How long the window of a presigned download is: half the expiry.
fn window_length(expiry: Duration) -> u64 {
    (expiry.as_secs() / 2).max(1)
}

/// The start of the window `now` falls in.
pub(super) fn window(expiry: Duration, now: SystemTime) -> SystemTime {
    let length = window_length(expiry);
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    UNIX_EPOCH + Duration::from_secs(now - now % length)
}

pub(super) fn presigning(start: SystemTime, expires_in: Duration) -> BlobResult<PresigningConfig> {
    PresigningConfig::builder()
        .start_time(start)
        .expires_in(expires_in)
        .build()
        .map_err(|error| BlobError::Internal(anyhow::anyhow!("presigning: {error}")))
}

/// The URL of a download, and the least time it stays valid: a presigned URL handed out
/// within its window has at least the window length left (`None`: a public URL, forever).
pub(super) async fn download_url(
    inner: &Inner,
    key: String,
    overrides: &DownloadOverrides,
) -> BlobResult<(String, Option<Duration>)> {
    if let Some(base) = &inner.config.public_url {
        let url = format!("{base}/{}", utf8_percent_encode(&key, KEY_PATH));
        return Ok((url, None));
    }
    let expiry = inner.config.presign_expiry;
    let start = window(expiry, SystemTime::now());
    // Handed out until the window ends, a URL has at least half the expiry left: the browser
    // may keep its answer that long (the same for the whole window, as the URL must be).
    let cache_control = format!(
        "{}, max-age={}",
        overrides.cache_control,
        window_length(expiry)
    );
    let request = inner
        .presigner
        .get_object()
        .bucket(&inner.config.bucket)
        .key(key)
        .response_content_type(&overrides.content_type)
        .response_content_disposition(&overrides.content_disposition)
        .response_cache_control(cache_control)
        .presigned(presigning(start, expiry)?)
        .await
        .map_err(classify("GetObject (presign)"))?;
    let valid_for = Duration::from_secs(window_length(expiry));
    Ok((request.uri().to_owned(), Some(valid_for)))
}

pub(super) async fn upload_url(
    inner: &Inner,
    key: String,
    size: u64,
    sha256: Option<&str>,
    lifetime: Duration,
) -> BlobResult<DirectUpload> {
    let start = SystemTime::now();
    let mut request = inner
        .presigner
        .put_object()
        .bucket(&inner.config.bucket)
        .key(key)
        .content_length(i64::try_from(size).unwrap_or(i64::MAX));
    if inner.checksums
        && let Some(digest) = sha256.and_then(|hex_digest| hex::decode(hex_digest).ok())
    {
        use base64::Engine;
        request = request.checksum_sha256(base64::engine::general_purpose::STANDARD.encode(digest));
    }
    let presigned: PresignedRequest = request
        .presigned(presigning(start, lifetime)?)
        .await
        .map_err(classify("PutObject (presign)"))?;
    Ok(DirectUpload {
        url: presigned.uri().to_owned(),
        method: presigned.method().to_owned(),
        headers: presigned
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        expires_at: start + lifetime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_fixed_and_half_the_expiry() {
        let expiry = Duration::from_secs(3600);
        let at = |secs| window(expiry, UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(7200), at(7200 + 1799));
        assert_ne!(at(7200), at(7200 + 1800));
        assert_eq!(at(7200 + 1799), UNIX_EPOCH + Duration::from_secs(7200));
    }
}
