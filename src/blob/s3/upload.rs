//! Streaming writes: the body is cut into parts of [`PART_SIZE`]. A body that fits in one
//! part is one PutObject; a longer one is a multipart upload whose next part is read while
//! up to [`PARTS_IN_FLIGHT`] earlier ones are sent concurrently (one part's round trip no
//! longer stalls the body), in buffers reused from part to part: at most
//! `PARTS_IN_FLIGHT + 1` parts (32 MiB) are held per upload. Any failure, or the request being
//! dropped, aborts the multipart upload.

use std::collections::VecDeque;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use axum::body::Bytes;
use bytes::BytesMut;
use futures_util::{Stream, StreamExt};
use tokio_util::task::AbortOnDropHandle;

use super::Inner;
use super::checksum::with_checksum;
use super::client::transfer_timeouts;
use super::errors::classify;
use crate::blob::{BlobResult, Meter, PutOutcome};

/// Bytes per part (S3 wants at least 5 MiB for every part but the last).
pub const PART_SIZE: usize = 8 << 20;
/// Parts sent at once by one upload while the next is read.
pub const PARTS_IN_FLIGHT: usize = 3;

pub(super) async fn put(
    inner: &std::sync::Arc<Inner>,
    key: String,
    mut body: impl Stream<Item = BlobResult<Bytes>> + Unpin,
    mut meter: Meter,
) -> BlobResult<PutOutcome> {
    let mut multipart: Option<Multipart> = None;
    match send(inner, &key, &mut body, &mut meter, &mut multipart).await {
        Ok(()) => {
            if let Some(upload) = multipart {
                upload.complete().await?;
            }
            Ok(meter.finish())
        }
        Err(error) => {
            if let Some(upload) = multipart.as_mut() {
                upload.abort().await;
            }
            Err(error)
        }
    }
}

/// Reads the body part by part: one PutObject when it all fits in one part, else every part
/// of a multipart upload (left in `multipart` for the caller to complete or abort).
async fn send(
    inner: &std::sync::Arc<Inner>,
    key: &str,
    body: &mut (impl Stream<Item = BlobResult<Bytes>> + Unpin),
    meter: &mut Meter,
    multipart: &mut Option<Multipart>,
) -> BlobResult<()> {
    let mut buffer = BytesMut::new();
    let mut leftover = None;
    let mut ended = false;
    while !ended {
        ended = fill(&mut buffer, &mut leftover, body, meter).await?;
        if ended && multipart.is_none() {
            return put_object(inner, key, buffer.split().freeze()).await;
        }
        let upload = match multipart {
            Some(upload) => upload,
            None => multipart.insert(Multipart::start(inner, key).await?),
        };
        if !buffer.is_empty() {
            // With every slot busy the oldest part is waited for first, and its buffer
            // carries the next part: the upload holds at most PARTS_IN_FLIGHT + 1 buffers.
            upload.make_room().await?;
            let part = std::mem::replace(&mut buffer, upload.spare_buffer());
            upload.send_part(part.freeze());
        }
    }
    Ok(())
}

/// Fills `buffer` up to [`PART_SIZE`] from `leftover` and the body; returns true when the
/// body has ended. Bytes past the part wait in `leftover`.
async fn fill(
    buffer: &mut BytesMut,
    leftover: &mut Option<Bytes>,
    body: &mut (impl Stream<Item = BlobResult<Bytes>> + Unpin),
    meter: &mut Meter,
) -> BlobResult<bool> {
    loop {
        let mut chunk = match leftover.take() {
            Some(chunk) => chunk,
            None => match body.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    meter.update(&chunk)?;
                    chunk
                }
                None => return Ok(true),
            },
        };
        let room = PART_SIZE - buffer.len();
        if chunk.len() > room {
            *leftover = Some(chunk.split_off(room));
        }
        // Small bodies grow their buffer as they come; a body past 1 MiB gets its whole part
        // at once, so no part is ever copied into a doubled buffer.
        if buffer.capacity() - buffer.len() < chunk.len() && buffer.len() + chunk.len() > 1 << 20 {
            buffer.reserve(PART_SIZE - buffer.len());
        }
        buffer.extend_from_slice(&chunk);
        if buffer.len() == PART_SIZE {
            return Ok(false);
        }
    }
}

async fn put_object(inner: &Inner, key: &str, bytes: Bytes) -> BlobResult<()> {
    let length = bytes.len() as u64;
    let sum = inner.write_checksum.of(&bytes);
    let request = inner
        .client
        .put_object()
        .bucket(&inner.config.bucket)
        .key(key)
        .content_length(i64::try_from(length).unwrap_or(i64::MAX))
        .body(ByteStream::from(bytes));
    // The checksum guards the bytes; signing them as well would hash them once more.
    with_checksum!(request, &sum)
        .config_override(
            aws_sdk_s3::config::Builder::default()
                .timeout_config(transfer_timeouts(&inner.config, length)),
        )
        .send()
        .await
        .map_err(classify("PutObject"))?;
    Ok(())
}

/// A multipart upload in progress: aborted when dropped unless completed.
struct Multipart {
    inner: std::sync::Arc<Inner>,
    key: String,
    upload_id: String,
    /// Parts sent, in part-number order.
    parts: Vec<CompletedPart>,
    /// Parts being sent, oldest first.
    in_flight: VecDeque<AbortOnDropHandle<BlobResult<(CompletedPart, Bytes)>>>,
    /// Buffers of parts sent, back for the next ones.
    spare: Vec<BytesMut>,
    /// The number of the next part.
    next_number: i32,
    done: bool,
}

impl Multipart {
    async fn start(inner: &std::sync::Arc<Inner>, key: &str) -> BlobResult<Self> {
        let output = inner
            .client
            .create_multipart_upload()
            .bucket(&inner.config.bucket)
            .key(key)
            .set_checksum_algorithm(inner.write_checksum.algorithm())
            .send()
            .await
            .map_err(classify("CreateMultipartUpload"))?;
        let upload_id = output
            .upload_id()
            .ok_or_else(|| anyhow::anyhow!("CreateMultipartUpload returned no upload id"))?
            .to_owned();
        Ok(Self {
            inner: inner.clone(),
            key: key.to_owned(),
            upload_id,
            parts: Vec::new(),
            in_flight: VecDeque::new(),
            spare: Vec::new(),
            next_number: 1,
            done: false,
        })
    }

    /// An empty buffer for the next part: the last part's, once sent, else a new one.
    fn spare_buffer(&mut self) -> BytesMut {
        self.spare
            .pop()
            .unwrap_or_else(|| BytesMut::with_capacity(PART_SIZE))
    }

    /// Waits for the oldest part in flight when [`PARTS_IN_FLIGHT`] are.
    async fn make_room(&mut self) -> BlobResult<()> {
        if self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.finish_oldest().await?;
        }
        Ok(())
    }

    /// Sends a part in the background (after [`Multipart::make_room`]).
    fn send_part(&mut self, part: Bytes) {
        debug_assert!(self.in_flight.len() < PARTS_IN_FLIGHT);
        let number = self.next_number;
        self.next_number += 1;
        let (inner, key, upload_id) =
            (self.inner.clone(), self.key.clone(), self.upload_id.clone());
        let task = tokio::spawn(async move {
            let length = part.len() as u64;
            let sum = inner.write_checksum.of(&part);
            let request = inner
                .client
                .upload_part()
                .bucket(&inner.config.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(i64::try_from(length).unwrap_or(i64::MAX))
                .body(ByteStream::from(part.clone()));
            let output = with_checksum!(request, &sum)
                .config_override(
                    aws_sdk_s3::config::Builder::default()
                        .timeout_config(transfer_timeouts(&inner.config, length)),
                )
                .send()
                .await
                .map_err(classify("UploadPart"))?;
            let completed = CompletedPart::builder()
                .part_number(number)
                .set_e_tag(output.e_tag().map(str::to_owned));
            let completed = match &sum {
                Some(sum) => sum.record(completed),
                None => completed.build(),
            };
            Ok((completed, part))
        });
        self.in_flight.push_back(AbortOnDropHandle::new(task));
    }

    /// Waits for the oldest part in flight, so parts are recorded in number order.
    async fn finish_oldest(&mut self) -> BlobResult<()> {
        if let Some(task) = self.in_flight.pop_front() {
            let (part, bytes) = task
                .await
                .map_err(|error| anyhow::anyhow!("a part upload task failed: {error}"))??;
            self.parts.push(part);
            // Unique again once the SDK dropped its request: reused for the next part.
            if let Ok(mut buffer) = bytes.try_into_mut() {
                buffer.clear();
                self.spare.push(buffer);
            }
        }
        Ok(())
    }

    async fn finish_in_flight(&mut self) -> BlobResult<()> {
        while !self.in_flight.is_empty() {
            self.finish_oldest().await?;
        }
        Ok(())
    }

    async fn complete(mut self) -> BlobResult<()> {
        let completed = async {
            self.finish_in_flight().await?;
            self.inner
                .client
                .complete_multipart_upload()
                .bucket(&self.inner.config.bucket)
                .key(&self.key)
                .upload_id(&self.upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(std::mem::take(&mut self.parts)))
                        .build(),
                )
                .send()
                .await
                .map_err(classify("CompleteMultipartUpload"))?;
            Ok(())
        }
        .await;
        match completed {
            Ok(()) => {
                self.done = true;
                Ok(())
            }
            Err(error) => {
                self.abort().await;
                Err(error)
            }
        }
    }

    async fn abort(&mut self) {
        self.in_flight.clear();
        self.done = true;
        abort(&self.inner, &self.key, &self.upload_id).await;
    }
}

impl Drop for Multipart {
    fn drop(&mut self) {
        if !self.done {
            self.in_flight.clear();
            let (inner, key, upload_id) =
                (self.inner.clone(), self.key.clone(), self.upload_id.clone());
            tokio::spawn(async move { abort(&inner, &key, &upload_id).await });
        }
    }
}

async fn abort(inner: &Inner, key: &str, upload_id: &str) {
    let aborted = inner
        .client
        .abort_multipart_upload()
        .bucket(&inner.config.bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    if let Err(error) = aborted {
        tracing::error!(%key, error = %aws_sdk_s3::error::DisplayErrorContext(&error),
            "cannot abort a multipart upload; a bucket lifecycle rule for incomplete uploads removes it");
    }
}
