//! The SDK's HTTP client for `S3_SOCKET`: every request of the S3 client goes over a Unix
//! socket (a Garage on the same machine with `api_bind_addr` set to a socket path) instead of
//! TCP. Requests are still signed for `S3_ENDPOINT`'s host; only where the bytes go changes.
//! The store is reached at one address, so one pool of kept-alive connections serves all.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use axum::http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::UnixStream;

/// How long an unused connection is kept (Garage closes its own after a while too).
const IDLE_FOR: Duration = Duration::from_secs(30);

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
            match tokio::time::timeout(timeout, UnixStream::connect(&*path)).await {
                Ok(connected) => connected
                    .map(TokioIo::new)
                    .map_err(|error| io::Error::new(error.kind(), socket_error(&path, &error))),
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

fn socket_error(path: &std::path::Path, error: &io::Error) -> String {
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
            // Connecting and sending are I/O: the SDK retries them and reports them as such
            // (a store that is down is a 503, as over TCP).
            let response = response
                .await
                .map_err(|error| ConnectorError::io(error.into()))?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
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
