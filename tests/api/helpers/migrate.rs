//! Helpers of the migration tests: running the real `quillstore` binary, filling a store
//! through the HTTP API, and taking a snapshot of everything a user can read back.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::{Api, PNG_2X3, json_body, sha256_hex, text_bytes};

/// One run of the binary.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The count after `skipped ` in a copy's summary line.
    pub fn skipped(&self) -> u64 {
        let summary = self
            .stdout
            .lines()
            .find(|line| line.starts_with("wrote "))
            .unwrap_or_else(|| panic!("no summary line in:\n{}", self.stdout));
        let after = summary.split("skipped ").nth(1).expect("a skipped count");
        after
            .split_whitespace()
            .next()
            .and_then(|count| count.parse().ok())
            .expect("a number after skipped")
    }

    /// The numbers of the report row of `kind` in the table that `header` starts.
    pub fn row(&self, header: &str, kind: &str) -> Vec<u64> {
        let table = self
            .stdout
            .split_once(&format!("\n{header} "))
            .or_else(|| self.stdout.split_once(&format!("{header} ")))
            .unwrap_or_else(|| panic!("no {header} table in:\n{}", self.stdout))
            .1;
        let line = table
            .lines()
            .find(|line| line.split_whitespace().next() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} row in:\n{}", self.stdout));
        line.split_whitespace()
            .skip(1)
            .map(|number| number.parse().expect("a count"))
            .collect()
    }
}

/// Runs `quillstore` with `args`, with no backend settings inherited from the environment.
pub async fn quillstore(args: &[&str]) -> Run {
    quillstore_with_env(args, &[]).await
}

pub async fn quillstore_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = migrate_command(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output: Output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the runner task")
        .expect("run quillstore");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The command for `quillstore args` with a clean backend environment.
pub fn migrate_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quillstore"));
    command.args(args);
    for name in [
        "DATA_DIR",
        "DATA_BACKEND",
        "DUAL_PRIMARY",
        "MONGODB_URI",
        "MONGODB_DATABASE",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command
}

/// `json:DIR` / `fs:DIR` arguments of a copy between two data directories.
pub fn dirs_args(verb: &str, from: &Path, to: &Path) -> Vec<String> {
    vec![
        "migrate".to_owned(),
        verb.to_owned(),
        format!("--from=json:{}", from.display()),
        format!("--to=json:{}", to.display()),
        format!("--from-blobs=fs:{}", from.display()),
        format!("--to-blobs=fs:{}", to.display()),
    ]
}

pub fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Fills a store with one user's data of every kind: tags, personas, characters (edited
/// after creation), files (an image, a text file uploaded twice so that the two records share
/// a blob, a larger file), chats with messages, a swipe group and a deleted last message.
pub async fn populate(api: &Api, label: &str) {
    let tag = api
        .create(
            "tags",
            json!({"name": format!("{label} favorites"), "color": "#112233"}),
        )
        .await;
    api.create(
        "tags",
        json!({"name": format!("{label} drafts"), "quickHide": true}),
    )
    .await;
    let image = api.upload(PNG_2X3, "avatar.png", Some("image/png")).await;
    let notes = text_bytes(2000, 7);
    api.upload(&notes, "notes.txt", Some("text/plain")).await;
    let again = api
        .upload(&notes, "notes copy.txt", Some("text/plain"))
        .await;
    assert_eq!(again["sha256"], sha256_hex(&notes));
    api.upload(&text_bytes(300_000, 9), "big.txt", Some("text/plain"))
        .await;
    let persona = api
        .create(
            "personas",
            json!({"name": format!("{label} me"), "tags": [tag["id"]], "sillyTavernData": {"a": [1, 2.5, null]}}),
        )
        .await;
    let character = api
        .create(
            "characters",
            json!({
                "name": format!("{label} Aria"), "title": "the bard", "tags": [tag["id"]],
                "defaultImageId": image["id"],
                "personaLinks": [{"personaId": persona["id"], "isDefault": true}],
                "physicalDescriptions": [{"name": "default", "shortPrompt": "tall"}],
                "sillyTavernData": {"spec": "chara_card_v2", "data": {"nested": {"deep": true}}}
            }),
        )
        .await;
    let path = format!("/api/characters/{}", character["id"].as_str().unwrap());
    let patched = api
        .patch(&path, &json!({"title": null, "isFavorite": true}))
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let chat = api
        .create(
            "chats",
            json!({"title": format!("{label} chat"), "participants": [
                {"type": "character", "characterId": character["id"]},
                {"type": "persona", "personaId": persona["id"]}
            ]}),
        )
        .await;
    let chat_id = chat["id"].as_str().unwrap();
    append(api, chat_id, "user", "hello").await;
    let answer = append(api, chat_id, "assistant", "answer A").await;
    let swipes = format!(
        "/api/chats/{chat_id}/messages/{}/swipes",
        answer["id"].as_str().unwrap()
    );
    let swipe = api.post(&swipes, &json!({"content": "answer B"})).await;
    assert_eq!(swipe.status(), StatusCode::CREATED);
    append(api, chat_id, "user", "thanks").await;
    let doomed = append(api, chat_id, "assistant", "to be deleted").await;
    let doomed = format!(
        "/api/chats/{chat_id}/messages/{}",
        doomed["id"].as_str().unwrap()
    );
    assert_eq!(api.delete(&doomed).await.status(), StatusCode::NO_CONTENT);
    api.create(
        "chats",
        json!({"title": format!("{label} empty chat"), "participants": []}),
    )
    .await;
}

pub async fn append(api: &Api, chat_id: &str, role: &str, content: &str) -> Value {
    let path = format!("/api/chats/{chat_id}/messages");
    let response = api
        .post(&path, &json!({"role": role, "content": content}))
        .await;
    let status = response.status();
    let body = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Everything the API returns to this user: every document of every collection, every
/// message of every chat (swipes included) and the SHA-256 of every file's bytes.
pub async fn snapshot(api: &Api) -> Map<String, Value> {
    let mut all = Map::new();
    for collection in ["tags", "characters", "personas", "chats", "files"] {
        all.insert(
            collection.to_owned(),
            Value::Array(list_all(api, collection).await),
        );
    }
    for chat in all["chats"].as_array().unwrap().clone() {
        let id = chat["id"].as_str().unwrap();
        all.insert(
            format!("messages of {id}"),
            Value::Array(messages(api, id).await),
        );
    }
    for file in all["files"].as_array().unwrap().clone() {
        let id = file["id"].as_str().unwrap();
        let bytes = api.download_bytes(id).await;
        all.insert(format!("bytes of {id}"), Value::String(sha256_hex(&bytes)));
    }
    all
}

async fn list_all(api: &Api, collection: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "200".to_owned())];
        query.extend(cursor.map(|cursor| ("cursor", cursor)));
        let request = api
            .request(Method::GET, &format!("/api/{collection}"))
            .query(&query);
        let page = json_body(api.send(request).await).await;
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    items.sort_by_key(|item| item["id"].as_str().unwrap().to_owned());
    items
}

async fn messages(api: &Api, chat_id: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let mut query = vec![
            ("limit", "200".to_owned()),
            ("includeSwipes", "true".to_owned()),
        ];
        query.extend(after.map(|after: u64| ("after", after.to_string())));
        let path = format!("/api/chats/{chat_id}/messages");
        let page = json_body(
            api.send(api.request(Method::GET, &path).query(&query))
                .await,
        )
        .await;
        let page_items = page["items"].as_array().expect("items").clone();
        after = page_items.last().and_then(|last| last["seq"].as_u64());
        items.extend(page_items);
        if page["nextCursor"].is_null() {
            return items;
        }
    }
}
