//! The streamed bodies of PNG and CharX exports: the avatar's and assets' bytes flow from the
//! blob store to the client in pieces, so an export costs a few pieces of memory whatever the
//! size of its images. PNG: the blob's stream through `cards::png_splice`. CharX: the zip is
//! written on a blocking thread (the `zip` crate writes to `std::io::Write`) into a bounded
//! channel the response body reads; each asset is read from its blob as its turn comes.

use std::io::{self, Read, Write};

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::blob::{BlobBody, BlobError, BlobKey, BlobStore};
use crate::cards::{CardError, charx, png, png_splice};
use crate::error::{ApiError, Result};

/// A blob and the store holding it (the current one, or the fallback while blobs move).
pub type Blob = (BlobStore, BlobKey);

/// Pieces the CharX writer sends at once, and how many may wait for the client.
const PIECE: usize = 64 << 10;
const PIECES_IN_FLIGHT: usize = 4;

/// The PNG at `avatar` (or the default image when there is none, or its blob is gone) with
/// the card `chunks` spliced in. A source that is not a PNG is refused before any byte goes.
pub async fn png_body(avatar: Option<Blob>, chunks: Bytes) -> Result<Body> {
    let read = match &avatar {
        Some((blobs, key)) => match blobs.get(key, None).await {
            Ok(read) => Some(read.body),
            Err(BlobError::NotFound) => None,
            Err(error) => return Err(error.into()),
        },
        None => None,
    };
    let source =
        read.unwrap_or_else(|| BlobBody::whole(Bytes::from_static(png::DEFAULT_IMAGE.as_slice())));
    let mut spliced = png_splice::splice(source, chunks).boxed();
    // The first piece holds the signature and IHDR: the source is a PNG.
    let first = match spliced.next().await {
        Some(Ok(first)) => first,
        Some(Err(error)) => return Err(card_error(error)),
        None => return Err(CardError::invalid("avatar", "the avatar is empty").into()),
    };
    let rest = futures_util::stream::once(async move { Ok(first) }).chain(spliced);
    Ok(Body::from_stream(rest))
}

/// A splice error as the API reports it (a broken avatar: 422; the store: 500).
fn card_error(error: io::Error) -> ApiError {
    match error
        .into_inner()
        .map(|inner| inner.downcast::<CardError>())
    {
        Some(Ok(card)) => (*card).into(),
        Some(Err(other)) => ApiError::Internal(anyhow::anyhow!("{other}")),
        None => ApiError::Internal(anyhow::anyhow!("cannot read the avatar")),
    }
}

/// A CharX of `card` and `assets` (archive path, blob), streamed. An asset whose blob is gone
/// is left out; a failure once bytes went out ends the body with an error.
pub fn charx_body(card: Vec<u8>, assets: Vec<(String, Blob)>) -> Body {
    let (sender, receiver) = mpsc::channel(PIECES_IN_FLIGHT);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let out = ChannelWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(PIECE),
        };
        let open = |(blobs, key): Blob| match handle.block_on(blobs.get(&key, None)) {
            Ok(read) => Ok(Some(BlockingRead {
                handle: handle.clone(),
                body: read.body,
                piece: Bytes::new(),
            })),
            Err(BlobError::NotFound) => Ok(None),
            Err(error) => Err(io::Error::other(error)),
        };
        let written = charx::write_stream(out, &card, assets, open)
            .map_err(io::Error::other)
            .and_then(|mut out| out.send_buffer());
        match written {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
                tracing::debug!("a CharX export's client went away");
            }
            Err(error) => {
                tracing::warn!(error = %error, "a CharX export stopped");
                let _ = sender.blocking_send(Err(error));
            }
        }
    });
    let pieces = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|piece| (piece, receiver))
    });
    Body::from_stream(pieces)
}

/// Sends what is written to a bounded channel in pieces of about [`PIECE`] bytes; waits while
/// the client is behind, fails once it has gone.
struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buffer, Vec::with_capacity(PIECE));
        self.sender
            .blocking_send(Ok(Bytes::from(piece)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PIECE {
            self.send_buffer()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A blob's stream read as `std::io::Read` on a blocking thread, one piece at a time.
struct BlockingRead {
    handle: tokio::runtime::Handle,
    body: BlobBody,
    piece: Bytes,
}

impl Read for BlockingRead {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.piece.is_empty() {
            match self.handle.block_on(self.body.next()) {
                Some(piece) => self.piece = piece?,
                None => return Ok(0),
            }
        }
        let length = buffer.len().min(self.piece.len());
        buffer[..length].copy_from_slice(&self.piece.split_to(length));
        Ok(length)
    }
}
