//! The client socket of a connection, able to send an upstream body with splice(2) (see
//! `crate::relay`).
//!
//! hyper writes a response as its head, then the body's frames, each handed to the socket as
//! it is: with a socket that writes vectored, hyper queues frames and copies none of them. A
//! response whose upstream the server took ([`Relay::arm`]) gets, in place of its bytes,
//! frames that point into [`PLACEHOLDER`], a static buffer that is never sent. The socket
//! below recognises them by address and sends that many bytes of the upstream body in their
//! place, from socket to socket. hyper still counts the body against `Content-Length`, and
//! keeps or closes the connection as for any other response.
//!
//! Taken only on HTTP/1 connections (an HTTP/2 connection multiplexes bodies into frames of
//! its own), for a body of the promised length, and one body at a time per connection (a
//! response that comes while another is still being spliced is read and copied).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::watchdog::InFlight;
#[cfg(target_os = "linux")]
use crate::relay::splice::{Pipe, Splice};

/// Bytes one placeholder frame stands for at most.
const PLACEHOLDER_BYTES: usize = 256 * 1024;

/// What placeholder frames point into. Never written to a socket: see the module documentation.
static PLACEHOLDER: [u8; PLACEHOLDER_BYTES] = [0; PLACEHOLDER_BYTES];

/// Whether `bytes` lie in [`PLACEHOLDER`] (hyper may have sent the start of a frame already).
fn is_placeholder(bytes: &[u8]) -> bool {
    let start = PLACEHOLDER.as_ptr().addr();
    let at = bytes.as_ptr().addr();
    !bytes.is_empty() && at >= start && at < start + PLACEHOLDER_BYTES
}

/// The splice state of one connection, shared by its socket and its request handler.
#[derive(Clone, Default)]
pub struct Relay(Arc<Mutex<State>>);

#[derive(Default)]
struct State {
    /// The body being spliced.
    #[cfg(target_os = "linux")]
    active: Option<Splice>,
    /// Keeps the connection busy for its watchdog while `active` is: the placeholder frames
    /// standing for the body end (and with them the request) before its last byte is sent.
    #[cfg(target_os = "linux")]
    busy: Option<InFlight>,
}

/// Empty pipes of finished splices kept for the next ones, process-wide: a connection holds a
/// pipe (two descriptors, up to 1 MiB of the user's pipe quota) only while it splices.
#[cfg(target_os = "linux")]
static SPARE_PIPES: Mutex<Vec<Pipe>> = Mutex::new(Vec::new());

/// Spare pipes kept at most.
#[cfg(target_os = "linux")]
const MAX_SPARE_PIPES: usize = 16;

#[cfg(target_os = "linux")]
fn spare_pipes() -> std::sync::MutexGuard<'static, Vec<Pipe>> {
    SPARE_PIPES.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Relay {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the upstream `response` offers, if any and if it can be spliced, and gives the
    /// response placeholder frames of the same length instead of its body. A body hyper drops
    /// without reading it (a HEAD request, a status without a body) lets the splice go when it
    /// is dropped ([`Placeholders`]); an empty one is not armed at all. The splice keeps the
    /// connection busy for its watchdog (a guard taken from `request`'s) until it ends.
    #[cfg(target_os = "linux")]
    pub fn arm(&self, response: &mut Response, request: &InFlight) {
        let Some(offered) = response.extensions_mut().remove::<crate::relay::Offered>() else {
            return;
        };
        let length = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        let (Some(length @ 1..), false) = (
            length,
            response.headers().contains_key(header::CONTENT_ENCODING),
        ) else {
            return;
        };
        let mut state = self.state();
        if state.active.is_some() {
            return;
        }
        let Some(upstream) = offered.take() else {
            return;
        };
        if upstream.length() != length {
            offered.put_back(upstream);
            return;
        }
        let spare = spare_pipes().pop();
        let pipe = match spare.map_or_else(Pipe::new, Ok) {
            Ok(pipe) => pipe,
            Err(error) => {
                tracing::warn!(error = %error, "no pipe for splice(2); the body is copied");
                offered.put_back(upstream);
                return;
            }
        };
        state.active = Some(Splice::new(upstream, pipe));
        state.busy = Some(request.keep_busy());
        *response.body_mut() = Body::new(Placeholders {
            left: length,
            started: false,
            relay: self.clone(),
        });
    }

    /// Ends the active splice: a finished one gives its connection back and its pipe to the
    /// spare list; an unfinished one (its body never sent) closes both.
    #[cfg(target_os = "linux")]
    fn retire(state: &mut State) {
        state.busy = None;
        let Some(splice) = state.active.take() else {
            return;
        };
        if splice.is_done() {
            let pipe = splice.finish();
            let mut spare = spare_pipes();
            if spare.len() < MAX_SPARE_PIPES {
                spare.push(pipe);
            }
        }
    }

    /// Not on this system: every body is read and copied.
    #[cfg(not(target_os = "linux"))]
    pub fn arm(&self, _response: &mut Response, _request: &InFlight) {}

    /// Sends up to `max` bytes of the active body to `client`.
    fn poll_send(
        &self,
        context: &mut Context<'_>,
        client: &mut TcpStream,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        #[cfg(target_os = "linux")]
        {
            let mut state = self.state();
            let Some(active) = state.active.as_mut() else {
                return Poll::Ready(Err(unexpected()));
            };
            let sent = active.poll_send(context, client, max);
            if active.is_done() {
                Self::retire(&mut state);
            }
            sent
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (context, client, max);
            Poll::Ready(Err(unexpected()))
        }
    }
}

/// Placeholder bytes reached the socket with no body to send in their place: a bug, and the
/// connection is closed rather than given zeros.
fn unexpected() -> io::Error {
    io::Error::other("placeholder frames with no body to splice")
}

/// The body of an armed response: placeholder frames adding up to its length. Dropped before
/// its first frame was read, it was never going to be written (hyper does not read the body
/// of a HEAD response, say): the splice is let go with it.
struct Placeholders {
    left: u64,
    started: bool,
    relay: Relay,
}

impl Drop for Placeholders {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if !self.started {
            Relay::retire(&mut self.relay.state());
        }
    }
}

impl http_body::Body for Placeholders {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        if !self.started {
            self.started = true;
            crate::relay::count("splice");
        }
        let size = usize::try_from(self.left)
            .map_or(PLACEHOLDER_BYTES, |left| left.min(PLACEHOLDER_BYTES));
        self.left -= size as u64;
        let frame = Bytes::from_static(&PLACEHOLDER[..size]);
        Poll::Ready(Some(Ok(http_body::Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

/// The client socket: writes pass through, except placeholder bytes (see the module docs).
pub struct RelayIo {
    stream: TcpStream,
    relay: Relay,
}

impl RelayIo {
    pub fn new(stream: TcpStream, relay: Relay) -> Self {
        Self { stream, relay }
    }
}

impl AsyncRead for RelayIo {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(context, buffer)
    }
}

impl AsyncWrite for RelayIo {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if is_placeholder(buffer) {
            return this
                .relay
                .poll_send(context, &mut this.stream, buffer.len());
        }
        Pin::new(&mut this.stream).poll_write(context, buffer)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match buffers.iter().position(|buffer| is_placeholder(buffer)) {
            None => Pin::new(&mut this.stream).poll_write_vectored(context, buffers),
            Some(0) => {
                let max = buffers
                    .iter()
                    .take_while(|buffer| is_placeholder(buffer))
                    .map(|buffer| buffer.len())
                    .sum();
                this.relay.poll_send(context, &mut this.stream, max)
            }
            // What comes before the placeholders (the head) goes first, as it is.
            Some(first) => {
                Pin::new(&mut this.stream).poll_write_vectored(context, &buffers[..first])
            }
        }
    }

    /// Always: hyper then queues body frames as they are instead of copying them into one
    /// buffer, which is what lets placeholder frames reach [`RelayIo`] recognisable.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_recognised_by_address_only() {
        assert!(is_placeholder(&PLACEHOLDER[..10]));
        assert!(is_placeholder(&PLACEHOLDER[PLACEHOLDER_BYTES - 1..]));
        assert!(!is_placeholder(&PLACEHOLDER[..0]));
        let zeros = vec![0u8; 10];
        assert!(!is_placeholder(&zeros), "zeros elsewhere are data");
    }

    /// A response of `length` bytes offering an upstream with that body.
    #[cfg(target_os = "linux")]
    async fn offering(length: usize) -> Response {
        let body = crate::relay::tests::pattern(length);
        let (upstream, _returned) = crate::relay::tests::upstream(&body, 0, length).await;
        let (offered, read) = crate::relay::offer(upstream);
        let mut response = Response::new(Body::from_stream(read));
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, length.into());
        response.extensions_mut().insert(offered);
        response
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_body_dropped_unread_lets_its_splice_go_and_one_read_keeps_it() {
        use http_body_util::BodyExt;

        use super::super::watchdog::Activity;

        let activity = Arc::new(Activity::new());
        let request = activity.request_started();
        let relay = Relay::default();
        let mut response = offering(1000).await;
        relay.arm(&mut response, &request);
        assert!(relay.state().active.is_some(), "armed");
        drop(response);
        assert!(relay.state().active.is_none(), "never written: let go");
        assert!(relay.state().busy.is_none(), "and the connection with it");

        let mut response = offering(1000).await;
        relay.arm(&mut response, &request);
        let frame = response.body_mut().frame().await.unwrap().unwrap();
        assert!(is_placeholder(frame.data_ref().unwrap()));
        drop(response);
        assert!(
            relay.state().active.is_some(),
            "a frame was read: hyper writes it, and the socket sends the body"
        );

        let relay = Relay::default();
        let mut response = offering(0).await;
        relay.arm(&mut response, &request);
        assert!(relay.state().active.is_none(), "an empty body is not armed");
    }

    /// hyper reads the placeholder frames of a spliced body at once, which ends its request;
    /// the connection must not look idle to its watchdog until the body itself has gone out.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_spliced_body_keeps_its_connection_busy_until_its_last_byte_left() {
        use std::time::Duration;

        use http_body_util::BodyExt;
        use tokio::io::AsyncReadExt;

        use super::super::ConnectionLimits;
        use super::super::watchdog::{Activity, expired};

        let limits = ConnectionLimits::idle_after(Duration::from_millis(300));
        let activity = Arc::new(Activity::new());
        let in_flight = activity.request_started();
        let relay = Relay::default();
        let mut response = offering(1000).await;
        relay.arm(&mut response, &in_flight);
        while response.body_mut().frame().await.is_some() {}
        drop(response);
        // The request is over as far as hyper is concerned.
        drop(in_flight);

        let watchdog = expired(&activity, limits);
        tokio::pin!(watchdog);
        let waited = tokio::time::timeout(Duration::from_millis(1500), &mut watchdog).await;
        assert!(
            waited.is_err(),
            "closed ({waited:?}) with its body still to be sent"
        );

        let (mut client, mut reader) = crate::relay::tests::socket_pair().await;
        while relay.state().active.is_some() {
            std::future::poll_fn(|context| relay.poll_send(context, &mut client, 1000))
                .await
                .unwrap();
        }
        let mut received = vec![0; 1000];
        reader.read_exact(&mut received).await.unwrap();
        assert_eq!(received, crate::relay::tests::pattern(1000));
        let reason = tokio::time::timeout(Duration::from_secs(3), &mut watchdog).await;
        assert_eq!(reason, Ok("keepalive_idle"), "idle once the body went out");
    }
}
