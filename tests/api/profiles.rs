//! Connection, image and embedding profiles: one default per user and kind, checked API key
//! references, chat participants naming profiles, and cleanup when a key or profile goes.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_detail_field, assert_error, header, item_ids, spawn_app};

#[tokio::test]
async fn at_most_one_profile_per_kind_is_the_default() {
    let app = spawn_app().await;
    for collection in [
        "connection-profiles",
        "image-profiles",
        "embedding-profiles",
    ] {
        let first = app
            .create(
                collection,
                json!({"name": "A", "provider": "OPENAI", "isDefault": true,
                    "parameters": {"temperature": 0.9}}),
            )
            .await;
        assert_eq!(first["parameters"]["temperature"], 0.9);
        let second = app
            .create(
                collection,
                json!({"name": "B", "provider": "OLLAMA", "isDefault": true}),
            )
            .await;
        let first_id = first["id"].as_str().unwrap();
        assert_eq!(
            app.read(collection, first_id).await["isDefault"],
            false,
            "{collection}"
        );
        let path = format!("/api/{collection}/{first_id}");
        assert_eq!(
            app.patch(&path, &json!({"isDefault": true})).await.status(),
            StatusCode::OK
        );
        let second = app.read(collection, second["id"].as_str().unwrap()).await;
        assert_eq!(second["isDefault"], false, "{collection}");
        assert_eq!(
            item_ids(
                &app.list(&format!("/api/{collection}?provider=OPENAI"))
                    .await
            ),
            vec![first_id]
        );
        let body = assert_error(
            app.post(
                &format!("/api/{collection}"),
                &json!({"name": "C", "provider": "X", "baseUrl": "ftp://x"}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&body, "baseUrl");
    }
}

#[tokio::test]
async fn deleting_a_key_or_profile_clears_the_references_and_says_so() {
    let app = spawn_app().await;
    let key = app
        .create(
            "api-keys",
            json!({"label": "k", "provider": "OPENAI", "key": "sk-test-abcdefgh"}),
        )
        .await;
    let key_id = key["id"].as_str().unwrap();
    let ghost = uuid::Uuid::now_v7().to_string();
    let body = assert_error(
        app.post(
            "/api/connection-profiles",
            &json!({"name": "p", "provider": "OPENAI", "apiKeyId": ghost}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&body, "apiKeyId");
    let llm = app
        .create(
            "connection-profiles",
            json!({"name": "p", "provider": "OPENAI", "apiKeyId": key_id}),
        )
        .await;
    let image = app
        .create(
            "image-profiles",
            json!({"name": "i", "provider": "OPENAI", "apiKeyId": key_id}),
        )
        .await;
    let aria = app.create("characters", json!({"name": "Aria"})).await;
    let participant = json!({"type": "character", "characterId": aria["id"],
        "connectionProfileId": llm["id"], "imageProfileId": image["id"]});
    let body = assert_error(
        app.post(
            "/api/chats",
            &json!({"title": "c", "participants": [{"type": "character",
            "characterId": aria["id"], "imageProfileId": ghost}]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&body, "participants[0].imageProfileId");
    let chat = app
        .create(
            "chats",
            json!({"title": "c", "participants": [participant]}),
        )
        .await;

    let response = app.delete(&format!("/api/api-keys/{key_id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(response.headers(), "x-references-cleared"), "2");
    for (collection, profile) in [("connection-profiles", &llm), ("image-profiles", &image)] {
        let read = app.read(collection, profile["id"].as_str().unwrap()).await;
        assert!(read.get("apiKeyId").is_none(), "{read}");
    }
    let response = app
        .delete(&format!(
            "/api/connection-profiles/{}",
            llm["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(header(response.headers(), "x-references-cleared"), "1");
    let chat = app.read("chats", chat["id"].as_str().unwrap()).await;
    let kept = &chat["participants"][0];
    assert!(kept.get("connectionProfileId").is_none(), "{chat}");
    assert_eq!(kept["imageProfileId"], image["id"]);
    assert_eq!(kept["characterId"], aria["id"]);
}
