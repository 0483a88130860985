//! Streaming a download from S3 to the client: a task of its own reads the object ahead of the
//! client, so reading from the store and writing to the client overlap, and hands on the bytes
//! in pieces of up to [`PIECE`] (the SDK yields whatever its socket read gave, often a few KiB:
//! passed on as they come, every small piece costs a write to the client).
//!
//! Memory stays bounded: at most [`PIECES_AHEAD`] pieces wait in the channel and one is being
//! filled, so a download holds under 1 MiB however large the object and however slow the
//! client. When the client goes away the stream is dropped and the task with it.

use axum::body::Bytes;
use bytes::BytesMut;
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

/// The most bytes handed on at once.
pub const PIECE: usize = 256 << 10;
/// Pieces read ahead of the client.
pub const PIECES_AHEAD: usize = 2;

/// A failure of the body being read.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The object's bytes, read ahead by a task of their own.
pub fn read_ahead<S, E>(body: S) -> impl Stream<Item = std::io::Result<Bytes>> + Send + use<S, E>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: Into<BoxError> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(PIECES_AHEAD);
    let task = AbortOnDropHandle::new(tokio::spawn(pump(body, sender)));
    futures_util::stream::unfold((receiver, task), |(mut receiver, task)| async move {
        let piece = receiver.recv().await?;
        Some((piece, (receiver, task)))
    })
}

/// Reads `body` into pieces: waits for the first chunk of a piece, then adds the chunks that
/// are ready at once while the piece is under [`PIECE`] bytes; a piece is never held back
/// waiting for more.
async fn pump<S, E>(mut body: S, sender: mpsc::Sender<std::io::Result<Bytes>>)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<BoxError> + Send,
{
    loop {
        let first = match body.next().await {
            None => return,
            Some(Ok(chunk)) => chunk,
            Some(Err(error)) => {
                let _ = sender.send(Err(std::io::Error::other(error.into()))).await;
                return;
            }
        };
        let mut piece: Option<BytesMut> = None;
        let mut end = false;
        let mut failure = None;
        while piece.as_ref().map_or(first.len(), BytesMut::len) < PIECE {
            match body.next().now_or_never() {
                None => break,
                Some(None) => {
                    end = true;
                    break;
                }
                Some(Some(Ok(chunk))) => {
                    let piece = piece.get_or_insert_with(|| {
                        let mut piece = BytesMut::with_capacity(PIECE.max(first.len()));
                        piece.extend_from_slice(&first);
                        piece
                    });
                    piece.extend_from_slice(&chunk);
                }
                Some(Some(Err(error))) => {
                    failure = Some(std::io::Error::other(error.into()));
                    break;
                }
            }
        }
        let bytes = piece.map_or(first, BytesMut::freeze);
        if sender.send(Ok(bytes)).await.is_err() {
            return;
        }
        if let Some(error) = failure {
            let _ = sender.send(Err(error)).await;
            return;
        }
        if end {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn chunks(count: usize, size: usize) -> Vec<Bytes> {
        (0..count)
            .map(|i| Bytes::from(vec![(i % 251) as u8; size]))
            .collect()
    }

    #[tokio::test]
    async fn ready_chunks_are_joined_into_pieces_and_nothing_is_lost() {
        let sent = chunks(200, 8 << 10);
        let body = futures_util::stream::iter(sent.clone().into_iter().map(Ok::<_, BoxError>));
        let pieces: Vec<Bytes> = read_ahead(body).map(|piece| piece.unwrap()).collect().await;
        assert!(pieces.len() < sent.len() / 8, "{} pieces", pieces.len());
        assert!(pieces.iter().all(|piece| piece.len() < PIECE + (8 << 10)));
        assert_eq!(pieces.concat(), sent.concat());
    }

    #[tokio::test]
    async fn a_failure_comes_after_the_bytes_before_it() {
        let mut items: Vec<Result<Bytes, BoxError>> = chunks(3, 10).into_iter().map(Ok).collect();
        items.push(Err("the store went away".into()));
        let out: Vec<std::io::Result<Bytes>> = read_ahead(futures_util::stream::iter(items))
            .collect()
            .await;
        let (bytes, errors): (Vec<_>, Vec<_>) = out.into_iter().partition(Result::is_ok);
        assert_eq!(
            bytes
                .into_iter()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .concat()
                .len(),
            30
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("went away")
        );
    }

    #[tokio::test]
    async fn reading_stops_at_a_bounded_distance_and_ends_when_dropped() {
        // An endless body: the task reads only as far as the channel allows.
        let read = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&read);
        let body = futures_util::stream::repeat_with(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<_, BoxError>(Bytes::from(vec![0u8; 64 << 10]))
        });
        let mut stream = Box::pin(read_ahead(body));
        stream.next().await.unwrap().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let ahead = read.load(Ordering::SeqCst) * (64 << 10);
        assert!(
            ahead <= (PIECES_AHEAD + 2) * (PIECE + (64 << 10)),
            "{ahead} bytes read"
        );
        drop(stream);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let after_drop = read.load(Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(read.load(Ordering::SeqCst), after_drop, "the task ended");
    }
}
