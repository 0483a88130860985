//! Bodies that stall. An upload: after `UPLOAD_IDLE_TIMEOUT_SECS` without a byte it is answered
//! 408, nothing of it is stored and its upload slot is free again; a slow upload that keeps
//! sending is never cut off, however long it takes. A JSON body that stalls past
//! `REQUEST_TIMEOUT_SECS` is a 408 too (the client's fault), not a 503 (the service's).

use std::time::Duration;

use futures::channel::mpsc;
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{
    Api, assert_error, fs_blobs_only, item_ids, json_body, spawn_app_with, text_bytes,
};

const BOUNDARY: &str = "quillstore-idle-test";
/// Bounds every wait, so a server that never answers fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(30);

type Chunks = mpsc::UnboundedSender<Result<Vec<u8>, std::io::Error>>;

/// Sends `request` with a body of whatever the returned sender sends, until it is dropped.
fn streamed(
    app: &Api,
    request: reqwest::RequestBuilder,
) -> (Chunks, tokio::task::JoinHandle<Response>) {
    let (chunks, body) = mpsc::unbounded();
    let request = request.body(reqwest::Body::wrap_stream(body));
    let api = app.clone();
    let response = tokio::spawn(async move { api.send(request).await });
    (chunks, response)
}

fn form_upload(app: &Api) -> (Chunks, tokio::task::JoinHandle<Response>) {
    let request = app.request(Method::POST, "/api/files").header(
        "content-type",
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    streamed(app, request)
}

fn part_head(filename: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes()
}

fn form_end() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}--\r\n").into_bytes()
}

async fn answer(response: tokio::task::JoinHandle<Response>) -> Response {
    tokio::time::timeout(PATIENCE, response)
        .await
        .expect("the server answers")
        .expect("the request task")
}

fn idle_app(raw: &mut quillstore::config::RawConfig) {
    raw.upload_idle_timeout_secs = Some("1".to_owned());
    raw.max_concurrent_uploads = Some("1".to_owned());
}

#[tokio::test]
async fn a_stalled_upload_gets_408_stores_nothing_and_frees_its_slot() {
    let app = spawn_app_with(idle_app).await;
    let (chunks, response) = form_upload(&app);
    let mut first = part_head("stalled.txt");
    first.extend(text_bytes(100_000, 3));
    chunks.unbounded_send(Ok(first)).unwrap();
    // ...and nothing more, with the body still open.
    let stalled = answer(response).await;
    let body = assert_error(stalled, StatusCode::REQUEST_TIMEOUT, "request_timeout").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("UPLOAD_IDLE_TIMEOUT_SECS"), "{message}");
    drop(chunks);

    // The one upload slot is free again, and only the finished upload is stored.
    let bytes = text_bytes(50_000, 4);
    let file = app.upload(&bytes, "after.txt", Some("text/plain")).await;
    let listed = app.list("/api/files").await;
    assert_eq!(item_ids(&listed), [file["id"].as_str().unwrap()]);
    assert_eq!(app.blob_keys().await.len(), 1);
    assert_eq!(app.blobs().pending_writes().await, 0);
}

#[tokio::test]
async fn a_slow_upload_that_keeps_sending_is_not_cut_off() {
    let app = spawn_app_with(idle_app).await;
    let (chunks, response) = form_upload(&app);
    chunks.unbounded_send(Ok(part_head("slow.txt"))).unwrap();
    let bytes = text_bytes(60_000, 5);
    // Twelve pieces 250 ms apart: three seconds in all, never a second without a byte.
    for piece in bytes.chunks(5_000) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        chunks.unbounded_send(Ok(piece.to_vec())).unwrap();
    }
    chunks.unbounded_send(Ok(form_end())).unwrap();
    drop(chunks);
    let response = answer(response).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let file = json_body(response).await;
    assert_eq!(file["size"], bytes.len());
    assert_eq!(
        app.download_bytes(file["id"].as_str().unwrap()).await,
        bytes
    );
}

#[tokio::test]
async fn a_stalled_direct_put_gets_408_and_can_be_put_again() {
    if !fs_blobs_only("a_stalled_direct_put_gets_408_and_can_be_put_again") {
        return;
    }
    let app = spawn_app_with(idle_app).await;
    let bytes = text_bytes(20_000, 6);
    let ticket = app
        .post(
            "/api/files/uploads",
            &json!({"filename": "direct.txt", "mimeType": "text/plain", "size": bytes.len()}),
        )
        .await;
    assert_eq!(ticket.status(), StatusCode::CREATED);
    let ticket = json_body(ticket).await;
    let url = format!("{}{}", app.address, ticket["url"].as_str().unwrap());
    let put = || reqwest::Client::new().put(url.as_str());

    let (chunks, response) = streamed(&app, put());
    chunks.unbounded_send(Ok(bytes[..1_000].to_vec())).unwrap();
    let stalled = answer(response).await;
    assert_error(stalled, StatusCode::REQUEST_TIMEOUT, "request_timeout").await;
    drop(chunks);

    let again = put().body(bytes.clone()).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    let id = ticket["uploadId"].as_str().unwrap();
    let done = app
        .send(app.request(Method::POST, &format!("/api/files/uploads/{id}/complete")))
        .await;
    assert_eq!(done.status(), StatusCode::CREATED);
    let file = json_body(done).await;
    assert_eq!(
        app.download_bytes(file["id"].as_str().unwrap()).await,
        bytes
    );
}

#[tokio::test]
async fn a_stalled_json_body_gets_408_not_503() {
    let app = spawn_app_with(|raw| raw.request_timeout_secs = Some("1".to_owned())).await;
    let request = app
        .request(Method::POST, "/api/tags")
        .header("content-type", "application/json")
        .header("content-length", "40");
    let (chunks, response) = streamed(&app, request);
    chunks.unbounded_send(Ok(b"{\"name\": ".to_vec())).unwrap();
    let stalled = answer(response).await;
    let body = assert_error(stalled, StatusCode::REQUEST_TIMEOUT, "request_timeout").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("REQUEST_TIMEOUT_SECS"), "{message}");
    drop(chunks);
    assert!(item_ids(&app.list("/api/tags").await).is_empty());
    app.create("tags", json!({"name": "after"})).await;
}
