//! What the security suite shares: the owner's documents (each holding [`SECRET`]), tokens
//! that must not work, and assertions that an answer is a proper 401 and leaks nothing.

use std::collections::HashMap;

use jsonwebtoken::get_current_timestamp;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Api, TEST_JWT_SECRET, header, json_body, sign_hs256};

/// Text in every document of the owner: no answer to anyone else may contain it.
pub const SECRET: &str = "alice-secret-5d1c";
/// The path `path` with the placeholders replaced by `ids`.
pub fn fill(path: &str, ids: &HashMap<&'static str, String>) -> String {
    ids.iter().fold(path.to_owned(), |path, (name, id)| {
        path.replace(&format!("{{{name}}}"), id)
    })
}

/// The bytes of alice's direct upload.
pub const UPLOAD_BYTES: &str = "the bytes of a direct upload\n";

/// Alice's documents, each holding [`SECRET`]; the message is a swipe group of two.
pub async fn owner_documents(alice: &Api) -> HashMap<&'static str, String> {
    let id = |document: Value| document["id"].as_str().unwrap().to_owned();
    let tag = id(alice.create("tags", json!({"name": SECRET})).await);
    let described = |name: &str| json!({"name": name, "description": SECRET, "tags": [tag]});
    let persona = id(alice.create("personas", described("persona")).await);
    let mut character = described("character");
    character["personaLinks"] = json!([{"personaId": persona, "isDefault": true}]);
    let character = id(alice.create("characters", character).await);
    let file = id(alice.upload(SECRET.as_bytes(), "portrait.txt", None).await);
    let chat = json!({"title": SECRET, "tags": [tag], "contextSummary": SECRET,
        "participants": [{"type": "character", "characterId": character}]});
    let chat = id(alice.create("chats", chat).await);
    let reply = json!({"role": "assistant", "content": SECRET, "attachments": [file]});
    let response = alice
        .post(&format!("/api/chats/{chat}/messages"), &reply)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let message = id(json_body(response).await);
    let swipes = format!("/api/chats/{chat}/messages/{message}/swipes");
    let response = alice.post(&swipes, &json!({"content": SECRET})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // A direct upload waiting for its bytes (`UPLOAD_BYTES`).
    let upload = json!({"filename": "direct.txt", "mimeType": "text/plain",
        "size": UPLOAD_BYTES.len()});
    let response = alice.post("/api/files/uploads", &upload).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let upload = json_body(response).await["uploadId"]
        .as_str()
        .unwrap()
        .to_owned();
    let memory = json!({"characterId": character, "content": SECRET,
        "embedding": {"model": "m", "vector": [0.5, 0.25]}});
    let memory = id(alice.create("memories", memory).await);
    let key = json!({"label": SECRET, "provider": "OPENAI", "key": SECRET});
    let apikey = id(alice.create("api-keys", key).await);
    let profile = json!({"name": SECRET, "provider": "OPENAI", "apiKeyId": apikey});
    let connection = id(alice.create("connection-profiles", profile.clone()).await);
    let image = id(alice.create("image-profiles", profile.clone()).await);
    let embedding = id(alice.create("embedding-profiles", profile).await);
    let settings =
        json!({"preferences": {"note": SECRET}, "defaultConnectionProfileId": connection});
    assert_eq!(
        alice.patch("/api/settings", &settings).await.status(),
        StatusCode::OK
    );
    let lorebook = id(alice.create("lorebooks", json!({"name": SECRET})).await);
    HashMap::from([
        ("lorebook", lorebook),
        ("memory", memory),
        ("apikey", apikey),
        ("connection", connection),
        ("image", image),
        ("embedding", embedding),
        ("upload", upload),
        ("tag", tag),
        ("persona", persona),
        ("character", character),
        ("file", file),
        ("chat", chat),
        ("message", message),
    ])
}

/// Everything of alice's that a request could change.
pub async fn snapshot(alice: &Api, ids: &HashMap<&'static str, String>) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        "/api/tags/{tag}",
        "/api/personas/{persona}",
        "/api/characters/{character}",
        "/api/chats/{chat}",
        "/api/chats/{chat}/messages?includeSwipes=true",
        "/api/files/{file}/metadata",
        "/api/tags?includeTotal=true",
        "/api/personas?includeTotal=true",
        "/api/characters?includeTotal=true",
        "/api/chats?includeTotal=true",
        "/api/files?includeTotal=true",
        "/api/memories/{memory}",
        "/api/api-keys/{apikey}",
        "/api/connection-profiles/{connection}",
        "/api/image-profiles/{image}",
        "/api/embedding-profiles/{embedding}",
        "/api/settings",
        "/api/memories?includeTotal=true",
        "/api/api-keys?includeTotal=true",
        "/api/connection-profiles?includeTotal=true",
    ] {
        seen.push(alice.list(&fill(path, ids)).await);
    }
    let bytes = alice.download_bytes(&ids["file"]).await;
    seen.push(Value::String(String::from_utf8(bytes).unwrap()));
    seen
}

/// A token of `user` that expired an hour ago (well past the 30 s leeway).
pub fn expired_token(user: &str) -> String {
    let claims = json!({"sub": user, "exp": get_current_timestamp() - 3600});
    sign_hs256(&claims, TEST_JWT_SECRET.as_bytes())
}

/// A well-formed token of `user` signed with a key the service does not know.
pub fn forged_token(user: &str) -> String {
    let claims = json!({"sub": user, "exp": get_current_timestamp() + 3600});
    sign_hs256(&claims, b"not-the-service-secret-but-just-as-long!")
}

/// Status, headers and body text of a response.
pub async fn parts(response: Response) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.text().await.expect("read the body"),
    )
}

/// Asserts that `text` holds nothing of alice: her secret, her name, her ids.
pub fn assert_no_leak(text: &str, ids: &HashMap<&'static str, String>, context: &str) {
    assert!(
        !text.contains(SECRET),
        "{context} leaks alice's data: {text}"
    );
    assert!(!text.contains("alice"), "{context} names alice: {text}");
    for (name, id) in ids {
        assert!(!text.contains(id), "{context} names alice's {name}: {text}");
    }
}

/// 401, `WWW-Authenticate: Bearer` and (unless `HEAD`) the envelope.
pub fn assert_unauthorized(
    (status, headers, text): &(StatusCode, reqwest::header::HeaderMap, String),
    method: &Method,
    context: &str,
) {
    assert_eq!(*status, StatusCode::UNAUTHORIZED, "{context}: {text}");
    assert_eq!(header(headers, "www-authenticate"), "Bearer", "{context}");
    if method != Method::HEAD {
        let body: Value = serde_json::from_str(text).expect("an envelope");
        assert_eq!(body["error"]["code"], "unauthorized", "{context}: {body}");
    }
}
