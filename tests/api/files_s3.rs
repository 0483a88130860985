//! What only the S3 blob store does, against a real Garage: redirects to presigned GETs that a
//! plain HTTP client can follow, listings that stay inside their prefix, and 503s while the
//! store is down followed by recovery once it is back.

use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};

use crate::files_recovery::gc;
use crate::helpers::garage::Garage;
use crate::helpers::{
    Api, PNG_2X3, TestBlobs, base_config, build_app, header, json_body, s3_blobs_only, s3_client,
    spawn_app_with, text_bytes,
};

/// A client that follows no redirect and sends no credentials.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// `GET /api/files/{id}` without following the redirect.
async fn get_unfollowed(app: &Api, id: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.request(Method::GET, &format!("/api/files/{id}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    plain_client()
        .execute(request.build().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn large_files_redirect_to_presigned_urls_a_plain_client_can_follow() {
    if !s3_blobs_only("large_files_redirect_to_presigned_urls_a_plain_client_can_follow") {
        return;
    }
    let app = spawn_app_with(|raw| raw.files_redirect_threshold = Some("4KiB".into())).await;
    let bytes = text_bytes(100_000, 3);
    let text = app.upload(&bytes, "notes \"1\".txt", None).await;
    let id = text["id"].as_str().unwrap();

    let first = get_unfollowed(&app, id, &[]).await;
    assert_eq!(first.status(), StatusCode::FOUND);
    let location = header(first.headers(), "location");
    assert!(location.starts_with("http"), "{location}");
    let second = header(get_unfollowed(&app, id, &[]).await.headers(), "location");
    let third = header(get_unfollowed(&app, id, &[]).await.headers(), "location");
    assert!(
        location == second || second == third,
        "requests within one window get the same URL"
    );

    let followed = plain_client().get(&third).send().await.unwrap();
    assert_eq!(followed.status(), StatusCode::OK);
    assert_eq!(
        header(followed.headers(), "content-type"),
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        header(followed.headers(), "content-disposition"),
        "inline; filename=\"notes _1_.txt\"; filename*=UTF-8''notes%20%221%22.txt"
    );
    // The store's answer may be kept while a URL handed out in the window lasts at least.
    let store_cache = header(followed.headers(), "cache-control");
    assert!(
        store_cache.starts_with("private") && store_cache.contains("max-age="),
        "{store_cache}"
    );
    assert_eq!(followed.bytes().await.unwrap(), bytes);
    // A redirect for a bearer token is not stored; through a signed link it may be kept as
    // long as both the link and the presigned URL last.
    assert_eq!(
        header(first.headers(), "cache-control"),
        "private, no-store"
    );
    let link = json_body(
        app.post(
            &format!("/api/files/{id}/url"),
            &serde_json::json!({"expiresIn": 60}),
        )
        .await,
    )
    .await;
    let through_link = plain_client()
        .get(format!("{}{}", app.address, link["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(through_link.status(), StatusCode::FOUND);
    let link_cache = header(through_link.headers(), "cache-control");
    let max_age: u64 = link_cache
        .strip_prefix("private, max-age=")
        .unwrap_or_else(|| panic!("{link_cache}"))
        .parse()
        .unwrap();
    assert!(
        (1..=120).contains(&max_age),
        "bounded by the link: {link_cache}"
    );
    let part = plain_client()
        .get(&third)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap(), bytes[10..20]);

    // Active content is an attachment at S3 too.
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\">{}</svg>",
        "x".repeat(8000)
    );
    let svg = app
        .upload(svg.as_bytes(), "logo.svg", Some("image/svg+xml"))
        .await;
    let redirect = get_unfollowed(&app, svg["id"].as_str().unwrap(), &[]).await;
    let followed = plain_client()
        .get(header(redirect.headers(), "location"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(followed.headers(), "content-type"), "image/svg+xml");
    assert!(header(followed.headers(), "content-disposition").starts_with("attachment;"));

    // HEAD comes from the metadata; small files and If-None-Match are answered here.
    let head = app
        .send(app.request(Method::HEAD, &format!("/api/files/{id}")))
        .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        header(head.headers(), "content-length"),
        bytes.len().to_string()
    );
    let etag = format!("\"{}\"", text["sha256"].as_str().unwrap());
    let cached = get_unfollowed(&app, id, &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let small = app.upload(PNG_2X3, "small.png", None).await;
    let small_id = small["id"].as_str().unwrap();
    let streamed = get_unfollowed(&app, small_id, &[("range", "bytes=1-3")]).await;
    assert_eq!(streamed.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(streamed.bytes().await.unwrap(), PNG_2X3[1..4]);
}

#[tokio::test]
async fn files_redirect_never_and_always_are_obeyed() {
    if !s3_blobs_only("files_redirect_never_and_always_are_obeyed") {
        return;
    }
    let never = spawn_app_with(|raw| {
        raw.files_redirect = Some("never".into());
        raw.files_redirect_threshold = Some("1KiB".into());
    })
    .await;
    let bytes = text_bytes(50_000, 4);
    let file = never.upload(&bytes, "big.txt", None).await;
    let response = get_unfollowed(&never, file["id"].as_str().unwrap(), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), bytes);
    // A few MiB, streamed in many chunks: whole, and a range across them, come back byte
    // for byte.
    let large = text_bytes(3_000_000, 5);
    let file = never.upload(&large, "large.txt", None).await;
    let id = file["id"].as_str().unwrap();
    let response = get_unfollowed(&never, id, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), large);
    let response = get_unfollowed(&never, id, &[("range", "bytes=100000-2899999")]).await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.bytes().await.unwrap(), large[100_000..2_900_000]);

    let always = spawn_app_with(|raw| raw.files_redirect = Some("always".into())).await;
    let file = always.upload(PNG_2X3, "tiny.png", None).await;
    let response = get_unfollowed(&always, file["id"].as_str().unwrap(), &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    // The API client follows redirects (dropping its credentials at the other origin).
    assert_eq!(
        always.download_bytes(file["id"].as_str().unwrap()).await,
        PNG_2X3
    );

    let public = spawn_app_with(|raw| {
        raw.files_redirect = Some("always".into());
        raw.s3_public_url = Some("https://cdn.example.com/files/".into());
    })
    .await;
    let file = public.upload(PNG_2X3, "tiny.png", None).await;
    let key = public.blobs().key_of(&file).await;
    let response = get_unfollowed(&public, file["id"].as_str().unwrap(), &[]).await;
    let TestBlobs::S3 { prefix, .. } = public.blobs() else {
        unreachable!()
    };
    assert_eq!(
        header(response.headers(), "location"),
        format!("https://cdn.example.com/files/{prefix}{key}")
    );
}

#[tokio::test]
async fn gc_stays_inside_its_prefix() {
    if !s3_blobs_only("gc_stays_inside_its_prefix") {
        return;
    }
    let mut app = spawn_app_with(|_| {}).await;
    app.upload(b"mine", "mine.txt", None).await;
    app.stop().await;
    let blobs = app.blobs();
    let TestBlobs::S3 { settings, prefix } = &blobs else {
        unreachable!()
    };
    // The same prefix without its slash, plus one character: a neighbour's object.
    let neighbour = TestBlobs::S3 {
        settings: settings.clone(),
        prefix: format!("{}x/", prefix.trim_end_matches('/')),
    };
    let orphan = format!("users/local/image/{}_n.png", uuid::Uuid::now_v7());
    neighbour.put_raw(&orphan, b"not yours").await;
    let applied = gc(&app.data_dir, &blobs, true).await;
    let report = String::from_utf8_lossy(&applied.stdout).into_owned();
    assert!(applied.status.success(), "{report}");
    assert!(report.contains("removed 0 orphan blob(s)"), "{report}");
    assert_eq!(neighbour.keys().await, [orphan]);
    neighbour.remove_raw(&neighbour.keys().await[0]).await;
}

/// Sends a request without the harness's "never a 5xx" check.
async fn status_of(app: &Api, method: Method, path: &str) -> StatusCode {
    let request = app.request(method, path).build().unwrap();
    app.client.execute(request).await.unwrap().status()
}

#[tokio::test]
async fn with_s3_down_file_routes_and_health_answer_503_then_recover() {
    if !s3_blobs_only("with_s3_down_file_routes_and_health_answer_503_then_recover") {
        return;
    }
    let mut garage = Garage::start();
    let blobs = TestBlobs::on_s3(garage.settings.clone());
    let app = spawn_app_with(|raw| {
        blobs.configure(raw);
        raw.s3_timeout_ms = Some("2000".into());
    })
    .await;
    let file = app.upload(b"survives", "a.txt", None).await;
    let path = format!("/api/files/{}", file["id"].as_str().unwrap());

    garage.kill();
    let health = app.get("/api/health").await;
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health = json_body(health).await;
    assert_eq!(
        health["services"]["blobs"]["status"], "unhealthy",
        "{health}"
    );
    assert_eq!(
        health["services"]["metadata"]["status"], "healthy",
        "{health}"
    );
    assert_eq!(
        status_of(&app, Method::GET, &path).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"lost".to_vec()).file_name("b.txt"),
    );
    let upload = app
        .request(Method::POST, "/api/files")
        .multipart(form)
        .build()
        .unwrap();
    let upload = app.client.execute(upload).await.unwrap();
    assert_eq!(upload.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!header(upload.headers(), "retry-after").is_empty());
    assert_eq!(
        status_of(&app, Method::GET, "/api/tags").await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, Method::GET, &format!("{path}/metadata")).await,
        StatusCode::OK
    );

    garage.resume();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while status_of(&app, Method::GET, "/api/health").await != StatusCode::OK {
        assert!(
            tokio::time::Instant::now() < deadline,
            "health never recovered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.download_bytes(file["id"].as_str().unwrap()).await,
        b"survives"
    );
    app.upload(b"after", "c.txt", None).await;
}

#[tokio::test]
async fn a_missing_bucket_stops_the_start_unless_it_may_be_created() {
    if !s3_blobs_only("a_missing_bucket_stops_the_start_unless_it_may_be_created") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bucket = format!("missing-{}", uuid::Uuid::new_v4().simple());
    let mut raw = base_config(dir.path());
    raw.s3_bucket = Some(bucket.clone());
    let error = build_app(raw.clone())
        .await
        .err()
        .expect("no bucket, no start");
    let message = format!("{error:#}");
    assert!(
        message.contains(&format!("S3_BUCKET={bucket} does not exist"))
            && message.contains("S3_CREATE_BUCKET"),
        "{message}"
    );
    raw.s3_create_bucket = Some("true".into());
    let app = build_app(raw.clone()).await.expect("the bucket is created");
    drop(app);
    let TestBlobs::S3 { settings, .. } = TestBlobs::of(&raw) else {
        unreachable!()
    };
    s3_client(&settings)
        .delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the created bucket exists and is empty");
}
