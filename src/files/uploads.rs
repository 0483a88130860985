//! Direct uploads: the client puts the bytes itself (a presigned PUT on S3, a signed PUT to
//! quillstore on fs), then asks for completion. Until then an upload is a ticket and its bytes
//! under `uploads/{userId}/{uploadId}/` in the blob store: no record, nothing in any list.
//! The upload id is a UUIDv7, so its age is known from the key alone: `gc` removes uploads
//! older than [`PENDING_MAX_AGE`] that were never completed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::blob::{BlobError, BlobKey, BlobResult, BlobStore};
use crate::files::content::HEAD_LEN;
use crate::model::UserId;
use crate::model::file::FileCategory;

/// How long the URL that puts the bytes stays valid.
pub const URL_LIFETIME: Duration = Duration::from_secs(3600);
/// An upload not completed within this time is abandoned (removed by `gc`).
pub const PENDING_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// A ticket is a few hundred bytes; anything longer is not one.
const MAX_TICKET_BYTES: u64 = 64 * 1024;

/// What the client announced when it asked for the upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub file_id: Uuid,
    pub filename: String,
    pub mime_type: String,
    pub size: u64,
    pub category: FileCategory,
    /// Lowercase hex, when the client gave it.
    pub sha256: Option<String>,
}

pub async fn save_ticket(
    blobs: &BlobStore,
    user: &UserId,
    upload_id: Uuid,
    ticket: &Ticket,
) -> BlobResult<()> {
    let bytes = serde_json::to_vec(ticket).map_err(anyhow::Error::from)?;
    let body = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
        axum::body::Bytes::from(bytes),
    )]);
    blobs
        .put(
            &BlobKey::upload_ticket(user, upload_id),
            body,
            MAX_TICKET_BYTES,
        )
        .await?;
    Ok(())
}

/// The ticket of a pending upload; `None` when there is none (never asked for, completed,
/// or removed).
pub async fn load_ticket(
    blobs: &BlobStore,
    user: &UserId,
    upload_id: Uuid,
) -> BlobResult<Option<Ticket>> {
    let read = match blobs
        .get(&BlobKey::upload_ticket(user, upload_id), None)
        .await
    {
        Ok(read) => read,
        Err(BlobError::NotFound) => return Ok(None),
        Err(error) => return Err(error),
    };
    if read.length > MAX_TICKET_BYTES {
        return Err(anyhow::anyhow!("upload ticket {upload_id} is too long").into());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(read.length).unwrap_or_default());
    let mut body = read.body;
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk.map_err(stream_error)?);
    }
    let ticket = serde_json::from_slice(&bytes)
        .map_err(|error| anyhow::anyhow!("upload ticket {upload_id} does not parse: {error}"))?;
    Ok(Some(ticket))
}

/// Removes what is left of an upload (its ticket and bytes); missing parts are fine.
pub async fn discard(blobs: &BlobStore, user: &UserId, upload_id: Uuid) -> BlobResult<()> {
    blobs.delete(&BlobKey::upload_data(user, upload_id)).await?;
    blobs.delete(&BlobKey::upload_ticket(user, upload_id)).await
}

/// The first bytes of a blob of `size` bytes: what sniffing and image dimensions need.
pub async fn read_head(blobs: &BlobStore, key: &BlobKey, size: u64) -> BlobResult<Vec<u8>> {
    if size == 0 {
        return Ok(Vec::new());
    }
    let end = size.min(HEAD_LEN as u64) - 1;
    let read = blobs.get(key, Some(0..=end)).await?;
    let mut head = Vec::with_capacity(HEAD_LEN);
    let mut body = read.body;
    while let Some(chunk) = body.next().await {
        head.extend_from_slice(&chunk.map_err(stream_error)?);
    }
    head.truncate(HEAD_LEN);
    Ok(head)
}

/// Reads a whole blob to hash it: `(size, lowercase hex SHA-256)`.
pub async fn hash_blob(blobs: &BlobStore, key: &BlobKey) -> BlobResult<(u64, String)> {
    let read = blobs.get(key, None).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = read.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(stream_error)?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn stream_error(error: std::io::Error) -> BlobError {
    BlobError::Unavailable(format!("reading a blob failed: {error}"))
}

/// How old an upload is, from the time inside its UUIDv7; `None` for other ids.
pub fn upload_age(upload_id: Uuid, now: SystemTime) -> Option<Duration> {
    let (seconds, nanos) = upload_id.get_timestamp()?.to_unix();
    let created = UNIX_EPOCH + Duration::new(seconds, nanos);
    Some(now.duration_since(created).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_of_an_upload_comes_from_its_id() {
        let id = Uuid::now_v7();
        let later = SystemTime::now() + Duration::from_secs(90);
        let age = upload_age(id, later).unwrap();
        assert!(age >= Duration::from_secs(89) && age <= Duration::from_secs(91));
        assert_eq!(upload_age(Uuid::new_v4(), later), None);
    }
}
