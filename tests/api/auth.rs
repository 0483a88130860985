//! `AUTH_MODE=jwt` with HS256: user isolation, and rejection of bad or foreign tokens.

use jsonwebtoken::get_current_timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Api, TEST_JWT_SECRET, assert_detail_field, assert_error, header, item_ids, json_body,
    sign_hs256, spawn_app_with, spawn_jwt_app,
};

pub fn hour_from_now() -> u64 {
    get_current_timestamp() + 3600
}

#[tokio::test]
async fn users_never_see_or_touch_each_others_data() {
    let app = spawn_jwt_app().await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob@example.com"));
    let tag = alice.create("tags", json!({"name": "mine"})).await;
    let persona = alice
        .create("personas", json!({"name": "alice persona"}))
        .await;
    let character = alice
        .create("characters", json!({"name": "secret", "tags": [tag["id"]]}))
        .await;
    assert_eq!(character["userId"], "alice");
    let bob_character = bob.create("characters", json!({"name": "bob's"})).await;
    assert_eq!(bob_character["userId"], "bob@example.com");

    for (collection, document) in [
        ("tags", &tag),
        ("personas", &persona),
        ("characters", &character),
    ] {
        let path = format!("/api/{collection}/{}", document["id"].as_str().unwrap());
        assert!(
            !item_ids(&bob.list(&format!("/api/{collection}")).await)
                .contains(&document["id"].as_str().unwrap().to_owned())
        );
        assert_error(bob.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_error(
            bob.patch(&path, &json!({"name": "pwned"})).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_error(bob.delete(&path).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(
            &alice
                .read(collection, document["id"].as_str().unwrap())
                .await,
            document,
            "untouched"
        );
    }
    assert_eq!(
        item_ids(&alice.list("/api/characters").await),
        [character["id"].as_str().unwrap()]
    );

    // References to another user's documents are validation errors, never links.
    let stolen_tag = json!({"name": "x", "tags": [tag["id"]]});
    let error = assert_error(
        bob.post("/api/characters", &stolen_tag).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&error, "tags");
    let stolen_persona =
        json!({"name": "x", "personaLinks": [{"personaId": persona["id"], "isDefault": false}]});
    let error = assert_error(
        bob.post("/api/characters", &stolen_persona).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&error, "personaLinks");
    let bob_path = format!("/api/characters/{}", bob_character["id"].as_str().unwrap());
    let response = bob.patch(&bob_path, &json!({"tags": [tag["id"]]})).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let filtered = bob
        .list(&format!(
            "/api/characters?tag={}",
            tag["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(filtered["items"], json!([]));

    // Tag names are unique per user only.
    bob.create("tags", json!({"name": "MINE"})).await;
}

/// Sends a list request with `authorization` and asserts the 401 contract.
pub async fn assert_unauthorized(app: &Api, authorization: Option<String>, case: &str) {
    let mut request = app.request(reqwest::Method::GET, "/api/characters");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = app.send(request).await;
    let challenge = header(response.headers(), "www-authenticate");
    assert!(
        challenge.starts_with("Bearer"),
        "{case}: WWW-Authenticate is `{challenge}`"
    );
    let status = response.status();
    let body = json_body(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{case}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{case}"
    );
}

pub fn bearer_hs256(claims: Value) -> Option<String> {
    Some(format!(
        "Bearer {}",
        sign_hs256(&claims, TEST_JWT_SECRET.as_bytes())
    ))
}

#[tokio::test]
async fn bad_tokens_are_unauthorized() {
    let app = spawn_jwt_app().await;
    let now = get_current_timestamp();
    let cases = [
        ("no header", None),
        ("garbage", Some("Bearer not.a.jwt".to_owned())),
        ("empty bearer", Some("Bearer ".to_owned())),
        ("basic scheme", Some("Basic YWxpY2U6c2VjcmV0".to_owned())),
        (
            "expired",
            bearer_hs256(json!({"sub": "alice", "exp": now - 3600})),
        ),
        ("without exp", bearer_hs256(json!({"sub": "alice"}))),
        ("without sub", bearer_hs256(json!({"exp": hour_from_now()}))),
        (
            "path sub",
            bearer_hs256(json!({"sub": "../etc", "exp": hour_from_now()})),
        ),
        (
            "dot sub",
            bearer_hs256(json!({"sub": ".hidden", "exp": hour_from_now()})),
        ),
        (
            "slash sub",
            bearer_hs256(json!({"sub": "a/b", "exp": hour_from_now()})),
        ),
        (
            "empty sub",
            bearer_hs256(json!({"sub": "", "exp": hour_from_now()})),
        ),
        (
            "long sub",
            bearer_hs256(json!({"sub": "a".repeat(129), "exp": hour_from_now()})),
        ),
    ];
    for (case, authorization) in cases {
        assert_unauthorized(&app, authorization, case).await;
    }
    let wrong_secret = sign_hs256(
        &json!({"sub": "alice", "exp": hour_from_now()}),
        b"another-secret-of-32-bytes-or-more!!",
    );
    assert_unauthorized(&app, Some(format!("Bearer {wrong_secret}")), "wrong secret").await;

    let longest = "a".repeat(128);
    let response = app.as_user(&longest).get("/api/characters").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a 128-character user id is fine"
    );
    let response = app.as_user("A.z_0-9@x|y:z").get("/api/tags").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "every allowed character is accepted"
    );
}

async fn spawn_app_with_issuer_and_audience() -> crate::helpers::TestApp {
    spawn_app_with(|raw| {
        raw.auth_mode = Some("jwt".to_owned());
        raw.auth_jwt_secret = Some(TEST_JWT_SECRET.to_owned());
        raw.auth_jwt_issuer = Some("https://issuer.example".to_owned());
        raw.auth_jwt_audience = Some("quillstore".to_owned());
    })
    .await
}

fn claims_with(extra: Value) -> Value {
    let mut claims = json!({"sub": "u", "exp": hour_from_now()});
    claims
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    claims
}

#[tokio::test]
async fn issuer_and_audience_must_match_when_configured() {
    let app = spawn_app_with_issuer_and_audience().await;
    let good = claims_with(json!({"iss": "https://issuer.example", "aud": "quillstore"}));
    let token = sign_hs256(&good, TEST_JWT_SECRET.as_bytes());
    let response = app.with_token(&token).get("/api/tags").await;
    assert_eq!(response.status(), StatusCode::OK);
    let wrong_issuer = claims_with(json!({"iss": "https://evil.example", "aud": "quillstore"}));
    assert_unauthorized(&app, bearer_hs256(wrong_issuer), "wrong issuer").await;
    let wrong_audience = claims_with(json!({"iss": "https://issuer.example", "aud": "other"}));
    assert_unauthorized(&app, bearer_hs256(wrong_audience), "wrong audience").await;
}

#[tokio::test]
async fn issuer_and_audience_are_required_when_configured() {
    let app = spawn_app_with_issuer_and_audience().await;
    let cases = [
        ("without iss", claims_with(json!({"aud": "quillstore"}))),
        (
            "without aud",
            claims_with(json!({"iss": "https://issuer.example"})),
        ),
    ];
    let mut accepted = Vec::new();
    for (case, claims) in cases {
        let token = sign_hs256(&claims, TEST_JWT_SECRET.as_bytes());
        let response = app.with_token(&token).get("/api/tags").await;
        if response.status() != StatusCode::UNAUTHORIZED {
            accepted.push(format!("{case}: {}", response.status()));
            continue;
        }
        assert_unauthorized(&app, bearer_hs256(claims), case).await;
    }
    assert!(
        accepted.is_empty(),
        "tokens lacking a configured claim were accepted: {accepted:?}"
    );
}
