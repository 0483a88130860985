//! Deadlines for connections that hold a descriptor without doing anything.
//!
//! hyper's own header-read timeout also runs while a kept-alive connection waits for its next
//! request, so it cannot tell "slow headers" from "idle keep-alive". This watchdog can: the
//! connection's reads and writes and its requests' lifetimes mark its [`Activity`], and
//! [`expired`] resolves when a deadline passes, which drops (closes) the connection.
//!
//! - No request in flight and bytes of a request head arrived: the head must complete within
//!   the header timeout of its first byte. A new connection counts as waiting for headers from
//!   the moment it opened.
//! - No request in flight and nothing arrived since the last response: the connection is idle
//!   and closes after the keep-alive limit.
//! - A request in flight (a slow upload, a long download) is never cut here: the request
//!   timeout and the upload idle timeout own those. Neither is a response whose body hyper
//!   has read to its end but not yet written out (its last frames wait in hyper's buffer for
//!   a slow client): every byte handed to the socket counts as activity, so the idle limit
//!   runs from the last one. (What the kernel still holds for the client after that is not
//!   watched here; `SEND_TIMEOUT_SECS` bounds a client that takes none of it.) A body spliced
//!   from a store ([`super::relay`]) stays in flight until its last byte left, as the
//!   placeholder frames standing for it end long before.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::ConnectionLimits;

/// What one connection is doing, shared by its socket, its requests and its watchdog.
pub struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    served_any: AtomicBool,
    /// Milliseconds after `opened` when the connection last became idle.
    idle_since: AtomicU64,
    /// One more than the milliseconds after `opened` when a request head began arriving on
    /// an idle connection; 0 when none has.
    head_started: AtomicU64,
}

impl Activity {
    pub fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served_any: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn bytes_arrived(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self.head_started.compare_exchange(
                0,
                self.now() + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    /// Bytes of a response left: after the last request finished, the idle time counts from
    /// the last byte written, not from when hyper read the end of the body.
    fn bytes_sent(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            self.idle_since.store(self.now(), Ordering::Release);
        }
    }

    /// A request's head was read; the returned guard marks it in flight until its response
    /// body is done (or dropped).
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.head_started.store(0, Ordering::Release);
        self.busy()
    }

    fn busy(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }
}

/// A request of the connection in flight (or a body still being spliced after its request
/// ended, [`InFlight::keep_busy`]); dropping it makes the connection idle again.
pub struct InFlight(Arc<Activity>);

impl InFlight {
    /// A second guard on the same connection, for work that outlives the request (a body
    /// still being spliced after hyper has read its placeholder frames): the connection stays
    /// busy until both are dropped.
    pub fn keep_busy(&self) -> InFlight {
        self.0.busy()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.served_any.store(true, Ordering::Release);
        activity.idle_since.store(activity.now(), Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resolves with the reason once one of the connection's deadlines has passed.
pub async fn expired(activity: &Activity, limits: ConnectionLimits) -> &'static str {
    let header = millis(limits.header_read_timeout);
    let idle = millis(limits.keepalive_idle);
    let tick = (limits.header_read_timeout.min(limits.keepalive_idle) / 8)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if activity.in_flight.load(Ordering::Acquire) > 0 {
            continue;
        }
        let now = activity.now();
        let head_started = activity.head_started.load(Ordering::Acquire);
        let idle_since = activity.idle_since.load(Ordering::Acquire);
        if head_started != 0 {
            if now.saturating_sub(head_started - 1) >= header {
                return "header_timeout";
            }
        } else if !activity.served_any.load(Ordering::Acquire) {
            if now.saturating_sub(idle_since) >= header {
                return "header_timeout";
            }
        } else if now.saturating_sub(idle_since) >= idle {
            return "keepalive_idle";
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The socket, noting every read and write in the connection's [`Activity`].
pub struct WatchedIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> WatchedIo<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }

    /// Bytes that left restart the idle time of a connection whose request has ended.
    fn note_sent(&self, result: &Poll<io::Result<usize>>) {
        if matches!(result, Poll::Ready(Ok(1..))) {
            self.activity.bytes_sent();
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buffer.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(context, buffer);
        if matches!(result, Poll::Ready(Ok(()))) && buffer.filled().len() > before {
            self.activity.bytes_arrived();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(context, buffer);
        self.note_sent(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(context, buffers);
        self.note_sent(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }
}

/// A response body that keeps its request in flight until it is done.
pub struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl TrackedBody {
    pub fn new(body: Body, in_flight: InFlight) -> Self {
        Self {
            body,
            _in_flight: in_flight,
        }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn the_idle_limit_counts_from_the_last_byte_of_a_response_written() {
        let limits = ConnectionLimits::idle_after(Duration::from_millis(500));
        let activity = Arc::new(Activity::new());
        // hyper has read the response body to its end; its last bytes are still buffered.
        drop(activity.request_started());
        let (ours, mut client) = tokio::io::duplex(64);
        let mut socket = WatchedIo::new(ours, activity.clone());
        let watchdog = expired(&activity, limits);
        tokio::pin!(watchdog);
        // A slow client takes them 100 ms apart, for 1.5 s (three times the limit).
        let mut last_write = Instant::now();
        for _ in 0..15 {
            tokio::select! {
                reason = &mut watchdog => panic!("closed ({reason}) while the response went out"),
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            last_write = Instant::now();
            socket.write_all(&[b'x'; 32]).await.unwrap();
            client.read_exact(&mut [0; 32]).await.unwrap();
        }
        let reason = tokio::time::timeout(Duration::from_secs(3), &mut watchdog).await;
        assert_eq!(reason, Ok("keepalive_idle"));
        // The activity keeps whole milliseconds.
        let idle = last_write.elapsed();
        assert!(
            idle + Duration::from_millis(2) >= limits.keepalive_idle,
            "closed {idle:?} after the last byte"
        );
    }
}
