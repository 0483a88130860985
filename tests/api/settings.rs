//! `GET|PATCH /api/settings`: one document per user, defaults on first read, merge patch with
//! `If-Match`, checked profile and persona ids.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_detail_field, assert_error, header, json_body, spawn_jwt_app};

#[tokio::test]
async fn settings_are_one_document_per_user_created_with_defaults_and_isolated() {
    let app = spawn_jwt_app().await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob"));
    let first = json_body(alice.get("/api/settings").await).await;
    assert_eq!(first["theme"], "system");
    assert_eq!(first["avatarDisplayMode"], "always");
    assert_eq!(first["version"], 1);
    assert_eq!(json_body(alice.get("/api/settings").await).await, first);

    let persona = alice.create("personas", json!({"name": "Me"})).await;
    let profile = alice
        .create(
            "connection-profiles",
            json!({"name": "p", "provider": "OPENAI"}),
        )
        .await;
    let patch = json!({"theme": "dark", "defaultPersonaId": persona["id"],
        "defaultConnectionProfileId": profile["id"], "preferences": {"enterToSend": true}});
    let response = alice.patch_if_match("/api/settings", &patch, "\"1\"").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "etag"), "\"2\"");
    let changed = json_body(response).await;
    assert_eq!(changed["theme"], "dark");
    assert_eq!(changed["preferences"]["enterToSend"], true);
    assert_error(
        alice
            .patch_if_match("/api/settings", &json!({"theme": "light"}), "\"1\"")
            .await,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;

    // Bob has his own settings, and cannot name Alice's persona.
    let bobs = json_body(bob.get("/api/settings").await).await;
    assert_eq!(bobs["theme"], "system");
    assert_ne!(bobs["id"], first["id"]);
    let body = assert_error(
        bob.patch("/api/settings", &json!({"defaultPersonaId": persona["id"]}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&body, "defaultPersonaId");
    assert_error(
        bob.patch("/api/settings", &json!({"theme": "neon"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_error(
        bob.patch("/api/settings", &json!({"id": "x"})).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    // Deleting the persona clears it from Alice's settings.
    alice
        .delete(&format!(
            "/api/personas/{}",
            persona["id"].as_str().unwrap()
        ))
        .await;
    let after = json_body(alice.get("/api/settings").await).await;
    assert!(after.get("defaultPersonaId").is_none(), "{after}");
    assert_eq!(after["defaultConnectionProfileId"], profile["id"]);
}
