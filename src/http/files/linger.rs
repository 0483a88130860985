//! Lingering on refused uploads. An upload refused early (413, 429, 415, ...) is answered before
//! the client has sent its body; closing the connection right away makes the client's next
//! write fail, and most clients then lose the answer they had not read yet (RFC 9112 §9.6). So
//! the rest of such a body is read and discarded in the background, for a bounded time and
//! number of bytes, before the connection goes away. Nothing of it is kept.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::{Stream, StreamExt};

/// How long the rest of a refused body is read at most.
const LINGER_TIME: Duration = Duration::from_secs(10);
/// How many bytes of a refused body are read (and dropped) at most.
const LINGER_BYTES: u64 = 64 << 20;

/// Middleware: gives the handler a body that is drained in the background if it is dropped
/// before its end.
pub async fn linger_on_refusal(request: Request, next: Next) -> Response {
    let request = request.map(|body| {
        Body::from_stream(Lingering {
            stream: Some(body.into_data_stream()),
            finished: false,
        })
    });
    next.run(request).await
}

struct Lingering {
    stream: Option<BodyDataStream>,
    finished: bool,
}

impl Stream for Lingering {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(stream).poll_next(cx);
        if let Poll::Ready(None | Some(Err(_))) = polled {
            self.finished = true;
        }
        polled
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(mut stream) = self.stream.take().filter(|_| !self.finished) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut read = 0u64;
            let drain = async {
                while let Some(Ok(chunk)) = stream.next().await {
                    read += chunk.len() as u64;
                    if read > LINGER_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(LINGER_TIME, drain).await;
        });
    }
}
