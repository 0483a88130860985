//! Files: upload and download round trips, the metadata a file gets, the metadata routes,
//! list filters, form errors, `/api/limits` and the blob entry of `/api/health`.

use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::json;

use crate::helpers::{
    BlobBackend, PNG_2X3, assert_detail_field, assert_error, file_form, file_part, header,
    item_ids, json_body, sha256_hex, spawn_app, spawn_app_with, text_bytes,
};

#[tokio::test]
async fn files_of_every_size_come_back_byte_for_byte() {
    let app = spawn_app().await;
    for (length, seed) in [
        (0, 1),
        (1, 2),
        (5 * 1024 * 1024 + 1, 3),
        (64 * 1024 * 1024, 4),
    ] {
        let bytes = text_bytes(length, seed);
        let file = app.upload(&bytes, "data.txt", None).await;
        let expected = sha256_hex(&bytes);
        assert_eq!(file["size"], length as u64);
        assert_eq!(file["sha256"], expected);
        assert_eq!(file["mimeType"], "text/plain");
        let id = file["id"].as_str().unwrap();
        let response = app.download(id, &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(response.headers(), "content-length"),
            length.to_string()
        );
        // Past the redirect threshold on S3 the bytes come from the store, with its headers.
        if response.url().as_str().starts_with(&app.address) {
            assert_eq!(
                header(response.headers(), "etag"),
                format!("\"{expected}\"")
            );
        }
        let body = response.bytes().await.unwrap();
        assert_eq!(sha256_hex(&body), expected, "{length} bytes");
    }
}

#[tokio::test]
async fn an_upload_gets_server_owned_metadata() {
    let app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "refs"})).await;
    let character = app.create("characters", json!({"name": "Ada"})).await;
    let link = format!("character:{}", character["id"].as_str().unwrap());
    let form = Form::new()
        .text("category", "avatar")
        .text("source", "generated")
        .text("description", "a tiny portrait")
        .text("tags", tag["id"].as_str().unwrap().to_owned())
        .text("linkedTo", link)
        .part(
            "file",
            file_part(PNG_2X3.to_vec(), "ada.png", Some("image/png")),
        );
    let response = app.upload_form(form).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id_location = header(response.headers(), "location");
    let etag = header(response.headers(), "etag");
    let file = json_body(response).await;
    let id = file["id"].as_str().unwrap();
    assert_eq!(id_location, format!("/api/files/{id}"));
    assert_eq!(
        etag,
        format!("\"{}\"", sha256_hex(PNG_2X3)),
        "the ETag of Location, the content, as a GET of it says"
    );
    assert_eq!(file["category"], "avatar");
    assert_eq!(file["source"], "generated");
    assert_eq!(file["description"], "a tiny portrait");
    assert_eq!(file["tags"], json!([tag["id"]]));
    assert_eq!(
        file["linkedTo"],
        json!([{"kind": "character", "id": character["id"]}])
    );
    assert_eq!(file["originalFilename"], "ada.png");
    assert_eq!(file["mimeType"], "image/png");
    assert_eq!(
        (file["width"].clone(), file["height"].clone()),
        (json!(2), json!(3))
    );
    assert!(
        file.get("storage").is_none(),
        "no storage internals: {file}"
    );
    assert_eq!(
        app.blob_keys().await,
        [format!("users/local/avatar/{id}_ada.png")]
    );

    let metadata = app.get(&format!("/api/files/{id}/metadata")).await;
    assert_eq!(
        header(metadata.headers(), "etag"),
        "\"1\"",
        "metadata: its version"
    );
    assert_eq!(json_body(metadata).await, file);
}

#[tokio::test]
async fn metadata_is_patched_with_concurrency_control() {
    let app = spawn_app().await;
    let file = app.upload(b"notes", "notes.txt", None).await;
    assert_eq!(
        file["category"], "document",
        "the default category follows the type"
    );
    let path = format!("/api/files/{}/metadata", file["id"].as_str().unwrap());
    let patched = app
        .patch_if_match(
            &path,
            &json!({"description": "v2", "category": "export"}),
            "\"1\"",
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(header(patched.headers(), "etag"), "\"2\"");
    let patched = json_body(patched).await;
    assert_eq!(patched["description"], "v2");
    assert_eq!(patched["category"], "export");
    assert_eq!(patched["sha256"], file["sha256"]);
    let stale = app
        .patch_if_match(&path, &json!({"description": "v3"}), "\"1\"")
        .await;
    assert_eq!(header(stale.headers(), "etag"), "\"2\"", "the current ETag");
    let body = assert_error(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("re-read"),
        "says how to recover: {message}"
    );
    for owned in [
        "size",
        "sha256",
        "mimeType",
        "storage",
        "originalFilename",
        "source",
    ] {
        let response = app.patch(&path, &json!({ owned: "x" })).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert_detail_field(&body, owned);
    }
    let response = app.patch(&path, &json!({"category": "poster"})).await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&body, "category");
    let ghost = uuid::Uuid::now_v7();
    let response = app.patch(&path, &json!({"tags": [ghost]})).await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&body, "tags");
}

#[tokio::test]
async fn lists_filter_by_category_tag_link_and_type() {
    let app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "keep"})).await;
    let persona = app.create("personas", json!({"name": "Me"})).await;
    let persona_id = persona["id"].as_str().unwrap();
    let image = app
        .upload_form(
            file_form(PNG_2X3.to_vec(), "a.png", None)
                .text("tags", format!("[\"{}\"]", tag["id"].as_str().unwrap()))
                .text(
                    "linkedTo",
                    json!([{"kind": "persona", "id": persona_id}]).to_string(),
                ),
        )
        .await;
    let image = json_body(image).await;
    let text = app.upload(b"hello", "b.txt", None).await;
    let markdown = app
        .upload_form(file_form(b"# Notes".to_vec(), "c.md", None).text("category", "export"))
        .await;
    let markdown = json_body(markdown).await;

    let ids = |page: serde_json::Value| item_ids(&page);
    let id = |file: &serde_json::Value| file["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(app.list("/api/files?category=image").await),
        [id(&image)]
    );
    assert_eq!(
        ids(app.list("/api/files?category=export").await),
        [id(&markdown)]
    );
    let tagged = format!("/api/files?tag={}", tag["id"].as_str().unwrap());
    assert_eq!(ids(app.list(&tagged).await), [id(&image)]);
    let linked = format!("/api/files?linkedTo=persona:{persona_id}");
    assert_eq!(ids(app.list(&linked).await), [id(&image)]);
    let wrong_kind = format!("/api/files?linkedTo=character:{persona_id}");
    assert!(ids(app.list(&wrong_kind).await).is_empty());
    assert_eq!(
        ids(app.list("/api/files?mimePrefix=text/").await),
        [id(&markdown), id(&text)]
    );
    assert_eq!(
        ids(app.list("/api/files?sort=name").await),
        [id(&image), id(&text), id(&markdown)]
    );

    let first = app.list("/api/files?limit=2&sort=name").await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = app
        .list(&format!("/api/files?limit=2&sort=name&cursor={cursor}"))
        .await;
    assert_eq!(ids(second), [id(&markdown)]);

    for bad in [
        "category=poster",
        "linkedTo=persona",
        "linkedTo=planet:x",
        "mimePrefix=",
    ] {
        let response = app.get(&format!("/api/files?{bad}")).await;
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let response = app.get("/api/characters?category=image").await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[tokio::test]
async fn malformed_forms_are_refused_and_leave_no_blob() {
    let app = spawn_app().await;
    let response = app.post("/api/files", &json!({"file": "nope"})).await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let response = app.upload_form(Form::new().text("category", "image")).await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    let cases = [
        (
            Form::new().text("sha256", "abc"),
            StatusCode::BAD_REQUEST,
            "sha256",
        ),
        (
            Form::new().text("colour", "red"),
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (
            Form::new().text("category", "poster"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "category",
        ),
        (
            Form::new().text("source", "stolen"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "source",
        ),
        (
            Form::new().text("tags", "not-an-id"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "tags",
        ),
        (
            Form::new().text("linkedTo", format!("character:{}", uuid::Uuid::now_v7())),
            StatusCode::UNPROCESSABLE_ENTITY,
            "linkedTo",
        ),
    ];
    for (form, status, field) in cases {
        let form = form.part("file", file_part(b"text".to_vec(), "a.txt", None));
        let response = app.upload_form(form).await;
        let code = if status == StatusCode::BAD_REQUEST {
            "bad_request"
        } else {
            "validation_failed"
        };
        let body = assert_error(response, status, code).await;
        assert_detail_field(&body, field);
    }
    let two_files = file_form(b"one".to_vec(), "1.txt", None)
        .part("file", file_part(b"two".to_vec(), "2.txt", None));
    let response = app.upload_form(two_files).await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    let keys = app.blob_keys().await;
    assert!(keys.is_empty(), "{keys:?}");
    assert!(
        app.list("/api/files").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn limits_and_health_describe_the_file_store() {
    let app = spawn_app_with(|raw| {
        raw.max_upload_size = Some("3MiB".to_owned());
        raw.allowed_mime_types = Some("image/*, text/plain".to_owned());
    })
    .await;
    let limits = app.list("/api/limits").await;
    assert_eq!(
        limits,
        json!({
            "maxUploadBytes": 3 * 1024 * 1024,
            "allowedMimeTypes": ["image/*", "text/plain"],
            "redirectThresholdBytes": 5 * 1024 * 1024,
            "maxJsonBytes": 1024 * 1024,
        })
    );
    let health = json_body(app.get("/api/health").await).await;
    let blobs = &health["services"]["blobs"];
    assert_eq!(blobs["backend"], BlobBackend::under_test().name());
    assert_eq!(blobs["status"], "healthy");
    assert!(blobs["latencyMs"].is_number(), "{health}");
    assert_eq!(health["status"], "healthy");
}
