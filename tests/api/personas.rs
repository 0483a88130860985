//! `/api/personas`: CRUD, validation, references, and removal from persona links on delete.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::characters::sample_silly_tavern_data;
use crate::helpers::{assert_detail_field, assert_error, json_body, spawn_app, strings};

#[tokio::test]
async fn persona_crud_round_trip() {
    let app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "self"})).await;
    let body = json!({
        "name": "Wanderer",
        "title": "the Grey",
        "description": "A traveller",
        "personalityTraits": "calm, wry",
        "tags": [tag["id"]],
        "sillyTavernData": sample_silly_tavern_data(),
    });
    let created = app.create("personas", body.clone()).await;
    for (field, value) in body.as_object().unwrap() {
        assert_eq!(&created[field], value, "field {field} is stored as sent");
    }
    assert_eq!(created["userId"], "local");
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.read("personas", id).await, created);
    assert_eq!(app.list("/api/personas").await["items"], json!([created]));

    let path = format!("/api/personas/{id}");
    let response = app
        .patch(
            &path,
            &json!({"personalityTraits": null, "title": "the White"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let patched = json_body(response).await;
    assert!(
        patched.get("personalityTraits").is_none_or(Value::is_null),
        "{patched}"
    );
    assert_eq!(patched["title"], "the White");
    assert_eq!(patched["sillyTavernData"], sample_silly_tavern_data());
    assert_eq!(patched["version"], 2);
    assert_eq!(app.read("personas", id).await, patched);

    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(app.delete(&path).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn persona_fields_are_validated() {
    let app = spawn_app().await;
    let ghost = uuid::Uuid::now_v7().to_string();
    let cases = [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "p".repeat(201)}), "name"),
        (json!({"name": 7}), "name"),
        (
            json!({"name": "ok", "personalityTraits": 5}),
            "personalityTraits",
        ),
        (
            json!({"name": "ok", "defaultImageId": "nope"}),
            "defaultImageId",
        ),
        (json!({"name": "ok", "tags": [ghost]}), "tags"),
        (
            json!({"name": "ok", "physicalDescriptions": [{"longPrompt": "x"}]}),
            "physicalDescriptions",
        ),
        (
            json!({"name": "ok", "sillyTavernData": "card"}),
            "sillyTavernData",
        ),
    ];
    for (body, field) in cases {
        let response = app.post("/api/personas", &body).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&error, field);
    }
    assert_eq!(app.list("/api/personas").await["items"], json!([]));
}

#[tokio::test]
async fn deleting_a_persona_removes_it_from_persona_links() {
    let app = spawn_app().await;
    let doomed = app.create("personas", json!({"name": "doomed"})).await;
    let kept = app.create("personas", json!({"name": "kept"})).await;
    let links = json!([
        {"personaId": doomed["id"], "isDefault": true},
        {"personaId": kept["id"], "isDefault": false},
    ]);
    let linked = app
        .create(
            "characters",
            json!({"name": "linked", "personaLinks": links}),
        )
        .await;
    let other = app
        .create("characters", json!({"name": "other", "personaLinks": [{"personaId": kept["id"], "isDefault": true}]}))
        .await;

    let doomed_path = format!("/api/personas/{}", doomed["id"].as_str().unwrap());
    assert_eq!(
        app.delete(&doomed_path).await.status(),
        StatusCode::NO_CONTENT
    );

    let linked = app.read("characters", linked["id"].as_str().unwrap()).await;
    assert_eq!(
        linked["personaLinks"],
        json!([{"personaId": kept["id"], "isDefault": false}])
    );
    assert_eq!(linked["version"], 2, "the cascade is a change: {linked}");
    assert_eq!(
        app.read("characters", other["id"].as_str().unwrap()).await,
        other
    );

    // The deleted persona can no longer be linked.
    let path = format!("/api/characters/{}", linked["id"].as_str().unwrap());
    let relink = json!({"personaLinks": [{"personaId": doomed["id"], "isDefault": false}]});
    let error = assert_error(
        app.patch(&path, &relink).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&error, "personaLinks");
}

#[tokio::test]
async fn persona_tags_follow_the_same_rules() {
    let app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "t"})).await;
    let tag_id = tag["id"].as_str().unwrap();
    let persona = app
        .create("personas", json!({"name": "p", "tags": [tag_id]}))
        .await;
    let path = format!("/api/personas/{}", persona["id"].as_str().unwrap());

    let duplicate = json!({"tags": [tag_id, tag_id]});
    let error = assert_error(
        app.patch(&path, &duplicate).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&error, "tags");

    let page = app.list(&format!("/api/personas?tag={tag_id}")).await;
    assert_eq!(page["items"], json!([persona]));
    let cleared = json_body(app.patch(&path, &json!({"tags": []})).await).await;
    assert!(strings(&cleared["tags"]).is_empty());
    assert_eq!(
        app.list(&format!("/api/personas?tag={tag_id}")).await["items"],
        json!([])
    );
}
