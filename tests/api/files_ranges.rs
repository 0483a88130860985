//! Downloads: single ranges and their edge cases, 416, conditional requests (304, If-Range)
//! and HEAD.

use reqwest::{Method, StatusCode};

use crate::helpers::{assert_error, header, spawn_app, text_bytes};

#[tokio::test]
async fn single_ranges_serve_the_requested_bytes() {
    let app = spawn_app().await;
    let bytes = text_bytes(1000, 7);
    let file = app.upload(&bytes, "r.txt", None).await;
    let id = file["id"].as_str().unwrap();
    let cases: [(&str, usize, usize); 6] = [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=990-", 990, 999),
        ("bytes=-10", 990, 999),
        ("bytes=-5000", 0, 999),
        ("bytes=500-5000", 500, 999),
    ];
    for (range, start, end) in cases {
        let response = app.download(id, &[("range", range)]).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        let headers = response.headers().clone();
        assert_eq!(
            header(&headers, "content-range"),
            format!("bytes {start}-{end}/1000"),
            "{range}"
        );
        assert_eq!(
            header(&headers, "content-length"),
            (end - start + 1).to_string()
        );
        assert_eq!(header(&headers, "accept-ranges"), "bytes");
        let body = response.bytes().await.unwrap();
        assert_eq!(&body[..], &bytes[start..=end], "{range}");
    }
}

#[tokio::test]
async fn unsatisfiable_ranges_get_416_and_others_are_ignored() {
    let app = spawn_app().await;
    let file = app.upload(&text_bytes(100, 8), "r.txt", None).await;
    let id = file["id"].as_str().unwrap();
    for range in [
        "bytes=100-",
        "bytes=100-200",
        "bytes=1000-2000",
        "bytes=50-10",
        "bytes=-0",
    ] {
        let response = app.download(id, &[("range", range)]).await;
        assert_eq!(header(response.headers(), "content-range"), "bytes */100");
        assert_eq!(
            header(response.headers(), "x-content-type-options"),
            "nosniff"
        );
        assert_error(
            response,
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
        )
        .await;
    }
    let empty = app.upload(b"", "empty.txt", None).await;
    let response = app
        .download(empty["id"].as_str().unwrap(), &[("range", "bytes=0-0")])
        .await;
    assert_eq!(header(response.headers(), "content-range"), "bytes */0");
    assert_error(
        response,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
    )
    .await;

    // Malformed or multi-range requests get the whole file.
    for range in ["bytes=0-1,5-6", "lines=1-2", "bytes=x-y"] {
        let response = app.download(id, &[("range", range)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{range}");
        assert_eq!(response.bytes().await.unwrap().len(), 100);
    }
}

#[tokio::test]
async fn etags_answer_conditional_requests() {
    let app = spawn_app().await;
    let bytes = text_bytes(64, 9);
    let file = app.upload(&bytes, "c.txt", None).await;
    let id = file["id"].as_str().unwrap();
    let etag = format!("\"{}\"", file["sha256"].as_str().unwrap());
    for if_none_match in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".to_owned(),
    ] {
        let response = app.download(id, &[("if-none-match", &if_none_match)]).await;
        assert_eq!(
            response.status(),
            StatusCode::NOT_MODIFIED,
            "{if_none_match}"
        );
        assert_eq!(header(response.headers(), "etag"), etag);
        assert_eq!(
            header(response.headers(), "cache-control"),
            "private, immutable"
        );
        assert!(response.bytes().await.unwrap().is_empty());
    }
    let response = app.download(id, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "cache-control"),
        "private, immutable"
    );

    let response = app
        .download(id, &[("range", "bytes=0-3"), ("if-range", &etag)])
        .await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let response = app
        .download(id, &[("range", "bytes=0-3"), ("if-range", "\"old\"")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().len(), 64);
}

#[tokio::test]
async fn head_describes_the_bytes_without_sending_them() {
    let app = spawn_app().await;
    let file = app.upload(&text_bytes(4096, 10), "h.txt", None).await;
    let path = format!("/api/files/{}", file["id"].as_str().unwrap());
    let response = app.send(app.request(Method::HEAD, &path)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "content-length"), "4096");
    assert_eq!(
        header(&headers, "content-type"),
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        header(&headers, "etag"),
        format!("\"{}\"", file["sha256"].as_str().unwrap())
    );
    assert!(response.bytes().await.unwrap().is_empty());
    let ranged = app
        .send(
            app.request(Method::HEAD, &path)
                .header("range", "bytes=-96"),
        )
        .await;
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(ranged.headers(), "content-length"), "96");
    assert_eq!(
        header(ranged.headers(), "content-range"),
        "bytes 4000-4095/4096"
    );
}
