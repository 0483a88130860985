//! Prometheus metrics: requests by route and status, their latency, bytes in and out, and
//! store operations with their latency and errors. One recorder per process; `/metrics`
//! renders it (see `http::metrics` for who may read it).

use std::sync::OnceLock;
use std::time::Duration;

use metrics::counter;
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

/// One answered request (labels from [`labels`]).
pub fn record_request(
    method: &'static str,
    route: &'static str,
    status: &'static str,
    elapsed: Duration,
) {
    handles::request(method, route, status, |count, latency| {
        count.increment(1);
        latency.record(elapsed.as_secs_f64());
    });
}

/// Body bytes received (`in`) or sent (`out`) on a route.
pub fn record_bytes(direction: &'static str, route: &'static str, bytes: u64) {
    handles::bytes(direction, route, |count| count.increment(bytes));
}

/// One read of the blob cache (a hit or a miss), with the hit ratio since the start.
pub fn record_blob_cache_read(hit: bool, hit_ratio: f64) {
    handles::blob_cache(|hits, misses, ratio| {
        if hit { hits } else { misses }.increment(1);
        ratio.set(hit_ratio);
    });
}

/// The metric handles of the request metrics, looked up in the recorder once per label set
/// and kept per thread: a lookup builds the key and takes the registry's lock, which every
/// request would otherwise do three times. The labels are `'static` strings from [`labels`],
/// a small fixed set, so the cache is keyed by where they live and stays as small. Before a
/// recorder is installed (`install`), nothing is kept: the handles would record nowhere.
mod handles {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::OnceLock;

    use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

    type Label = (usize, usize);
    type Requests = HashMap<[Label; 3], (Counter, Histogram)>;
    type Bytes = HashMap<[Label; 2], Counter>;

    thread_local! {
        static REQUESTS: RefCell<Requests> = RefCell::new(HashMap::new());
        static BYTES: RefCell<Bytes> = RefCell::new(HashMap::new());
        static STORE: RefCell<HashMap<[Label; 2], Histogram>> = RefCell::new(HashMap::new());
    }

    /// A label's identity: where it lives and how long it is (two labels may start at the
    /// same address, one a prefix of the other).
    fn at(label: &'static str) -> (usize, usize) {
        (label.as_ptr() as usize, label.len())
    }

    /// `record` with the handle cached under `key`, looked up on first use. Nothing is kept
    /// before the recorder is installed, and a thread whose cache is already gone (a body
    /// dropped while the thread exits) looks the handle up again.
    fn cached<K: std::hash::Hash + Eq, H>(
        cache: &'static std::thread::LocalKey<RefCell<HashMap<K, H>>>,
        key: K,
        look_up: impl FnOnce() -> H,
        record: impl FnOnce(&H),
    ) {
        if super::HANDLE.get().is_none() {
            return record(&look_up());
        }
        let mut work = Some((look_up, record));
        let done = cache.try_with(|known| {
            if let Some((look_up, record)) = work.take() {
                record(known.borrow_mut().entry(key).or_insert_with(look_up));
            }
        });
        if let (Err(_), Some((look_up, record))) = (done, work) {
            record(&look_up());
        }
    }

    pub(super) fn request(
        method: &'static str,
        route: &'static str,
        status: &'static str,
        record: impl FnOnce(&Counter, &Histogram),
    ) {
        let look_up = || {
            let labels = [("method", method), ("route", route), ("status", status)];
            let count = counter!("quillstore_http_requests_total", &labels);
            let labels = [("method", method), ("route", route)];
            let latency = histogram!("quillstore_http_request_duration_seconds", &labels);
            (count, latency)
        };
        let key = [at(method), at(route), at(status)];
        cached(&REQUESTS, key, look_up, |(count, latency)| {
            record(count, latency)
        });
    }

    pub(super) fn store(
        store: &'static str,
        operation: &'static str,
        record: impl FnOnce(&Histogram),
    ) {
        let look_up = || {
            let labels = [("store", store), ("operation", operation)];
            histogram!("quillstore_store_operation_duration_seconds", &labels)
        };
        cached(&STORE, [at(store), at(operation)], look_up, record);
    }

    pub(super) fn blob_cache(record: impl FnOnce(&Counter, &Counter, &Gauge)) {
        static KNOWN: OnceLock<(Counter, Counter, Gauge)> = OnceLock::new();
        let look_up = || {
            (
                counter!("quillstore_blob_cache_requests_total", "result" => "hit"),
                counter!("quillstore_blob_cache_requests_total", "result" => "miss"),
                gauge!("quillstore_blob_cache_hit_ratio"),
            )
        };
        if super::HANDLE.get().is_none() {
            let (hits, misses, ratio) = look_up();
            return record(&hits, &misses, &ratio);
        }
        let (hits, misses, ratio) = KNOWN.get_or_init(look_up);
        record(hits, misses, ratio);
    }

    pub(super) fn bytes(
        direction: &'static str,
        route: &'static str,
        record: impl FnOnce(&Counter),
    ) {
        let look_up = || {
            let labels = [("direction", direction), ("route", route)];
            counter!("quillstore_http_body_bytes_total", &labels)
        };
        cached(&BYTES, [at(direction), at(route)], look_up, record);
    }
}

/// Request labels as `'static` strings, so recording a request allocates nothing.
pub mod labels {
    use std::collections::BTreeSet;
    use std::sync::{OnceLock, RwLock};

    use axum::http::{Method, StatusCode};

    /// The route's label: the router's path template, or `(unmatched)`. The templates are
    /// the router's fixed set, so each is kept (leaked) once for the life of the process.
    pub fn route(template: &str) -> &'static str {
        static ROUTES: RwLock<BTreeSet<&'static str>> = RwLock::new(BTreeSet::new());
        let known = ROUTES
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(template)
            .copied();
        if let Some(route) = known {
            return route;
        }
        let mut routes = ROUTES
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match routes.get(template) {
            Some(route) => route,
            None => {
                let route: &'static str = Box::leak(template.into());
                routes.insert(route);
                route
            }
        }
    }

    /// The method's label; methods beyond the standard nine (which no route accepts) are
    /// `OTHER`.
    pub fn method(method: &Method) -> &'static str {
        match *method {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::OPTIONS => "OPTIONS",
            Method::CONNECT => "CONNECT",
            Method::TRACE => "TRACE",
            _ => "OTHER",
        }
    }

    /// The status code's label: its three digits.
    pub fn status(status: StatusCode) -> &'static str {
        static CODES: OnceLock<Vec<String>> = OnceLock::new();
        let codes = CODES.get_or_init(|| (100..1000).map(|code| code.to_string()).collect());
        codes[usize::from(status.as_u16()) - 100].as_str()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn labels_are_the_strings_they_stand_for() {
            assert_eq!(route("/api/files/{id}"), "/api/files/{id}");
            // The same template is kept once.
            assert!(std::ptr::eq(
                route("/api/files/{id}"),
                route("/api/files/{id}")
            ));
            assert_eq!(method(&Method::PATCH), "PATCH");
            assert_eq!(method(&Method::from_bytes(b"PURGE").unwrap()), "OTHER");
            assert_eq!(status(StatusCode::OK), "200");
            assert_eq!(status(StatusCode::from_u16(999).unwrap()), "999");
            assert_eq!(status(StatusCode::CONTINUE), "100");
        }
    }
}

/// One store operation: its latency, and its failure kind when it failed (`not_found` and
/// `conflict` are answers, not failures, and are not counted as errors).
pub fn record_store(
    store: &'static str,
    operation: &'static str,
    elapsed: Duration,
    error: Option<&'static str>,
) {
    handles::store(store, operation, |latency| {
        latency.record(elapsed.as_secs_f64())
    });
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
