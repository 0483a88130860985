//! The connection loop: accepts TCP connections and serves the router on each, with the
//! protections `axum::serve` does not offer.
//!
//! - `TCP_NODELAY` on every accepted socket: a small response is written as headers and body
//!   in separate writes, and with Nagle's algorithm on, the body waits for the client's delayed
//!   ACK (~40 ms per response on a kept-alive connection).
//! - A connection cap (`MAX_CONNECTIONS`): past it, a new connection gets a short 503 in the
//!   error envelope and is closed, so descriptors stay free for the stores and for the
//!   connections already open (health probes on them, requests in flight).
//! - Deadlines for connections that hold a descriptor without doing anything: request headers
//!   that do not complete within `HEADER_READ_TIMEOUT_SECS`, and kept-alive connections idle
//!   longer than `KEEPALIVE_IDLE_SECS` (see [`watchdog`]).
//! - A client that stops reading: on Linux the listening socket has `TCP_USER_TIMEOUT` set to
//!   `SEND_TIMEOUT_SECS`, which every accepted socket inherits, so the kernel closes a
//!   connection whose client acknowledges no data and opens no receive window for that long
//!   (Linux 5.11 and later count a window kept shut; a response it never reads would otherwise
//!   hold its connection for good, as a request in flight is never cut by the watchdog). It
//!   bounds a stall, not the whole response: a slow client that keeps reading is never cut.
//!   The abort sends nothing; the client learns of it when it next reads or sends.
//! - Graceful shutdown: once the stop signal fires, no connection is accepted, idle ones close
//!   at once and those with a request in flight close after its response.
//! - A body still on an S3 connection (`crate::relay`) is sent from socket to socket on HTTP/1
//!   connections (see [`relay`]) instead of being read through hyper.

mod refuse;
mod relay;
mod watchdog;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use self::relay::{Relay, RelayIo};
use self::watchdog::{Activity, TrackedBody, WatchedIo};

/// How long and how many client connections may be held.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A request's headers must be complete this long after its first byte (or after the
    /// connection opened, for the first request).
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request for this long is closed.
    pub keepalive_idle: Duration,
    /// A connection whose client takes none of the bytes sent to it for this long is closed.
    pub send_timeout: Duration,
    /// Client connections open at once; the next one is refused with a 503.
    pub max_connections: usize,
}

#[cfg(test)]
impl ConnectionLimits {
    /// Limits for a test of the keep-alive watchdog: idle after `keepalive_idle`, the others
    /// out of the way.
    pub(crate) fn idle_after(keepalive_idle: Duration) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            keepalive_idle,
            send_timeout: Duration::from_secs(60),
            max_connections: 1,
        }
    }
}

/// Serves `router` on `listener` until `stop` resolves, then drains: returns once every
/// connection has closed. The caller bounds the drain with its own deadline.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    limit_send_stalls(&listener, limits.send_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(Builder::new(TokioExecutor::new()));
    // Every connection task, so the drain ends only once each has finished and dropped what
    // it held (the router, and with it the stores): a restart on the same DATA_DIR then finds
    // its lock free.
    let tasks = tokio_util::task::TaskTracker::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.as_mut() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, most likely: wait instead of spinning on the error.
                    tracing::warn!(error = %error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Small responses would otherwise wait for the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse::too_many_connections(stream);
            continue;
        };
        let activity = Arc::new(Activity::new());
        let relay = Relay::default();
        let connection = builder
            .serve_connection_with_upgrades(
                TokioIo::new(WatchedIo::new(
                    RelayIo::new(stream, relay.clone()),
                    activity.clone(),
                )),
                hyper::service::service_fn(request_handler(
                    router.clone(),
                    peer,
                    activity.clone(),
                    relay,
                )),
            )
            .into_owned();
        let connection = graceful.watch(connection);
        tasks.spawn(async move {
            metrics::gauge!("quillstore_http_open_connections").increment(1.0);
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        if timed_out(&*error) {
                            metrics::counter!(
                                "quillstore_http_connections_closed_total",
                                "reason" => "send_timeout"
                            )
                            .increment(1);
                        }
                        tracing::debug!(error = %error, "connection ended with an error");
                    }
                }
                reason = watchdog::expired(&activity, limits) => {
                    metrics::counter!("quillstore_http_connections_closed_total", "reason" => reason)
                        .increment(1);
                }
            }
            metrics::gauge!("quillstore_http_open_connections").decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    tasks.close();
    tasks.wait().await;
}

/// Has the kernel close every connection `listener` accepts once its client takes none of the
/// bytes sent to it for `limit` (`TCP_USER_TIMEOUT`: unacknowledged data, or a receive window
/// kept shut). Set once on the listener: accepted sockets are cloned from it, option included.
#[cfg(target_os = "linux")]
fn limit_send_stalls(listener: &TcpListener, limit: Duration) {
    let millis = u32::try_from(limit.as_millis()).unwrap_or(u32::MAX);
    if let Err(error) = rustix::net::sockopt::set_tcp_user_timeout(listener, millis) {
        tracing::warn!(
            error = %error,
            "TCP_USER_TIMEOUT not set: a client that stops reading keeps its connection"
        );
    }
}

/// Not on this system: a client that stops reading holds its connection until it goes.
#[cfg(not(target_os = "linux"))]
fn limit_send_stalls(_listener: &TcpListener, _limit: Duration) {}

/// Whether a connection ended because the kernel gave up on its client (`TCP_USER_TIMEOUT`:
/// its writes fail with `ETIMEDOUT`).
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |error| error.source()).any(|error| {
        error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|error| error.kind() == std::io::ErrorKind::TimedOut)
    })
}

/// What the per-connection service answers with.
type ResponseFuture = std::pin::Pin<
    Box<dyn Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send>,
>;

/// The per-connection service: the router with the peer address as `ConnectInfo`, an
/// upstream body a response offers spliced on HTTP/1 (`relay`), and each response body
/// tracked so the watchdog knows when the connection is idle again.
fn request_handler(
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    relay: Relay,
) -> impl Fn(hyper::Request<Incoming>) -> ResponseFuture + Clone {
    move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let relay = relay.clone();
        let in_flight = activity.request_started();
        Box::pin(async move {
            let http1 = matches!(
                request.version(),
                hyper::Version::HTTP_10 | hyper::Version::HTTP_11
            );
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut response = router.oneshot(request).await?;
            if http1 {
                relay.arm(&mut response, &in_flight);
            }
            Ok(response.map(|body| Body::new(TrackedBody::new(body, in_flight))))
        })
    }
}
