//! Message logs under crashes: `kill -9` while appending loses no acknowledged message, a torn
//! or uncommitted tail is cut off at start, and compaction keeps every live message.

use std::io::Write;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::binary::spawn_binary;
use crate::chats::{append, create_chat};
use crate::helpers::{Api, json_body, spawn_app, spawn_app_in};
use crate::messages::seqs;

async fn all_messages(api: &Api, chat_id: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut after = 0;
    loop {
        let page = api
            .list(&format!(
                "/api/chats/{chat_id}/messages?limit=200&after={after}"
            ))
            .await;
        after = seqs(&page).last().copied().unwrap_or(after);
        messages.extend(page["items"].as_array().unwrap().iter().cloned());
        if page["nextCursor"].is_null() {
            return messages;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_appending_loses_no_acknowledged_message() {
    if !crate::helpers::json_store_only("kill_9_while_appending_loses_no_acknowledged_message") {
        return;
    }
    let data_dir = tempfile::tempdir().unwrap();
    let mut binary = spawn_binary(data_dir.path()).await;
    let api = Api::at(binary.address.clone());
    let chat = create_chat(&api, "crash", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (api, chat_id) = (api.clone(), chat_id.clone());
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for index in 0.. {
                    let body = json!({"role": "user", "content": format!("{writer}-{index}")});
                    let request = api
                        .request(Method::POST, &format!("/api/chats/{chat_id}/messages"))
                        .json(&body);
                    let Ok(response) = api.try_send(request).await else {
                        break;
                    };
                    let Ok(message) = response.json::<Value>().await else {
                        break;
                    };
                    acknowledged.push(message);
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    binary.child.kill().expect("SIGKILL the server");
    binary.child.wait().expect("reap the server");
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(acknowledged.len() >= 8, "the burst acknowledged too little");

    let app = spawn_app_in(data_dir.path(), |_| {}).await;
    let stored = all_messages(&app, &chat_id).await;
    for message in &acknowledged {
        assert!(
            stored.contains(message),
            "acknowledged message lost: {message}"
        );
    }
    let stored_seqs: Vec<u64> = stored
        .iter()
        .map(|message| message["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(
        stored_seqs,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "no gap and no duplicate"
    );
    let next = append(&app, &chat_id, "user", "after the crash").await;
    assert_eq!(next["seq"].as_u64().unwrap(), stored.len() as u64 + 1);
    assert_eq!(app.get("/api/health").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_torn_or_uncommitted_tail_is_cut_off_at_start() {
    if !crate::helpers::json_store_only("a_torn_or_uncommitted_tail_is_cut_off_at_start") {
        return;
    }
    let mut app = spawn_app().await;
    let chat = create_chat(&app, "torn", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    for index in 0..5 {
        append(&app, &chat_id, "user", &format!("m{index}")).await;
    }
    let before = all_messages(&app, &chat_id).await;
    app.stop().await;

    let log = app.data_dir.join("chats").join(format!("{chat_id}.jsonl"));
    let mut uncommitted = serde_json::from_str::<Value>(
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    uncommitted["message"]["seq"] = json!(6);
    uncommitted["message"]["id"] = json!("01a20800-0000-7000-8000-000000000006");
    uncommitted.as_object_mut().unwrap().remove("commit");
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(file, "{uncommitted}").unwrap();
    write!(file, "{{\"op\":\"put\",\"message\":{{\"id\":").unwrap();
    drop(file);

    app.start().await;
    assert_eq!(
        all_messages(&app, &chat_id).await,
        before,
        "exactly the acknowledged messages"
    );
    let health = app.get("/api/health").await;
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "a cut tail is not damage: {}",
        json_body(health).await
    );
    let next = append(&app, &chat_id, "user", "next").await;
    assert_eq!(next["seq"], 6);
    app.restart().await;
    assert_eq!(all_messages(&app, &chat_id).await.len(), 6);
}

#[tokio::test]
async fn compaction_keeps_every_live_message() {
    if !crate::helpers::json_store_only("compaction_keeps_every_live_message") {
        return;
    }
    let mut app = spawn_app().await;
    let chat = create_chat(&app, "edits", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let long = "x".repeat(2000);
    let mut ids = Vec::new();
    for index in 0..20 {
        ids.push(
            append(&app, &chat_id, "user", &format!("{index}{long}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let log = app.data_dir.join("chats").join(format!("{chat_id}.jsonl"));
    for round in 0..6 {
        for id in &ids {
            let path = format!("/api/chats/{chat_id}/messages/{id}");
            let response = app
                .patch(&path, &json!({"content": format!("{round}{long}")}))
                .await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    let last = append(&app, &chat_id, "user", "tail").await;
    app.delete(&format!(
        "/api/chats/{chat_id}/messages/{}",
        last["id"].as_str().unwrap()
    ))
    .await;
    // 20 appends, 120 edits, one append and one delete were written: 142 records.
    let records = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(
        records < 60,
        "the log was compacted: {records} records left"
    );

    let before = all_messages(&app, &chat_id).await;
    assert_eq!(before.len(), 20);
    assert!(
        before
            .iter()
            .all(|message| message["content"].as_str().unwrap().starts_with('5'))
    );
    app.restart().await;
    assert_eq!(all_messages(&app, &chat_id).await, before);
    let next = append(&app, &chat_id, "user", "after").await;
    assert_eq!(
        next["seq"], 22,
        "the deleted last seq is not handed out again"
    );
}

#[tokio::test]
async fn a_damaged_whole_line_is_reported_and_kept_and_orphan_logs_go() {
    if !crate::helpers::json_store_only(
        "a_damaged_whole_line_is_reported_and_kept_and_orphan_logs_go",
    ) {
        return;
    }
    let mut app = spawn_app().await;
    let chat = create_chat(&app, "damaged", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    append(&app, &chat_id, "user", "kept").await;
    let gone = create_chat(&app, "deleted while down", json!([])).await;
    let gone_id = gone["id"].as_str().unwrap().to_owned();
    append(&app, &gone_id, "user", "x").await;
    app.stop().await;

    let chats = app.data_dir.join("chats");
    let log = chats.join(format!("{chat_id}.jsonl"));
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(
        file,
        "{{\"op\":\"put\",\"message\":\"this line was damaged\",\"commit\":true}}"
    )
    .unwrap();
    drop(file);
    let damaged = std::fs::read(&log).unwrap();
    // A crash between the two steps of a chat delete: the document is gone, its log is not.
    std::fs::remove_file(chats.join(format!("{gone_id}.json"))).unwrap();

    app.start().await;
    let health = app.get("/api/health").await;
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health = json_body(health).await;
    assert_eq!(health["status"], "degraded");
    assert!(
        health["services"]["metadata"]["message"]
            .as_str()
            .unwrap()
            .contains(&chat_id)
    );
    assert_eq!(
        all_messages(&app, &chat_id).await.len(),
        1,
        "the readable messages are served"
    );
    app.stop().await;
    assert_eq!(
        std::fs::read(&log).unwrap(),
        damaged,
        "the damaged log is left as it was"
    );
    assert!(
        !chats.join(format!("{gone_id}.jsonl")).exists(),
        "the orphan log was removed"
    );
}
