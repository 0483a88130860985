//! What keeps files safe to serve: types sniffed from the content (spoofs refused), the
//! allow-list, the upload limit, sandboxed attachments for active types, `nosniff`, and file
//! names that cannot break out of a path or a header.

use futures::stream;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use crate::helpers::{
    PNG_2X3, assert_error, file_form, header, json_body, spawn_app, spawn_app_with, text_bytes,
};

const HTML: &[u8] = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script>";
const SVG: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";

#[tokio::test]
async fn spoofed_and_unlisted_types_are_refused() {
    let app = spawn_app().await;
    let cases: [(&[u8], &str, Option<&str>); 5] = [
        (PNG_2X3, "x.html", Some("text/html")),
        (HTML, "x.png", Some("image/png")),
        (HTML, "x.txt", Some("text/plain")),
        (HTML, "x.html", None),
        (
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
            "x.exe",
            Some("application/x-msdownload"),
        ),
    ];
    for (bytes, name, declared) in cases {
        let response = app
            .upload_form(file_form(bytes.to_vec(), name, declared))
            .await;
        let body = assert_error(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains('/'),
            "{body}"
        );
    }
    let binary = app
        .upload_form(file_form(
            vec![0, 1, 2, 3, 255],
            "blob.bin",
            Some("image/png"),
        ))
        .await;
    assert_error(
        binary,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert!(app.blob_keys().await.is_empty());
    assert_eq!(app.blobs().pending_writes().await, 0);
}

#[tokio::test]
async fn active_types_are_sandboxed_attachments_and_passive_ones_inline() {
    let app = spawn_app().await;
    let svg = app.upload(SVG, "logo.svg", Some("image/svg+xml")).await;
    assert_eq!(svg["mimeType"], "image/svg+xml");
    let response = app.download(svg["id"].as_str().unwrap(), &[]).await;
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "content-type"), "image/svg+xml");
    assert_eq!(header(&headers, "content-security-policy"), "sandbox");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(header(&headers, "content-disposition").starts_with("attachment;"));

    let png = app.upload(PNG_2X3, "cat.png", None).await;
    let markdown = app.upload(b"# hi", "notes.md", None).await;
    let text = app.upload(b"hi", "hi.txt", None).await;
    for (file, inline) in [(&png, true), (&text, true), (&markdown, false)] {
        let response = app.download(file["id"].as_str().unwrap(), &[]).await;
        let headers = response.headers().clone();
        let disposition = header(&headers, "content-disposition");
        let csp = header(&headers, "content-security-policy");
        assert_eq!(disposition.starts_with("inline;"), inline, "{file}");
        assert_eq!(csp == "sandbox", !inline, "{file}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    }
    let missing = app.download(&uuid::Uuid::now_v7().to_string(), &[]).await;
    assert_eq!(
        header(missing.headers(), "x-content-type-options"),
        "nosniff"
    );
    assert_error(missing, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn file_names_are_sanitized_and_safely_quoted() {
    let app = spawn_app().await;
    let cases = [
        (
            "../../etc/passwd.txt",
            "passwd.txt",
            "inline; filename=\"passwd.txt\"; filename*=UTF-8''passwd.txt",
        ),
        (
            "say \"hi\".txt",
            "say \"hi\".txt",
            "inline; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20%22hi%22.txt",
        ),
        (
            "портрет 🐱.txt",
            "портрет 🐱.txt",
            "inline; filename=\"_______ _.txt\"; filename*=UTF-8''%D0%BF%D0%BE%D1%80%D1%82%D1%80%D0%B5%D1%82%20%F0%9F%90%B1.txt",
        ),
        (
            "..\\..\\win.ini",
            "win.ini",
            "inline; filename=\"win.ini\"; filename*=UTF-8''win.ini",
        ),
    ];
    for (sent, stored, disposition) in cases {
        // Other bytes each time, so no upload shares another's blob (and key).
        let file = app.upload(sent.as_bytes(), sent, None).await;
        assert_eq!(file["originalFilename"], stored);
        let key = app.blobs().key_of(&file).await;
        assert!(!key.contains("..") && key.is_ascii(), "{key}");
        let response = app.download(file["id"].as_str().unwrap(), &[]).await;
        assert_eq!(
            header(response.headers(), "content-disposition"),
            disposition
        );
    }
    for key in app.blob_keys().await {
        assert!(key.starts_with("users/local/document/"), "{key:?}");
    }
}

#[tokio::test]
async fn line_breaks_in_names_never_reach_a_header() {
    let app = spawn_app().await;
    // Browsers send CR and LF of a file name as %0D and %0A; the name is decoded, then cleaned.
    let boundary = "quillstore-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"evil%0D%0ASet-Cookie: a=b%0D%0A.txt\"\r\nContent-Type: text/plain\r\n\r\n\
         hello\r\n--{boundary}--\r\n"
    );
    let request = app
        .request(reqwest::Method::POST, "/api/files")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let file = json_body(response).await;
    assert_eq!(file["originalFilename"], "evilSet-Cookie: a=b.txt");
    let response = app.download(file["id"].as_str().unwrap(), &[]).await;
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(
        header(response.headers(), "content-disposition"),
        "inline; filename=\"evilSet-Cookie: a=b.txt\"; filename*=UTF-8''evilSet-Cookie%3A%20a%3Db.txt"
    );
}

#[tokio::test]
async fn uploads_over_the_limit_get_413_and_leave_nothing() {
    let limit = 1024 * 1024;
    let app = spawn_app_with(|raw| raw.max_upload_size = Some(limit.to_string())).await;
    let exact = app.upload(&text_bytes(limit, 1), "exact.txt", None).await;
    assert_eq!(exact["size"], limit as u64);

    // Streamed without a length: counted as it flows and cut at the limit.
    let over = text_bytes(limit + 1, 2);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = over
        .chunks(64 * 1024)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    let part = Part::stream(reqwest::Body::wrap_stream(stream::iter(chunks))).file_name("over.txt");
    let response = app.upload_form(Form::new().part("file", part)).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // With a declared length far past the limit: refused before the body is read.
    let response = app
        .upload_form(file_form(text_bytes(3 * limit, 3), "huge.txt", None))
        .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let page = app.list("/api/files").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.blob_keys().await.len(), 1);
    assert_eq!(app.blobs().pending_writes().await, 0);
}
