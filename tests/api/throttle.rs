//! Rate limits per user and per address (429 with Retry-After, other users unaffected),
//! bounded concurrent uploads, and `/metrics` behind its token.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Api, TEST_JWT_SECRET, assert_error, header, spawn_app_with, spawn_jwt_app};

#[tokio::test]
async fn a_user_over_the_limit_gets_429_and_others_do_not() {
    let app = spawn_app_with(|raw| {
        raw.auth_mode = Some("jwt".to_owned());
        raw.auth_jwt_secret = Some(TEST_JWT_SECRET.to_owned());
        raw.rate_limit_user_per_minute = Some("60".to_owned());
    })
    .await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob"));
    // A burst of ten seconds' worth (10 requests) passes, the next one does not.
    for _ in 0..10 {
        assert_eq!(alice.get("/api/tags").await.status(), StatusCode::OK);
    }
    let limited = alice.get("/api/tags").await;
    let retry_after: u64 = header(limited.headers(), "retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(
        bob.get("/api/tags").await.status(),
        StatusCode::OK,
        "another user is not limited"
    );
    assert_eq!(
        app.get("/api/health/live").await.status(),
        StatusCode::OK,
        "health is never limited"
    );
}

#[tokio::test]
async fn an_address_over_the_limit_gets_429_but_health_answers() {
    const ORIGIN: &str = "https://app.example.com";
    let app = spawn_app_with(|raw| {
        raw.rate_limit_ip_per_minute = Some("6".to_owned());
        raw.cors_allowed_origins = Some(ORIGIN.to_owned());
    })
    .await;
    let from_browser = || {
        app.send(
            app.request(reqwest::Method::GET, "/api/characters")
                .header("origin", ORIGIN),
        )
    };
    let responses = futures::future::join_all((0..3).map(|_| from_browser())).await;
    let limited: Vec<_> = responses
        .iter()
        .filter(|response| response.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(
        limited.len(),
        2,
        "a burst of one request per address, then 429"
    );
    // A browser app sees the 429 itself (not a CORS failure) and may read its Retry-After.
    for response in limited {
        let headers = response.headers();
        assert_eq!(header(headers, "access-control-allow-origin"), ORIGIN);
        let exposed = header(headers, "access-control-expose-headers").to_ascii_lowercase();
        assert!(exposed.contains("retry-after"), "{exposed}");
        assert!(!header(headers, "retry-after").is_empty());
    }
    assert_eq!(app.get("/api/health").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_need_the_token_and_count_requests() {
    let hidden = spawn_jwt_app().await;
    assert_error(
        hidden.get("/metrics").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let token = "metrics-token-0123456789";
    let app = spawn_app_with(|raw| raw.metrics_token = Some(token.to_owned())).await;
    app.create("tags", json!({"name": "counted"})).await;
    assert_error(
        app.get("/metrics").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let wrong = Api::with_token(&app.api, "metrics-token-wrong-value");
    assert_error(
        wrong.get("/metrics").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let reader = Api::with_token(&app.api, token);
    let response = reader.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for expected in [
        "quillstore_http_requests_total{method=\"POST\",route=\"/api/tags\",status=\"201\"}",
        "quillstore_http_request_duration_seconds_bucket",
        "quillstore_http_body_bytes_total{direction=\"in\",route=\"/api/tags\"}",
        "quillstore_store_operation_duration_seconds_bucket",
    ] {
        assert!(
            text.contains(expected),
            "{expected} missing from the metrics"
        );
    }
}
