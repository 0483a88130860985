//! The SDK's HTTP client for `S3_SOCKET`: every request of the S3 client goes over a Unix
//! socket (a Garage on the same machine with `api_bind_addr` set to a socket path) instead of
//! TCP. Requests are still signed for `S3_ENDPOINT`'s host; only where the bytes go changes.
//! The store is reached at one address, so one pool of kept-alive connections serves all.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use axum::http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::UnixStream;

/// How long an unused connection is kept (Garage closes its own after a while too).
const IDLE_FOR: Duration = Duration::from_secs(30);

/// The longest pause between tries of a connect that found the store's listen queue full:
/// pauses of 1, 2, 4, 8 and 16 ms, about 30 ms in all.
const LAST_PAUSE: Duration = Duration::from_millis(16);

/// Connects to the socket at `path`; an error names `S3_SOCKET`. A full listen queue (on
/// Linux `EAGAIN`: connections come faster than the store accepts them) is tried again for
/// about 30 ms, a burst's worth, and is an error after that: a store that takes none of its
/// waiting connections for that long is more likely stuck than busy, and the request gets a
/// fast 503 rather than waiting out `S3_TIMEOUT_MS` (the SDK then retries as after any I/O
/// error).
pub(super) async fn connect(path: &Path) -> io::Result<UnixStream> {
    connect_when_queue_frees(path)
        .await
        .map_err(|error| io::Error::new(error.kind(), socket_error(path, &error)))
}

async fn connect_when_queue_frees(path: &Path) -> io::Result<UnixStream> {
    let mut pause = Duration::from_millis(1);
    loop {
        match UnixStream::connect(path).await {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                if pause > LAST_PAUSE {
                    // The pauses so far: 1 ms, doubled up to the last one.
                    let waited = 2 * LAST_PAUSE - Duration::from_millis(1);
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "its listen queue stayed full for {} ms (the store took none of \
                             the connections waiting in it)",
                            waited.as_millis()
                        ),
                    ));
                }
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            connected => return connected,
        }
    }
}

/// Opens connections to the socket, whatever the URI says.
#[derive(Clone)]
struct Connect {
    path: Arc<PathBuf>,
    timeout: Duration,
}

impl tower::Service<Uri> for Connect {
    type Response = TokioIo<UnixStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let (path, timeout) = (self.path.clone(), self.timeout);
        Box::pin(async move {
            match tokio::time::timeout(timeout, connect(&path)).await {
                Ok(connected) => connected.map(TokioIo::new),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "S3_SOCKET={}: no connection within {} ms",
                        path.display(),
                        timeout.as_millis()
                    ),
                )),
            }
        })
    }
}

fn socket_error(path: &Path, error: &io::Error) -> String {
    format!("S3_SOCKET={}: {error}", path.display())
}

/// Sends the SDK's requests on the pooled connections.
struct UnixConnector {
    client: Client<Connect, SdkBody>,
    path: Arc<PathBuf>,
}

impl fmt::Debug for UnixConnector {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("UnixConnector")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl HttpConnector for UnixConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        let response = self.client.request(request);
        HttpConnectorFuture::new(async move {
            let response = response.await.map_err(connector_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// What the SDK makes of a failed exchange, classified as its own TCP connector does: a
/// timeout, a request it cannot send (not retried), I/O (retried; a store that is down is a
/// 503, as over TCP), an answer cut short (retried), or anything else.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    type Make = fn(BoxError) -> ConnectorError;
    let timed_out =
        source::<io::Error>(&error).is_some_and(|io| io.kind() == io::ErrorKind::TimedOut);
    let make: Make = match source::<hyper::Error>(&error) {
        _ if timed_out => ConnectorError::timeout,
        Some(hyper) if hyper.is_timeout() => ConnectorError::timeout,
        Some(hyper) if hyper.is_user() => ConnectorError::user,
        Some(hyper) if hyper.is_incomplete_message() => {
            |error| ConnectorError::other(error, Some(ErrorKind::TransientError))
        }
        Some(hyper) if hyper.is_closed() || hyper.is_canceled() => ConnectorError::io,
        _ if error.is_connect() || source::<io::Error>(&error).is_some() => ConnectorError::io,
        _ => |error| ConnectorError::other(error, None),
    };
    make(error.into())
}

/// The first error of type `E` in the chain of `error`.
fn source<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    std::iter::successors(Some(error), |error| error.source())
        .find_map(|error| error.downcast_ref::<E>())
}

/// The HTTP client of an S3 client whose every request goes to the socket at `path`;
/// connecting is bounded by `connect_timeout`.
pub(super) fn http_client(path: PathBuf, connect_timeout: Duration) -> SharedHttpClient {
    let path = Arc::new(path);
    let client = Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(IDLE_FOR)
        .build(Connect {
            path: path.clone(),
            timeout: connect_timeout,
        });
    let connector = SharedHttpConnector::new(UnixConnector { client, path });
    http_client_fn(move |_settings, _components| connector.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    /// A GET through a connector to the socket at `path`; its error.
    async fn failed_get(path: PathBuf) -> ConnectorError {
        let client = Client::builder(TokioExecutor::new()).build(Connect {
            path: Arc::new(path.clone()),
            timeout: Duration::from_secs(5),
        });
        let connector = UnixConnector {
            client,
            path: Arc::new(path),
        };
        connector
            .call(HttpRequest::get("http://localhost/bucket/key").unwrap())
            .await
            .expect_err("no answer")
    }

    /// A server on a socket in `dir` that reads each request and answers `answer` (nothing:
    /// closes at once).
    fn server(dir: &std::path::Path, answer: &'static [u8]) -> PathBuf {
        let path = dir.join(format!("s3-{}.sock", answer.len()));
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(answer).await;
            }
        });
        path
    }

    /// A listener on `path` with a queue of one pending connection, and the connections that
    /// fill its queue (kept: closing them would free it).
    #[cfg(target_os = "linux")]
    async fn full_listener(path: &Path) -> (UnixListener, Vec<UnixStream>) {
        use socket2::{Domain, SockAddr, Socket, Type};
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        socket.bind(&SockAddr::unix(path).unwrap()).unwrap();
        socket.listen(1).unwrap();
        socket.set_nonblocking(true).unwrap();
        let listener = UnixListener::from_std(std::os::unix::net::UnixListener::from(
            std::os::fd::OwnedFd::from(socket),
        ))
        .unwrap();
        let mut pending = Vec::new();
        while pending.len() < 100 {
            match UnixStream::connect(path).await {
                Ok(socket) => pending.push(socket),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return (listener, pending);
                }
                Err(error) => panic!("{error}"),
            }
        }
        panic!("100 connections and the queue of one is not full");
    }

    /// Linux refuses a connect to a full queue with `EAGAIN`; other systems differ.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_full_listen_queue_is_tried_again_briefly_then_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.sock");
        let (listener, _pending) = full_listener(&path).await;
        let refused = UnixStream::connect(&path)
            .await
            .expect_err("the queue is full");
        assert_eq!(refused.kind(), io::ErrorKind::WouldBlock, "{refused}");

        // A slot frees while connect waits: it connects.
        let waiting = tokio::spawn({
            let path = path.clone();
            async move { connect(&path).await }
        });
        tokio::time::sleep(Duration::from_millis(4)).await;
        let (_accepted, _) = listener.accept().await.unwrap();
        // Kept: it fills the queue again.
        let _second = waiting
            .await
            .unwrap()
            .expect("connected once the store accepted one");

        // Nothing is accepted: an error after the last pause, not a wait for the timeout.
        let started = std::time::Instant::now();
        let error = connect(&path).await.expect_err("the queue stays full");
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        assert!(error.to_string().contains("listen queue"), "{error}");
        assert!(error.to_string().contains("S3_SOCKET="), "{error}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(31) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn failures_are_classified_as_the_sdk_classifies_them_over_tcp() {
        let dir = tempfile::tempdir().unwrap();
        let missing = failed_get(dir.path().join("nothing-here.sock")).await;
        assert!(missing.is_io(), "no store: I/O, retried ({missing:?})");
        let mut chain = std::iter::successors(
            Some(&missing as &(dyn std::error::Error + 'static)),
            |error| error.source(),
        );
        assert!(
            chain.any(|error| error.to_string().contains("S3_SOCKET=")),
            "the error names the setting: {missing:?}"
        );

        let closed = failed_get(server(dir.path(), b"")).await;
        assert!(
            closed.is_io() || closed.as_other() == Some(ErrorKind::TransientError),
            "closed before an answer: retried ({closed:?})"
        );

        let garbage = failed_get(server(dir.path(), b"SSH-2.0-OpenSSH\r\n\r\n")).await;
        assert!(
            garbage.is_other() && garbage.as_other().is_none(),
            "not HTTP: not retried as transient ({garbage:?})"
        );
    }
}
