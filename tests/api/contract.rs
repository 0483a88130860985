//! The contract a browser frontend relies on: stable signed links the browser may cache,
//! ready links in file lists, one ETag meaning per URL (and that ETag works in `If-Match` on
//! the same URL), absolute URLs on `PUBLIC_BASE_URL`, one error shape (`details` always an
//! array, a 412 with the current ETag), and no storage internals in file JSON.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Api, assert_error, header, json_body, sha256_hex, spawn_app, spawn_app_with, text_bytes,
};

/// `POST /api/files/{id}/url` with `body`; the answer.
async fn signed_link(api: &Api, id: &str, body: Value) -> Value {
    let response = api.post(&format!("/api/files/{id}/url"), &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

/// The `max-age` of a `Cache-Control` value.
fn max_age(cache_control: &str) -> u64 {
    cache_control
        .split(',')
        .find_map(|part| part.trim().strip_prefix("max-age="))
        .unwrap_or_else(|| panic!("no max-age in {cache_control:?}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn signed_links_are_stable_and_cacheable_until_they_expire() {
    let app = spawn_app().await;
    let bytes = text_bytes(1000, 3);
    let file = app.upload(&bytes, "gallery.txt", None).await;
    let id = file["id"].as_str().unwrap();
    // Within a window, the same file and lifetime give the same URL (windows are at most five
    // minutes, so two requests a moment apart differ only across a boundary: ask a third time).
    let first = signed_link(&app, id, json!({"expiresIn": 600})).await;
    let second = signed_link(&app, id, json!({"expiresIn": 600})).await;
    let third = signed_link(&app, id, json!({"expiresIn": 600})).await;
    assert!(
        first["url"] == second["url"] || second["url"] == third["url"],
        "{first} {second} {third}"
    );
    assert_eq!(
        second["expiresAt"] == third["expiresAt"],
        second["url"] == third["url"]
    );
    let url = third["url"].as_str().unwrap();
    let expires: u64 = url
        .split("expires=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap()
        .parse()
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    assert!(
        (now + 599..now + 600 + 300).contains(&expires),
        "lives at least expiresIn, at most one window more: {expires} at {now}"
    );

    // What the link serves may be kept by the browser for the rest of the link's life.
    let anonymous = Api::at(app.address.clone());
    let response = anonymous.get(url).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cache_control = header(response.headers(), "cache-control");
    assert!(cache_control.starts_with("private"), "{cache_control}");
    let age = max_age(&cache_control);
    assert!(
        age > 0 && age <= expires - now + 1,
        "max-age {age} bounded by the link's remaining life"
    );
    assert_eq!(response.bytes().await.unwrap(), bytes);
    // With the bearer token the answer is private and immutable too, with no link to bound it.
    let direct = app.get(&format!("/api/files/{id}")).await;
    assert_eq!(
        header(direct.headers(), "cache-control"),
        "private, immutable"
    );
}

#[tokio::test]
async fn file_lists_and_metadata_carry_ready_links_and_no_storage_internals() {
    let app = spawn_app().await;
    let one = app.upload(b"first bytes", "one.txt", None).await;
    let two = app.upload(b"second bytes", "two.txt", None).await;
    for file in [&one, &two] {
        assert!(file.get("storage").is_none(), "{file}");
    }
    let plain = app.list("/api/files").await;
    for item in plain["items"].as_array().unwrap() {
        assert!(item.get("storage").is_none(), "{item}");
        assert!(item.get("signedUrl").is_none(), "only on request: {item}");
    }
    let page = app.list("/api/files?signedUrls=true").await;
    let anonymous = Api::at(app.address.clone());
    let mut served = Vec::new();
    for item in page["items"].as_array().unwrap() {
        assert!(item.get("storage").is_none(), "{item}");
        let url = item["signedUrl"]["url"].as_str().expect("a ready link");
        assert!(item["signedUrl"]["expiresAt"].is_string(), "{item}");
        let response = anonymous.get(url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        served.push(response.bytes().await.unwrap().to_vec());
    }
    served.sort();
    assert_eq!(served, [b"first bytes".to_vec(), b"second bytes".to_vec()]);

    let id = one["id"].as_str().unwrap();
    let metadata = app
        .get(&format!("/api/files/{id}/metadata?signedUrls=true"))
        .await;
    assert_eq!(header(metadata.headers(), "etag"), "\"1\"");
    let metadata = json_body(metadata).await;
    assert!(metadata.get("storage").is_none(), "{metadata}");
    let url = metadata["signedUrl"]["url"].as_str().unwrap();
    assert_eq!(
        anonymous.get(url).await.bytes().await.unwrap(),
        &b"first bytes"[..]
    );
    let plain = json_body(app.get(&format!("/api/files/{id}/metadata")).await).await;
    assert_eq!(plain, one, "without signedUrls: the metadata as uploaded");

    for refused in [
        "/api/files?signedUrls=yes",
        "/api/tags?signedUrls=true",
        "/api/files?w=64",
        "/api/files?signedUrls=true&w=63",
        "/api/tags?signedUrls=true&w=64",
    ] {
        assert_error(
            app.get(refused).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
}

/// With variant parameters, the ready links of image files open that variant (a gallery of
/// thumbnails in one request); other files' links still open their content.
#[tokio::test]
async fn ready_links_can_name_a_variant_for_image_files() {
    let app = spawn_app().await;
    let photo = crate::helpers::images::jpeg(&crate::helpers::images::halves(200, 100));
    let image = app.upload(&photo, "photo.jpg", None).await;
    let text = app.upload(b"not an image", "t.txt", None).await;
    let page = app.list("/api/files?signedUrls=true&w=64&format=png").await;
    let anonymous = Api::at(app.address.clone());
    for item in page["items"].as_array().unwrap() {
        let url = item["signedUrl"]["url"].as_str().unwrap();
        let response = anonymous.get(url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        if item["id"] == image["id"] {
            assert!(url.contains("w=64") && url.contains("format=png"), "{url}");
            assert_eq!(header(response.headers(), "content-type"), "image/png");
            assert!(!header(response.headers(), "x-variant-cache").is_empty());
        } else {
            assert_eq!(item["id"], text["id"]);
            assert!(!url.contains("w="), "{url}");
            assert_eq!(response.bytes().await.unwrap(), &b"not an image"[..]);
        }
    }
    let id = image["id"].as_str().unwrap();
    let metadata = app
        .list(&format!("/api/files/{id}/metadata?signedUrls=true&w=64"))
        .await;
    let url = metadata["signedUrl"]["url"].as_str().unwrap();
    assert!(url.contains("w=64"), "{url}");
    assert_eq!(anonymous.get(url).await.status(), StatusCode::OK);
}

/// `/api/files/{id}` is the content: its ETag is the SHA-256 wherever it is given (upload,
/// GET), and `If-Match` with it deletes; `/api/files/{id}/metadata` is the metadata: its ETag
/// is the version, and `If-Match` with it patches.
#[tokio::test]
async fn an_etag_from_a_url_works_in_if_match_on_that_url() {
    let app = spawn_app().await;
    let bytes = b"content under one url".to_vec();
    let upload = app
        .upload_form(crate::helpers::file_form(bytes.clone(), "c.txt", None))
        .await;
    assert_eq!(upload.status(), StatusCode::CREATED);
    let upload_etag = header(upload.headers(), "etag");
    let location = header(upload.headers(), "location");
    let file = json_body(upload).await;
    let id = file["id"].as_str().unwrap();
    let content = format!("/api/files/{id}");
    assert_eq!(location, content);
    let got = app.get(&content).await;
    let content_etag = header(got.headers(), "etag");
    assert_eq!(content_etag, format!("\"{}\"", sha256_hex(&bytes)));
    assert_eq!(
        upload_etag, content_etag,
        "one meaning: the 201 says what GET says"
    );

    let metadata_path = format!("{content}/metadata");
    let metadata = app.get(&metadata_path).await;
    let metadata_etag = header(metadata.headers(), "etag");
    assert_eq!(metadata_etag, "\"1\"");
    let patched = app
        .patch_if_match(&metadata_path, &json!({"description": "d"}), &metadata_etag)
        .await;
    assert_eq!(patched.status(), StatusCode::OK);

    let delete_if = |tag: &str| {
        app.send(
            app.request(Method::DELETE, &content)
                .header("if-match", tag.to_owned()),
        )
    };
    // The metadata's ETag is not this URL's: a 412 that names the current one.
    let stale = delete_if("\"2\"").await;
    assert_eq!(header(stale.headers(), "etag"), content_etag);
    assert_error(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let weak = delete_if(&format!("W/{content_etag}")).await;
    assert_error(weak, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_error(
        delete_if("sha").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(
        delete_if(&content_etag).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(app.get(&content).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_412_carries_the_current_etag_and_says_how_to_recover() {
    let app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "first"})).await;
    let path = format!("/api/tags/{}", tag["id"].as_str().unwrap());
    let moved = app.patch(&path, &json!({"name": "second"})).await;
    let current = header(moved.headers(), "etag");
    assert_eq!(current, "\"2\"");
    for method in [Method::PATCH, Method::DELETE] {
        let request = app
            .request(method.clone(), &path)
            .header("if-match", "\"1\"")
            .json(&json!({"name": "third"}));
        let response = app.send(request).await;
        assert_eq!(header(response.headers(), "etag"), current, "{method}");
        let body = assert_error(
            response,
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
        )
        .await;
        let message = body["error"]["message"].as_str().unwrap();
        for step in ["re-read", "re-apply", "If-Match"] {
            assert!(message.contains(step), "{step} in {message}");
        }
    }
    // Recovering as told works.
    let retried = app
        .patch_if_match(&path, &json!({"name": "third"}), &current)
        .await;
    assert_eq!(retried.status(), StatusCode::OK);
}

/// Every kind of error has `details` as an array of `{field, message, ...}`; the checks
/// are in `assert_error`, called here once per kind.
#[tokio::test]
async fn error_details_are_always_an_array() {
    let app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "taken"})).await;
    let missing = format!("/api/tags/{}", uuid::Uuid::now_v7());
    let conflict = app.post("/api/tags", &json!({"name": "taken"})).await;
    let body = assert_error(conflict, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(body["error"]["details"][0]["field"], "name", "{body}");
    assert_eq!(
        body["error"]["details"][0]["existingId"], tag["id"],
        "{body}"
    );
    let cases = [
        (app.get(&missing).await, StatusCode::NOT_FOUND, "not_found"),
        (
            app.post("/api/tags", &json!({"name": ""})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            app.post("/api/tags", &json!({"id": "x", "name": "n"}))
                .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            app.send(app.request(Method::POST, "/api/tags").body("not json"))
                .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            app.send(app.request(Method::PUT, "/api/tags")).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            app.get("/api/nowhere").await,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (response, status, code) in cases {
        let body = assert_error(response, status, code).await;
        assert!(body["error"]["details"].is_array(), "{body}");
    }
    let jwt = crate::helpers::spawn_jwt_app().await;
    assert_error(
        jwt.get("/api/tags").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn public_base_url_makes_every_returned_url_absolute() {
    const BASE: &str = "https://api.example.com/store";
    let app = spawn_app_with(|raw| raw.public_base_url = Some(format!("{BASE}/"))).await;
    let created = app.post("/api/tags", &json!({"name": "t"})).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = header(created.headers(), "location");
    let tag = json_body(created).await;
    assert_eq!(
        location,
        format!("{BASE}/api/tags/{}", tag["id"].as_str().unwrap())
    );

    let upload = app
        .upload_form(crate::helpers::file_form(b"abc".to_vec(), "a.txt", None))
        .await;
    let location = header(upload.headers(), "location");
    let file = json_body(upload).await;
    let id = file["id"].as_str().unwrap();
    assert_eq!(location, format!("{BASE}/api/files/{id}"));
    let link = signed_link(&app, id, json!({})).await;
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{BASE}/api/files/{id}?")), "{url}");
    // The path of the absolute URL is the link: it serves the file here too.
    let anonymous = Api::at(app.address.clone());
    let response = anonymous.get(url.strip_prefix(BASE).unwrap()).await;
    assert_eq!(response.bytes().await.unwrap(), &b"abc"[..]);
    let page = app.list("/api/files?signedUrls=true").await;
    let listed = page["items"][0]["signedUrl"]["url"].as_str().unwrap();
    assert!(
        listed.starts_with(&format!("{BASE}/api/files/{id}?")),
        "{listed}"
    );

    let direct = app
        .post(
            "/api/files/uploads",
            &json!({"filename": "d.txt", "mimeType": "text/plain", "size": 3}),
        )
        .await;
    assert_eq!(direct.status(), StatusCode::CREATED);
    let direct = json_body(direct).await;
    let put = direct["url"].as_str().unwrap();
    assert!(
        put.starts_with(&format!("{BASE}/api/files/uploads/")) || !put.starts_with('/'),
        "absolute on the base, or a presigned S3 URL: {put}"
    );

    let plain = spawn_app().await;
    let created = plain.post("/api/tags", &json!({"name": "t"})).await;
    assert!(header(created.headers(), "location").starts_with("/api/tags/"));
}
