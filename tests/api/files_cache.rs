//! The in-memory cache of small blobs (`BLOB_CACHE_BYTES`): a cached blob is served exactly
//! as an uncached one (bytes, headers, ranges, conditional requests), a delete evicts it, and
//! `/metrics` reports hits, misses and size. Runs on fs and, in the S3 pass, on Garage.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::binary::spawn_binary_with;
use crate::helpers::{Api, spawn_app, spawn_app_with, text_bytes};

/// Headers a download answer carries that must not depend on where the bytes came from.
const COMPARED: &[&str] = &[
    "content-type",
    "content-length",
    "content-range",
    "content-disposition",
    "content-security-policy",
    "accept-ranges",
    "etag",
    "cache-control",
    "x-content-type-options",
];

/// Status, compared headers and body of one request for file `id`.
async fn answer(
    api: &Api,
    method: Method,
    id: &str,
    headers: &[(&str, String)],
) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
    let mut request = api.request(method, &format!("/api/files/{id}"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = api.send(request).await;
    let status = response.status();
    let kept = compared(response.headers());
    let body = response.bytes().await.unwrap().to_vec();
    (status, kept, body)
}

fn compared(headers: &HeaderMap) -> Vec<(String, String)> {
    COMPARED
        .iter()
        .filter_map(|name| {
            headers
                .get(*name)
                .map(|value| (name.to_string(), value.to_str().unwrap().to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn a_cached_blob_is_served_exactly_as_an_uncached_one() {
    let cached = spawn_app().await;
    let uncached = spawn_app_with(|raw| raw.blob_cache_bytes = Some("0".to_owned())).await;
    for (size, name, mime) in [
        (1024, "one.txt", Some("text/plain")),
        (64 * 1024, "page.txt", Some("text/plain")),
        (3000, "picture.svg", Some("image/svg+xml")),
    ] {
        let bytes = if name.ends_with(".svg") {
            let mut svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\">".to_vec();
            svg.extend(text_bytes(size, 3));
            svg.extend_from_slice(b"</svg>");
            svg
        } else {
            text_bytes(size, 5)
        };
        let in_cache = cached.upload(&bytes, name, mime).await;
        let in_store = uncached.upload(&bytes, name, mime).await;
        let (cached_id, store_id) = (
            in_cache["id"].as_str().unwrap(),
            in_store["id"].as_str().unwrap(),
        );
        let etag = format!("\"{}\"", in_cache["sha256"].as_str().unwrap());
        let length = bytes.len();
        let requests: Vec<(Method, Vec<(&str, String)>)> = vec![
            (Method::GET, vec![]),
            (Method::GET, vec![]),
            (Method::GET, vec![("range", "bytes=10-99".to_owned())]),
            (Method::GET, vec![("range", "bytes=-7".to_owned())]),
            (
                Method::GET,
                vec![("range", format!("bytes={}-", length - 1))],
            ),
            (Method::GET, vec![("range", format!("bytes={length}-"))]),
            (Method::GET, vec![("if-none-match", etag.clone())]),
            (Method::HEAD, vec![]),
        ];
        let first_miss = answer(&cached, Method::GET, cached_id, &[]).await;
        for (method, headers) in requests {
            let from_cache = answer(&cached, method.clone(), cached_id, &headers).await;
            let from_store = answer(&uncached, method.clone(), store_id, &headers).await;
            assert_eq!(from_cache, from_store, "{name}: {method} {headers:?}");
        }
        assert_eq!(first_miss.2, bytes, "{name}: the first read is the bytes");
        assert_eq!(
            answer(&cached, Method::GET, cached_id, &[]).await,
            first_miss,
            "{name}: a hit answers as the miss did"
        );
    }
}

#[tokio::test]
async fn deleting_a_file_evicts_its_cached_blob() {
    let app = spawn_app().await;
    let first = app.upload(&text_bytes(2000, 1), "a.txt", None).await;
    let first_id = first["id"].as_str().unwrap();
    let first_key = app.blobs().key_of(&first).await;
    assert_eq!(app.download_bytes(first_id).await, text_bytes(2000, 1));
    assert_eq!(app.download_bytes(first_id).await, text_bytes(2000, 1));
    let response = app.delete(&format!("/api/files/{first_id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.download(first_id, &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        !app.blobs().keys().await.contains(&first_key),
        "the blob is gone from the store"
    );
    // The same name again with other bytes: a new key, its own bytes.
    let second = app.upload(&text_bytes(2000, 2), "a.txt", None).await;
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(app.download_bytes(second_id).await, text_bytes(2000, 2));

    // Two records sharing one blob (dedup): the blob stays cached for the one left.
    let shared = text_bytes(3000, 9);
    let one = app.upload(&shared, "one.txt", None).await;
    let two = app.upload(&shared, "two.txt", None).await;
    let (one_id, two_id) = (one["id"].as_str().unwrap(), two["id"].as_str().unwrap());
    assert_eq!(app.download_bytes(one_id).await, shared);
    app.delete(&format!("/api/files/{one_id}")).await;
    assert_eq!(app.download_bytes(two_id).await, shared);
    app.delete(&format!("/api/files/{two_id}")).await;
    assert_eq!(
        app.download(two_id, &[]).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// The value of the metric line that starts with `name` (labels included) in `text`.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn the_cache_reports_hits_misses_and_size_in_metrics() {
    // Its own process: the metrics recorder is per process, and other tests read blobs too.
    let data_dir = tempfile::tempdir().unwrap();
    let token = "metrics-token-of-the-cache-test";
    let binary = spawn_binary_with(data_dir.path(), |command| {
        command
            .env("METRICS_TOKEN", token)
            .env("BLOB_CACHE_MAX_OBJECT_BYTES", "4KiB");
    })
    .await;
    let api = Api::at(binary.address.clone());
    let metrics = || async {
        let response = api.with_token(token).get("/metrics").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    };
    let small = api.upload(&text_bytes(1000, 4), "small.txt", None).await;
    let large = api.upload(&text_bytes(5000, 6), "large.txt", None).await;
    let small_id = small["id"].as_str().unwrap();
    for _ in 0..3 {
        api.download_bytes(small_id).await;
    }
    for _ in 0..2 {
        api.download_bytes(large["id"].as_str().unwrap()).await;
    }
    let text = metrics().await;
    let hits = "quillstore_blob_cache_requests_total{result=\"hit\"}";
    let misses = "quillstore_blob_cache_requests_total{result=\"miss\"}";
    assert_eq!(metric(&text, hits), 2.0, "{text}");
    assert_eq!(
        metric(&text, misses),
        3.0,
        "one small, two too large to keep"
    );
    assert_eq!(metric(&text, "quillstore_blob_cache_hit_ratio"), 0.4);
    assert_eq!(metric(&text, "quillstore_blob_cache_bytes"), 1000.0);
    assert_eq!(metric(&text, "quillstore_blob_cache_objects"), 1.0);

    api.delete(&format!("/api/files/{small_id}")).await;
    let text = metrics().await;
    assert_eq!(metric(&text, "quillstore_blob_cache_bytes"), 0.0, "{text}");
    assert_eq!(metric(&text, "quillstore_blob_cache_objects"), 0.0);
}
