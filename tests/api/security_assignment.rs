//! No mass assignment: every server-owned field of every resource is refused with 400 (naming
//! the field) on create and on `PATCH`, alone or next to a valid change, and the stored
//! documents are unchanged afterwards. The lists mirror `SERVER_OWNED_FIELDS` and each
//! resource's `SERVER_FIELDS` in `src/model/`.

use reqwest::multipart::Form;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Api, assert_detail_field, assert_error, file_part, json_body, spawn_jwt_app};

/// A forged value for each server-owned field.
fn forged(field: &str) -> Value {
    let other = uuid::Uuid::now_v7().to_string();
    match field {
        "id" | "chatId" | "swipeGroupId" => json!(other),
        "userId" => json!("mallory"),
        "createdAt" | "updatedAt" | "lastMessageAt" => json!("2001-01-01T00:00:00.000Z"),
        "version" | "messageCount" | "size" | "width" | "height" => json!(42),
        "seq" | "swipeIndex" => json!(1),
        "swipeActive" => json!(true),
        "source" => json!("system"),
        "originalFilename" => json!("index.html"),
        "mimeType" => json!("text/html"),
        "sha256" => json!("0".repeat(64)),
        "storage" => json!({"backend": "fs", "key": "users/mallory/image/x_y.png"}),
        other => panic!("no forged value for {other}"),
    }
}

const COMMON: &[&str] = &["id", "userId", "createdAt", "updatedAt", "version"];
const CHAT: &[&str] = &["messageCount", "lastMessageAt"];
const MESSAGE: &[&str] = &["chatId", "seq", "swipeGroupId", "swipeIndex", "swipeActive"];
const FILE: &[&str] = &[
    "source",
    "originalFilename",
    "mimeType",
    "size",
    "sha256",
    "width",
    "height",
    "storage",
];

fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    body[field] = value;
    body
}

/// Sends `body` (and the same next to `valid`) with each field; each must be a 400 naming it.
async fn refuses(api: &Api, method: Method, path: &str, valid: &Value, fields: &[&str]) {
    for field in fields {
        for body in [json!({}), valid.clone()] {
            for value in [forged(field), Value::Null] {
                let body = with(&body, field, value);
                let request = api.request(method.clone(), path).json(&body);
                let response = api.send(request).await;
                let error = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
                assert_detail_field(&error, field);
            }
        }
    }
}

#[tokio::test]
async fn documents_refuse_server_owned_fields() {
    let app = spawn_jwt_app().await;
    let alice = app.as_user("alice");
    for (collection, create, change, own) in [
        (
            "tags",
            json!({"name": "t"}),
            json!({"name": "renamed"}),
            &[][..],
        ),
        (
            "characters",
            json!({"name": "c"}),
            json!({"isFavorite": true}),
            &[],
        ),
        (
            "personas",
            json!({"name": "p"}),
            json!({"title": "renamed"}),
            &[],
        ),
        (
            "chats",
            json!({"title": "c"}),
            json!({"title": "renamed"}),
            CHAT,
        ),
    ] {
        let document = alice.create(collection, create.clone()).await;
        let id = document["id"].as_str().unwrap();
        let fields: Vec<&str> = COMMON.iter().chain(own).copied().collect();
        let list = format!("/api/{collection}");
        refuses(&alice, Method::POST, &list, &create, &fields).await;
        let one = format!("{list}/{id}");
        refuses(&alice, Method::PATCH, &one, &change, &fields).await;
        assert_eq!(alice.read(collection, id).await, document, "{collection}");
        let total = alice.list(&format!("{list}?includeTotal=true")).await["total"].clone();
        assert_eq!(total, 1, "no {collection} was created");
    }
}

#[tokio::test]
async fn messages_and_swipes_refuse_server_owned_fields() {
    let app = spawn_jwt_app().await;
    let alice = app.as_user("alice");
    let chat = alice.create("chats", json!({"title": "c"})).await;
    let chat_id = chat["id"].as_str().unwrap();
    let messages = format!("/api/chats/{chat_id}/messages");
    let reply = json!({"role": "assistant", "content": "one"});
    let message = json_body(alice.post(&messages, &reply).await).await;
    let message_id = message["id"].as_str().unwrap();
    let swipe = json_body(
        alice
            .post(&format!("{messages}/{message_id}/swipes"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(swipe["swipeIndex"], 1, "{swipe}");
    let page = format!("{messages}?includeSwipes=true");
    let before = (alice.list(&page).await, alice.read("chats", chat_id).await);

    let fields: Vec<&str> = COMMON.iter().chain(MESSAGE).copied().collect();
    refuses(&alice, Method::POST, &messages, &reply, &fields).await;
    let one = format!("{messages}/{message_id}");
    let change = json!({"content": "changed"});
    refuses(&alice, Method::PATCH, &one, &change, &fields).await;
    let swipes = format!("{one}/swipes");
    refuses(
        &alice,
        Method::POST,
        &swipes,
        &json!({"content": "x"}),
        &fields,
    )
    .await;
    // Selecting a swipe takes `swipeIndex` only: the rest is the server's.
    let active = format!("{one}/swipes/active");
    let fields: Vec<&str> = fields.into_iter().filter(|f| *f != "swipeIndex").collect();
    refuses(
        &alice,
        Method::PUT,
        &active,
        &json!({"swipeIndex": 0}),
        &fields,
    )
    .await;

    let after = (alice.list(&page).await, alice.read("chats", chat_id).await);
    assert_eq!(after, before, "no message, swipe or chat changed");
}

/// A form with a text part `name`, before or after the `file` part.
fn form_with(name: &str, value: &Value, before_file: bool) -> Form {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let file = || file_part(b"form bytes".to_vec(), "f.txt", None);
    if before_file {
        Form::new().text(name.to_owned(), text).part("file", file())
    } else {
        Form::new().part("file", file()).text(name.to_owned(), text)
    }
}

#[tokio::test]
async fn files_refuse_server_owned_fields() {
    let app = spawn_jwt_app().await;
    let alice = app.as_user("alice");
    let file = alice.upload(b"the original", "o.txt", None).await;
    let id = file["id"].as_str().unwrap();
    let blobs = app.blob_keys().await;
    assert_eq!(blobs.len(), 1);

    // `source` may be given at upload, never changed afterwards.
    let at_upload: Vec<&str> = COMMON
        .iter()
        .chain(FILE)
        .copied()
        .filter(|field| *field != "source")
        .collect();
    for field in &at_upload {
        for before_file in [true, false] {
            let form = form_with(field, &forged(field), before_file);
            let response = alice.upload_form(form).await;
            let error = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
            assert_detail_field(&error, field);
        }
    }
    let fields: Vec<&str> = COMMON.iter().chain(FILE).copied().collect();
    let metadata = format!("/api/files/{id}/metadata");
    let change = json!({"description": "changed"});
    refuses(&alice, Method::PATCH, &metadata, &change, &fields).await;

    let stored = json_body(alice.get(&metadata).await).await;
    assert_eq!(stored, file, "the metadata is unchanged");
    let total = alice.list("/api/files?includeTotal=true").await["total"].clone();
    assert_eq!(total, 1, "no refused upload left a record");
    // Refused uploads remove their blob in the background when the file part came first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.blob_keys().await != blobs && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.blob_keys().await,
        blobs,
        "no refused upload left a blob"
    );
    assert_eq!(alice.download_bytes(id).await, b"the original");
}

#[tokio::test]
async fn an_import_cannot_assign_ids_owners_or_counts() {
    let app = spawn_jwt_app().await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob"));
    let bob_chat = bob.create("chats", json!({"title": "bob's"})).await;
    let bob_chat_id = bob_chat["id"].as_str().unwrap();
    let bob_messages = format!("/api/chats/{bob_chat_id}/messages");
    let bob_message = json_body(bob.post(&bob_messages, &json!({"role": "user"})).await).await;
    let bob_chat = bob.read("chats", bob_chat_id).await;
    let bob_page = bob.list(&bob_messages).await;

    let header = json!({"type": "quillstore-chat", "version": 1, "chat": {
        "title": "imported", "id": bob_chat_id, "userId": "bob", "version": 9,
        "createdAt": "2001-01-01T00:00:00.000Z", "messageCount": 99,
        "lastMessageAt": "2001-01-01T00:00:00.000Z"}});
    let line = json!({"seq": 1, "role": "user", "content": "mine", "id": bob_message["id"],
        "chatId": bob_chat_id, "userId": "bob", "version": 9});
    let request = alice
        .request(Method::POST, "/api/chats/import")
        .body(format!("{header}\n{line}\n"));
    let response = alice.send(request).await;
    let status = response.status();
    let imported = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    assert_eq!(imported["userId"], "alice");
    assert_ne!(imported["id"], bob_chat["id"]);
    assert_eq!(
        (
            imported["version"].clone(),
            imported["messageCount"].clone()
        ),
        (json!(1), json!(1))
    );
    let imported_id = imported["id"].as_str().unwrap();
    let page = alice
        .list(&format!("/api/chats/{imported_id}/messages"))
        .await;
    let message = &page["items"][0];
    assert_eq!(message["chatId"], imported["id"]);
    assert_eq!(message["userId"], "alice");
    assert_ne!(message["id"], bob_message["id"]);
    assert_eq!(
        bob.read("chats", bob_chat_id).await,
        bob_chat,
        "bob's chat is untouched"
    );
    assert_eq!(
        bob.list(&bob_messages).await,
        bob_page,
        "bob's messages are untouched"
    );
}
