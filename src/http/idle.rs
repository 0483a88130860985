//! Bodies that stall. A client that stops sending in the middle of a body would otherwise
//! hold a connection (and, uploading, an upload slot of `MAX_CONCURRENT_UPLOADS`) for as long
//! as it likes. A watched body records when the handler is waiting for the client's next
//! bytes. Uploads (`limit_idle`): after `UPLOAD_IDLE_TIMEOUT_SECS` without a byte the request
//! is answered 408 and the handler is dropped, which removes whatever it had written; only
//! waiting on the client counts, never time the handler spends elsewhere (writing a part to a
//! slow S3, say). JSON routes (`TimeLimit`) ask the watch, when their time limit
//! passes, whether the client or the service was late: 408 or 503.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use tower::{Layer, Service};

use crate::error::ApiError;

/// Gives `request` a body that reports to the returned watch whenever a read has to wait.
pub fn watch_body(request: Request) -> (Request, Arc<Watch>) {
    let watch = Arc::new(Watch::new());
    let request = request.map(|body| {
        Body::from_stream(Watched {
            stream: body.into_data_stream(),
            watch: Arc::clone(&watch),
        })
    });
    (request, watch)
}

/// Middleware: answers 408 once the handler has waited `timeout` for the client's next bytes.
pub async fn limit_idle(timeout: Duration, request: Request, next: Next) -> Response {
    let (request, watch) = watch_body(request);
    let handler = next.run(request);
    tokio::pin!(handler);
    let tick = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::select! {
            response = &mut handler => return response,
            () = tokio::time::sleep(tick) => {
                if watch.waiting_for() >= timeout {
                    tracing::info!(?timeout, "an upload stalled; answered 408");
                    return ApiError::RequestTimeout(format!(
                        "no bytes of the body arrived for {} s (UPLOAD_IDLE_TIMEOUT_SECS)",
                        timeout.as_secs()
                    ))
                    .into_response();
                }
            }
        }
    }
}

/// Since when the handler has been waiting for the client: milliseconds after `start`, plus
/// one; 0 while it is not waiting.
pub struct Watch {
    start: Instant,
    waiting_since: AtomicU64,
}

impl Watch {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            waiting_since: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    fn waiting(&self) {
        let _ = self.waiting_since.compare_exchange(
            0,
            self.now(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    fn not_waiting(&self) {
        self.waiting_since.store(0, Ordering::Relaxed);
    }

    /// How long the current wait for the client's bytes has lasted (zero when not waiting).
    pub fn waiting_for(&self) -> Duration {
        match self.waiting_since.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            since => Duration::from_millis(self.now().saturating_sub(since)),
        }
    }
}

/// The request body, reporting to the watch whenever a read has to wait.
struct Watched {
    stream: BodyDataStream,
    watch: Arc<Watch>,
}

impl Stream for Watched {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.stream).poll_next(cx);
        match polled {
            Poll::Pending => self.watch.waiting(),
            Poll::Ready(_) => self.watch.not_waiting(),
        }
        polled
    }
}

/// Bounds the time of a JSON request; past `REQUEST_TIMEOUT_SECS` (`timeout`) it is answered
/// with 408 when it was still waiting for the client's body, else with 503 (a store too slow).
#[derive(Debug, Clone, Copy)]
pub(super) struct TimeLimitLayer {
    timeout: Duration,
}

impl TimeLimitLayer {
    pub(super) fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for TimeLimitLayer {
    type Service = TimeLimit<S>;

    fn layer(&self, inner: S) -> TimeLimit<S> {
        TimeLimit {
            timeout: self.timeout,
            inner,
        }
    }
}

/// See [`TimeLimitLayer`]. A tower service rather than `from_fn`, which boxes a clone of the
/// inner service and the future on every request.
#[derive(Debug, Clone)]
pub(super) struct TimeLimit<S> {
    timeout: Duration,
    inner: S,
}

impl<S> Service<Request> for TimeLimit<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TimeLimited<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // Most JSON requests (every GET) have no body: nothing to watch, nothing to wrap.
        let empty = axum::body::HttpBody::size_hint(request.body()).exact() == Some(0);
        let (request, body) = if empty {
            (request, None)
        } else {
            let (request, watch) = watch_body(request);
            (request, Some(watch))
        };
        TimeLimited {
            inner: tokio::time::timeout(self.timeout, self.inner.call(request)),
            body,
            timeout: self.timeout,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, or the 408 or 503 of a request out of time.
    pub(super) struct TimeLimited<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
        body: Option<Arc<Watch>>,
        timeout: Duration,
    }
}

impl<F, E> Future for TimeLimited<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        Poll::Ready(match std::task::ready!(this.inner.poll(context)) {
            Ok(answer) => answer,
            Err(_)
                if this
                    .body
                    .as_ref()
                    .is_some_and(|body| body.waiting_for() > Duration::ZERO) =>
            {
                Ok(ApiError::RequestTimeout(format!(
                    "the request body did not arrive within {} s (REQUEST_TIMEOUT_SECS)",
                    this.timeout.as_secs()
                ))
                .into_response())
            }
            Err(_) => Ok(ApiError::unavailable("the request took too long").into_response()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_time_spent_waiting_counts() {
        let watch = Watch::new();
        assert_eq!(watch.waiting_for(), Duration::ZERO);
        watch.waiting();
        std::thread::sleep(Duration::from_millis(30));
        // A second poll while still waiting keeps the first moment.
        watch.waiting();
        assert!(watch.waiting_for() >= Duration::from_millis(30));
        watch.not_waiting();
        assert_eq!(watch.waiting_for(), Duration::ZERO);
    }
}
