//! The request metrics layer: count and latency by route and status, and the body bytes in
//! and out (counted as they stream, recorded when each body ends). The labels are `'static`
//! strings (see `crate::metrics::labels`): recording allocates nothing.
//!
//! A tower layer rather than `axum::middleware::from_fn`: it sits on every route of every
//! request, and `from_fn` boxes a clone of the inner service and the future on each call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::response::Response;
use tower::{Layer, Service};

use crate::metrics::labels;

/// Adds [`Measure`] to a service.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeasureLayer;

impl<S> Layer<S> for MeasureLayer {
    type Service = Measure<S>;

    fn layer(&self, inner: S) -> Measure<S> {
        Measure { inner }
    }
}

/// Records each request the inner service answers.
#[derive(Debug, Clone)]
pub struct Measure<S> {
    inner: S,
}

impl<S> Service<Request> for Measure<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Measured<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = labels::route(
            request
                .extensions()
                .get::<MatchedPath>()
                .map_or("(unmatched)", MatchedPath::as_str),
        );
        let method = labels::method(request.method());
        let started = Instant::now();
        // A request without a body (most reads) has nothing to count.
        let request = if axum::body::HttpBody::is_end_stream(request.body()) {
            request
        } else {
            request.map(|body| count_bytes(body, "in", route))
        };
        Measured {
            inner: self.inner.call(request),
            method,
            route,
            started,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, recorded when it is ready.
    pub struct Measured<F> {
        #[pin]
        inner: F,
        method: &'static str,
        route: &'static str,
        started: Instant,
    }
}

impl<F, E> Future for Measured<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(context))?;
        Poll::Ready(Ok(record(response, this.method, this.route, *this.started)))
    }
}

fn record(
    response: Response,
    method: &'static str,
    route: &'static str,
    started: Instant,
) -> Response {
    crate::metrics::record_request(
        method,
        route,
        labels::status(response.status()),
        started.elapsed(),
    );
    // A body of known length is counted from its size and left alone, so the response keeps
    // its Content-Length; streamed bodies are counted as they go.
    let known_length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
        .or_else(|| axum::body::HttpBody::size_hint(response.body()).exact());
    match known_length {
        Some(length) => {
            crate::metrics::record_bytes("out", route, length);
            response
        }
        None => response.map(|body| count_bytes(body, "out", route)),
    }
}

fn count_bytes(
    body: axum::body::Body,
    direction: &'static str,
    route: &'static str,
) -> axum::body::Body {
    use http_body_util::BodyExt;
    let mut tally = ByteTally {
        direction,
        route,
        bytes: 0,
    };
    axum::body::Body::new(body.map_frame(move |frame| {
        // Borrow the whole tally so the closure owns it (and its Drop) rather than one field.
        let tally = &mut tally;
        if let Some(data) = frame.data_ref() {
            tally.bytes += data.len() as u64;
        }
        frame
    }))
}

/// Bytes of one body, recorded when the body is dropped (finished or abandoned).
struct ByteTally {
    direction: &'static str,
    route: &'static str,
    bytes: u64,
}

impl Drop for ByteTally {
    fn drop(&mut self) {
        if self.bytes > 0 {
            crate::metrics::record_bytes(self.direction, self.route, self.bytes);
        }
    }
}
