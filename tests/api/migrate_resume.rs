//! An interrupted copy (stopped by `--limit`, or killed) completes when run again: what the
//! first run wrote is found identical and skipped, and the result verifies.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::migrate::{
    as_strs, dirs_args, migrate_command, populate, quillstore, snapshot,
};
use crate::helpers::{json_body, spawn_app_in};

fn json_backend(raw: &mut quillstore::config::RawConfig) {
    raw.data_backend = Some("json".to_owned());
    // The copy is between `fs:` blob directories, whatever blob store the suite runs on.
    crate::helpers::pin_fs_blobs(raw);
}

#[tokio::test]
async fn a_copy_stopped_by_its_limit_continues_where_it_stopped() {
    let temp = tempfile::tempdir().unwrap();
    let (source, destination) = (temp.path().join("source"), temp.path().join("copy"));
    let mut app = spawn_app_in(&source, json_backend).await;
    populate(&app.api, "local").await;
    let before = snapshot(&app.api).await;
    app.stop().await;

    let mut limited = dirs_args("copy", &source, &destination);
    limited.push("--limit=7".to_owned());
    let first = quillstore(&as_strs(&limited)).await;
    assert!(
        !first.success,
        "an interrupted copy does not pass for a complete one"
    );
    assert!(
        first.stderr.contains("stopped after 7 write(s)"),
        "{}",
        first.stderr
    );
    assert!(!first.stdout.contains("verification"), "{}", first.stdout);

    let second = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(second.success, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(second.skipped(), 7, "{}", second.stdout);
    assert!(
        second.stdout.contains("verification passed"),
        "{}",
        second.stdout
    );

    let copied = spawn_app_in(&destination, json_backend).await;
    assert_eq!(snapshot(&copied.api).await, before);
}

#[tokio::test]
async fn a_copy_killed_midway_completes_when_run_again() {
    let temp = tempfile::tempdir().unwrap();
    let (source, destination) = (temp.path().join("source"), temp.path().join("copy"));
    let mut app = spawn_app_in(&source, json_backend).await;
    populate(&app.api, "local").await;
    let messages = 20_000;
    let mut lines = vec![json!({"type": "quillstore-chat", "version": 1, "chat": {"title": "long", "participants": []}}).to_string()];
    lines.extend((1..=messages).map(|seq| {
        json!({"seq": seq, "role": "user", "content": format!("message {seq}")}).to_string()
    }));
    let import = app
        .api
        .request(Method::POST, "/api/chats/import")
        .header("content-type", "application/x-ndjson")
        .body(lines.join("\n"));
    let response = app.api.send(import).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let chat_id = json_body(response).await["id"].as_str().unwrap().to_owned();
    app.stop().await;

    let mut child = migrate_command(&as_strs(&dirs_args("copy", &source, &destination)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the copy");
    // Documents are copied before messages: once the long chat's log exists, every document
    // is at the destination and the messages are under way.
    let log = destination.join("chats").join(format!("{chat_id}.jsonl"));
    let started = Instant::now();
    while !log.exists() && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().expect("kill the copy");
    let status = child.wait().expect("reap the copy");
    assert!(
        log.exists(),
        "the copy reached the messages (exit {status})"
    );

    let rerun = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(rerun.success, "{}\n{}", rerun.stdout, rerun.stderr);
    assert!(
        rerun.skipped() >= 10,
        "the documents written before the kill are skipped: {}",
        rerun.stdout
    );
    assert!(
        rerun.stdout.contains("verification passed"),
        "{}",
        rerun.stdout
    );
    eprintln!("after the kill:\n{}", rerun.stdout);

    let copied = spawn_app_in(&destination, json_backend).await;
    let chat = copied.api.read("chats", &chat_id).await;
    assert_eq!(chat["messageCount"], messages);
}
