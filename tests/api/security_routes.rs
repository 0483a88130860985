//! Isolation on every route (ARCHITECTURE.md §7): each row of [`routes`] is called as the
//! owner of the documents its path names, as another user, without a token, with an expired
//! token and with a forged one. Only the owner succeeds. The other user gets exactly the 404 an
//! id nobody has gets (never a 403, never the owner's data); the others get 401 with the
//! envelope and `WWW-Authenticate: Bearer`. Adding a route means adding a row here (or to
//! [`PUBLIC`] when it needs no token).

use std::collections::HashMap;

use jsonwebtoken::get_current_timestamp;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    Api, TEST_JWT_SECRET, file_form, header, json_body, sign_hs256, spawn_app_with, spawn_jwt_app,
};

/// Text in every document of the owner: no answer to anyone else may contain it.
pub const SECRET: &str = "alice-secret-5d1c";

/// What a route is sent.
pub enum Body {
    None,
    Json(Value),
    MergePatch(Value),
    Upload,
    Lines(&'static str),
}

/// Whose data a route reaches.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reach {
    /// The path names documents of the owner: anyone else gets 404.
    Owned,
    /// The caller's own collection: another user succeeds, on his own data only.
    Own,
}

pub struct Route {
    pub method: Method,
    /// `{tag}`, `{character}`, `{persona}`, `{chat}`, `{message}`, `{file}` name the owner's
    /// documents.
    pub path: &'static str,
    pub body: Body,
    pub reach: Reach,
    /// The owner's answer.
    pub success: u16,
}

fn row(method: Method, path: &'static str, body: Body, reach: Reach, success: u16) -> Route {
    Route {
        method,
        path,
        body,
        reach,
        success,
    }
}

const IMPORT: &str = "{\"type\": \"quillstore-chat\", \"version\": 1, \"chat\": {\"title\": \"imported\"}}\n\
                      {\"seq\": 1, \"role\": \"user\", \"content\": \"hello\"}\n";

/// Every route that needs a token, in the order the owner calls them (deletes last).
pub fn routes() -> Vec<Route> {
    use Body::{Json, Lines, MergePatch, None, Upload};
    use Method as M;
    use Reach::{Own, Owned};
    let mut rows = Vec::new();
    for (collection, create, change) in [
        (
            "tags",
            json!({"name": "new tag"}),
            json!({"name": "renamed"}),
        ),
        (
            "characters",
            json!({"name": "new"}),
            json!({"name": "renamed"}),
        ),
        (
            "personas",
            json!({"name": "new"}),
            json!({"name": "renamed"}),
        ),
        (
            "chats",
            json!({"title": "new"}),
            json!({"title": "renamed"}),
        ),
    ] {
        let list = format!("/api/{collection}").leak();
        let one = format!("/api/{collection}/{{{}}}", collection.trim_end_matches('s')).leak();
        rows.push(row(M::GET, list, None, Own, 200));
        rows.push(row(M::POST, list, Json(create), Own, 201));
        rows.push(row(M::GET, one, None, Owned, 200));
        rows.push(row(M::PATCH, one, MergePatch(change), Owned, 200));
    }
    let messages = "/api/chats/{chat}/messages";
    let message = "/api/chats/{chat}/messages/{message}";
    rows.extend([
        row(M::POST, "/api/chats/import", Lines(IMPORT), Own, 201),
        row(M::GET, "/api/chats/{chat}/export", None, Owned, 200),
        row(M::GET, messages, None, Owned, 200),
        row(M::POST, messages, Json(json!({"role": "user"})), Owned, 201),
        row(M::GET, message, None, Owned, 200),
        row(
            M::PATCH,
            message,
            MergePatch(json!({"content": "x"})),
            Owned,
            200,
        ),
        row(
            M::POST,
            "/api/chats/{chat}/messages/{message}/swipes",
            Json(json!({"content": "another reply"})),
            Owned,
            201,
        ),
        row(
            M::PUT,
            "/api/chats/{chat}/messages/{message}/swipes/active",
            Json(json!({"swipeIndex": 0})),
            Owned,
            200,
        ),
        row(M::GET, "/api/files", None, Own, 200),
        row(M::POST, "/api/files", Upload, Own, 201),
        row(M::GET, "/api/files/{file}", None, Owned, 200),
        row(M::HEAD, "/api/files/{file}", None, Owned, 200),
        row(M::GET, "/api/files/{file}/metadata", None, Owned, 200),
        row(
            M::PATCH,
            "/api/files/{file}/metadata",
            MergePatch(json!({"description": "x"})),
            Owned,
            200,
        ),
        row(M::POST, "/api/files/{file}/url", None, Owned, 200),
        row(M::DELETE, message, None, Owned, 204),
        row(M::DELETE, "/api/files/{file}", None, Owned, 204),
    ]);
    for one in [
        "/api/characters/{character}",
        "/api/personas/{persona}",
        "/api/tags/{tag}",
        "/api/chats/{chat}",
    ] {
        rows.push(row(M::DELETE, one, None, Owned, 204));
    }
    rows
}

/// Routes that need no token: they answer anyone and hold nothing of a user. Signed links
/// are public too (see `public_routes_need_no_token_and_reveal_nothing_of_a_user`).
pub const PUBLIC: &[&str] = &[
    "/api/health",
    "/api/health/live",
    "/api/health/ready",
    "/api/limits",
];

/// The path of `route` with the placeholders replaced by `ids`.
pub fn fill(path: &str, ids: &HashMap<&'static str, String>) -> String {
    ids.iter().fold(path.to_owned(), |path, (name, id)| {
        path.replace(&format!("{{{name}}}"), id)
    })
}

pub fn request(api: &Api, route: &Route, path: &str) -> RequestBuilder {
    let builder = api.request(route.method.clone(), path);
    match &route.body {
        Body::None => builder,
        Body::Json(body) => builder.json(body),
        Body::MergePatch(body) => builder
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string()),
        Body::Upload => builder.multipart(file_form(b"an upload".to_vec(), "up.txt", None)),
        Body::Lines(lines) => builder
            .header("content-type", "application/x-ndjson")
            .body(*lines),
    }
}

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
    HashMap::from([
        ("tag", tag),
        ("persona", persona),
        ("character", character),
        ("file", file),
        ("chat", chat),
        ("message", message),
    ])
}

/// Everything of alice's that a request could change.
async fn snapshot(alice: &Api, ids: &HashMap<&'static str, String>) -> Vec<Value> {
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

#[tokio::test]
async fn only_the_owner_reaches_a_document_on_any_route() {
    let app = spawn_jwt_app().await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob"));
    let ids = owner_documents(&alice).await;
    let nobody: HashMap<&'static str, String> = ids
        .keys()
        .map(|name| (*name, uuid::Uuid::now_v7().to_string()))
        .collect();
    let strangers = [
        ("anonymous", app.api.clone()),
        ("expired", app.with_token(&expired_token("alice"))),
        ("forged", app.with_token(&forged_token("alice"))),
        ("garbled", app.with_token("not.a.token")),
    ];
    let before = snapshot(&alice, &ids).await;
    for route in routes() {
        let path = fill(route.path, &ids);
        for (who, api) in &strangers {
            let context = format!("{} {} as {who}", route.method, route.path);
            let answer = parts(api.send(request(api, &route, &path)).await).await;
            assert_unauthorized(&answer, &route.method, &context);
            assert_no_leak(&answer.2, &ids, &context);
        }
        let context = format!("{} {} as another user", route.method, route.path);
        let (status, _, text) = parts(bob.send(request(&bob, &route, &path)).await).await;
        assert_no_leak(&text, &ids, &context);
        if route.reach == Reach::Owned {
            assert_eq!(status, StatusCode::NOT_FOUND, "{context}: {text}");
            // Exactly what an id nobody has gets: no oracle for what exists.
            let missing = fill(route.path, &nobody);
            let (status_missing, _, text_missing) =
                parts(bob.send(request(&bob, &route, &missing)).await).await;
            assert_eq!((status, text), (status_missing, text_missing), "{context}");
        } else {
            assert_eq!(status.as_u16(), route.success, "{context}: {text}");
        }
    }
    assert_eq!(
        snapshot(&alice, &ids).await,
        before,
        "nobody but alice changed or added to her data"
    );
    for route in routes() {
        let path = fill(route.path, &ids);
        let (status, _, text) = parts(alice.send(request(&alice, &route, &path)).await).await;
        let context = format!("{} {} as the owner", route.method, route.path);
        assert_eq!(status.as_u16(), route.success, "{context}: {text}");
    }
}

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
