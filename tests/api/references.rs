//! References between documents: tag ids and persona links must name existing documents
//! of the caller, without duplicates, and with at most one default persona link.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_detail_field, assert_error, json_body, spawn_app};

#[tokio::test]
async fn character_references_must_exist() {
    let app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "real"})).await;
    let tag_id = tag["id"].as_str().unwrap();
    let persona = app.create("personas", json!({"name": "P"})).await;
    let persona_id = persona["id"].as_str().unwrap();
    let ghost = uuid::Uuid::now_v7().to_string();
    let cases = [
        (json!({"name": "x", "tags": [ghost]}), "tags"),
        (json!({"name": "x", "tags": [tag_id, tag_id]}), "tags"),
        (
            json!({"name": "x", "personaLinks": [{"personaId": ghost, "isDefault": false}]}),
            "personaLinks",
        ),
        (
            json!({"name": "x", "personaLinks": [{"personaId": tag_id, "isDefault": false}]}),
            "personaLinks",
        ),
    ];
    for (body, field) in cases {
        let response = app.post("/api/characters", &body).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&error, field);
    }

    let character = app
        .create(
            "characters",
            json!({"name": "x", "tags": [tag_id],
            "personaLinks": [{"personaId": persona_id, "isDefault": true}]}),
        )
        .await;
    let path = format!("/api/characters/{}", character["id"].as_str().unwrap());
    let response = app.patch(&path, &json!({"tags": [tag_id, ghost]})).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        app.read("characters", character["id"].as_str().unwrap())
            .await,
        character
    );
}

#[tokio::test]
async fn at_most_one_default_persona_link() {
    let app = spawn_app().await;
    let first = app.create("personas", json!({"name": "one"})).await;
    let second = app.create("personas", json!({"name": "two"})).await;
    let links = |first_default: bool, second_default: bool| {
        json!([
            {"personaId": first["id"], "isDefault": first_default},
            {"personaId": second["id"], "isDefault": second_default},
        ])
    };
    let response = app
        .post(
            "/api/characters",
            &json!({"name": "x", "personaLinks": links(true, true)}),
        )
        .await;
    let error = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&error, "personaLinks");

    let character = app
        .create(
            "characters",
            json!({"name": "x", "personaLinks": links(true, false)}),
        )
        .await;
    assert_eq!(character["personaLinks"], links(true, false));
    let path = format!("/api/characters/{}", character["id"].as_str().unwrap());
    let response = app
        .patch(&path, &json!({"personaLinks": links(true, true)}))
        .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let response = app
        .patch(&path, &json!({"personaLinks": links(false, true)}))
        .await;
    assert_eq!(
        json_body(response).await["personaLinks"],
        links(false, true)
    );
}
