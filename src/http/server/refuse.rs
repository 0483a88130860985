//! What a connection past `MAX_CONNECTIONS` gets: one 503 in the error envelope with
//! `Retry-After` and `Connection: close`, then the socket is closed.
//!
//! Answering takes reading the request head, so each refusal is bounded in time, and only a
//! few run at once: past that, a new connection is closed without an answer (its descriptor is
//! what the cap protects).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::ApiError;

/// Refusals answered at once; more are closed unanswered.
const ANSWERING_AT_ONCE: usize = 64;
/// How long a refused client has to send its request head and read the answer.
const ANSWER_TIME: Duration = Duration::from_secs(2);

static ANSWERING: AtomicUsize = AtomicUsize::new(0);

/// Answers `stream` with a 503 (in the background) and closes it.
pub fn too_many_connections(stream: TcpStream) {
    metrics::counter!("quillstore_http_connections_refused_total").increment(1);
    if ANSWERING.fetch_add(1, Ordering::AcqRel) >= ANSWERING_AT_ONCE {
        ANSWERING.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    tokio::spawn(async move {
        let service = hyper::service::service_fn(|_request| async {
            let mut response = ApiError::Unavailable {
                message: "the server has too many open connections; retry shortly".to_owned(),
                retry_after_secs: 1,
            }
            .into_response();
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            Ok::<_, std::convert::Infallible>(response)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .keep_alive(false)
            .serve_connection(TokioIo::new(stream), service);
        let _ = tokio::time::timeout(ANSWER_TIME, connection).await;
        ANSWERING.fetch_sub(1, Ordering::AcqRel);
    });
}
