//! Per-user dedup (records share a blob, deleted with its last record) and the references
//! documents hold to files (checked on write, removed when the file goes).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    PNG_2X3, assert_detail_field, assert_error, spawn_app, spawn_jwt_app, text_bytes,
};

#[tokio::test]
async fn identical_uploads_share_one_blob_until_the_last_goes() {
    let app = spawn_app().await;
    let bytes = text_bytes(10_000, 42);
    let first = app.upload(&bytes, "one.txt", None).await;
    let second = app.upload(&bytes, "two.txt", None).await;
    let other = app.upload(b"different", "three.txt", None).await;
    assert_ne!(first["id"], second["id"]);
    assert_eq!(second["originalFilename"], "two.txt");
    assert!(second.get("storage").is_none(), "{second}");
    assert_eq!(
        app.blob_keys().await,
        [
            app.blobs().key_of(&first).await,
            app.blobs().key_of(&other).await
        ],
        "the second upload reuses the first one's blob"
    );

    let first_id = first["id"].as_str().unwrap();
    let second_id = second["id"].as_str().unwrap();
    let response = app.delete(&format!("/api/files/{first_id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.blob_keys().await.len(),
        2,
        "still used by the second record"
    );
    assert_eq!(app.download_bytes(second_id).await, bytes);
    let gone = app.download(first_id, &[]).await;
    assert_error(gone, StatusCode::NOT_FOUND, "not_found").await;

    let response = app.delete(&format!("/api/files/{second_id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let left = app.blob_keys().await;
    assert_eq!(left.len(), 1);
    assert_eq!(
        left,
        [format!(
            "users/local/document/{}_three.txt",
            other["id"].as_str().unwrap()
        )]
    );
    let again = app.delete(&format!("/api/files/{second_id}")).await;
    assert_error(again, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn dedup_never_crosses_users_and_files_stay_private() {
    let app = spawn_jwt_app().await;
    let alice = app.as_user("alice");
    let bob = app.as_user("bob");
    let bytes = b"the same bytes".to_vec();
    let mine = alice.upload(&bytes, "a.txt", None).await;
    let theirs = bob.upload(&bytes, "b.txt", None).await;
    let (mine_key, theirs_key) = (
        app.blobs().key_of(&mine).await,
        app.blobs().key_of(&theirs).await,
    );
    assert_ne!(mine_key, theirs_key);
    assert!(theirs_key.starts_with("users/bob/"));
    assert_eq!(app.blob_keys().await.len(), 2);

    let id = mine["id"].as_str().unwrap();
    for path in [
        format!("/api/files/{id}"),
        format!("/api/files/{id}/metadata"),
    ] {
        let response = bob.get(&path).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    let response = bob.delete(&format!("/api/files/{id}")).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = bob.post(&format!("/api/files/{id}/url"), &json!({})).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert!(
        bob.list("/api/files").await["items"]
            .as_array()
            .unwrap()
            .len()
            == 1
    );
    let response = app.get(&format!("/api/files/{id}")).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let persona = bob
        .post("/api/personas", &json!({"name": "B", "defaultImageId": id}))
        .await;
    let body = assert_error(
        persona,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&body, "defaultImageId");
}

#[tokio::test]
async fn file_references_are_checked_and_removed_with_the_file() {
    let app = spawn_app().await;
    let image = app.upload(PNG_2X3, "face.png", None).await;
    let keep = app.upload(b"other", "keep.txt", None).await;
    let image_id = image["id"].as_str().unwrap();
    let ghost = uuid::Uuid::now_v7();
    for (collection, body, field) in [
        (
            "characters",
            json!({"name": "C", "defaultImageId": ghost}),
            "defaultImageId",
        ),
        (
            "characters",
            json!({"name": "C", "avatarOverrides": [{"chatId": ghost, "fileId": ghost}]}),
            "avatarOverrides[0].fileId",
        ),
        (
            "personas",
            json!({"name": "P", "defaultImageId": ghost}),
            "defaultImageId",
        ),
    ] {
        let response = app.post(&format!("/api/{collection}"), &body).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&error, field);
    }
    let overrides = json!([
        {"chatId": ghost, "fileId": image_id},
        {"chatId": ghost, "fileId": keep["id"]},
    ]);
    let character = app
        .create(
            "characters",
            json!({"name": "C", "defaultImageId": image_id, "avatarOverrides": overrides}),
        )
        .await;
    let persona = app
        .create("personas", json!({"name": "P", "defaultImageId": image_id}))
        .await;

    let response = app.delete(&format!("/api/files/{image_id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let character = app
        .read("characters", character["id"].as_str().unwrap())
        .await;
    assert!(character.get("defaultImageId").is_none(), "{character}");
    assert_eq!(
        character["avatarOverrides"],
        json!([{"chatId": ghost, "fileId": keep["id"]}])
    );
    assert_eq!(character["version"], 3, "one new version per removal");
    let persona = app.read("personas", persona["id"].as_str().unwrap()).await;
    assert!(persona.get("defaultImageId").is_none(), "{persona}");
}

#[tokio::test]
async fn deleting_a_tag_or_character_unlinks_files() {
    let app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "t"})).await;
    let character = app.create("characters", json!({"name": "C"})).await;
    let form = crate::helpers::file_form(b"x".to_vec(), "x.txt", None)
        .text("tags", tag["id"].as_str().unwrap().to_owned())
        .text(
            "linkedTo",
            format!("character:{}", character["id"].as_str().unwrap()),
        );
    let file = crate::helpers::json_body(app.upload_form(form).await).await;
    let id = file["id"].as_str().unwrap();
    app.delete(&format!("/api/tags/{}", tag["id"].as_str().unwrap()))
        .await;
    app.delete(&format!(
        "/api/characters/{}",
        character["id"].as_str().unwrap()
    ))
    .await;
    let file = crate::helpers::json_body(app.get(&format!("/api/files/{id}/metadata")).await).await;
    assert_eq!(file["tags"], json!([]));
    assert_eq!(file["linkedTo"], json!([]));
}
