//! Direct uploads, on whichever blob store is under test: ask for an upload, put the bytes
//! where told (a presigned S3 PUT, or a signed PUT to quillstore on fs), complete it; what
//! arrives is checked (size, SHA-256, sniffed type) and recorded like a form upload.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::files_recovery::gc;
use crate::helpers::{
    Api, BlobBackend, PNG_2X3, assert_error, json_body, sha256_hex, spawn_app, spawn_app_with,
    text_bytes,
};

/// `POST /api/files/uploads`, asserting 201.
pub(crate) async fn ask(app: &Api, request: Value) -> Value {
    let response = app.post("/api/files/uploads", &request).await;
    let status = response.status();
    let answer = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{request}: {answer}");
    answer
}

/// Puts `bytes` where the answer says, with a client that knows nothing of quillstore.
pub(crate) async fn put_bytes(app: &Api, answer: &Value, bytes: &[u8]) -> reqwest::Response {
    let url = answer["url"].as_str().unwrap();
    let url = if url.starts_with('/') {
        format!("{}{url}", app.address)
    } else {
        url.to_owned()
    };
    assert_eq!(answer["method"], "PUT");
    let mut request = reqwest::Client::new().put(url).body(bytes.to_vec());
    for (name, value) in answer["headers"].as_object().unwrap() {
        // Like a browser: the length is the body's own (S3 signs the announced one).
        if !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name.as_str(), value.as_str().unwrap());
        }
    }
    request.send().await.expect("put the bytes")
}

pub(crate) async fn complete(app: &Api, answer: &Value) -> reqwest::Response {
    let id = answer["uploadId"].as_str().unwrap();
    app.send(app.request(
        reqwest::Method::POST,
        &format!("/api/files/uploads/{id}/complete"),
    ))
    .await
}

#[tokio::test]
async fn a_direct_upload_round_trip_records_the_file_like_a_form_upload() {
    let app = spawn_app().await;
    let bytes = text_bytes(300_000, 7);
    let answer = ask(
        &app,
        json!({"filename": "notes.txt", "mimeType": "text/plain", "size": bytes.len(),
               "category": "attachment", "sha256": sha256_hex(&bytes)}),
    )
    .await;
    assert!(answer["expiresAt"].is_string(), "{answer}");
    let early = complete(&app, &answer).await;
    assert_error(early, StatusCode::CONFLICT, "conflict").await;

    let put = put_bytes(&app, &answer, &bytes).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let response = complete(&app, &answer).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let file = json_body(response).await;
    assert_eq!(file["originalFilename"], "notes.txt");
    assert_eq!(file["mimeType"], "text/plain");
    assert_eq!(file["category"], "attachment");
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    let id = file["id"].as_str().unwrap();
    let key = file["storage"]["key"].as_str().unwrap();
    assert_eq!(key, format!("users/local/attachment/{id}_notes.txt"));
    assert_eq!(app.download_bytes(id).await, bytes);
    assert_eq!(app.blob_keys().await, [key]);
    let again = complete(&app, &answer).await;
    assert_error(again, StatusCode::NOT_FOUND, "not_found").await;

    // The same content again, without a checksum: hashed on completion, then deduplicated.
    let answer = ask(
        &app,
        json!({"filename": "copy.txt", "mimeType": "text/plain", "size": bytes.len()}),
    )
    .await;
    assert!(put_bytes(&app, &answer, &bytes).await.status().is_success());
    let copy = json_body(complete(&app, &answer).await).await;
    assert_eq!(copy["sha256"], file["sha256"]);
    assert_eq!(copy["storage"], file["storage"], "one blob for both");
    assert_eq!(app.blob_keys().await, [key]);
    assert_eq!(
        app.list("/api/files").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_direct_upload_that_is_not_what_was_announced_is_refused_and_removed() {
    let app = spawn_app().await;
    let bytes = text_bytes(5_000, 8);

    let short = ask(
        &app,
        json!({"filename": "a.txt", "mimeType": "text/plain", "size": bytes.len() + 1}),
    )
    .await;
    let put = put_bytes(&app, &short, &bytes).await;
    let refused = complete(&app, &short).await;
    if put.status().is_success() {
        // fs takes up to the announced size; completion finds the difference.
        assert_error(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    } else {
        // S3 refuses a PUT whose length is not the signed one.
        assert_eq!(BlobBackend::under_test(), BlobBackend::S3);
        assert_error(refused, StatusCode::CONFLICT, "conflict").await;
    }

    let disguised = ask(
        &app,
        json!({"filename": "a.png", "mimeType": "image/png", "size": bytes.len()}),
    )
    .await;
    assert!(
        put_bytes(&app, &disguised, &bytes)
            .await
            .status()
            .is_success()
    );
    let refused = complete(&app, &disguised).await;
    assert_error(
        refused,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let gone = complete(&app, &disguised).await;
    assert_error(gone, StatusCode::NOT_FOUND, "not_found").await;

    let not_allowed = app
        .post(
            "/api/files/uploads",
            &json!({"filename": "x.html", "mimeType": "text/html", "size": 10}),
        )
        .await;
    assert_error(
        not_allowed,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let too_big = app
        .post(
            "/api/files/uploads",
            &json!({"filename": "x.png", "mimeType": "image/png", "size": 1u64 << 40}),
        )
        .await;
    assert_error(too_big, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let unknown = app
        .post(
            "/api/files/uploads",
            &json!({"filename": "x.png", "mimeType": "image/png", "size": 10, "id": "x"}),
        )
        .await;
    assert_error(unknown, StatusCode::BAD_REQUEST, "bad_request").await;

    // A valid image completes with its dimensions.
    let image = ask(
        &app,
        json!({"filename": "p.png", "mimeType": "image/png", "size": PNG_2X3.len(),
               "category": "avatar"}),
    )
    .await;
    assert!(put_bytes(&app, &image, PNG_2X3).await.status().is_success());
    let file = json_body(complete(&app, &image).await).await;
    assert_eq!(
        (file["width"].clone(), file["height"].clone()),
        (json!(2), json!(3))
    );
    assert!(
        app.blob_keys()
            .await
            .iter()
            .all(|key| key.starts_with("users/local/avatar/"))
    );
}

#[tokio::test]
async fn gc_removes_direct_uploads_abandoned_for_a_day_and_no_others() {
    // Upload URLs on fs are signed with this secret: they must outlive the restart.
    let mut app = spawn_app_with(|raw| raw.files_signing_secret = Some("s".repeat(32))).await;
    let pending = ask(
        &app,
        json!({"filename": "later.txt", "mimeType": "text/plain", "size": 5}),
    )
    .await;
    let pending_id = pending["uploadId"].as_str().unwrap().to_owned();
    app.stop().await;
    let two_days_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 2 * 24 * 3600;
    let old_id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, two_days_ago, 0));
    let blobs = app.blobs();
    let old_data = format!("uploads/local/{old_id}/data");
    blobs.put_raw(&old_data, b"never completed").await;

    let dry = gc(&app.data_dir, &blobs, false).await;
    let report = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        report.contains(&format!("abandoned direct upload: {old_data} (15 bytes)")),
        "{report}"
    );
    assert!(!report.contains(&pending_id), "{report}");
    let applied = gc(&app.data_dir, &blobs, true).await;
    assert!(applied.status.success());
    let dry = gc(&app.data_dir, &blobs, false).await;
    let report = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(!report.contains("abandoned direct upload"), "{report}");

    app.start().await;
    assert!(
        put_bytes(&app, &pending, b"hello")
            .await
            .status()
            .is_success()
    );
    assert_eq!(complete(&app, &pending).await.status(), StatusCode::CREATED);
}
