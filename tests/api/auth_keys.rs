//! `AUTH_MODE=jwt` with `AUTH_JWT_PUBLIC_KEY`: RS256 and ES256 tokens signed with the keys in
//! `tests/fixtures/` are accepted; HS256 (even with the public key as the secret) is not.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::auth::{assert_unauthorized, bearer_hs256, hour_from_now};
use crate::helpers::{sign_hs256, spawn_app_with};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("read the key fixture")
}

/// Starts an app verifying with `public_key` (PEM text or path), then checks that tokens
/// signed by `private_pem` with `algorithm` work and that HS256 and foreign keys do not.
async fn check_asymmetric(
    public_key: String,
    algorithm: Algorithm,
    private_pem: &str,
    foreign: (Algorithm, EncodingKey),
) {
    let app = spawn_app_with(|raw| {
        raw.auth_mode = Some("jwt".to_owned());
        raw.auth_jwt_public_key = Some(public_key.clone());
    })
    .await;
    let claims = json!({"sub": "carol", "exp": hour_from_now()});
    let key = match algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(private_pem.as_bytes()),
        _ => EncodingKey::from_ec_pem(private_pem.as_bytes()),
    }
    .expect("load the private key fixture");
    let token = jsonwebtoken::encode(&Header::new(algorithm), &claims, &key).unwrap();
    let carol = app.with_token(&token);
    let created = carol.create("tags", json!({"name": "signed"})).await;
    assert_eq!(created["userId"], "carol");

    // HS256 with the public key as the secret: the classic algorithm-confusion attack.
    let public_pem = if public_key.starts_with("-----") {
        public_key.clone()
    } else {
        std::fs::read_to_string(&public_key).unwrap()
    };
    let confused = sign_hs256(&claims, public_pem.as_bytes());
    assert_unauthorized(
        &app,
        Some(format!("Bearer {confused}")),
        "HS256 with the public key",
    )
    .await;
    assert_unauthorized(
        &app,
        bearer_hs256(claims.clone()),
        "HS256 with the test secret",
    )
    .await;
    let (foreign_algorithm, foreign_key) = foreign;
    let other =
        jsonwebtoken::encode(&Header::new(foreign_algorithm), &claims, &foreign_key).unwrap();
    assert_unauthorized(
        &app,
        Some(format!("Bearer {other}")),
        "a token from another key",
    )
    .await;
}

fn rsa_key() -> (Algorithm, EncodingKey) {
    (
        Algorithm::RS256,
        EncodingKey::from_rsa_pem(fixture("rsa-private.pem").as_bytes()).unwrap(),
    )
}

fn ec_key() -> (Algorithm, EncodingKey) {
    (
        Algorithm::ES256,
        EncodingKey::from_ec_pem(fixture("ec-private.pem").as_bytes()).unwrap(),
    )
}

#[tokio::test]
async fn rs256_public_key_as_pem_text() {
    check_asymmetric(
        fixture("rsa-public.pem"),
        Algorithm::RS256,
        &fixture("rsa-private.pem"),
        ec_key(),
    )
    .await;
}

#[tokio::test]
async fn rs256_public_key_as_file_path() {
    let path = format!("{FIXTURES}/rsa-public.pem");
    check_asymmetric(
        path,
        Algorithm::RS256,
        &fixture("rsa-private.pem"),
        ec_key(),
    )
    .await;
}

#[tokio::test]
async fn es256_public_key_as_pem_text() {
    check_asymmetric(
        fixture("ec-public.pem"),
        Algorithm::ES256,
        &fixture("ec-private.pem"),
        rsa_key(),
    )
    .await;
}

#[tokio::test]
async fn es256_public_key_as_file_path() {
    let path = format!("{FIXTURES}/ec-public.pem");
    check_asymmetric(
        path,
        Algorithm::ES256,
        &fixture("ec-private.pem"),
        rsa_key(),
    )
    .await;
}
