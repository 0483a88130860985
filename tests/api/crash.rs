//! A `kill -9` of the real binary during a burst of writes loses no acknowledged write and
//! leaves only whole JSON files behind.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::binary::spawn_binary;
use crate::helpers::{Api, assert_error, base_config, build_app, json_body, spawn_app_in};

/// What the writers saw acknowledged.
#[derive(Default)]
struct Acknowledged {
    /// The last acknowledged body per document id.
    documents: HashMap<String, Value>,
    /// Documents whose delete was acknowledged.
    deleted: Vec<String>,
    /// Documents whose delete got no answer: the server may or may not have applied it.
    maybe_deleted: Vec<String>,
}

/// Creates, patches and deletes characters until the server goes away.
async fn write_until_failure(api: Api, writer: usize) -> Acknowledged {
    let mut seen = Acknowledged::default();
    for round in 0.. {
        let body = json!({"name": format!("writer {writer} round {round}"), "description": "0"});
        let create = api.request(Method::POST, "/api/characters").json(&body);
        let Some(created) = acknowledged_body(&api, create).await else {
            return seen;
        };
        let id = created["id"].as_str().unwrap().to_owned();
        seen.documents.insert(id.clone(), created);
        let path = format!("/api/characters/{id}");
        for step in 1..=2 {
            let patch = json!({"description": step.to_string()});
            let request = api.request(Method::PATCH, &path).json(&patch);
            let Some(patched) = acknowledged_body(&api, request).await else {
                return seen;
            };
            seen.documents.insert(id.clone(), patched);
        }
        if round % 4 == 3 {
            let Ok(response) = api.try_send(api.request(Method::DELETE, &path)).await else {
                seen.maybe_deleted.push(id);
                return seen;
            };
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
            seen.documents.remove(&id);
            seen.deleted.push(id);
        }
    }
    unreachable!("the loop only ends when the server goes away")
}

/// The body of a 200/201 answer, or `None` when the server did not acknowledge.
async fn acknowledged_body(api: &Api, request: reqwest::RequestBuilder) -> Option<Value> {
    let response = api.try_send(request).await.ok()?;
    let status = response.status();
    let body = response.json::<Value>().await.ok()?;
    assert!(
        matches!(status, StatusCode::OK | StatusCode::CREATED),
        "{status}: {body}"
    );
    Some(body)
}

/// Asserts that no temp file is left and that every other file under `dir` is JSON.
fn assert_every_file_is_json(dir: &Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("read DATA_DIR") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && name == "secrets" {
            // Generated keys (hex text, written once at start), not store documents.
            continue;
        } else if path.is_dir() {
            checked += assert_every_file_is_json(&path);
        } else if name != "quillstore.lock" {
            assert!(
                !name.starts_with('.') && !name.contains("tmp"),
                "temp file left behind: {}",
                path.display()
            );
            let bytes = std::fs::read(&path).unwrap();
            let parsed = serde_json::from_slice::<Value>(&bytes);
            assert!(
                parsed.is_ok(),
                "{} is not JSON: {}",
                path.display(),
                String::from_utf8_lossy(&bytes)
            );
            checked += 1;
        }
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9() {
    if !crate::helpers::json_store_only("acknowledged_writes_survive_kill_9") {
        return;
    }
    let data_dir = tempfile::tempdir().unwrap();
    let mut binary = spawn_binary(data_dir.path()).await;
    let error = build_app(base_config(data_dir.path()))
        .await
        .err()
        .expect("the binary holds the lock");
    assert!(
        format!("{error:#}").contains("in use by another"),
        "{error:#}"
    );

    let api = Api::at(binary.address.clone());
    let writers: Vec<_> = (0..4)
        .map(|writer| tokio::spawn(write_until_failure(api.clone(), writer)))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    binary.child.kill().expect("SIGKILL the server");
    binary.child.wait().expect("reap the server");
    let mut acknowledged = Acknowledged::default();
    for writer in writers {
        let seen = writer.await.expect("writer task");
        acknowledged.documents.extend(seen.documents);
        acknowledged.deleted.extend(seen.deleted);
        acknowledged.maybe_deleted.extend(seen.maybe_deleted);
    }
    assert!(
        acknowledged.documents.len() >= 4,
        "the burst acknowledged too little"
    );

    let app = spawn_app_in(data_dir.path(), |_| {}).await;
    let files = assert_every_file_is_json(&data_dir.path().join("characters"));
    let page = app.list("/api/characters?limit=1&includeTotal=true").await;
    assert_eq!(page["total"], files, "every document file is served");
    for (id, expected) in &acknowledged.documents {
        let response = app.get(&format!("/api/characters/{id}")).await;
        if response.status() == StatusCode::NOT_FOUND && acknowledged.maybe_deleted.contains(id) {
            continue;
        }
        let stored = app.read("characters", id).await;
        let stored_version = stored["version"].as_u64().unwrap();
        let acked_version = expected["version"].as_u64().unwrap();
        assert!(
            stored_version >= acked_version,
            "{id}: acknowledged v{acked_version}, found v{stored_version}"
        );
        if stored_version == acked_version {
            assert_eq!(&stored, expected, "{id}: same version, different content");
        }
    }
    for id in &acknowledged.deleted {
        let response = app.get(&format!("/api/characters/{id}")).await;
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    assert_every_file_is_json(data_dir.path());
    let health = app.get("/api/health").await;
    let status = health.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "no damaged file: {}",
        json_body(health).await
    );
}
