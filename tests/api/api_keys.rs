//! `/api/api-keys`: the `key` is write-only and stored sealed (AES-256-GCM, bound to its
//! record), reveal needs the configured scope, rotation re-encrypts under a new master key.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::migrate::quillstore_with_env;
use crate::helpers::{
    TEST_JWT_SECRET, assert_error, json_body, json_store_only, sign_hs256, spawn_app, spawn_app_in,
    spawn_app_with, spawn_jwt_app,
};

const KEY: &str = "sk-live-0123456789-abcdWXYZ";

fn scoped_token(user: &str, scope: &str) -> String {
    let claims = json!({"sub": user, "scope": scope,
        "exp": jsonwebtoken::get_current_timestamp() + 3600});
    sign_hs256(&claims, TEST_JWT_SECRET.as_bytes())
}

/// Every file under `dir`, as text, concatenated (to look for plaintext behind the API's back).
fn all_text(dir: &std::path::Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&all_text(&path));
        } else if let Ok(content) = std::fs::read_to_string(&path) {
            text.push_str(&content);
        }
    }
    text
}

#[tokio::test]
async fn the_key_is_write_only_hinted_and_never_stored_in_plaintext() {
    let app = spawn_app().await;
    let created = app
        .create(
            "api-keys",
            json!({"label": "Primary", "provider": "OPENAI", "key": KEY}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["hint"], "WXYZ");
    assert_eq!(created["keyVersion"].as_str().unwrap().len(), 16);
    let shown = [
        created.clone(),
        app.read("api-keys", id).await,
        app.list("/api/api-keys").await,
    ];
    for body in &shown {
        let text = body.to_string();
        assert!(
            !text.contains(KEY) && !text.contains("ciphertext"),
            "{text}"
        );
    }
    // Server-owned fields cannot be set; the key is required on create.
    for bad in [
        json!({"label": "x", "provider": "p", "key": "k", "hint": "1234"}),
        json!({"label": "x", "provider": "p", "key": "k", "secret": {}}),
    ] {
        assert_error(
            app.post("/api/api-keys", &bad).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    assert_error(
        app.post("/api/api-keys", &json!({"label": "x", "provider": "p"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // Replacing the key re-seals it; a label change keeps it.
    let path = format!("/api/api-keys/{id}");
    let changed = json_body(app.patch(&path, &json!({"key": "sk-new-key-9876"})).await).await;
    assert_eq!(changed["hint"], "9876");
    let relabelled = json_body(app.patch(&path, &json!({"label": "Renamed"})).await).await;
    assert_eq!(relabelled["hint"], "9876");
    if crate::helpers::Backend::under_test().uses_json() {
        let stored = all_text(&app.data_dir);
        assert!(!stored.contains(KEY) && !stored.contains("sk-new-key-9876"));
        assert!(stored.contains("ciphertext"));
    }
}

#[tokio::test]
async fn reveal_needs_the_scope_and_records_its_use() {
    let app = spawn_jwt_app().await;
    let alice = app.as_user("alice");
    let created = alice
        .create(
            "api-keys",
            json!({"label": "k", "provider": "OPENAI", "key": KEY}),
        )
        .await;
    let path = format!("/api/api-keys/{}/reveal", created["id"].as_str().unwrap());
    assert_error(
        alice.post(&path, &json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let wrong_scope = app.with_token(&scoped_token("alice", "chats:read"));
    assert_error(
        wrong_scope.post(&path, &json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let backend = app.with_token(&scoped_token("alice", "profile secrets:reveal"));
    let response = backend.post(&path, &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(json_body(response).await["key"], KEY);
    let read = alice
        .read("api-keys", created["id"].as_str().unwrap())
        .await;
    assert!(read["lastUsedAt"].is_string(), "{read}");
    // Another user's backend token finds nothing.
    let mallory = app.with_token(&scoped_token("mallory", "secrets:reveal"));
    assert_error(
        mallory.post(&path, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn reveal_under_auth_none_needs_the_explicit_setting() {
    let app = spawn_app().await;
    let created = app
        .create(
            "api-keys",
            json!({"label": "k", "provider": "OPENAI", "key": KEY}),
        )
        .await;
    let path = format!("/api/api-keys/{}/reveal", created["id"].as_str().unwrap());
    assert_error(
        app.post(&path, &json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let open = spawn_app_with(|raw| raw.secrets_reveal_without_auth = Some("true".into())).await;
    let created = open
        .create(
            "api-keys",
            json!({"label": "k", "provider": "OPENAI", "key": KEY}),
        )
        .await;
    let path = format!("/api/api-keys/{}/reveal", created["id"].as_str().unwrap());
    assert_eq!(
        json_body(open.post(&path, &json!({})).await).await["key"],
        KEY
    );
}

#[tokio::test]
async fn a_ciphertext_copied_into_another_record_does_not_decrypt() {
    if !json_store_only("a_ciphertext_copied_into_another_record_does_not_decrypt") {
        return;
    }
    let mut app = spawn_app_with(|raw| raw.secrets_reveal_without_auth = Some("true".into())).await;
    let first = app
        .create(
            "api-keys",
            json!({"label": "a", "provider": "p", "key": KEY}),
        )
        .await;
    let second = app
        .create(
            "api-keys",
            json!({"label": "b", "provider": "p", "key": "sk-other-1111"}),
        )
        .await;
    app.stop().await;
    let file = |document: &Value| {
        app.data_dir
            .join("api-keys")
            .join(format!("{}.json", document["id"].as_str().unwrap()))
    };
    let source: Value = serde_json::from_slice(&std::fs::read(file(&first)).unwrap()).unwrap();
    let mut target: Value = serde_json::from_slice(&std::fs::read(file(&second)).unwrap()).unwrap();
    target["secret"] = source["secret"].clone();
    // Replaced, not edited in place: an in-place edit does not change the directory's stamp,
    // so the next start would trust the persisted index (docs/storage-layout.md).
    let planted = file(&second).with_extension("planted");
    std::fs::write(&planted, serde_json::to_vec(&target).unwrap()).unwrap();
    std::fs::rename(&planted, file(&second)).unwrap();
    app.start().await;
    let path = format!("/api/api-keys/{}/reveal", second["id"].as_str().unwrap());
    let body = assert_error(
        app.post(&path, &json!({})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(!body.to_string().contains(KEY), "{body}");
    // The untouched record still opens.
    let path = format!("/api/api-keys/{}/reveal", first["id"].as_str().unwrap());
    assert_eq!(
        json_body(app.post(&path, &json!({})).await).await["key"],
        KEY
    );
}

fn key_of(byte: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

#[tokio::test]
async fn rotation_with_the_old_key_kept_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (key_of(1), key_of(2));
    let configure = |current: &str, previous: Option<&str>| {
        let (current, previous) = (current.to_owned(), previous.map(str::to_owned));
        move |raw: &mut quillstore::config::RawConfig| {
            raw.encryption_master_key = Some(current);
            raw.encryption_previous_keys = previous;
            raw.secrets_reveal_without_auth = Some("true".into());
        }
    };
    let mut app = spawn_app_in(dir.path(), configure(&old, None)).await;
    let created = app
        .create(
            "api-keys",
            json!({"label": "k", "provider": "p", "key": KEY}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let old_version = created["keyVersion"].clone();
    app.stop().await;
    let env_of = |app: &crate::helpers::TestApp, current: &str, previous: Option<&str>| {
        let mut env: Vec<(&'static str, String)> =
            crate::helpers::Backend::under_test().env_vars(&app.data_dir);
        env.push(("DATA_DIR", app.data_dir.display().to_string()));
        env.push(("ENCRYPTION_MASTER_KEY", current.to_owned()));
        if let Some(previous) = previous {
            env.push(("ENCRYPTION_PREVIOUS_KEYS", previous.to_owned()));
        }
        env
    };
    // The new key alone cannot open the old record: a clear error, nothing changed.
    let env = env_of(&app, &new, None);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = quillstore_with_env(&["secrets", "rotate"], &pairs).await;
    assert!(!run.success, "{}", run.stderr);
    assert!(
        run.stderr.contains("ENCRYPTION_PREVIOUS_KEYS") && run.stderr.contains(&id),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(KEY) && !run.stdout.contains(KEY));

    // With the old key kept as a previous key, the rotation re-encrypts it.
    let env = env_of(&app, &new, Some(&old));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = quillstore_with_env(&["secrets", "rotate"], &pairs).await;
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.contains("1 re-encrypted"), "{}", run.stdout);
    let again = quillstore_with_env(&["secrets", "rotate"], &pairs).await;
    assert!(
        again.stdout.contains("0 re-encrypted, 1 already"),
        "{}",
        again.stdout
    );

    // Then the old key can go: the record opens with the new key alone.
    drop(app);
    let app = spawn_app_in(dir.path(), configure(&new, None)).await;
    let read = app.read("api-keys", &id).await;
    assert_ne!(read["keyVersion"], old_version);
    let revealed = json_body(
        app.post(&format!("/api/api-keys/{id}/reveal"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(revealed["key"], KEY);
}

#[tokio::test]
async fn the_key_never_reaches_logs_or_metrics() {
    let data_dir = tempfile::tempdir().unwrap();
    let metrics_token = "metrics-token-for-the-api-key-test";
    let mut binary = crate::binary::spawn_binary_with(data_dir.path(), |command| {
        command
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "debug")
            .env("AUTH_MODE", "none")
            .env("SECRETS_REVEAL_WITHOUT_AUTH", "true")
            .env("METRICS_TOKEN", metrics_token);
    })
    .await;
    let api = crate::helpers::Api::at(binary.address.clone());
    let created = api
        .create(
            "api-keys",
            json!({"label": "k", "provider": "p", "key": KEY}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/api-keys/{id}");
    api.patch(&path, &json!({"key": format!("{KEY}-2")})).await;
    let revealed = json_body(api.post(&format!("{path}/reveal"), &json!({})).await).await;
    assert_eq!(revealed["key"], format!("{KEY}-2"));
    let metrics = api
        .with_token(metrics_token)
        .get("/metrics")
        .await
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("quillstore"), "{metrics}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    binary.child.kill().unwrap();
    binary.child.wait().unwrap();
    let logs = binary.stderr.lock().unwrap().clone();
    assert!(
        logs.contains("/api/api-keys"),
        "the requests were logged: {logs}"
    );
    for text in [&logs, &metrics] {
        assert!(!text.contains(KEY), "the key leaked:\n{text}");
    }
}
