//! CORS (`CORS_ALLOWED_ORIGINS`): an allowed origin's preflight gets the origin, methods and
//! headers the API needs (If-Match, Authorization, Range...), and its responses expose ETag,
//! Location and Content-Range; any other origin gets no CORS header at all, and without the
//! setting nothing is CORS-enabled.

use reqwest::header::HeaderMap;
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{Api, TEST_JWT_SECRET, header, spawn_app_with};

const ALLOWED: &str = "https://app.example.com";
const OTHER: &str = "https://evil.example.net";

/// Every `Access-Control-*` header of a response.
fn cors_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

/// A comma-separated header as a lowercase list.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

async fn preflight(api: &Api, path: &str, origin: &str, method: &str, headers: &str) -> Response {
    let request = api
        .request(Method::OPTIONS, path)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers);
    api.send(request).await
}

#[tokio::test]
async fn allowed_origins_get_preflights_and_exposed_headers_others_get_nothing() {
    let app = spawn_app_with(|raw| {
        raw.auth_mode = Some("jwt".to_owned());
        raw.auth_jwt_secret = Some(TEST_JWT_SECRET.to_owned());
        raw.cors_allowed_origins = Some(format!("{ALLOWED}, https://other-app.example.com"));
    })
    .await;
    let alice = app.as_user("alice");
    let tag = alice.create("tags", json!({"name": "t"})).await;
    let file = alice.upload(b"0123456789", "digits.txt", None).await;
    let tag_path = format!("/api/tags/{}", tag["id"].as_str().unwrap());
    let file_path = format!("/api/files/{}", file["id"].as_str().unwrap());

    // Preflights carry no token and must not need one.
    let wanted = "authorization, content-type, if-match, if-none-match, range, x-request-id";
    for (path, method) in [
        (tag_path.as_str(), "PATCH"),
        (tag_path.as_str(), "DELETE"),
        ("/api/tags", "POST"),
        (file_path.as_str(), "GET"),
        ("/api/chats/import", "POST"),
        ("/api/files/x/url", "POST"),
    ] {
        let response = preflight(&app, path, ALLOWED, method, wanted).await;
        let context = format!("preflight {method} {path}");
        assert!(
            response.status().is_success(),
            "{context}: {}",
            response.status()
        );
        let headers = response.headers();
        assert_eq!(
            header(headers, "access-control-allow-origin"),
            ALLOWED,
            "{context}"
        );
        let methods = list(headers, "access-control-allow-methods");
        for needed in ["get", "head", "post", "put", "patch", "delete"] {
            assert!(
                methods.contains(&needed.to_owned()),
                "{context}: {methods:?}"
            );
        }
        let allowed = list(headers, "access-control-allow-headers");
        for needed in wanted.split(", ") {
            assert!(
                allowed.contains(&needed.to_owned()),
                "{context}: {allowed:?}"
            );
        }
        assert!(
            list(headers, "vary").contains(&"origin".to_owned()),
            "{context}"
        );
        assert!(headers.get("access-control-allow-credentials").is_none());

        let response = preflight(&app, path, OTHER, method, wanted).await;
        let found = cors_headers(response.headers());
        assert!(found.is_empty(), "{context} from {OTHER}: {found:?}");
    }

    // Real responses: the headers a browser app reads are exposed to allowed origins only.
    let exposed_on = |headers: &HeaderMap| list(headers, "access-control-expose-headers");
    let created = alice.send(
        alice
            .request(Method::POST, "/api/tags")
            .header("origin", ALLOWED)
            .json(&json!({"name": "from the browser"})),
    );
    let created = created.await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let ranged = alice
        .send(
            alice
                .request(Method::GET, &file_path)
                .header("origin", ALLOWED)
                .header("range", "bytes=2-4"),
        )
        .await;
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    for response in [&created, &ranged] {
        let headers = response.headers();
        assert_eq!(header(headers, "access-control-allow-origin"), ALLOWED);
        let mut exposed = exposed_on(headers);
        exposed.sort();
        // Exactly what the README lists: every header the service sends that a browser app
        // may need and that is not CORS-safelisted.
        let mut everything = [
            "etag",
            "location",
            "content-range",
            "content-disposition",
            "accept-ranges",
            "retry-after",
            "www-authenticate",
            "x-request-id",
            "x-references-cleared",
            "x-variant-cache",
        ];
        everything.sort_unstable();
        assert_eq!(exposed, everything, "{exposed:?}");
    }
    assert!(!header(created.headers(), "location").is_empty());
    assert_eq!(header(ranged.headers(), "content-range"), "bytes 2-4/10");
    // Errors reach the browser app too, so it can read the envelope.
    let unauthorized = app
        .send(
            app.request(Method::GET, "/api/tags")
                .header("origin", ALLOWED),
        )
        .await;
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(unauthorized.headers(), "www-authenticate"), "Bearer");
    assert!(
        exposed_on(unauthorized.headers()).contains(&"www-authenticate".to_owned()),
        "a browser app reads why it was refused"
    );
    let headers = unauthorized.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), ALLOWED);

    for (api, path) in [
        (&alice, tag_path.as_str()),
        (&alice, &file_path),
        (&app.api, "/api/tags"),
    ] {
        let response = api
            .send(api.request(Method::GET, path).header("origin", OTHER))
            .await;
        let found = cors_headers(response.headers());
        assert!(found.is_empty(), "GET {path} from {OTHER}: {found:?}");
    }
}

#[tokio::test]
async fn without_allowed_origins_nothing_is_cross_origin() {
    let app = spawn_app_with(|_| {}).await;
    let response = preflight(&app, "/api/tags", ALLOWED, "POST", "content-type").await;
    let found = cors_headers(response.headers());
    assert!(found.is_empty(), "preflight: {found:?}");
    let response = app
        .send(
            app.request(Method::GET, "/api/tags")
                .header("origin", ALLOWED),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(cors_headers(response.headers()).is_empty());
}
