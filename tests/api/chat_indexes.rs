//! The persisted index of a chat's message log (`chats/<id>.index`): start-up reads it instead
//! of the log, and an index that is missing, damaged, behind or made from other bytes is
//! rebuilt from the log, never trusted blindly.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::chats::{append, create_chat};
use crate::helpers::{TestApp, json_body, spawn_app};

fn paths(app: &TestApp, chat_id: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let chats = app.data_dir.join("chats");
    (
        chats.join(format!("{chat_id}.jsonl")),
        chats.join(format!("{chat_id}.index")),
    )
}

async fn contents(app: &TestApp, chat_id: &str) -> Vec<Value> {
    let page = app
        .list(&format!("/api/chats/{chat_id}/messages?limit=200"))
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["content"].clone())
        .collect()
}

async fn chat_with(app: &TestApp, count: usize) -> String {
    chat_of(app, count, "m").await
}

/// A chat of `count` messages `<prefix><n>`.
async fn chat_of(app: &TestApp, count: usize, prefix: &str) -> String {
    let chat = create_chat(app, "indexed", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    for index in 0..count {
        append(app, &chat_id, "user", &format!("{prefix}{index}")).await;
    }
    chat_id
}

async fn assert_healthy(app: &TestApp) {
    let health = app.get("/api/health").await;
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "{}",
        json_body(health).await
    );
}

#[tokio::test]
async fn a_clean_stop_leaves_an_index_and_the_next_start_serves_from_it() {
    if !crate::helpers::json_store_only(
        "a_clean_stop_leaves_an_index_and_the_next_start_serves_from_it",
    ) {
        return;
    }
    let mut app = spawn_app().await;
    let chat_id = chat_with(&app, 5).await;
    let before = app.read("chats", &chat_id).await;
    app.stop().await;
    let (log, index) = paths(&app, &chat_id);
    assert!(index.exists(), "a clean stop writes the index");

    // Damage a message in the middle of the log without changing its length or its end: an
    // index that fits the log means the log is not read at start, so start-up cannot see it.
    let mut bytes = std::fs::read(&log).unwrap();
    let at = bytes
        .windows(4)
        .position(|window| window == b"\"m1\"")
        .unwrap();
    bytes[at] = b'#';
    std::fs::write(&log, &bytes).unwrap();

    app.start().await;
    assert_healthy(&app).await;
    let after = app.read("chats", &chat_id).await;
    assert_eq!(after["messageCount"], 5);
    assert_eq!(after["lastMessageAt"], before["lastMessageAt"]);
    let latest = app
        .list(&format!(
            "/api/chats/{chat_id}/messages?latest=true&limit=2"
        ))
        .await;
    let latest: Vec<&Value> = latest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| &message["content"])
        .collect();
    assert_eq!(latest, [&json!("m3"), &json!("m4")]);
    let next = append(&app, &chat_id, "user", "m5").await;
    assert_eq!(next["seq"], 6);
}

#[tokio::test]
async fn a_damaged_index_is_rebuilt_from_the_log() {
    if !crate::helpers::json_store_only("a_damaged_index_is_rebuilt_from_the_log") {
        return;
    }
    let mut app = spawn_app().await;
    let chat_id = chat_with(&app, 4).await;
    let before = contents(&app, &chat_id).await;
    app.stop().await;
    let (_, index) = paths(&app, &chat_id);
    let mut damaged = std::fs::read(&index).unwrap();
    let middle = damaged.len() / 2;
    damaged.truncate(middle);
    damaged.extend_from_slice(b"not json\n");
    std::fs::write(&index, damaged).unwrap();

    app.start().await;
    assert_healthy(&app).await;
    assert_eq!(contents(&app, &chat_id).await, before);
    assert_eq!(app.read("chats", &chat_id).await["messageCount"], 4);
    assert_eq!(append(&app, &chat_id, "user", "m4").await["seq"], 5);
}

#[tokio::test]
async fn an_index_behind_the_log_replays_the_tail_and_a_foreign_one_is_ignored() {
    if !crate::helpers::json_store_only(
        "an_index_behind_the_log_replays_the_tail_and_a_foreign_one_is_ignored",
    ) {
        return;
    }
    let mut app = spawn_app().await;
    let chat_id = chat_with(&app, 3).await;
    // Longer lines than the first chat's, so the first chat's offsets do not fit this log.
    let other_id = chat_of(&app, 7, "another chat's message ").await;
    app.restart().await;
    let (_, index) = paths(&app, &chat_id);
    let (_, other_index) = paths(&app, &other_id);
    let early = std::fs::read(&index).unwrap();
    for index in 3..6 {
        append(&app, &chat_id, "user", &format!("m{index}")).await;
    }
    let expected = contents(&app, &chat_id).await;
    let other_expected = contents(&app, &other_id).await;
    app.stop().await;

    // As after a crash: the index describes only the first three messages.
    std::fs::write(&index, early).unwrap();
    // And the other chat's index describes another log entirely.
    std::fs::copy(&index, &other_index).unwrap();

    app.start().await;
    assert_healthy(&app).await;
    assert_eq!(contents(&app, &chat_id).await, expected);
    assert_eq!(app.read("chats", &chat_id).await["messageCount"], 6);
    assert_eq!(contents(&app, &other_id).await, other_expected);
    assert_eq!(app.read("chats", &other_id).await["messageCount"], 7);
    assert_eq!(append(&app, &chat_id, "user", "m6").await["seq"], 7);
}

#[tokio::test]
async fn deleting_a_chat_removes_its_index() {
    if !crate::helpers::json_store_in_use("deleting_a_chat_removes_its_index") {
        return;
    }
    let mut app = spawn_app().await;
    let chat_id = chat_with(&app, 2).await;
    app.restart().await;
    let (log, index) = paths(&app, &chat_id);
    assert!(index.exists());
    let response = app.delete(&format!("/api/chats/{chat_id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!log.exists() && !index.exists());
    app.restart().await;
    assert!(!index.exists(), "a stop writes no index for a deleted chat");
}
