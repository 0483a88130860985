//! Health endpoints, request ids and CORS.

use reqwest::{Method, StatusCode};

use crate::helpers::{Backend, header, json_body, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_reports_a_healthy_store() {
    let app = spawn_app().await;
    let response = app.get("/api/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    let health = json_body(response).await;
    assert_eq!(health["status"], "healthy", "{health}");
    assert!(
        health["timestamp"].is_string() && health["version"].is_string(),
        "{health}"
    );
    let metadata = &health["services"]["metadata"];
    assert_eq!(
        metadata["backend"],
        Backend::under_test().health_name(),
        "{health}"
    );
    assert_eq!(metadata["status"], "healthy", "{health}");
    assert!(metadata["latencyMs"].is_number(), "{health}");

    let live = app.get("/api/health/live").await;
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(
        json_body(live).await,
        serde_json::json!({"status": "alive"})
    );
    let ready = app.get("/api/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        json_body(ready).await,
        serde_json::json!({"status": "ready"})
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    for path in [
        "/api/health/live",
        "/api/characters",
        "/api/nope",
        "/api/tags/not-a-uuid",
    ] {
        let response = app.get(path).await;
        assert!(
            !header(response.headers(), "x-request-id").is_empty(),
            "{path} has no x-request-id"
        );
    }
    let request = app
        .request(Method::GET, "/api/tags")
        .header("x-request-id", "test-run-42");
    let response = app.send(request).await;
    assert_eq!(
        header(response.headers(), "x-request-id"),
        "test-run-42",
        "a client id is echoed"
    );
}

/// A CORS preflight for a PATCH from `origin`.
async fn preflight(app: &crate::helpers::TestApp, origin: &str) -> reqwest::Response {
    let request = app
        .request(Method::OPTIONS, "/api/characters")
        .header("origin", origin)
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "content-type,if-match,authorization",
        );
    app.send(request).await
}

fn lists(headers: &reqwest::header::HeaderMap, name: &str, wanted: &str) -> bool {
    let value = header(headers, name).to_ascii_lowercase();
    value == "*" || value.split(',').any(|item| item.trim() == wanted)
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app =
        spawn_app_with(|raw| raw.cors_allowed_origins = Some("http://app.example".to_owned()))
            .await;

    let response = preflight(&app, "http://app.example").await;
    assert!(
        response.status().is_success(),
        "preflight answered {}",
        response.status()
    );
    let headers = response.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        "http://app.example"
    );
    assert!(
        lists(headers, "access-control-allow-methods", "patch"),
        "{headers:?}"
    );
    for wanted in ["content-type", "if-match", "authorization"] {
        assert!(
            lists(headers, "access-control-allow-headers", wanted),
            "{wanted}: {headers:?}"
        );
    }

    let request = app
        .request(Method::GET, "/api/characters")
        .header("origin", "http://app.example");
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        "http://app.example"
    );
    for exposed in ["etag", "location"] {
        assert!(
            lists(headers, "access-control-expose-headers", exposed),
            "{exposed}: {headers:?}"
        );
    }

    let response = preflight(&app, "http://evil.example").await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        response.headers()
    );
    let request = app
        .request(Method::GET, "/api/characters")
        .header("origin", "http://evil.example");
    let response = app.send(request).await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        response.headers()
    );
}

#[tokio::test]
async fn json_responses_keep_their_content_length() {
    let app = crate::helpers::spawn_app().await;
    let response = app.get("/api/health/live").await;
    let length: usize = crate::helpers::header(response.headers(), "content-length")
        .parse()
        .expect("a Content-Length header");
    assert_eq!(response.bytes().await.unwrap().len(), length);
}
