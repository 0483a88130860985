//! Accounts: export → delete → import gives the same account back; deletion and import touch
//! no other user; an archive imports once. Hostile archives are in `account_hostile.rs`,
//! quotas in `account_quota.rs`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Api, PNG_2X3, TEST_JWT_SECRET, assert_error, json_body, sha256_hex, sign_hs256, spawn_jwt_app,
    text_bytes,
};

/// The collections a snapshot lists (settings are read apart).
const COLLECTIONS: [&str; 11] = [
    "tags",
    "characters",
    "personas",
    "chats",
    "files",
    "lorebooks",
    "memories",
    "api-keys",
    "connection-profiles",
    "image-profiles",
    "embedding-profiles",
];

/// Fills an account with a bit of everything, references between documents included.
pub async fn fill_account(api: &Api, seed: u8) {
    let tag = api
        .create("tags", json!({"name": format!("tag {seed}")}))
        .await;
    let bytes = text_bytes(5_000, u64::from(seed));
    let file = api.upload(&bytes, "notes.txt", None).await;
    let twin = api.upload(&bytes, "copy.txt", None).await;
    assert_eq!(file["storage"], twin["storage"], "dedup shares the blob");
    let image = api.upload(PNG_2X3, "avatar.png", None).await;
    let character = api
        .create(
            "characters",
            json!({"name": "Aria", "tags": [tag["id"]], "defaultImageId": image["id"]}),
        )
        .await;
    let persona = api.create("personas", json!({"name": "Me"})).await;
    let key = json!({"label": "main", "provider": "OPENAI", "key": format!("sk-secret-{seed}")});
    let key = api.create("api-keys", key).await;
    let profile = json!({"name": "fast", "provider": "OPENAI", "apiKeyId": key["id"]});
    let profile = api.create("connection-profiles", profile).await;
    let settings = json!({"defaultConnectionProfileId": profile["id"], "theme": "dark"});
    assert_eq!(
        api.patch("/api/settings", &settings).await.status(),
        StatusCode::OK
    );
    api.create(
        "memories",
        json!({"characterId": character["id"], "content": "likes tea"}),
    )
    .await;
    let chat = json!({"title": "First", "tags": [tag["id"]], "participants": [
        {"type": "character", "characterId": character["id"]},
        {"type": "persona", "personaId": persona["id"]}]});
    let chat = api.create("chats", chat).await;
    let chat_id = chat["id"].as_str().unwrap();
    for (role, content) in [("user", "Hello?"), ("assistant", "Hi."), ("user", "Bye")] {
        let message = json!({"role": role, "content": content, "attachments": [file["id"]]});
        let response = api
            .post(&format!("/api/chats/{chat_id}/messages"), &message)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
}

/// Every document of the account (file records without their blob key), every message, and
/// the SHA-256 of every file's bytes as downloaded.
pub async fn snapshot(api: &Api) -> Value {
    let mut snapshot = serde_json::Map::new();
    for collection in COLLECTIONS {
        let mut items = api.list(&format!("/api/{collection}?limit=200")).await["items"]
            .as_array()
            .unwrap()
            .clone();
        items.sort_by_key(|item| item["id"].as_str().unwrap().to_owned());
        for item in &mut items {
            if collection == "files" {
                item["storage"]["key"] = Value::Null;
                let id = item["id"].as_str().unwrap();
                item["downloaded"] = json!(sha256_hex(&api.download_bytes(id).await));
            }
            if collection == "chats" {
                let id = item["id"].as_str().unwrap();
                let path = format!("/api/chats/{id}/messages?limit=200&includeSwipes=true");
                item["messages"] = api.list(&path).await["items"].clone();
            }
        }
        snapshot.insert(collection.to_owned(), Value::Array(items));
    }
    snapshot.insert(
        "settings".to_owned(),
        json_body(api.get("/api/settings").await).await,
    );
    Value::Object(snapshot)
}

/// Every collection of the account is empty.
async fn assert_empty(api: &Api) {
    for collection in COLLECTIONS {
        let left = api.list(&format!("/api/{collection}")).await;
        assert_eq!(
            left["items"],
            json!([]),
            "{collection} left after the deletion"
        );
    }
}

pub async fn export(api: &Api) -> Vec<u8> {
    let response = api.get("/api/account/export").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/x-tar"
    );
    response.bytes().await.unwrap().to_vec()
}

pub async fn import(api: &Api, archive: Vec<u8>) -> reqwest::Response {
    let request = api
        .request(Method::POST, "/api/account/import")
        .header("content-type", "application/x-tar")
        .body(archive);
    api.send(request).await
}

pub async fn delete_account(api: &Api, user: &str) -> Value {
    let request = api
        .request(Method::DELETE, "/api/account")
        .header("x-confirm-delete", user);
    let response = api.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

/// The plaintext of API key `id` of `user`, through a token with the reveal scope.
async fn reveal(api: &Api, user: &str, id: &str) -> Value {
    let claims = json!({"sub": user, "scope": "secrets:reveal",
        "exp": jsonwebtoken::get_current_timestamp() + 3600});
    let token = sign_hs256(&claims, TEST_JWT_SECRET.as_bytes());
    let scoped = api.with_token(&token);
    let response = scoped
        .post(&format!("/api/api-keys/{id}/reveal"), &json!({}))
        .await;
    json_body(response).await["key"].clone()
}

#[tokio::test]
async fn export_delete_import_gives_the_same_account_back_and_touches_no_one_else() {
    let app = spawn_jwt_app().await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob"));
    fill_account(&alice, 1).await;
    fill_account(&bob, 1).await;
    let (before, bob_before) = (snapshot(&alice).await, snapshot(&bob).await);
    let archive = export(&alice).await;

    let unconfirmed = alice
        .send(alice.request(Method::DELETE, "/api/account"))
        .await;
    assert_error(unconfirmed, StatusCode::BAD_REQUEST, "bad_request").await;
    let wrong = alice
        .request(Method::DELETE, "/api/account")
        .header("x-confirm-delete", "bob");
    assert_error(
        alice.send(wrong).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(
        snapshot(&alice).await,
        before,
        "an unconfirmed delete removes nothing"
    );

    let report = delete_account(&alice, "alice").await;
    assert_eq!(report["documents"]["chats"], 1, "{report}");
    assert_eq!(report["documents"]["files"], 3, "{report}");
    let usage = json_body(alice.get("/api/usage").await).await;
    assert_eq!(
        (usage["files"].as_u64(), usage["bytes"].as_u64()),
        (Some(0), Some(0))
    );
    assert_empty(&alice).await;
    let alice_blobs = app.blobs().keys_under("users/alice").await;
    assert!(alice_blobs.is_empty(), "{alice_blobs:?}");
    assert_eq!(
        snapshot(&bob).await,
        bob_before,
        "bob untouched by alice's deletion"
    );

    let response = import(&alice, archive.clone()).await;
    let status = response.status();
    let report = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["remapped"], 0, "every id was free again: {report}");
    assert_eq!(report["messages"], 3);
    assert_eq!(snapshot(&alice).await, before, "the same account is back");
    let key = before["api-keys"][0]["id"].as_str().unwrap();
    assert_eq!(
        reveal(&app, "alice", key).await,
        "sk-secret-1",
        "the sealed key opens again"
    );
    assert_eq!(
        snapshot(&bob).await,
        bob_before,
        "bob untouched by alice's import"
    );

    // A reveal records its use: the account as it is now is what later steps keep.
    let before = snapshot(&alice).await;
    let again = import(&alice, archive.clone()).await;
    assert_error(again, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(
        snapshot(&alice).await,
        before,
        "a second import adds nothing"
    );

    // Into another account: every id is alice's, so all are remapped; alice keeps hers.
    let carol = app.as_user("carol");
    let response = import(&carol, archive.clone()).await;
    let report = json_body(response).await;
    assert!(report["remapped"].as_u64().unwrap() > 10, "{report}");
    assert_eq!(
        snapshot(&alice).await,
        before,
        "alice untouched by carol's import"
    );
    let copy = snapshot(&carol).await;
    for collection in COLLECTIONS {
        assert_eq!(
            copy[collection].as_array().unwrap().len(),
            before[collection].as_array().unwrap().len(),
            "{collection}"
        );
    }
    let character = &copy["characters"][0];
    let tag = copy["tags"][0]["id"].clone();
    assert_eq!(
        character["tags"],
        json!([tag]),
        "references follow the new ids"
    );
    let image = copy["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["originalFilename"] == "avatar.png")
        .unwrap();
    assert_eq!(character["defaultImageId"], image["id"]);
    assert_eq!(image["downloaded"], json!(sha256_hex(PNG_2X3)));
    let chat = &copy["chats"][0];
    assert_eq!(chat["participants"][0]["characterId"], character["id"]);
    assert_eq!(chat["messages"].as_array().unwrap().len(), 3);
    let settings = &copy["settings"];
    assert_eq!(
        settings["defaultConnectionProfileId"],
        copy["connection-profiles"][0]["id"]
    );
    let key = copy["api-keys"][0]["id"].as_str().unwrap();
    assert_eq!(
        reveal(&app, "carol", key).await,
        "sk-secret-1",
        "sealed again for carol"
    );

    // Bob has a tag of the same name: tag names are unique, so the archive is refused whole.
    let clash = import(&bob, archive).await;
    let body = assert_error(clash, StatusCode::CONFLICT, "conflict").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("tag 1"),
        "{body}"
    );
    assert_eq!(
        snapshot(&bob).await,
        bob_before,
        "bob untouched by a refused import"
    );
}

#[tokio::test]
async fn an_interrupted_deletion_is_finished_at_startup() {
    let mut app = spawn_jwt_app().await;
    fill_account(&app.as_user("alice"), 2).await;
    fill_account(&app.as_user("bob"), 2).await;
    let bob_before = snapshot(&app.as_user("bob")).await;
    // What a deletion writes first; a stop right after it leaves everything else in place.
    let marker = br#"{"userId": "alice", "startedAt": "2026-01-01T00:00:00.000Z"}"#;
    app.blobs()
        .put_raw("account-deletions/alice.json", marker)
        .await;
    app.restart().await;
    let alice = app.as_user("alice");
    assert_empty(&alice).await;
    assert!(app.blobs().keys_under("users/alice").await.is_empty());
    assert!(
        app.blobs().keys_under("accounts/alice").await.is_empty(),
        "the marker goes last"
    );
    assert_eq!(snapshot(&app.as_user("bob")).await, bob_before);
    // Deleting again is harmless.
    let report = delete_account(&alice, "alice").await;
    assert_eq!(report["documents"]["files"], 0, "{report}");
}

#[tokio::test]
async fn operators_list_export_and_delete_users_from_the_command_line() {
    use crate::helpers::Backend;
    use crate::helpers::migrate::quillstore_with_env;
    let mut app = spawn_jwt_app().await;
    fill_account(&app.as_user("alice"), 3).await;
    fill_account(&app.as_user("bob"), 3).await;
    let (alice_before, bob_before) = (
        snapshot(&app.as_user("alice")).await,
        snapshot(&app.as_user("bob")).await,
    );
    app.stop().await;
    let mut env: Vec<(String, String)> = Backend::under_test()
        .env_vars(&app.data_dir)
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    env.extend(
        app.blobs()
            .env_vars()
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v)),
    );
    env.push(("DATA_DIR".to_owned(), app.data_dir.display().to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();

    let listed = quillstore_with_env(&["users", "list"], &env).await;
    assert!(listed.success, "{}", listed.stderr);
    let alice_row = listed
        .stdout
        .lines()
        .find(|line| line.starts_with("alice "))
        .unwrap();
    assert!(
        alice_row
            .split_whitespace()
            .eq(["alice", "11", "3", "10045"]),
        "{alice_row}"
    );
    assert!(listed.stdout.lines().any(|line| line.starts_with("bob ")));

    let archive = app.data_dir.join("alice.tar");
    let output = archive.display().to_string();
    let exported =
        quillstore_with_env(&["users", "export", "alice", "--output", &output], &env).await;
    assert!(exported.success, "{}", exported.stderr);
    let refused = quillstore_with_env(&["users", "delete", "alice"], &env).await;
    assert!(
        !refused.success && refused.stderr.contains("--yes"),
        "{}",
        refused.stderr
    );
    let deleted = quillstore_with_env(&["users", "delete", "alice", "--yes"], &env).await;
    assert!(deleted.success, "{}", deleted.stderr);
    assert!(
        deleted.stdout.contains("\"chats\": 1"),
        "{}",
        deleted.stdout
    );

    app.start().await;
    let alice = app.as_user("alice");
    assert_eq!(alice.list("/api/characters").await["items"], json!([]));
    assert_eq!(snapshot(&app.as_user("bob")).await, bob_before);
    let response = import(&alice, std::fs::read(&archive).unwrap()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        snapshot(&alice).await,
        alice_before,
        "the CLI's archive brings alice back"
    );
}
