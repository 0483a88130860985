//! Signed links: `POST /api/files/{id}/url` gives a link that serves that one file without an
//! auth header until it expires; a tampered, expired or misapplied link is refused.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Api, assert_detail_field, assert_error, header, json_body, spawn_jwt_app, text_bytes,
};

/// Asks for a link to `id`; returns `(path and query, expiresAt)`.
async fn link_to(api: &Api, id: &str, body: Option<Value>) -> (String, String) {
    let request = api.request(Method::POST, &format!("/api/files/{id}/url"));
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = api.send(request).await;
    let status = response.status();
    let answer = json_body(response).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let url = answer["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("/api/files/{id}?")), "{url}");
    (url, answer["expiresAt"].as_str().unwrap().to_owned())
}

/// The value of `name` in the query of `url`.
fn param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap()
        .to_owned()
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    url.replace(
        &format!("{name}={}", param(url, name)),
        &format!("{name}={value}"),
    )
}

#[tokio::test]
async fn a_signed_link_serves_one_file_without_auth() {
    let app = spawn_jwt_app().await;
    let alice = app.as_user("alice");
    let bytes = text_bytes(2048, 5);
    let file = alice.upload(&bytes, "secret.txt", None).await;
    let other = alice.upload(b"another file", "other.txt", None).await;
    let id = file["id"].as_str().unwrap();
    let (url, expires_at) = link_to(&alice, id, None).await;

    let expires: i64 = param(&url, "expires").parse().unwrap();
    let stamp =
        time::OffsetDateTime::parse(&expires_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert_eq!(stamp.unix_timestamp(), expires);
    let lifetime = expires - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (899..1200).contains(&lifetime),
        "default lifetime 15 minutes, rounded up to a 5-minute window, got {lifetime}s"
    );

    // No Authorization header at all: `app` carries no token.
    let response = app.get(&url).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "x-content-type-options"),
        "nosniff"
    );
    assert_eq!(response.bytes().await.unwrap(), bytes);
    let ranged = app
        .send(app.request(Method::GET, &url).header("range", "bytes=0-9"))
        .await;
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.unwrap(), bytes[..10]);
    // A token of another user does not change whom a link acts for.
    let response = app.as_user("bob").get(&url).await;
    assert_eq!(response.status(), StatusCode::OK);

    let other_id = other["id"].as_str().unwrap();
    let misapplied = url.replace(id, other_id);
    let response = app.get(&misapplied).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = app.get(&format!("/api/files/{other_id}")).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // A link opens the bytes only, never the metadata routes.
    let response = app
        .get(&format!(
            "/api/files/{id}/metadata?{}",
            url.split_once('?').unwrap().1
        ))
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn tampered_or_expired_links_are_refused() {
    let app = spawn_jwt_app().await;
    let alice = app.as_user("alice");
    let file = alice.upload(b"hello", "h.txt", None).await;
    let id = file["id"].as_str().unwrap();
    let (url, _) = link_to(&alice, id, Some(json!({"expiresIn": 3600}))).await;
    let signature = param(&url, "signature");
    let flipped = format!(
        "{}{}",
        if signature.starts_with('A') { "B" } else { "A" },
        &signature[1..]
    );
    let later = (param(&url, "expires").parse::<u64>().unwrap() + 3600).to_string();
    let tampered = [
        with_param(&url, "signature", &flipped),
        with_param(&url, "expires", &later),
        with_param(&url, "user", "Ym9i"), // "bob"
        with_param(&url, "signature", "not-base64!"),
        url.split("&signature=").next().unwrap().to_owned(),
    ];
    for link in tampered {
        let response = app.get(&link).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    let (short, _) = link_to(&alice, id, Some(json!({"expiresIn": 1}))).await;
    assert_eq!(app.get(&short).await.status(), StatusCode::OK);
    // Expiry has a one-second resolution: wait until the link is certainly past it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = app.get(&short).await;
    let body = assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    let response = alice.delete(&format!("/api/files/{id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get(&url).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn link_lifetimes_are_bounded() {
    let app = spawn_jwt_app().await;
    let alice = app.as_user("alice");
    let file = alice.upload(b"x", "x.txt", None).await;
    let path = format!("/api/files/{}/url", file["id"].as_str().unwrap());
    for lifetime in [json!(0), json!(3601), json!("soon"), json!(-5)] {
        let response = alice.post(&path, &json!({"expiresIn": lifetime})).await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&body, "expiresIn");
    }
    let response = alice.post(&path, &json!({"lifetime": 5})).await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    let response = app.post(&path, &json!({})).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// Without `FILES_SIGNING_SECRET`, the key is generated once into `DATA_DIR` (owner-only) and
/// reused: a link made before a restart still serves the file after it.
#[tokio::test]
async fn without_a_configured_secret_links_survive_a_restart() {
    let mut app = spawn_jwt_app().await;
    assert!(app.raw_config().files_signing_secret.is_none());
    let alice = app.as_user("alice");
    let bytes = text_bytes(1024, 9);
    let file = alice.upload(&bytes, "kept.txt", None).await;
    let (url, _) = link_to(&alice, file["id"].as_str().unwrap(), None).await;
    let key = app.data_dir.join("secrets/files-signing.key");
    let generated = std::fs::read_to_string(&key).expect("a generated signing key in DATA_DIR");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is readable by others");
    }

    app.restart().await;
    let response = app.send(app.request(Method::GET, &url)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), generated);
}
