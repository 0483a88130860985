//! Request validation common to every resource: body shape, types, size, content type,
//! server-owned and unknown fields, path ids, unknown routes and methods.
//! Every request goes through `Api::send`, which fails the test on any 5xx.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_detail_field, assert_error, spawn_app};

const COLLECTIONS: [&str; 3] = ["tags", "characters", "personas"];

/// A raw body with a content type, to `method path`.
async fn send_raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    let request = app
        .request(method, path)
        .header("content-type", content_type)
        .body(body.to_owned());
    app.send(request).await
}

/// A valid document per collection, created so PATCH tests have a target.
async fn one_of_each(app: &TestApp) -> Vec<(String, String)> {
    let mut paths = Vec::new();
    for collection in COLLECTIONS {
        let document = app
            .create(collection, json!({"name": format!("a {collection}")}))
            .await;
        paths.push((
            format!("/api/{collection}"),
            format!("/api/{collection}/{}", document["id"].as_str().unwrap()),
        ));
    }
    paths
}

#[tokio::test]
async fn malformed_bodies_are_bad_requests() {
    let app = spawn_app().await;
    for (collection_path, document_path) in one_of_each(&app).await {
        for body in [
            "{\"name\": ",
            "not json",
            "",
            "[{\"name\": \"x\"}]",
            "\"x\"",
            "42",
            "null",
        ] {
            let response = send_raw(
                &app,
                Method::POST,
                &collection_path,
                "application/json",
                body,
            )
            .await;
            assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
            let response = send_raw(
                &app,
                Method::PATCH,
                &document_path,
                "application/merge-patch+json",
                body,
            )
            .await;
            assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        }
    }
}

#[tokio::test]
async fn wrong_types_name_the_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"name": 5}), "name"),
        (json!({"name": "x", "isFavorite": "yes"}), "isFavorite"),
    ] {
        let response = app.post("/api/characters", &body).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&error, field);
    }
    let paths = one_of_each(&app).await;
    let (_, character_path) = &paths[1];
    let response = app.patch(character_path, &json!({"isFavorite": 1})).await;
    let error = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&error, "isFavorite");
}

#[tokio::test]
async fn oversized_bodies_are_rejected() {
    let app = spawn_app().await;
    let paths = one_of_each(&app).await;
    let big = json!({"name": "big", "description": "x".repeat(2 * 1024 * 1024)});
    let response = app.post("/api/characters", &big).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let response = app
        .patch(
            &paths[1].1,
            &json!({"description": "x".repeat(2 * 1024 * 1024)}),
        )
        .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Just under the default 1 MiB limit is fine.
    let fits = json!({"name": "fits", "description": "x".repeat(1024 * 1024 - 100)});
    assert_eq!(
        app.post("/api/characters", &fits).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn unknown_and_server_owned_fields_are_rejected() {
    let app = spawn_app().await;
    let owned = [
        ("id", json!(uuid::Uuid::now_v7())),
        ("userId", json!("someone-else")),
        ("createdAt", json!("2020-01-01T00:00:00.000Z")),
        ("updatedAt", json!("2020-01-01T00:00:00.000Z")),
        ("version", json!(7)),
        ("favourite", json!(true)),
        ("__proto__", json!({})),
    ];
    for (collection_path, document_path) in one_of_each(&app).await {
        for (field, value) in &owned {
            let body = json!({"name": "x", field.to_string(): value});
            let error = assert_error(
                app.post(&collection_path, &body).await,
                StatusCode::BAD_REQUEST,
                "bad_request",
            )
            .await;
            assert_detail_field(&error, field);
            let patch = json!({field.to_string(): value});
            let error = assert_error(
                app.patch(&document_path, &patch).await,
                StatusCode::BAD_REQUEST,
                "bad_request",
            )
            .await;
            assert_detail_field(&error, field);
        }
        let listed = app.list(&collection_path).await;
        assert_eq!(
            listed["items"].as_array().unwrap().len(),
            1,
            "nothing was created"
        );
        let document = app
            .read(
                collection_path.trim_start_matches("/api/"),
                document_path.rsplit('/').next().unwrap(),
            )
            .await;
        assert_eq!(document["version"], 1, "nothing was patched");
    }
}

#[tokio::test]
async fn malformed_ids_are_bad_requests() {
    let app = spawn_app().await;
    for collection in COLLECTIONS {
        for id in [
            "not-a-uuid",
            "123",
            "..%2F..%2Fetc",
            "00000000-0000-0000-0000-00000000000g",
        ] {
            let path = format!("/api/{collection}/{id}");
            assert_error(app.get(&path).await, StatusCode::BAD_REQUEST, "bad_request").await;
            assert_error(
                app.patch(&path, &json!({"name": "x"})).await,
                StatusCode::BAD_REQUEST,
                "bad_request",
            )
            .await;
            assert_error(
                app.delete(&path).await,
                StatusCode::BAD_REQUEST,
                "bad_request",
            )
            .await;
        }
        let missing = format!("/api/{collection}/{}", uuid::Uuid::now_v7());
        assert_error(app.get(&missing).await, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn non_json_content_types_are_unsupported() {
    let app = spawn_app().await;
    for (collection_path, document_path) in one_of_each(&app).await {
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let response = send_raw(
                &app,
                Method::POST,
                &collection_path,
                content_type,
                "{\"name\": \"x\"}",
            )
            .await;
            assert_error(
                response,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
            let response = send_raw(
                &app,
                Method::PATCH,
                &document_path,
                content_type,
                "{\"name\": \"x\"}",
            )
            .await;
            assert_error(
                response,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
        }
        let request = app
            .request(Method::POST, &collection_path)
            .body("{\"name\": \"no type\"}");
        let response = app.send(request).await;
        assert_error(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
        let response = send_raw(
            &app,
            Method::POST,
            &collection_path,
            "application/vnd.quill+json",
            "{\"name\": \"y\"}",
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "any application/*+json is JSON"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_have_the_envelope() {
    let app = spawn_app().await;
    for path in [
        "/api/nope",
        "/api/characters/a/b",
        "/nope",
        "/api",
        "/api/tags/",
    ] {
        assert_error(app.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    let id = uuid::Uuid::now_v7();
    let wrong_methods = [
        (Method::PUT, "/api/characters".to_owned()),
        (Method::DELETE, "/api/tags".to_owned()),
        (Method::PATCH, "/api/personas".to_owned()),
        (Method::POST, format!("/api/characters/{id}")),
        (Method::PUT, format!("/api/tags/{id}")),
        (Method::POST, "/api/health".to_owned()),
    ];
    for (method, path) in wrong_methods {
        let response = app
            .send(app.request(method, &path).json(&json!({"name": "x"})))
            .await;
        assert_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
}

/// An unknown field and a server-owned field are different mistakes: each gets a headline
/// that says which it is, and the details give each field its reason.
#[tokio::test]
async fn unknown_and_server_owned_fields_get_their_own_headlines() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"name": "x", "favourite": true}),
            "the body has unknown fields",
        ),
        (
            json!({"name": "x", "version": 3}),
            "the body has fields only the server sets",
        ),
        (
            json!({"name": "x", "version": 3, "favourite": true}),
            "the body has unknown fields and fields only the server sets",
        ),
    ];
    for (body, headline) in cases {
        let error = assert_error(
            app.post("/api/characters", &body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert_eq!(error["error"]["message"], headline, "for {body}");
    }
    let error = assert_error(
        app.post(
            "/api/characters",
            &json!({"name": "x", "version": 3, "favourite": 1}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let reasons: Vec<(String, String)> = error["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| {
            (
                detail["field"].as_str().unwrap().to_owned(),
                detail["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(reasons.contains(&("version".into(), "is set by the server".into())));
    assert!(reasons.contains(&("favourite".into(), "is not a field of this resource".into())));
    // A nested unknown field is unknown, not server-owned.
    let nested =
        json!({"name": "x", "personaLinks": [{"personaId": uuid::Uuid::now_v7(), "extra": 1}]});
    let error = assert_error(
        app.post("/api/characters", &nested).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(error["error"]["message"], "the body has unknown fields");
}
