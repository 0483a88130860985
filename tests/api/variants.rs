//! Image variants: `GET /api/files/{id}?w=&h=&fit=&format=` serves a resized copy of an image
//! file, upright and without metadata, made once and then served from the blob store like any
//! file (ETag, 304, Range), removed with its original, bounded (allow-listed sizes,
//! decompression bombs refused), and reachable through signed links. Runs on the blob
//! backend under test (`QUILLSTORE_TEST_BLOBS=s3` for Garage).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::files_recovery::gc;
use crate::helpers::images::{self, BLUE, EXIF_MARKER, RED, dimensions, near, pixel};
use crate::helpers::migrate::{as_strs, dirs_args, quillstore};
use crate::helpers::{
    Api, assert_detail_field, assert_error, header, json_body, spawn_app, spawn_jwt_app,
};
use crate::helpers::{blob_files, blob_files_under, spawn_app_in};
use crate::migrate_copy::jwt_json;

/// Uploads `bytes` and returns the file id.
async fn upload(api: &Api, bytes: &[u8], name: &str) -> String {
    let file = api.upload(bytes, name, None).await;
    file["id"].as_str().unwrap().to_owned()
}

/// `GET path` with the response's status, `X-Variant-Cache`, `ETag` and body.
async fn fetch(api: &Api, path: &str) -> (StatusCode, String, String, Vec<u8>) {
    let response = api.get(path).await;
    let status = response.status();
    let cache = header(response.headers(), "x-variant-cache");
    let etag = header(response.headers(), "etag");
    let body = response.bytes().await.unwrap().to_vec();
    (status, cache, etag, body)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn a_variant_is_upright_resized_and_without_metadata() {
    let app = spawn_app().await;
    // Stored 640 x 320 with red on the left; EXIF orientation 6 shows it 320 x 640, red on top.
    let original = images::exif_jpeg(640, 320, 6);
    let id = upload(&app, &original, "photo.jpg").await;
    for format in ["png", "webp", "jpeg"] {
        let response = app
            .get(&format!("/api/files/{id}?w=64&format={format}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{format}");
        let headers = response.headers().clone();
        assert_eq!(header(&headers, "content-type"), format!("image/{format}"));
        assert!(header(&headers, "content-disposition").starts_with("inline"));
        assert_eq!(header(&headers, "x-variant-cache"), "miss");
        let body = response.bytes().await.unwrap();
        assert_eq!(dimensions(&body), (64, 128), "{format}");
        assert!(near(pixel(&body, 32, 16), RED, 40), "{format}");
        assert!(near(pixel(&body, 32, 112), BLUE, 40), "{format}");
        assert!(!contains(&body, EXIF_MARKER.as_bytes()), "{format}");
        assert!(!contains(&body, b"Exif"), "{format}");
    }
    // Both sides, cover: exactly the box; contain: inside it.
    let (_, _, _, cover) = fetch(&app, &format!("/api/files/{id}?w=64&h=64")).await;
    assert_eq!(dimensions(&cover), (64, 64));
    let (_, _, _, contain) = fetch(&app, &format!("/api/files/{id}?w=64&h=64&fit=contain")).await;
    assert_eq!(dimensions(&contain), (32, 64));
    // Without parameters the original is served, byte for byte.
    let (status, cache, _, body) = fetch(&app, &format!("/api/files/{id}")).await;
    assert_eq!(
        (status, cache.as_str(), body),
        (StatusCode::OK, "", original)
    );
}

#[tokio::test]
async fn a_second_request_is_served_from_the_store_like_any_file() {
    let app = spawn_app().await;
    let id = upload(&app, &images::jpeg(&images::halves(800, 600)), "big.jpg").await;
    let path = format!("/api/files/{id}?w=128&h=128&format=png");
    let (status, cache, etag, first) = fetch(&app, &path).await;
    assert_eq!((status, cache.as_str()), (StatusCode::OK, "miss"));
    let (status, cache, again, second) = fetch(&app, &path).await;
    assert_eq!((status, cache.as_str()), (StatusCode::OK, "hit"));
    assert_eq!((&etag, &first), (&again, &second));
    // Another spelling of the same variant is the same variant.
    let (_, cache, _, third) = fetch(
        &app,
        &format!("/api/files/{id}?format=png&h=128&w=128&fit=cover"),
    )
    .await;
    assert_eq!((cache.as_str(), &third), ("hit", &first));
    let variants = app.blobs().keys_under("variants/").await;
    assert_eq!(variants.len(), 1, "{variants:?}");
    assert!(
        variants[0].ends_with("v1_w128_h128_cover.png"),
        "{variants:?}"
    );

    let revalidated = app
        .send(
            app.request(Method::GET, &path)
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    let ranged = app
        .send(app.request(Method::GET, &path).header("range", "bytes=0-9"))
        .await;
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(ranged.headers(), "content-range"),
        format!("bytes 0-9/{}", first.len())
    );
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &first[..10]);
    let head = app.send(app.request(Method::HEAD, &path)).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header(head.headers(), "content-length"),
        first.len().to_string()
    );
    assert_eq!(header(head.headers(), "x-variant-cache"), "hit");
}

#[tokio::test]
async fn concurrent_requests_for_a_missing_variant_decode_it_once() {
    let app = spawn_app_with_concurrency(1).await;
    let id = upload(&app, &images::jpeg(&images::halves(1200, 900)), "wide.jpg").await;
    let path = format!("/api/files/{id}?w=256&format=webp");
    let requests = (0..6).map(|_| {
        let (api, path) = (app.api.clone(), path.clone());
        tokio::spawn(async move { fetch(&api, &path).await })
    });
    let answers: Vec<_> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let misses = answers.iter().filter(|answer| answer.1 == "miss").count();
    assert_eq!(
        misses,
        1,
        "{:?}",
        answers.iter().map(|answer| &answer.1).collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .all(|answer| answer.0 == StatusCode::OK && answer.3 == answers[0].3)
    );
}

async fn spawn_app_with_concurrency(limit: usize) -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(|raw| raw.image_max_concurrent = Some(limit.to_string())).await
}

#[tokio::test]
async fn sizes_outside_the_allow_list_are_refused_with_the_list() {
    let app = crate::helpers::spawn_app_with(|raw| {
        raw.image_variant_sizes = Some("64,128".to_owned());
    })
    .await;
    let id = upload(&app, &images::jpeg(&images::halves(200, 100)), "a.jpg").await;
    for (query, field) in [
        ("w=100", "w"),
        ("h=4096", "h"),
        ("w=64&fit=fill", "fit"),
        ("w=64&format=gif", "format"),
        ("fit=cover", "w"),
    ] {
        let response = app.get(&format!("/api/files/{id}?{query}")).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert_detail_field(&body, field);
        if field == "w" || field == "h" {
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains("64, 128"), "{message}");
        }
    }
    assert!(app.blobs().keys_under("variants/").await.is_empty());
}

#[tokio::test]
async fn files_that_are_not_decodable_images_get_a_clear_refusal() {
    let app = spawn_app().await;
    let text = upload(&app, b"just some words", "notes.txt").await;
    let response = app.get(&format!("/api/files/{text}?w=64")).await;
    let body = assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("text/plain"),
        "{body}"
    );
    // A decompression bomb: a 1 MiB PNG whose header claims 100,000 x 100,000 pixels (40 GB
    // decoded) is refused from its header.
    let bomb = upload(
        &app,
        &images::claimed_png(100_000, 100_000, 1 << 20),
        "bomb.png",
    )
    .await;
    let response = app.get(&format!("/api/files/{bomb}?w=64")).await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let message = body.to_string();
    assert!(message.contains("100000 x 100000"), "{message}");
    // A truncated PNG is a 422 too, and the app keeps serving.
    let whole = images::png_with_profile(300, 300, b"icc");
    let broken = upload(&app, &whole[..whole.len() / 2], "broken.png").await;
    let response = app.get(&format!("/api/files/{broken}?w=64")).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(app.blobs().keys_under("variants/").await.is_empty());
}

#[tokio::test]
async fn deleting_the_last_copy_of_an_original_deletes_its_variants() {
    let app = spawn_app().await;
    let bytes = images::jpeg(&images::halves(400, 200));
    let first = upload(&app, &bytes, "one.jpg").await;
    let second = upload(&app, &bytes, "two.jpg").await;
    let other = upload(&app, &images::jpeg(&images::halves(300, 200)), "other.jpg").await;
    for id in [&first, &other] {
        for query in ["w=64", "w=128&format=png"] {
            assert_eq!(
                fetch(&app, &format!("/api/files/{id}?{query}")).await.0,
                StatusCode::OK
            );
        }
    }
    assert_eq!(app.blobs().keys_under("variants/").await.len(), 4);
    // The second record shares the content: its variants are the same blobs and stay.
    assert_eq!(
        app.delete(&format!("/api/files/{first}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.blobs().keys_under("variants/").await.len(), 4);
    let (_, cache, _, _) = fetch(&app, &format!("/api/files/{second}?w=64")).await;
    assert_eq!(cache, "hit");
    assert_eq!(
        app.delete(&format!("/api/files/{second}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let left = app.blobs().keys_under("variants/").await;
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|key| !key.is_empty()));
    let (_, cache, _, _) = fetch(&app, &format!("/api/files/{other}?w=64")).await;
    assert_eq!(cache, "hit");
    // The same bytes uploaded again get their variants made anew.
    let again = upload(&app, &bytes, "again.jpg").await;
    let (_, cache, _, _) = fetch(&app, &format!("/api/files/{again}?w=64")).await;
    assert_eq!(cache, "miss");
}

/// Asks for a signed link with `body`; returns the response.
async fn link(api: &Api, id: &str, body: Value) -> reqwest::Response {
    api.send(
        api.request(Method::POST, &format!("/api/files/{id}/url"))
            .json(&body),
    )
    .await
}

#[tokio::test]
async fn a_signed_variant_link_serves_that_variant_only() {
    let app = spawn_jwt_app().await;
    let alice = app.as_user("alice");
    let id = upload(
        &alice,
        &images::jpeg(&images::halves(400, 300)),
        "avatar.jpg",
    )
    .await;
    let response = link(
        &alice,
        &id,
        json!({"variant": {"w": 64, "h": 64, "format": "png"}}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let url = json_body(response).await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.contains("w=64&h=64&format=png&user="), "{url}");
    let anonymous = Api::at(app.address.clone());
    let (status, _, _, body) = fetch(&anonymous, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dimensions(&body), (64, 64));
    // Another size, the original, or another format under the same signature: refused.
    for tampered in [
        url.replace("w=64&h=64", "w=128&h=128"),
        url.replace("w=64&h=64&format=png&", ""),
        url.replace("format=png", "format=webp"),
    ] {
        let response = anonymous.get(&tampered).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // A link to the original does not open variants.
    let response = link(&alice, &id, json!({})).await;
    let original = json_body(response).await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = anonymous.get(&format!("{original}&w=64")).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Links are only made for variants that can exist.
    let response = link(&alice, &id, json!({"variant": {"w": 65}})).await;
    let body = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert_detail_field(&body, "w");
    let response = link(&alice, &id, json!({"variant": {"w": "big"}})).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let text = upload(&alice, b"words", "a.txt").await;
    let response = link(&alice, &text, json!({"variant": {"w": 64}})).await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // Another user's file stays a 404, variant or not.
    let response = app
        .as_user("bob")
        .get(&format!("/api/files/{id}?w=64"))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn gc_keeps_the_variants_of_existing_originals_and_removes_the_others() {
    let mut app = spawn_app().await;
    let id = upload(&app, &images::jpeg(&images::halves(300, 200)), "kept.jpg").await;
    assert_eq!(
        fetch(&app, &format!("/api/files/{id}?w=64")).await.0,
        StatusCode::OK
    );
    app.stop().await;
    let blobs = app.blobs();
    let kept = blobs.keys_under("variants/").await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    let orphan = format!("variants/local/{}/v1_w64.webp", "ab".repeat(32));
    blobs.put_raw(&orphan, b"left behind").await;

    let dry = gc(&app.data_dir, &blobs, false).await;
    let report = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        report.contains(&format!(
            "image variant of a deleted original: {orphan} (11 bytes)"
        )),
        "{report}"
    );
    assert!(report.contains("image variants: 1 kept"), "{report}");
    assert!(!report.contains("orphan blob: variants/"), "{report}");
    assert!(!report.contains(&kept[0]), "{report}");
    assert!(gc(&app.data_dir, &blobs, true).await.status.success());
    assert_eq!(blobs.keys_under("variants/").await, kept);
}

#[tokio::test]
async fn migrate_copy_leaves_variants_behind_and_says_so() {
    let temp = tempfile::tempdir().unwrap();
    let (source, destination) = (temp.path().join("source"), temp.path().join("copy"));
    let mut app = spawn_app_in(&source, jwt_json).await;
    let alice = app.as_user("alice");
    let id = upload(&alice, &images::jpeg(&images::halves(300, 200)), "a.jpg").await;
    let (_, _, _, variant) = fetch(&alice, &format!("/api/files/{id}?w=64&h=64")).await;
    app.stop().await;
    let copy = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(copy.success, "{}{}", copy.stdout, copy.stderr);
    assert!(
        copy.stdout.contains("skipped 1 image variant blob(s)"),
        "{}",
        copy.stdout
    );
    assert_eq!(
        blob_files_under(&destination, "variants"),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(blob_files(&destination).len(), 1);
    // The copy makes the variant again, identical, on first request.
    let copied = spawn_app_in(&destination, jwt_json).await;
    let (status, cache, _, again) = fetch(
        &copied.as_user("alice"),
        &format!("/api/files/{id}?w=64&h=64"),
    )
    .await;
    assert_eq!((status, cache.as_str()), (StatusCode::OK, "miss"));
    assert_eq!(again, variant);
}
