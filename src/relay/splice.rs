//! splice(2) from the upstream socket into a pipe, and from the pipe to the client socket:
//! the kernel hands pages along instead of copying them into quillstore and out again, which
//! is most of what a streamed S3 download costs quillstore (docs/benchmarks.md).
//!
//! Both sockets and the pipe are non-blocking. The pipe is filled only when empty and drained
//! by at most what it holds, so a `WouldBlock` always comes from the socket (not ready) and
//! never from the pipe, and tokio's readiness for that socket is what is waited on.
//! That rule matters twice over for an upstream on a Unix socket (`S3_SOCKET`): splicing from
//! one into a full pipe is not a `WouldBlock` but `EFAULT`.

use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use rustix::pipe::{PipeFlags, SpliceFlags};
use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;

use super::{Upstream, cut_short};

/// What a pipe is asked to hold (Linux lets an unprivileged process have up to 1 MiB); a pipe
/// that stays at the default 64 KiB works too, with more system calls.
const PIPE_BYTES: usize = 1 << 20;

const FLAGS: SpliceFlags = SpliceFlags::NONBLOCK.union(SpliceFlags::MOVE);

/// A non-blocking pipe and how many bytes it holds.
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
    held: usize,
}

impl Pipe {
    pub fn new() -> io::Result<Self> {
        let (read, write) = rustix::pipe::pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?;
        let capacity = rustix::pipe::fcntl_setpipe_size(&write, PIPE_BYTES)
            .or_else(|_| rustix::pipe::fcntl_getpipe_size(&write))?;
        Ok(Self {
            read,
            write,
            capacity,
            held: 0,
        })
    }
}

/// An upstream body on its way to one client socket.
pub struct Splice {
    upstream: Upstream,
    pipe: Pipe,
}

impl Splice {
    /// `pipe` must be empty (a new one, or one from a finished splice).
    pub fn new(upstream: Upstream, pipe: Pipe) -> Self {
        debug_assert_eq!(pipe.held, 0);
        Self { upstream, pipe }
    }

    /// Whether every byte of the body has reached the client socket.
    pub fn is_done(&self) -> bool {
        self.upstream.length() == 0 && self.pipe.held == 0
    }

    /// Ends a finished splice: the connection goes back to its pool, and the (empty) pipe is
    /// returned for the connection's next body.
    pub fn finish(mut self) -> Pipe {
        self.upstream.release_if_done();
        self.pipe
    }

    /// Sends at most `max` (> 0) bytes of the body to `client`; `Ready(Ok(n))` once `n` > 0
    /// went. An upstream that ends early is an `UnexpectedEof`.
    pub fn poll_send(
        &mut self,
        context: &mut Context<'_>,
        client: &mut TcpStream,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        let upstream = &mut self.upstream;
        if !upstream.prefix.is_empty() {
            let end = upstream.prefix.len().min(max);
            let sent = ready!(Pin::new(client).poll_write(context, &upstream.prefix[..end]))?;
            upstream.prefix.advance(sent);
            return Poll::Ready(Ok(sent));
        }
        let pipe = &mut self.pipe;
        loop {
            if pipe.held == 0 {
                if upstream.remaining == 0 {
                    return Poll::Ready(Err(io::Error::other(
                        "the body has no bytes left to send",
                    )));
                }
                let Some(socket) = upstream.socket.as_ref() else {
                    return Poll::Ready(Err(cut_short(upstream.remaining)));
                };
                if socket.poll_read_ready(context)?.is_pending() {
                    upstream.stall.poll_expired(context)?;
                    return Poll::Pending;
                }
                let want = usize::try_from(upstream.remaining)
                    .map_or(pipe.capacity, |left| left.min(pipe.capacity));
                let moved = socket.try_io(Interest::READABLE, || {
                    Ok(rustix::pipe::splice(
                        socket,
                        None,
                        &pipe.write,
                        None,
                        want,
                        FLAGS,
                    )?)
                });
                match moved {
                    Ok(0) => return Poll::Ready(Err(cut_short(upstream.remaining))),
                    Ok(moved) => {
                        upstream.stall.progressed();
                        pipe.held += moved;
                        upstream.remaining -= moved as u64;
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(error) => return Poll::Ready(Err(error)),
                }
            }
            ready!(client.poll_write_ready(context))?;
            let want = pipe.held.min(max);
            let client = &*client;
            let sent = client.try_io(Interest::WRITABLE, || {
                Ok(rustix::pipe::splice(
                    &pipe.read, None, client, None, want, FLAGS,
                )?)
            });
            match sent {
                Ok(sent) => {
                    pipe.held -= sent;
                    return Poll::Ready(Ok(sent));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::tests::{pattern, socket_pair, upstream, upstream_holding};
    use tokio::io::AsyncReadExt;

    /// Splices `upstream` to a fresh client socket in steps of at most `max` bytes; what the
    /// client received, and the error that ended it early, if any.
    async fn splice_to_client(
        upstream: Upstream,
        max: usize,
    ) -> (Vec<u8>, Option<io::Error>, Option<Pipe>) {
        let (mut client, mut reader) = socket_pair().await;
        let received = tokio::spawn(async move {
            let mut received = Vec::new();
            reader.read_to_end(&mut received).await.unwrap();
            received
        });
        let mut splice = Splice::new(upstream, Pipe::new().unwrap());
        let mut failure = None;
        while !splice.is_done() {
            let sent =
                std::future::poll_fn(|context| splice.poll_send(context, &mut client, max)).await;
            match sent {
                Ok(sent) => assert!(sent > 0 && sent <= max),
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            }
        }
        let pipe = failure.is_none().then(|| splice.finish());
        drop(client);
        (received.await.unwrap(), failure, pipe)
    }

    #[tokio::test]
    async fn a_body_goes_socket_to_socket_after_its_prefix_and_the_pipe_is_reused() {
        let body = pattern(3 * 1024 * 1024 + 17);
        let (upstream_body, mut returned) = upstream(&body, 4096, body.len()).await;
        let (received, failure, pipe) = splice_to_client(upstream_body, 256 * 1024).await;
        assert!(failure.is_none(), "{failure:?}");
        assert_eq!(received.len(), body.len());
        assert!(received == body, "the same bytes in the same order");
        assert!(returned.try_recv().is_ok(), "the connection went back");

        // The next body on the same pipe, in steps smaller than a page.
        let pipe = pipe.expect("an empty pipe after a finished splice");
        assert_eq!(pipe.held, 0);
        let small = pattern(100_000);
        let (upstream_body, _returned) = upstream(&small, 0, small.len()).await;
        let (client, mut reader) = socket_pair().await;
        let mut client = client;
        let mut splice = Splice::new(upstream_body, pipe);
        while !splice.is_done() {
            std::future::poll_fn(|context| splice.poll_send(context, &mut client, 3000))
                .await
                .unwrap();
        }
        drop(client);
        let mut received = Vec::new();
        reader.read_to_end(&mut received).await.unwrap();
        assert!(received == small);
    }

    #[tokio::test]
    async fn a_body_on_a_unix_socket_goes_to_the_client_socket_whole() {
        use tokio::io::AsyncWriteExt;
        let body = pattern(2 * 1024 * 1024 + 5);
        let (near, mut far) = tokio::net::UnixStream::pair().unwrap();
        let sent = body[100..].to_vec();
        tokio::spawn(async move { far.write_all(&sent).await.unwrap() });
        let (returned, mut given_back) = tokio::sync::oneshot::channel();
        let upstream = Upstream::new(
            near,
            bytes::Bytes::copy_from_slice(&body[..100]),
            (body.len() - 100) as u64,
            Some(Box::new(move |socket| {
                let _ = returned.send(socket);
            })),
        );
        let (received, failure, _) = splice_to_client(upstream, 256 * 1024).await;
        assert!(failure.is_none(), "{failure:?}");
        assert!(received == body, "the same bytes in the same order");
        assert!(matches!(
            given_back.try_recv(),
            Ok(crate::relay::Socket::Unix(_))
        ));
    }

    #[tokio::test]
    async fn a_store_that_closes_mid_body_ends_the_splice_with_an_error() {
        let body = pattern(2 * 1024 * 1024);
        let (upstream_body, mut returned) = upstream(&body, 100, 1024 * 1024).await;
        let (received, failure, _) = splice_to_client(upstream_body, 1 << 20).await;
        let failure = failure.expect("the body was cut short");
        assert_eq!(failure.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(received.len(), 1024 * 1024, "what arrived went on");
        assert!(received == body[..1024 * 1024]);
        assert!(returned.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_store_that_stops_sending_mid_body_ends_the_splice_after_the_stall_limit() {
        let body = pattern(2 * 1024 * 1024);
        let (stalled, _returned) = upstream_holding(&body, 10, 1024 * 1024 + 5, true).await;
        let stalled = stalled.stalled_after(std::time::Duration::from_millis(300));
        let (received, failure, _) = splice_to_client(stalled, 1 << 20).await;
        let failure = failure.expect("the body stalled");
        assert_eq!(failure.kind(), io::ErrorKind::TimedOut, "{failure}");
        assert!(received == body[..1024 * 1024 + 5], "what arrived went on");
    }
}
