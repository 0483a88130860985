//! `S3_PRESIGN_ENDPOINT` against a real Garage: quillstore reaches the store at one address
//! and hands browsers URLs signed for another (here `localhost` and `127.0.0.1`, the same
//! Garage): download redirects and direct uploads point there, and work there.

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::json;

use crate::files_direct::{ask, complete, put_bytes};
use crate::helpers::{header, s3_blobs_only, sha256_hex, spawn_app_with, text_bytes};

/// The suite's endpoint under its other loopback name.
fn other_name(endpoint: &str) -> String {
    if endpoint.contains("127.0.0.1") {
        endpoint.replace("127.0.0.1", "localhost")
    } else {
        endpoint.replace("localhost", "127.0.0.1")
    }
}

/// `host:port` of a URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or_default()
}

#[tokio::test]
async fn redirects_and_direct_uploads_are_signed_for_the_presign_endpoint() {
    if !s3_blobs_only("redirects_and_direct_uploads_are_signed_for_the_presign_endpoint") {
        return;
    }
    let mut public = String::new();
    let app = spawn_app_with(|raw| {
        let endpoint = raw.s3_endpoint.clone().unwrap();
        public = other_name(&endpoint);
        assert_ne!(
            public, endpoint,
            "the suite's S3 endpoint names a loopback host"
        );
        raw.s3_presign_endpoint = Some(public.clone());
        raw.files_redirect = Some("always".into());
    })
    .await;
    let internal = app.raw_config().s3_endpoint.unwrap();

    let bytes = text_bytes(20_000, 5);
    let file = app.upload(&bytes, "a.txt", None).await;
    let plain = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let request = app.request(
        reqwest::Method::GET,
        &format!("/api/files/{}", file["id"].as_str().unwrap()),
    );
    let redirect = plain.execute(request.build().unwrap()).await.unwrap();
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = header(redirect.headers(), "location");
    assert_eq!(authority(&location), authority(&public), "{location}");
    assert_ne!(authority(&location), authority(&internal));
    let followed = plain.get(&location).send().await.unwrap();
    assert_eq!(followed.status(), StatusCode::OK, "{location}");
    assert_eq!(followed.bytes().await.unwrap(), bytes);

    let upload = text_bytes(30_000, 6);
    let answer = ask(
        &app,
        json!({"filename": "b.txt", "mimeType": "text/plain", "size": upload.len(),
               "category": "attachment", "sha256": sha256_hex(&upload)}),
    )
    .await;
    let url = answer["url"].as_str().unwrap();
    assert_eq!(authority(url), authority(&public), "{url}");
    assert_eq!(
        put_bytes(&app, &answer, &upload).await.status(),
        StatusCode::OK
    );
    let completed = complete(&app, &answer).await;
    assert_eq!(completed.status(), StatusCode::CREATED);
    let record: serde_json::Value = completed.json().await.unwrap();
    // The API client follows the redirect to the public address too.
    assert_eq!(
        app.download_bytes(record["id"].as_str().unwrap()).await,
        upload
    );
}
