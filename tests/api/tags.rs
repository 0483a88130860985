//! `/api/tags`: CRUD, validation, case-insensitive name uniqueness, and cascading deletes.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_detail_field, assert_error, header, json_body, spawn_app, strings};

#[tokio::test]
async fn tag_crud_round_trip() {
    let app = spawn_app().await;
    let tag = app
        .create("tags", json!({"name": "Fantasy", "color": "#a1b2c3"}))
        .await;
    let id = tag["id"].as_str().unwrap();
    assert_eq!(tag["name"], "Fantasy");
    assert_eq!(tag["color"], "#a1b2c3");
    assert_eq!(tag["quickHide"], false, "quickHide defaults to false");
    assert_eq!(tag["userId"], "local");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "id is a UUID: {id}");
    assert_eq!(tag["createdAt"], tag["updatedAt"]);
    assert_eq!(app.read("tags", id).await, tag);

    let response = app
        .patch(
            &format!("/api/tags/{id}"),
            &json!({"quickHide": true, "color": null}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "etag"), "\"2\"");
    let patched = json_body(response).await;
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["quickHide"], true);
    assert!(
        patched.get("color").is_none_or(|color| color.is_null()),
        "null removes: {patched}"
    );
    assert_eq!(
        patched["name"], "Fantasy",
        "fields not in the patch are kept"
    );
    assert_eq!(patched["createdAt"], tag["createdAt"]);
    assert!(patched["updatedAt"].as_str() >= tag["updatedAt"].as_str());
    assert_eq!(app.read("tags", id).await, patched);

    let listed = app.list("/api/tags").await;
    assert_eq!(listed["items"], json!([patched]));

    let response = app.delete(&format!("/api/tags/{id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&format!("/api/tags/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.delete(&format!("/api/tags/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(app.list("/api/tags").await["items"], json!([]));
}

#[tokio::test]
async fn tag_fields_are_validated() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(51)}), "name"),
        (json!({"name": "ok", "color": "red"}), "color"),
        (json!({"name": "ok", "color": "#12345"}), "color"),
        (json!({"name": "ok", "color": "#gggggg"}), "color"),
        (json!({"name": "ok", "quickHide": "yes"}), "quickHide"),
    ];
    for (body, field) in cases {
        let response = app.post("/api/tags", &body).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&error, field);
    }
    let fifty = "y".repeat(50);
    let tag = app.create("tags", json!({"name": fifty})).await;
    assert_eq!(tag["name"], fifty);

    let path = format!("/api/tags/{}", tag["id"].as_str().unwrap());
    let response = app.patch(&path, &json!({"name": null})).await;
    let error = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&error, "name");
    assert_eq!(
        app.list("/api/tags").await["items"],
        json!([tag]),
        "nothing else was stored"
    );
}

#[tokio::test]
async fn tag_names_are_unique_ignoring_case() {
    let app = spawn_app().await;
    let first = app.create("tags", json!({"name": "Fantasy"})).await;
    for name in ["Fantasy", "fantasy", "FANTASY"] {
        let response = app.post("/api/tags", &json!({"name": name})).await;
        let error = assert_error(response, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(
            error["error"]["details"][0]["existingId"], first["id"],
            "{error}"
        );
    }

    let other = app.create("tags", json!({"name": "Sci-Fi"})).await;
    let other_path = format!("/api/tags/{}", other["id"].as_str().unwrap());
    let response = app.patch(&other_path, &json!({"name": "fAnTaSy"})).await;
    let error = assert_error(response, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(error["error"]["details"][0]["existingId"], first["id"]);
    assert_eq!(
        app.read("tags", other["id"].as_str().unwrap()).await,
        other,
        "unchanged"
    );

    // Changing only the case of a tag's own name is not a conflict with itself.
    let first_path = format!("/api/tags/{}", first["id"].as_str().unwrap());
    let response = app.patch(&first_path, &json!({"name": "FANTASY"})).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Once deleted, the name is free again.
    assert_eq!(
        app.delete(&first_path).await.status(),
        StatusCode::NO_CONTENT
    );
    app.create("tags", json!({"name": "fantasy"})).await;
    assert_eq!(
        app.list("/api/tags").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn deleting_a_tag_removes_it_from_characters_and_personas() {
    let app = spawn_app().await;
    let doomed = app.create("tags", json!({"name": "doomed"})).await;
    let kept = app.create("tags", json!({"name": "kept"})).await;
    let (doomed_id, kept_id) = (doomed["id"].as_str().unwrap(), kept["id"].as_str().unwrap());
    let character = app
        .create(
            "characters",
            json!({"name": "Ada", "tags": [doomed_id, kept_id]}),
        )
        .await;
    let persona = app
        .create("personas", json!({"name": "Me", "tags": [doomed_id]}))
        .await;
    let untouched = app
        .create("characters", json!({"name": "Bob", "tags": [kept_id]}))
        .await;

    assert_eq!(
        app.delete(&format!("/api/tags/{doomed_id}")).await.status(),
        StatusCode::NO_CONTENT
    );

    let character = app
        .read("characters", character["id"].as_str().unwrap())
        .await;
    assert_eq!(strings(&character["tags"]), [kept_id]);
    assert_eq!(
        character["version"], 2,
        "the cascade is a change: {character}"
    );
    let persona = app.read("personas", persona["id"].as_str().unwrap()).await;
    assert!(strings(&persona["tags"]).is_empty(), "{persona}");
    assert_eq!(persona["version"], 2);
    let after = app
        .read("characters", untouched["id"].as_str().unwrap())
        .await;
    assert_eq!(
        after, untouched,
        "documents without the tag are not touched"
    );

    let page = app.list(&format!("/api/characters?tag={doomed_id}")).await;
    assert_eq!(page["items"], json!([]));
}
