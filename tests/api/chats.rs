//! Chats: CRUD, participants that must name the user's own characters and personas, list
//! filters, server-maintained message stats, and what deleting related documents does.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Api, assert_detail_field, assert_error, item_ids, spawn_app, spawn_jwt_app};

pub async fn create_chat(api: &Api, title: &str, participants: Value) -> Value {
    api.create(
        "chats",
        json!({"title": title, "participants": participants}),
    )
    .await
}

pub async fn append(api: &Api, chat_id: &str, role: &str, content: &str) -> Value {
    let response = api
        .post(
            &format!("/api/chats/{chat_id}/messages"),
            &json!({"role": role, "content": content}),
        )
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test]
async fn chat_crud_with_participants() {
    let app = spawn_app().await;
    let character = app.create("characters", json!({"name": "Aria"})).await;
    let persona = app.create("personas", json!({"name": "Me"})).await;
    let chat = create_chat(
        &app,
        "  First chat  ",
        json!([
            {"type": "character", "characterId": character["id"], "displayOrder": 1},
            {"type": "persona", "personaId": persona["id"]}
        ]),
    )
    .await;
    assert_eq!(chat["title"], "First chat");
    assert_eq!(chat["messageCount"], 0);
    assert!(
        chat["participants"][0]["id"].is_string(),
        "participant ids are assigned"
    );
    assert_eq!(chat["participants"][0]["isActive"], true);

    let id = chat["id"].as_str().unwrap();
    let patched = app
        .patch(
            &format!("/api/chats/{id}"),
            &json!({"contextSummary": "so far"}),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let read = app.read("chats", id).await;
    assert_eq!(read["contextSummary"], "so far");
    assert_eq!(read["version"], 2);

    for bad in [
        json!({"messageCount": 3}),
        json!({"lastMessageAt": "2026-01-01T00:00:00.000Z"}),
    ] {
        let response = app.patch(&format!("/api/chats/{id}"), &bad).await;
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let missing = app.delete(&format!("/api/chats/{id}")).await;
    assert_eq!(missing.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&format!("/api/chats/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn participants_must_name_the_users_own_documents() {
    let app = spawn_jwt_app().await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob"));
    let bobs_character = bob.create("characters", json!({"name": "Bob's"})).await;
    let response = alice
        .post(
            "/api/chats",
            &json!({"title": "x", "participants": [{"type": "character", "characterId": bobs_character["id"]}]}),
        )
        .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&body, "participants");

    let response = alice
        .post(
            "/api/chats",
            &json!({"title": "x", "participants": [{"type": "persona"}]}),
        )
        .await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&body, "participants");

    let chat = create_chat(&bob, "bob's", json!([])).await;
    let path = format!("/api/chats/{}", chat["id"].as_str().unwrap());
    assert_error(alice.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        alice.get(&format!("{path}/messages")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let response = alice
        .post(
            &format!("{path}/messages"),
            &json!({"role": "user", "content": "hi"}),
        )
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        alice.get(&format!("{path}/export")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn list_filters_by_participant_tag_and_title() {
    let app = spawn_app().await;
    let aria = app.create("characters", json!({"name": "Aria"})).await;
    let bram = app.create("characters", json!({"name": "Bram"})).await;
    let me = app.create("personas", json!({"name": "Me"})).await;
    let tag = app.create("tags", json!({"name": "Adventure"})).await;
    let first = create_chat(
        &app,
        "Dragon hunt",
        json!([{"type": "character", "characterId": aria["id"]}]),
    )
    .await;
    let second = app
        .create(
            "chats",
            json!({"title": "Tea time", "tags": [tag["id"]], "participants": [
                {"type": "character", "characterId": bram["id"]}, {"type": "persona", "personaId": me["id"]}]}),
        )
        .await;

    let by_character = app
        .list(&format!(
            "/api/chats?characterId={}",
            aria["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(item_ids(&by_character), vec![first["id"].as_str().unwrap()]);
    let by_persona = app
        .list(&format!(
            "/api/chats?personaId={}",
            me["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(item_ids(&by_persona), vec![second["id"].as_str().unwrap()]);
    let by_tag = app
        .list(&format!("/api/chats?tag={}", tag["id"].as_str().unwrap()))
        .await;
    assert_eq!(item_ids(&by_tag), vec![second["id"].as_str().unwrap()]);
    let by_title = app.list("/api/chats?q=DRAGON").await;
    assert_eq!(item_ids(&by_title), vec![first["id"].as_str().unwrap()]);
    let newest_first = app.list("/api/chats").await;
    assert_eq!(
        item_ids(&newest_first),
        vec![
            second["id"].as_str().unwrap(),
            first["id"].as_str().unwrap()
        ]
    );
    let by_name = app.list("/api/chats?sort=title").await;
    assert_eq!(
        item_ids(&by_name),
        vec![
            first["id"].as_str().unwrap(),
            second["id"].as_str().unwrap()
        ]
    );
    let response = app.get("/api/chats?favorite=true").await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[tokio::test]
async fn message_stats_are_maintained_by_the_server() {
    let app = spawn_app().await;
    let chat = create_chat(&app, "stats", json!([])).await;
    let id = chat["id"].as_str().unwrap();
    assert!(chat.get("lastMessageAt").is_none());
    append(&app, id, "user", "one").await;
    let last = append(&app, id, "assistant", "two").await;
    let read = app.read("chats", id).await;
    assert_eq!(read["messageCount"], 2);
    assert_eq!(read["lastMessageAt"], last["createdAt"]);
    assert_eq!(
        read["version"], 1,
        "messages do not change the chat's version"
    );
    let listed = app.list("/api/chats").await;
    assert_eq!(listed["items"][0]["messageCount"], 2);

    let deleted = app
        .delete(&format!(
            "/api/chats/{id}/messages/{}",
            last["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.read("chats", id).await["messageCount"], 1);
}

#[tokio::test]
async fn deleting_related_documents_keeps_chats_and_deleting_a_chat_drops_its_messages() {
    let mut app = spawn_app().await;
    let aria = app.create("characters", json!({"name": "Aria"})).await;
    let me = app.create("personas", json!({"name": "Me"})).await;
    let tag = app.create("tags", json!({"name": "Keep"})).await;
    let chat = app
        .create(
            "chats",
            json!({"title": "t", "tags": [tag["id"]], "participants": [
                {"type": "character", "characterId": aria["id"]}, {"type": "persona", "personaId": me["id"]}]}),
        )
        .await;
    let id = chat["id"].as_str().unwrap().to_owned();
    append(&app, &id, "user", "hello").await;
    for (collection, document) in [("characters", &aria), ("personas", &me), ("tags", &tag)] {
        let response = app
            .delete(&format!(
                "/api/{collection}/{}",
                document["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    let kept = app.read("chats", &id).await;
    assert_eq!(kept["participants"], json!([]));
    assert_eq!(kept["tags"], json!([]));
    assert_eq!(kept["messageCount"], 1);

    let on_json = crate::helpers::Backend::under_test().uses_json();
    let log = app.data_dir.join("chats").join(format!("{id}.jsonl"));
    assert!(
        !on_json || log.exists(),
        "the chat's message log is at {}",
        log.display()
    );
    assert_eq!(
        app.delete(&format!("/api/chats/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(!log.exists(), "deleting the chat removes its messages");
    app.restart().await;
    assert_error(
        app.get(&format!("/api/chats/{id}/messages")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
