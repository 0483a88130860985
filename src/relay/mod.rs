//! A response body still on an upstream HTTP connection, on its way to a client.
//!
//! An [`Upstream`] is the rest of an HTTP/1.1 response body on a plain TCP or Unix-socket
//! connection ([`Socket`]; an S3 GET that `blob::s3::plain` sent itself): the body bytes that
//! arrived with the head, then `remaining` bytes still on the socket. Read as a [`Stream`] it
//! copies through user space like any other body (image variants, exports and copies read it
//! so). A download offers it with
//! its response ([`offer`]); the server may then take it before the body is read and pass it
//! from socket to socket with splice(2) on Linux ([`splice`], `http::server::relay`), so the
//! bytes never enter quillstore's memory. Once the whole body is read, the connection goes
//! back to whoever lent it (its pool); a body left unread closes it.

mod socket;
#[cfg(target_os = "linux")]
pub mod splice;

pub use socket::Socket;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::Stream;

/// Bytes read from the socket at most per chunk of a copied body.
const CHUNK: usize = 256 * 1024;

/// How long the store may send nothing while quillstore waits for more of the body, before
/// the body fails (as the SDK's stalled-stream protection does for its downloads): a store
/// that hangs mid-body ends the download instead of holding it, and both connections, open.
pub const STALLED_AFTER: Duration = Duration::from_secs(20);

/// Takes a connection back once its body has been read to the end.
pub type GiveBack = Box<dyn FnOnce(Socket) + Send + Sync>;

/// The rest of a response body on its connection.
pub struct Upstream {
    /// `None` once given back.
    socket: Option<Socket>,
    /// Body bytes read together with the head, not sent yet.
    prefix: Bytes,
    /// Body bytes still on the socket.
    remaining: u64,
    buffer: BytesMut,
    /// `None`: the connection is closed after the body (the server said so).
    give_back: Option<GiveBack>,
    stall: Stall,
}

/// The deadline of a wait for the store: armed when a read finds nothing, disarmed by the
/// next byte (time the client takes to accept bytes does not count).
struct Stall {
    limit: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    armed: bool,
}

impl Stall {
    fn progressed(&mut self) {
        self.armed = false;
    }

    /// The socket had nothing to read: an error once it has had nothing for `limit`.
    fn poll_expired(&mut self, context: &mut Context<'_>) -> io::Result<()> {
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if !self.armed {
            self.armed = true;
            timer
                .as_mut()
                .reset(tokio::time::Instant::now() + self.limit);
        }
        match timer.as_mut().poll(context) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the store sent nothing of the body for {} ms",
                    limit.as_millis()
                ),
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl Upstream {
    pub fn new(
        socket: impl Into<Socket>,
        prefix: Bytes,
        remaining: u64,
        give_back: Option<GiveBack>,
    ) -> Self {
        Self {
            socket: Some(socket.into()),
            prefix,
            remaining,
            buffer: BytesMut::new(),
            give_back,
            stall: Stall {
                limit: STALLED_AFTER,
                timer: None,
                armed: false,
            },
        }
    }

    /// Another limit than [`STALLED_AFTER`] for waits for the store.
    #[cfg(test)]
    pub(crate) fn stalled_after(mut self, limit: Duration) -> Self {
        self.stall.limit = limit;
        self
    }

    /// Body bytes not sent or read yet.
    pub fn length(&self) -> u64 {
        self.prefix.len() as u64 + self.remaining
    }

    /// Gives the connection back once the whole body is out.
    fn release_if_done(&mut self) {
        if self.length() == 0
            && let (Some(socket), Some(give_back)) = (self.socket.take(), self.give_back.take())
        {
            give_back(socket);
        }
    }
}

impl Stream for Upstream {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let chunk = std::mem::take(&mut this.prefix);
            this.release_if_done();
            return Poll::Ready(Some(Ok(chunk)));
        }
        if this.remaining == 0 {
            this.release_if_done();
            return Poll::Ready(None);
        }
        let Some(socket) = this.socket.as_mut() else {
            return Poll::Ready(None);
        };
        let want = usize::try_from(this.remaining).map_or(CHUNK, |left| left.min(CHUNK));
        if this.buffer.capacity() < want {
            this.buffer.reserve(CHUNK);
        }
        let read = tokio_util::io::poll_read_buf(
            Pin::new(socket),
            context,
            &mut (&mut this.buffer).limit(want),
        );
        let Poll::Ready(read) = read else {
            if let Err(error) = this.stall.poll_expired(context) {
                return Poll::Ready(Some(Err(error)));
            }
            return Poll::Pending;
        };
        Poll::Ready(Some(match read {
            Ok(0) => Err(cut_short(this.remaining)),
            Ok(read) => {
                this.stall.progressed();
                this.remaining -= read as u64;
                let chunk = this.buffer.split().freeze();
                this.release_if_done();
                Ok(chunk)
            }
            Err(error) => Err(error),
        }))
    }
}

fn cut_short(remaining: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the store closed the connection with {remaining} bytes of the body unsent"),
    )
}

/// An upstream offered with a response (a response extension): the server may take it before
/// the body is first read; otherwise the body reads it.
#[derive(Clone)]
pub struct Offered(Arc<Mutex<Option<Upstream>>>);

impl Offered {
    /// The upstream, unless the body has started reading it.
    pub fn take(&self) -> Option<Upstream> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Returns an upstream taken but not used, for the body to read.
    pub fn put_back(&self, upstream: Upstream) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(upstream);
    }
}

/// The body of a response carrying `upstream`, and the handle that lets the server take it
/// instead (see the module documentation).
pub fn offer(upstream: Upstream) -> (Offered, OfferedBody) {
    let offered = Offered(Arc::new(Mutex::new(Some(upstream))));
    let body = OfferedBody {
        offered: Some(offered.clone()),
        upstream: None,
    };
    (offered, body)
}

/// Reads the offered upstream, taken from the offer on the first poll.
pub struct OfferedBody {
    offered: Option<Offered>,
    upstream: Option<Upstream>,
}

impl Stream for OfferedBody {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(offered) = this.offered.take() {
            this.upstream = offered.take();
            if this.upstream.is_none() {
                // Only a server that sends the body itself takes it, and it then drops this one.
                return Poll::Ready(Some(Err(io::Error::other(
                    "the body was taken to be sent by the server",
                ))));
            }
            count("copy");
        }
        match this.upstream.as_mut() {
            Some(upstream) => Pin::new(upstream).poll_next(context),
            None => Poll::Ready(None),
        }
    }
}

/// Counts an offered body by how it reached the client: `splice` (socket to socket) or
/// `copy` (read through quillstore).
pub fn count(how: &'static str) {
    metrics::counter!("quillstore_relay_bodies_total", "how" => how).increment(1);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::oneshot;

    /// `length` bytes that differ from their neighbours and repeat with no short period.
    pub(crate) fn pattern(length: usize) -> Vec<u8> {
        (0..length as u64)
            .map(|at| (at.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    /// A connected pair of loopback sockets: (ours, the far end).
    pub(crate) async fn socket_pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let near = TcpStream::connect(listener.local_addr().unwrap());
        let (near, far) = tokio::join!(near, listener.accept());
        (near.unwrap(), far.unwrap().0)
    }

    /// An upstream whose far end sends `body[prefix..sent]` and then closes, or stays open when
    /// `sent` is the whole body or `hold` is set; the give-back reports the returned socket.
    pub(crate) async fn upstream_holding(
        body: &[u8],
        prefix: usize,
        sent: usize,
        hold: bool,
    ) -> (Upstream, oneshot::Receiver<Socket>) {
        let (near, mut far) = socket_pair().await;
        let rest = body[prefix..sent].to_vec();
        let hold = hold || sent == body.len();
        tokio::spawn(async move {
            far.write_all(&rest).await.unwrap();
            if hold {
                // Keep the connection open, as a server keeping it alive would.
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            }
        });
        let (returned, receiver) = oneshot::channel();
        let give_back: GiveBack = Box::new(move |socket| {
            let _ = returned.send(socket);
        });
        let upstream = Upstream::new(
            near,
            Bytes::copy_from_slice(&body[..prefix]),
            (body.len() - prefix) as u64,
            Some(give_back),
        );
        (upstream, receiver)
    }

    /// Reads `body` until it fails: the bytes read before, and the error.
    async fn read_until_error(body: &mut Upstream) -> (usize, io::Error) {
        let mut read = 0;
        loop {
            match body.next().await.expect("an error before the end") {
                Ok(chunk) => read += chunk.len(),
                Err(error) => return (read, error),
            }
        }
    }

    pub(crate) async fn upstream(
        body: &[u8],
        prefix: usize,
        sent: usize,
    ) -> (Upstream, oneshot::Receiver<Socket>) {
        upstream_holding(body, prefix, sent, false).await
    }

    #[tokio::test]
    async fn a_store_that_stops_sending_mid_body_fails_it_after_the_stall_limit() {
        let body = pattern(1_000_000);
        let (stalled, _returned) = upstream_holding(&body, 0, 600_000, true).await;
        let mut stalled = stalled.stalled_after(std::time::Duration::from_millis(300));
        let started = std::time::Instant::now();
        let (read, error) = read_until_error(&mut stalled).await;
        assert_eq!(read, 600_000, "everything sent was passed on");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{error}");
        assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    }

    #[tokio::test]
    async fn a_body_read_as_a_stream_is_whole_and_its_connection_goes_back() {
        let body = pattern(700_000);
        let (read, mut returned) = upstream(&body, 1000, body.len()).await;
        assert_eq!(read.length(), 700_000);
        let chunks: Vec<Bytes> = read.map(Result::unwrap).collect().await;
        assert!(chunks.iter().all(|chunk| chunk.len() <= CHUNK));
        assert!(chunks.concat() == body);
        assert!(
            returned.try_recv().is_ok(),
            "given back once read to the end"
        );
    }

    #[tokio::test]
    async fn a_body_cut_short_is_an_error_and_its_connection_is_not_given_back() {
        let body = pattern(300_000);
        let (mut cut, mut returned) = upstream(&body, 10, 200_000).await;
        let (read, error) = read_until_error(&mut cut).await;
        assert_eq!(read, 200_000);
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(error.to_string().contains("100000 bytes"), "{error}");
        drop(cut);
        assert!(
            returned.try_recv().is_err(),
            "a connection mid-body is closed"
        );
    }

    #[tokio::test]
    async fn an_offered_body_is_read_unless_taken_and_taken_only_once() {
        let body = pattern(5000);
        let (first, _returned) = upstream(&body, 5000, body.len()).await;
        let (offered, read) = offer(first);
        let taken = offered.take().expect("not read yet");
        assert!(offered.take().is_none(), "taken once");
        offered.put_back(taken);
        let chunks: Vec<Bytes> = read.map(Result::unwrap).collect().await;
        assert!(chunks.concat() == body, "put back: the body reads it");
        assert!(offered.take().is_none(), "read: nothing left to take");

        let (second, _returned) = upstream(&body, 0, body.len()).await;
        let (offered, mut read) = offer(second);
        let _taken = offered.take().unwrap();
        let error = read.next().await.unwrap().unwrap_err();
        assert!(error.to_string().contains("taken"), "{error}");
    }
}
