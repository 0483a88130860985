//! `quillstore migrate copy` carries the newer collections (memories, profiles, API keys,
//! settings): the sealed API key is copied as it is (never decrypted, never in plaintext), and
//! a server with the same master key serves the copy, reveal included.

use quillstore::config::RawConfig;
use serde_json::{Value, json};

use crate::helpers::migrate::{as_strs, dirs_args, quillstore};
use crate::helpers::{json_body, spawn_app_in};

const KEY: &str = "sk-copied-key-0000-LAST";
const MASTER: &str = "bWlncmF0ZS1jb3B5LXRlc3QtbWFzdGVyLWtleS0zMmI=";

fn json_store_with_key(raw: &mut RawConfig) {
    raw.data_backend = Some("json".to_owned());
    crate::helpers::pin_fs_blobs(raw);
    raw.encryption_master_key = Some(MASTER.to_owned());
    raw.secrets_reveal_without_auth = Some("true".to_owned());
}

#[tokio::test]
async fn a_copy_carries_the_new_collections_and_the_ciphertext_as_is() {
    let temp = tempfile::tempdir().unwrap();
    let (source, destination) = (temp.path().join("source"), temp.path().join("copy"));
    let mut app = spawn_app_in(&source, json_store_with_key).await;
    let key = app
        .create(
            "api-keys",
            json!({"label": "k", "provider": "OPENAI", "key": KEY}),
        )
        .await;
    let profile = app
        .create(
            "connection-profiles",
            json!({"name": "p", "provider": "OPENAI",
                "apiKeyId": key["id"], "isDefault": true}),
        )
        .await;
    app.create("image-profiles", json!({"name": "i", "provider": "OPENAI"}))
        .await;
    app.create(
        "embedding-profiles",
        json!({"name": "e", "provider": "OPENAI"}),
    )
    .await;
    let aria = app.create("characters", json!({"name": "Aria"})).await;
    let memory = app
        .create(
            "memories",
            json!({"characterId": aria["id"], "content": "remembered",
                "embedding": {"model": "m", "vector": [0.25, -0.5, 1.0]}}),
        )
        .await;
    app.patch(
        "/api/settings",
        &json!({"defaultConnectionProfileId": profile["id"]}),
    )
    .await;
    let settings = json_body(app.get("/api/settings").await).await;
    app.stop().await;

    let copy = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(copy.success, "{}\n{}", copy.stdout, copy.stderr);
    assert!(
        copy.stdout.contains("verification passed"),
        "{}",
        copy.stdout
    );
    for collection in [
        "memories",
        "api-keys",
        "connection-profiles",
        "image-profiles",
        "embedding-profiles",
        "settings",
    ] {
        assert_eq!(
            copy.row("verify", collection),
            [1, 1, 1, 0, 0, 0],
            "{collection}"
        );
    }
    assert!(!copy.stdout.contains(KEY) && !copy.stderr.contains(KEY));
    let stored = |dir: &std::path::Path| -> Value {
        let path = dir
            .join("api-keys")
            .join(format!("{}.json", key["id"].as_str().unwrap()));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let (original, copied) = (stored(&source), stored(&destination));
    assert_eq!(
        copied["secret"], original["secret"],
        "the ciphertext is copied as it is"
    );
    assert!(!copied.to_string().contains(KEY));

    let copied_app = spawn_app_in(&destination, json_store_with_key).await;
    assert_eq!(
        copied_app
            .read("memories", memory["id"].as_str().unwrap())
            .await,
        memory
    );
    assert_eq!(
        json_body(copied_app.get("/api/settings").await).await,
        settings
    );
    let path = format!("/api/api-keys/{}/reveal", key["id"].as_str().unwrap());
    assert_eq!(
        json_body(copied_app.post(&path, &json!({})).await).await["key"],
        KEY
    );
}
