//! Prometheus metrics: requests by route and status, their latency, bytes in and out, and
//! store operations with their latency and errors. One recorder per process; `/metrics`
//! renders it (see `http::metrics` for who may read it).

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds, from a cached read to a slow upload.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the recorder once; later calls return the same handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), BUCKETS)
                .map(|builder| builder.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Another recorder may exist in an embedding program; ours still renders its own.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// One answered request.
pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    counter!("quillstore_http_requests_total", &labels).increment(1);
    let labels = [("method", method.to_owned()), ("route", route.to_owned())];
    histogram!("quillstore_http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
}

/// Body bytes received (`in`) or sent (`out`) on a route.
pub fn record_bytes(direction: &'static str, route: &str, bytes: u64) {
    let labels = [
        ("direction", direction.to_owned()),
        ("route", route.to_owned()),
    ];
    counter!("quillstore_http_body_bytes_total", &labels).increment(bytes);
}

/// One store operation: its latency, and its failure kind when it failed (`not_found` and
/// `conflict` are answers, not failures, and are not counted as errors).
pub fn record_store(
    store: &'static str,
    operation: &'static str,
    elapsed: Duration,
    error: Option<&'static str>,
) {
    let labels = [("store", store), ("operation", operation)];
    histogram!("quillstore_store_operation_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    if let Some(kind) = error {
        let labels = [("store", store), ("operation", operation), ("kind", kind)];
        counter!("quillstore_store_errors_total", &labels).increment(1);
    }
}

/// One write that a dual store's secondary missed (`DATA_BACKEND=dual`): the primary has it,
/// the secondary does not until `quillstore migrate copy` brings it back in line.
pub fn record_secondary_miss(secondary: &'static str, operation: &'static str) {
    let labels = [("secondary", secondary), ("operation", operation)];
    counter!("quillstore_dual_secondary_write_failures_total", &labels).increment(1);
}
