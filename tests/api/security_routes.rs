//! Isolation on every route (ARCHITECTURE.md §7): each row of [`routes`] is called as the
//! owner of the documents its path names, as another user, without a token, with an expired
//! token and with a forged one. Only the owner succeeds. The other user gets exactly the 404 an
//! id nobody has gets (never a 403, never the owner's data); the others get 401 with the
//! envelope and `WWW-Authenticate: Bearer`. Adding a route means adding a row here (or to
//! `security_public::PUBLIC` when it needs no token).

use std::collections::HashMap;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Api, file_form, spawn_jwt_app};
use crate::security_support::{
    UPLOAD_BYTES, assert_no_leak, assert_unauthorized, expired_token, fill, forged_token,
    owner_documents, parts, snapshot,
};

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
        (
            "lorebooks",
            json!({"name": "new"}),
            json!({"name": "renamed"}),
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
        row(
            M::POST,
            "/api/characters/import",
            Json(json!({"name": "imported card"})),
            Own,
            201,
        ),
        row(
            M::GET,
            "/api/characters/{character}/export",
            None,
            Owned,
            200,
        ),
        row(
            M::POST,
            "/api/lorebooks/import",
            Json(json!({"entries": {}})),
            Own,
            201,
        ),
        row(M::GET, "/api/lorebooks/{lorebook}/export", None, Owned, 200),
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
        row(
            M::POST,
            "/api/files/uploads",
            Json(json!({"filename": "d.txt", "mimeType": "text/plain", "size": 5})),
            Own,
            201,
        ),
        row(
            M::PUT,
            "/api/files/uploads/{upload}",
            Lines(UPLOAD_BYTES),
            Owned,
            204,
        ),
        row(
            M::POST,
            "/api/files/uploads/{upload}/complete",
            None,
            Owned,
            201,
        ),
        row(M::DELETE, message, None, Owned, 204),
        row(M::DELETE, "/api/files/{file}", None, Owned, 204),
    ]);
    rows.extend(data_model_rows());
    for one in [
        "/api/characters/{character}",
        "/api/personas/{persona}",
        "/api/tags/{tag}",
        "/api/chats/{chat}",
        "/api/lorebooks/{lorebook}",
    ] {
        rows.push(row(M::DELETE, one, None, Owned, 204));
    }
    rows
}

/// The rows of memories, profiles, API keys and settings.
fn data_model_rows() -> Vec<Route> {
    use Body::{Json, MergePatch};
    let no_body = || Body::None;
    use Method as M;
    use Reach::{Own, Owned};
    let ghost = "0192f0c4-5d0e-7cc1-a3b2-9a1f1e0b7c11";
    let mut rows = vec![
        // A body cannot name alice's character here: everyone gets the same 422 (no such
        // character of theirs); `memories.rs` covers searching and creating across users.
        row(M::GET, "/api/memories", no_body(), Own, 200),
        row(
            M::POST,
            "/api/memories",
            Json(json!({"characterId": ghost, "content": "x"})),
            Own,
            422,
        ),
        row(
            M::POST,
            "/api/memories/search",
            Json(json!({"characterId": ghost, "model": "m", "vector": [1.0]})),
            Own,
            422,
        ),
        row(M::GET, "/api/settings", no_body(), Own, 200),
        row(
            M::PATCH,
            "/api/settings",
            MergePatch(json!({"theme": "dark"})),
            Own,
            200,
        ),
        // The caller's own account; a deletion unconfirmed (400) and a broken archive (422)
        // change nothing, so the table can run them as anyone.
        row(M::GET, "/api/account/export", no_body(), Own, 200),
        row(M::GET, "/api/usage", no_body(), Own, 200),
        row(M::DELETE, "/api/account", no_body(), Own, 400),
        row(
            M::POST,
            "/api/account/import",
            Body::Lines("not an archive"),
            Own,
            422,
        ),
        // Without the reveal scope everyone gets 403 before any lookup: no oracle.
        row(
            M::POST,
            "/api/api-keys/{apikey}/reveal",
            no_body(),
            Own,
            403,
        ),
    ];
    for (collection, placeholder, create, change) in [
        (
            "memories",
            "/api/memories/{memory}",
            None,
            json!({"content": "changed"}),
        ),
        (
            "api-keys",
            "/api/api-keys/{apikey}",
            Some(json!({"label": "k", "provider": "p", "key": "sk-bob-key"})),
            json!({"label": "renamed"}),
        ),
        (
            "connection-profiles",
            "/api/connection-profiles/{connection}",
            Some(json!({"name": "p", "provider": "OPENAI"})),
            json!({"name": "renamed"}),
        ),
        (
            "image-profiles",
            "/api/image-profiles/{image}",
            Some(json!({"name": "p", "provider": "OPENAI"})),
            json!({"name": "renamed"}),
        ),
        (
            "embedding-profiles",
            "/api/embedding-profiles/{embedding}",
            Some(json!({"name": "p", "provider": "OPENAI"})),
            json!({"name": "renamed"}),
        ),
    ] {
        let list = format!("/api/{collection}").leak();
        if let Some(create) = create {
            rows.push(row(M::GET, list, no_body(), Own, 200));
            rows.push(row(M::POST, list, Json(create), Own, 201));
        }
        rows.push(row(M::GET, placeholder, no_body(), Owned, 200));
        rows.push(row(M::PATCH, placeholder, MergePatch(change), Owned, 200));
        rows.push(row(M::DELETE, placeholder, no_body(), Owned, 204));
    }
    rows
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

/// Replaces every `{name}` of a path template with `{}`, so templates compare by shape.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for character in path.chars() {
        match character {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(character),
        }
    }
    out
}

/// Every route the server has: the OpenAPI document is generated from the router's own route
/// table (and `openapi.rs` checks that they are equal), so a new route shows up here.
#[tokio::test]
async fn every_declared_route_has_a_row() {
    let app = crate::helpers::spawn_app().await;
    let document = crate::helpers::json_body(app.get("/api/openapi.json").await).await;
    let declared: Vec<(String, String)> = document["paths"]
        .as_object()
        .expect("the document has paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|operations| operations.keys())
                .filter(|method| {
                    ["get", "post", "put", "patch", "delete"].contains(&method.as_str())
                })
                .map(move |method| (method.to_uppercase(), shape(path)))
        })
        .collect();
    assert!(declared.len() > 20, "found the routes: {declared:?}");
    let table: Vec<(String, String)> = routes()
        .iter()
        .map(|route| (route.method.to_string(), shape(route.path)))
        .collect();
    let public: Vec<String> = crate::security_public::PUBLIC
        .iter()
        .map(|path| shape(path))
        .collect();
    for (method, path) in declared {
        let listed = table.contains(&(method.clone(), path.clone()))
            || public.contains(&path)
            || path.starts_with("/api/docs")
            || path == "/favicon.ico"
            || path == "/api/openapi.json"
            || path == "/metrics";
        assert!(listed, "{method} {path} has no row in the security table");
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
