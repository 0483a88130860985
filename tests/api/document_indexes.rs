//! The json store's persisted document indexes and summaries: a start from the indexes serves
//! every document whole (long fields read from disk), lists, filters and unique names behave
//! as before, and a write after such a start survives a `kill -9`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::spawn_binary;
use crate::helpers::{Api, assert_error, json_body, spawn_app, spawn_app_in};

fn long(text: &str) -> String {
    format!("{text} {}", "long text ".repeat(100))
}

#[tokio::test]
async fn a_start_from_the_indexes_serves_long_fields_lists_and_filters_as_before() {
    if !crate::helpers::json_store_only(
        "a_start_from_the_indexes_serves_long_fields_lists_and_filters_as_before",
    ) {
        return;
    }
    let mut app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "Sci-Fi"})).await;
    let mut characters = Vec::new();
    for name in ["Cleo", "Ada", "Bo"] {
        let tags = if name == "Bo" {
            json!([])
        } else {
            json!([tag["id"]])
        };
        let body = json!({"name": name, "description": long(name), "tags": tags});
        characters.push(app.create("characters", body).await);
    }
    app.stop().await;
    let index = app.data_dir.join("indexes").join("characters.index");
    let text = std::fs::read_to_string(&index).expect("a clean stop writes the index");
    assert!(!text.contains("long text"), "long fields stay out of it");
    app.start().await;

    for character in &characters {
        let id = character["id"].as_str().unwrap();
        assert_eq!(&app.read("characters", id).await, character);
    }
    let by_name = app.list("/api/characters?sort=name").await;
    let names: Vec<&str> = (by_name["items"].as_array().unwrap().iter())
        .map(|item| item["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada", "Bo", "Cleo"]);
    assert_eq!(by_name["items"][0], characters[1], "list items are whole");
    let tagged = app
        .list(&format!(
            "/api/characters?tag={}&includeTotal=true",
            tag["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(tagged["total"], 2, "{tagged}");
    let response = app.post("/api/tags", &json!({"name": "sci-fi"})).await;
    assert_error(response, StatusCode::CONFLICT, "conflict").await;

    // The first write of the run removes the index; a clean stop writes it again.
    let path = format!("/api/characters/{}", characters[0]["id"].as_str().unwrap());
    let patched = json_body(app.patch(&path, &json!({"description": long("new")})).await).await;
    assert!(
        !index.exists(),
        "a write removes the index until the next clean stop"
    );
    assert_eq!(
        app.read("characters", characters[0]["id"].as_str().unwrap())
            .await,
        patched
    );
    let tag_path = format!("/api/tags/{}", tag["id"].as_str().unwrap());
    assert_eq!(app.delete(&tag_path).await.status(), StatusCode::NO_CONTENT);
    app.restart().await;
    let after = app
        .read("characters", characters[0]["id"].as_str().unwrap())
        .await;
    assert_eq!(after["description"], patched["description"]);
    assert_eq!(
        after["version"], 3,
        "patched, then its tag removed: {after}"
    );
    let cleaned = app
        .read("characters", characters[1]["id"].as_str().unwrap())
        .await;
    assert_eq!(
        cleaned["tags"],
        json!([]),
        "references were removed: {cleaned}"
    );
    assert_eq!(cleaned["description"], characters[1]["description"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_after_a_start_from_the_indexes_survives_kill_9() {
    if !crate::helpers::json_store_only("a_write_after_a_start_from_the_indexes_survives_kill_9") {
        return;
    }
    let data_dir = tempfile::tempdir().unwrap();
    let mut app = spawn_app_in(data_dir.path(), |_| {}).await;
    let kept = app
        .create(
            "characters",
            json!({"name": "kept", "description": long("kept")}),
        )
        .await;
    app.stop().await;
    drop(app);
    assert!(data_dir.path().join("indexes/characters.index").exists());

    let mut binary = spawn_binary(data_dir.path()).await;
    let api = Api::at(binary.address.clone());
    let created = api
        .send(
            api.request(reqwest::Method::POST, "/api/characters")
                .json(&json!({"name": "after the index", "description": long("after")})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    binary.child.kill().expect("SIGKILL the server");
    binary.child.wait().expect("reap the server");

    let app = spawn_app_in(data_dir.path(), |_| {}).await;
    let page = app.list("/api/characters?includeTotal=true").await;
    assert_eq!(page["total"], 2, "{page}");
    assert_eq!(
        app.read("characters", created["id"].as_str().unwrap())
            .await,
        created
    );
    assert_eq!(
        app.read("characters", kept["id"].as_str().unwrap()).await,
        kept
    );
}
