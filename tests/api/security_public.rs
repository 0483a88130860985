//! Routes without a token: health, limits and signed file links answer anyone and reveal
//! nothing of a user. A signed link is a capability for one file of one user: it opens that
//! file (GET and HEAD) and nothing else, and no recombination of two users' links, or a link
//! with another user named in it, opens a file.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Api, TEST_JWT_SECRET, assert_error, json_body, spawn_app_with, spawn_jwt_app,
};
use crate::security_support::{SECRET, assert_no_leak, expired_token, owner_documents, parts};

/// Routes that need no token besides signed links (below): they answer anyone, whatever
/// token comes along, and hold nothing of a user. Adding a public route means adding it here.
pub const PUBLIC: &[&str] = &[
    "/api/health",
    "/api/health/live",
    "/api/health/ready",
    "/api/limits",
];

#[tokio::test]
async fn public_routes_need_no_token_and_reveal_nothing_of_a_user() {
    let metrics_token = "metrics-token-for-the-security-suite";
    let app = spawn_app_with(|raw| {
        raw.auth_mode = Some("jwt".to_owned());
        raw.auth_jwt_secret = Some(TEST_JWT_SECRET.to_owned());
        raw.metrics_token = Some(metrics_token.to_owned());
    })
    .await;
    let alice = app.as_user("alice");
    let ids = owner_documents(&alice).await;
    let link = alice
        .post(&format!("/api/files/{}/url", ids["file"]), &json!({}))
        .await;
    let link = json_body(link).await["url"].as_str().unwrap().to_owned();
    let callers = [
        ("anonymous", app.api.clone()),
        ("expired", app.with_token(&expired_token("alice"))),
        ("garbled", app.with_token("not.a.token")),
        ("another user", app.as_user("bob")),
    ];
    for (who, api) in &callers {
        for path in PUBLIC {
            let (status, headers, text) = parts(api.get(path).await).await;
            assert_eq!(status, StatusCode::OK, "GET {path} as {who}: {text}");
            assert_no_leak(&text, &ids, &format!("GET {path}"));
            assert!(headers.get("www-authenticate").is_none());
        }
        // A signed link serves its file (the point of it) and nothing that names the user.
        for method in [Method::GET, Method::HEAD] {
            let (status, headers, text) = parts(api.send(api.request(method, &link)).await).await;
            assert_eq!(status, StatusCode::OK, "signed link as {who}: {text}");
            assert!(text.is_empty() || text == SECRET, "only the file's bytes");
            for (name, value) in &headers {
                let value = value.to_str().unwrap_or_default();
                assert!(!value.contains("alice"), "{name}: {value} names the user");
            }
        }
    }
    // Metrics hide behind their own token and label routes by template, never by id or user.
    let response = alice.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let metrics = app.with_token(metrics_token).get("/metrics").await;
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("route=\"/api/files/{id}/url\""),
        "labelled by template"
    );
    assert_no_leak(&text, &ids, "/metrics");
}

/// A signed link to `id` made by `api`'s user.
async fn link_to(api: &Api, id: &str) -> String {
    let response = api.post(&format!("/api/files/{id}/url"), &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await["url"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The query of a link, split into `(user, expires, signature)`.
fn query(link: &str) -> (String, String, String) {
    let query = link.split_once('?').unwrap().1;
    let value = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    (value("user"), value("expires"), value("signature"))
}

fn link(file: &str, (user, expires, signature): &(String, String, String)) -> String {
    format!("/api/files/{file}?user={user}&expires={expires}&signature={signature}")
}

fn id(file: &Value) -> String {
    file["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_signed_link_opens_its_one_file_and_cannot_be_forged_for_another_user() {
    let app = spawn_jwt_app().await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob"));
    let alice_file = id(&alice.upload(b"alice's bytes", "a.txt", None).await);
    let alice_other = id(&alice.upload(b"alice's other bytes", "b.txt", None).await);
    let bob_file = id(&bob.upload(b"bob's bytes", "c.txt", None).await);
    let alice_link = link_to(&alice, &alice_file).await;
    let bob_link = link_to(&bob, &bob_file).await;
    let (alice_query, bob_query) = (query(&alice_link), query(&bob_link));

    let response = app.get(&alice_link).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), &b"alice's bytes"[..]);

    // Alice cannot get a link to bob's file in the first place.
    let response = alice
        .post(&format!("/api/files/{bob_file}/url"), &json!({}))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let random = uuid::Uuid::now_v7().to_string();
    let (alice_user, alice_expires, alice_signature) = alice_query.clone();
    let (bob_user, bob_expires, bob_signature) = bob_query.clone();
    let forgeries = [
        // Alice's link on other files: hers, bob's, one that does not exist (401, not 404:
        // a link is no oracle for which ids exist).
        link(&alice_other, &alice_query),
        link(&bob_file, &alice_query),
        link(&random, &alice_query),
        // Her signature with bob named as the user, on her file and on his.
        link(
            &alice_file,
            &(
                bob_user.clone(),
                alice_expires.clone(),
                alice_signature.clone(),
            ),
        ),
        link(
            &bob_file,
            &(
                bob_user.clone(),
                alice_expires.clone(),
                alice_signature.clone(),
            ),
        ),
        // Bob's signature with alice named as the user, on either file.
        link(
            &alice_file,
            &(
                alice_user.clone(),
                bob_expires.clone(),
                bob_signature.clone(),
            ),
        ),
        link(
            &bob_file,
            &(
                alice_user.clone(),
                bob_expires.clone(),
                bob_signature.clone(),
            ),
        ),
        // Bob's link pointed at alice's file; half of each.
        link(&alice_file, &bob_query),
        link(
            &alice_file,
            &(
                alice_user.clone(),
                alice_expires.clone(),
                bob_signature.clone(),
            ),
        ),
        link(&alice_file, &(bob_user, bob_expires, alice_signature)),
    ];
    for forged in forgeries {
        for api in [app.api.clone(), bob.clone(), alice.clone()] {
            let response = api.get(&forged).await;
            let body = assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
            assert!(!body.to_string().contains("bytes"), "{forged}: {body}");
        }
    }

    // A link opens GET and HEAD of its file only: every other route wants a token.
    let signed = alice_link.split_once('?').unwrap().1;
    for (method, path) in [
        (Method::DELETE, format!("/api/files/{alice_file}")),
        (Method::GET, format!("/api/files/{alice_file}/metadata")),
        (Method::PATCH, format!("/api/files/{alice_file}/metadata")),
        (Method::POST, format!("/api/files/{alice_file}/url")),
        (Method::GET, "/api/files".to_owned()),
    ] {
        let request = app
            .request(method.clone(), &format!("{path}?{signed}"))
            .json(&json!({}));
        let response = app.send(request).await;
        let context = format!("{method} {path} with a signed link");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{context}");
    }
    assert_eq!(alice.download_bytes(&alice_file).await, b"alice's bytes");
    assert_eq!(bob.download_bytes(&bob_file).await, b"bob's bytes");
}
