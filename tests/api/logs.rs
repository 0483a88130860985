//! `LOG_FORMAT=json`: one JSON object per line, each request logged with its request id, user
//! id, route, status and latency, and never a token or a secret.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::spawn_binary_with;
use crate::helpers::{Api, TEST_JWT_SECRET, token_for};

#[tokio::test]
async fn json_logs_carry_request_and_user_but_no_secrets() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut binary = spawn_binary_with(data_dir.path(), |command| {
        command
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("AUTH_MODE", "jwt")
            .env("AUTH_JWT_SECRET", TEST_JWT_SECRET);
    })
    .await;
    let token = token_for("log-user");
    let api = Api::at(binary.address.clone()).with_token(&token);
    let response = api.post("/api/tags", &json!({"name": "logged"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    binary.child.kill().unwrap();
    binary.child.wait().unwrap();
    let logs = binary.stderr.lock().unwrap().clone();

    assert!(
        !logs.contains(&token),
        "the bearer token must never be logged"
    );
    assert!(
        !logs.contains(TEST_JWT_SECRET),
        "the JWT secret must never be logged"
    );
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))
        })
        .collect();
    let answered = lines
        .iter()
        .find(|line| {
            line["span"]["request_id"] == request_id.as_str() && line.get("status").is_some()
        })
        .unwrap_or_else(|| panic!("no response line for {request_id} in:\n{logs}"));
    assert_eq!(answered["span"]["user_id"], "log-user");
    assert_eq!(answered["span"]["route"], "/api/tags");
    assert_eq!(answered["span"]["method"], "POST");
    assert_eq!(answered["status"], 201);
    assert!(answered.get("latency").is_some(), "{answered}");
}
