//! Chat export (JSON Lines, streamed) and import (ours and SillyTavern's), lossless for our
//! own format apart from ids and timestamps, and all-or-nothing on bad input.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::chats::{append, create_chat};
use crate::helpers::{Api, assert_error, header, json_body, spawn_app};

async fn import(api: &Api, body: String) -> reqwest::Response {
    api.send(
        api.request(Method::POST, "/api/chats/import")
            .header("content-type", "application/x-ndjson")
            .body(body),
    )
    .await
}

async fn export(api: &Api, chat_id: &str) -> Vec<Value> {
    let response = api.get(&format!("/api/chats/{chat_id}/export")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), "content-type"),
        "application/x-ndjson"
    );
    assert!(header(response.headers(), "content-disposition").starts_with("attachment"));
    let text = response.text().await.unwrap();
    assert!(text.ends_with('\n'));
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

/// A document without what the server assigns anew on import (ids, update times, versions,
/// chat ids, group ids); creation times come back.
fn without_server_fields(value: &Value) -> Value {
    let mut object: Map<String, Value> = value.as_object().unwrap().clone();
    for field in [
        "id",
        "userId",
        "updatedAt",
        "version",
        "chatId",
        "swipeGroupId",
    ] {
        object.remove(field);
    }
    if let Some(Value::Array(participants)) = object.get_mut("participants") {
        for participant in participants {
            participant.as_object_mut().unwrap().remove("id");
        }
    }
    Value::Object(object)
}

#[tokio::test]
async fn export_then_import_is_lossless() {
    let app = spawn_app().await;
    let aria = app.create("characters", json!({"name": "Aria"})).await;
    let tag = app.create("tags", json!({"name": "Saga"})).await;
    let chat = app
        .create(
            "chats",
            json!({"title": "Épopée 🐉", "tags": [tag["id"]], "contextSummary": "so far",
                   "sillyTavernMetadata": {"note": {"nested": [1, "two", null]}},
                   "participants": [{"type": "character", "characterId": aria["id"], "systemPromptOverride": "be brief"}]}),
        )
        .await;
    let chat_id = chat["id"].as_str().unwrap();
    append(&app, chat_id, "user", "line one\nline \"two\"").await;
    let answer = append(&app, chat_id, "assistant", "A").await;
    let swipe_path = format!(
        "/api/chats/{chat_id}/messages/{}/swipes",
        answer["id"].as_str().unwrap()
    );
    let swipe = app.post(&swipe_path, &json!({"content": "B", "tokenCount": 7, "rawResponse": {"model": "m", "usage": [1, 2]}})).await;
    assert_eq!(swipe.status(), StatusCode::CREATED);
    app.post(
        &format!("/api/chats/{chat_id}/messages"),
        &json!({"type": "context-summary", "role": "system", "content": "sum"}),
    )
    .await;
    let participant = app.read("chats", chat_id).await["participants"][0]["id"].clone();
    app.post(
        &format!("/api/chats/{chat_id}/messages"),
        &json!({"role": "assistant", "content": "thought through", "speakerName": "Aria", "participantId": participant,
                "reasoning": "because", "sillyTavernData": {"is_name": true, "extra": {"image": "x.png"}},
                "sillyTavernSwipeInfo": {"send_date": "April 1, 2023 3:10pm"}}),
    )
    .await;

    let exported = export(&app, chat_id).await;
    assert_eq!(exported[0]["type"], "quillstore-chat");
    assert_eq!(
        exported.len(),
        1 + 5,
        "header plus every message, swipes included"
    );
    let lines: Vec<String> = exported.iter().map(Value::to_string).collect();
    let response = import(&app, lines.join("\n") + "\n").await;
    let status = response.status();
    let imported = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    assert_ne!(imported["id"], chat["id"]);
    assert_eq!(imported["messageCount"], 4);
    assert_eq!(imported["createdAt"], chat["createdAt"]);

    let again = export(&app, imported["id"].as_str().unwrap()).await;
    assert_eq!(again.len(), exported.len());
    assert_eq!(
        without_server_fields(&again[0]["chat"]),
        without_server_fields(&exported[0]["chat"])
    );
    for (original, copy) in exported[1..].iter().zip(&again[1..]) {
        assert_eq!(without_server_fields(copy), without_server_fields(original));
    }
    let groups: Vec<&Value> = again[1..]
        .iter()
        .map(|message| &message["swipeGroupId"])
        .filter(|group| group.is_string())
        .collect();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[0], groups[1],
        "the swipe group is rebuilt with one new id"
    );
}

#[tokio::test]
async fn silly_tavern_chats_import() {
    let app = spawn_app().await;
    let lines = [
        json!({"user_name": "You", "character_name": "Seraphina", "create_date": "2024-01-01@12h00m00s", "chat_metadata": {"note_prompt": "x"}}),
        json!({"name": "Seraphina", "is_user": false, "send_date": "2024-01-01", "mes": "Welcome."}),
        json!({"name": "You", "is_user": true, "send_date": "2024-01-01", "mes": "Hi!"}),
        json!({"name": "Seraphina", "is_user": false, "mes": "Second", "swipes": ["First", "Second", "Third"], "swipe_id": 1}),
    ];
    let body = lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\r\n");
    let response = import(&app, body).await;
    let status = response.status();
    let chat = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    assert_eq!(chat["title"], "Chat with Seraphina");
    assert_eq!(
        chat["sillyTavernMetadata"]["chat_metadata"]["note_prompt"],
        "x"
    );
    assert_eq!(chat["messageCount"], 3);
    let chat_id = chat["id"].as_str().unwrap();
    let page = app.list(&format!("/api/chats/{chat_id}/messages")).await;
    let visible: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| {
            (
                message["role"].as_str().unwrap(),
                message["content"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        visible,
        vec![
            ("assistant", "Welcome."),
            ("user", "Hi!"),
            ("assistant", "Second")
        ]
    );
    let all = app
        .list(&format!(
            "/api/chats/{chat_id}/messages?includeSwipes=true&after=2"
        ))
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_bad_line_names_its_number_and_leaves_nothing_behind() {
    let app = spawn_app().await;
    let header_line =
        json!({"type": "quillstore-chat", "version": 1, "chat": {"title": "t"}}).to_string();
    let good = json!({"seq": 1, "role": "user", "content": "ok"}).to_string();
    let cases = [
        (format!("{header_line}\n{good}\n{{not json\n"), "line 3"),
        (
            format!(
                "{header_line}\n{good}\n{}\n",
                json!({"seq": 2, "role": "wizard"})
            ),
            "line 3",
        ),
        (
            format!(
                "{header_line}\n\n{}\n",
                json!({"seq": 1, "role": "user", "id": "x", "bogus": 1})
            ),
            "line 3",
        ),
        (
            format!(
                "{header_line}\n{}\n{good}\n",
                json!({"seq": 5, "role": "user"})
            ),
            "line 3",
        ),
        (format!("{}\n", json!({"type": "mystery"})), "line 1"),
        (
            format!(
                "{}\n{good}\n",
                json!({"type": "quillstore-chat", "version": 1, "chat": {"title": ""}})
            ),
            "line 1",
        ),
        (
            format!(
                "{}\n{}\n",
                json!({"user_name": "u"}),
                json!({"name": "u", "is_user": true})
            ),
            "line 2",
        ),
    ];
    for (body, line) in cases {
        let response = import(&app, body.clone()).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let field = error["error"]["details"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            field.starts_with(line),
            "{body:?} should name {line}: {error}"
        );
    }
    let chats = app.list("/api/chats?includeTotal=true").await;
    assert_eq!(chats["total"], 0, "no failed import left a chat behind");
    if crate::helpers::Backend::under_test().uses_json() {
        let leftovers: Vec<_> = std::fs::read_dir(app.data_dir.join("chats"))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty(), "no files left behind: {leftovers:?}");
    }

    let missing_character = json!({"type": "quillstore-chat", "version": 1, "chat": {"title": "t",
        "participants": [{"type": "character", "characterId": "01a207fc-4cff-7330-8e7a-cd10c2932061"}]}});
    let response = import(&app, format!("{missing_character}\n{good}\n")).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(app.list("/api/chats?includeTotal=true").await["total"], 0);
}

#[tokio::test]
async fn an_empty_chat_exports_only_its_header() {
    let app = spawn_app().await;
    let chat = create_chat(&app, "empty", json!([])).await;
    let exported = export(&app, chat["id"].as_str().unwrap()).await;
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0]["chat"]["title"], "empty");
}
