//! Quotas: an upload that would pass `QUOTA_BYTES_PER_USER` or `QUOTA_FILES_PER_USER` is a
//! 413 `quota_exceeded` stating the limit and the usage, and stores nothing; concurrent
//! uploads never pass a quota together; `GET /api/usage` reports usage beside the quotas.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, file_form, json_body, spawn_app_with, text_bytes};

#[tokio::test]
async fn an_upload_past_the_byte_quota_is_refused_stating_limit_and_usage() {
    let app = spawn_app_with(|raw| raw.quota_bytes_per_user = Some("20000".into())).await;
    app.upload(&text_bytes(5_000, 1), "a.txt", None).await;
    app.upload(&text_bytes(5_000, 2), "b.txt", None).await;
    let keys = app.blob_keys().await;
    let response = app
        .upload_form(file_form(text_bytes(15_000, 3), "c.txt", None))
        .await;
    let body = assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded").await;
    let detail = &body["error"]["details"][0];
    assert_eq!(detail["field"], "quota", "{body}");
    assert_eq!(detail["quota"], "bytes");
    assert_eq!(detail["limit"], 20_000);
    assert_eq!(detail["usage"], 10_000);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("10000 of 20000"), "{message}");
    assert!(message.contains("GET /api/usage"), "{message}");
    assert_eq!(
        app.blob_keys().await,
        keys,
        "the refused upload stored nothing"
    );

    let usage = json_body(app.get("/api/usage").await).await;
    assert_eq!(usage["bytes"], 10_000);
    assert_eq!(usage["files"], 2);
    assert_eq!(
        usage["collections"]["files"],
        json!({"documents": 2, "bytes": 10_000})
    );
    assert_eq!(usage["quotas"], json!({"bytes": 20_000, "files": null}));
    // What fits still goes in.
    app.upload(&text_bytes(5_000, 4), "d.txt", None).await;
}

#[tokio::test]
async fn concurrent_uploads_never_pass_the_quotas_together() {
    let app = spawn_app_with(|raw| {
        raw.quota_bytes_per_user = Some("50000".into());
        raw.quota_files_per_user = Some("3".into());
    })
    .await;
    let uploads = (0..10u64).map(|seed| {
        let form = file_form(text_bytes(12_000, seed), &format!("{seed}.txt"), None);
        app.upload_form(form)
    });
    let responses = join_all(uploads).await;
    let mut stored = 0;
    for response in responses {
        match response.status() {
            StatusCode::CREATED => stored += 1,
            status => {
                let body = json_body(response).await;
                assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
                assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
            }
        }
    }
    let usage = json_body(app.get("/api/usage").await).await;
    assert!((1..=3).contains(&stored), "{stored} stored");
    assert_eq!(usage["files"], stored);
    assert!(usage["bytes"].as_u64().unwrap() <= 50_000, "{usage}");
    assert_eq!(
        app.blob_keys().await.len(),
        stored as usize,
        "no blob of a refused upload"
    );
}

#[tokio::test]
async fn the_file_quota_counts_records() {
    let app = spawn_app_with(|raw| raw.quota_files_per_user = Some("2".into())).await;
    app.upload(b"one", "1.txt", None).await;
    app.upload(b"two", "2.txt", None).await;
    let response = app
        .upload_form(file_form(b"three".to_vec(), "3.txt", None))
        .await;
    let body = assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded").await;
    assert_eq!(body["error"]["details"][0]["quota"], "files");
    assert_eq!(body["error"]["details"][0]["usage"], 2);
    assert_eq!(app.blob_keys().await.len(), 2);
}
