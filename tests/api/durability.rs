//! Durability of the embedded store: restarts, the `DATA_DIR` lock, crashes mid-write,
//! and damaged files.

use reqwest::StatusCode;
use serde_json::json;

use crate::binary::run_binary_to_exit;
use crate::helpers::{assert_error, build_app, json_body, spawn_app};

#[tokio::test]
async fn data_survives_a_restart() {
    let mut app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "Fantasy"})).await;
    let persona = app.create("personas", json!({"name": "me"})).await;
    let character = app
        .create(
            "characters",
            json!({"name": "kept", "tags": [tag["id"]],
            "personaLinks": [{"personaId": persona["id"], "isDefault": true}]}),
        )
        .await;
    let path = format!("/api/characters/{}", character["id"].as_str().unwrap());
    let character = json_body(app.patch(&path, &json!({"description": "patched"})).await).await;
    let gone = app.create("characters", json!({"name": "gone"})).await;
    let gone_path = format!("/api/characters/{}", gone["id"].as_str().unwrap());
    assert_eq!(
        app.delete(&gone_path).await.status(),
        StatusCode::NO_CONTENT
    );

    app.restart().await;

    assert_eq!(app.read("tags", tag["id"].as_str().unwrap()).await, tag);
    assert_eq!(
        app.read("personas", persona["id"].as_str().unwrap()).await,
        persona
    );
    assert_eq!(
        app.read("characters", character["id"].as_str().unwrap())
            .await,
        character
    );
    assert_error(
        app.get(&gone_path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.list("/api/characters").await["items"],
        json!([character])
    );
    let again = json_body(app.patch(&path, &json!({"title": "after"})).await).await;
    assert_eq!(again["version"], 3, "versions continue after a restart");
    // The in-memory indexes are rebuilt: names stay unique, tag filters still work.
    let response = app.post("/api/tags", &json!({"name": "FANTASY"})).await;
    assert_error(response, StatusCode::CONFLICT, "conflict").await;
    let filtered = app
        .list(&format!(
            "/api/characters?tag={}",
            tag["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_second_app_on_the_same_data_dir_is_refused() {
    if !crate::helpers::json_store_in_use("a_second_app_on_the_same_data_dir_is_refused") {
        return;
    }
    let app = spawn_app().await;
    let error = build_app(app.raw_config())
        .await
        .err()
        .expect("a second in-process app must fail");
    assert!(
        format!("{error:#}").contains("in use by another"),
        "{error:#}"
    );

    let (success, stderr) = run_binary_to_exit(&app.data_dir).await;
    assert!(
        !success,
        "a second process on the same DATA_DIR must exit non-zero"
    );
    assert!(stderr.contains("in use by another"), "stderr: {stderr}");
    assert_eq!(
        app.get("/api/health/live").await.status(),
        StatusCode::OK,
        "the first keeps serving"
    );
}

#[tokio::test]
async fn a_corrupt_document_is_reported_skipped_and_kept() {
    if !crate::helpers::json_store_only("a_corrupt_document_is_reported_skipped_and_kept") {
        return;
    }
    let mut app = spawn_app().await;
    let first = app.create("characters", json!({"name": "first"})).await;
    let second = app.create("characters", json!({"name": "second"})).await;
    app.stop().await;
    let corrupt_id = uuid::Uuid::now_v7();
    let corrupt_path = app
        .data_dir
        .join("characters")
        .join(format!("{corrupt_id}.json"));
    let garbage = b"{\"id\": \"half a docu".to_vec();
    std::fs::write(&corrupt_path, &garbage).unwrap();
    app.start().await;

    let response = app.get("/api/health").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health = json_body(response).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(
        health["services"]["metadata"]["status"], "degraded",
        "{health}"
    );
    let message = health["services"]["metadata"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(&corrupt_id.to_string()),
        "the message names the file: {health}"
    );
    assert_eq!(app.get("/api/health/live").await.status(), StatusCode::OK);

    assert_eq!(
        app.read("characters", first["id"].as_str().unwrap()).await,
        first
    );
    assert_eq!(
        app.read("characters", second["id"].as_str().unwrap()).await,
        second
    );
    assert_eq!(
        app.list("/api/characters").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.create("characters", json!({"name": "third"})).await;
    let corrupt_url = format!("/api/characters/{corrupt_id}");
    assert_ne!(
        app.delete(&corrupt_url).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_ne!(
        app.patch(&corrupt_url, &json!({"name": "fixed?"}))
            .await
            .status(),
        StatusCode::OK
    );

    app.restart().await;
    assert_eq!(
        std::fs::read(&corrupt_path).unwrap(),
        garbage,
        "the damaged file is never touched"
    );
    assert_eq!(
        app.list("/api/characters").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
