//! Optimistic concurrency: `If-Match`, and no lost updates under concurrent writers.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Api, assert_error, header, json_body, spawn_app};

#[tokio::test]
async fn if_match_guards_patch_and_delete() {
    let app = spawn_app().await;
    let character = app.create("characters", json!({"name": "guarded"})).await;
    let id = character["id"].as_str().unwrap();
    let path = format!("/api/characters/{id}");

    let response = app
        .patch_if_match(&path, &json!({"title": "v2"}), "\"1\"")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "etag"), "\"2\"");

    let stale = app
        .patch_if_match(&path, &json!({"title": "lost"}), "\"1\"")
        .await;
    assert_error(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let delete = app
        .send(
            app.request(Method::DELETE, &path)
                .header("if-match", "\"1\""),
        )
        .await;
    assert_error(
        delete,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let current = app.read("characters", id).await;
    assert_eq!(
        (current["title"].as_str(), current["version"].as_u64()),
        (Some("v2"), Some(2))
    );

    let weak = app
        .patch_if_match(&path, &json!({"title": "v3"}), "W/\"2\"")
        .await;
    assert_eq!(weak.status(), StatusCode::OK, "weak validators match too");
    let any = app
        .patch_if_match(&path, &json!({"title": "v4"}), "*")
        .await;
    assert_eq!(json_body(any).await["version"], 4);
    let future = app
        .patch_if_match(&path, &json!({"title": "v?"}), "\"99\"")
        .await;
    assert_error(
        future,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;

    let delete = app
        .send(
            app.request(Method::DELETE, &path)
                .header("if-match", "\"4\""),
        )
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn malformed_if_match_is_a_bad_request() {
    let app = spawn_app().await;
    let character = app.create("characters", json!({"name": "guarded"})).await;
    let id = character["id"].as_str().unwrap();
    let path = format!("/api/characters/{id}");
    for if_match in ["1", "\"one\"", "\"1", "W/1", "\"\""] {
        let response = app
            .patch_if_match(&path, &json!({"title": "x"}), if_match)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        let request = app
            .request(Method::DELETE, &path)
            .header("if-match", if_match);
        assert_error(
            app.send(request).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    assert_eq!(
        app.read("characters", id).await,
        character,
        "nothing was applied"
    );
}

/// Adds one to the counter kept in the character's `description`, retrying on 412.
/// Returns how many attempts were rejected as stale.
async fn increment(api: &Api, path: &str) -> usize {
    let mut stale_attempts = 0;
    loop {
        let response = api.get(path).await;
        assert_eq!(response.status(), StatusCode::OK);
        let etag = header(response.headers(), "etag");
        let document = json_body(response).await;
        let counter: u64 = document["description"].as_str().unwrap().parse().unwrap();
        let patch = json!({"description": (counter + 1).to_string()});
        let response = api.patch_if_match(path, &patch, &etag).await;
        match response.status() {
            StatusCode::OK => return stale_attempts,
            StatusCode::PRECONDITION_FAILED => stale_attempts += 1,
            other => panic!("unexpected {other}: {}", json_body(response).await),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_loses_no_update() {
    const CLIENTS: u64 = 16;
    const INCREMENTS: u64 = 50;
    let app = spawn_app().await;
    let character = app
        .create("characters", json!({"name": "counter", "description": "0"}))
        .await;
    let id = character["id"].as_str().unwrap().to_owned();
    let path = format!("/api/characters/{id}");

    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (api, path) = (app.api.clone(), path.clone());
            tokio::spawn(async move {
                let mut stale = 0;
                for _ in 0..INCREMENTS {
                    stale += increment(&api, &path).await;
                }
                stale
            })
        })
        .collect();
    let mut stale_total = 0;
    for task in tasks {
        stale_total += task.await.expect("client task");
    }

    let document = app.read("characters", &id).await;
    assert_eq!(
        document["description"],
        (CLIENTS * INCREMENTS).to_string(),
        "after {stale_total} retries"
    );
    assert_eq!(document["version"], CLIENTS * INCREMENTS + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_without_if_match_all_apply() {
    const WRITERS: usize = 16;
    let app = spawn_app().await;
    let character = app
        .create(
            "characters",
            json!({"name": "shared", "sillyTavernData": {}}),
        )
        .await;
    let id = character["id"].as_str().unwrap().to_owned();
    let path = format!("/api/characters/{id}");

    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (api, path) = (app.api.clone(), path.clone());
            tokio::spawn(async move {
                let patch = json!({"sillyTavernData": {format!("writer{writer}"): writer}});
                let response = api.patch(&path, &patch).await;
                assert_eq!(response.status(), StatusCode::OK);
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }

    let document = app.read("characters", &id).await;
    let data = document["sillyTavernData"].as_object().unwrap();
    for writer in 0..WRITERS {
        assert_eq!(
            data.get(&format!("writer{writer}")),
            Some(&json!(writer)),
            "{document}"
        );
    }
    assert_eq!(document["version"], WRITERS + 1);
}
