//! The OpenAPI document (`/api/openapi.json`) and the docs page (`/api/docs`): the document
//! lists exactly the routes of the router, every error carries the envelope, and the page
//! loads nothing from anywhere but this server.

use std::collections::BTreeSet;

use quillstore::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{base_config, header, json_body, spawn_app};

const METHODS: [&str; 8] = [
    "get", "head", "post", "put", "patch", "delete", "options", "trace",
];

/// `(path, method)` of every operation of the document.
fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                routes.insert((path.clone(), method.to_owned()));
            }
        }
    }
    routes
}

/// `(path, method)` of every route the router is built from.
fn route_table() -> BTreeSet<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_raw(base_config(dir.path())).expect("config");
    quillstore::http::route_table(&config)
        .entries
        .into_iter()
        .map(|entry| {
            let method = serde_json::to_value(&entry.method).unwrap();
            (entry.path, method.as_str().unwrap().to_owned())
        })
        .collect()
}

async fn document() -> Value {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(response.headers(), "content-type").starts_with("application/json"));
    json_body(response).await
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_every_route_of_the_router() {
    let document = document().await;
    let version = document["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "openapi is {version}");
    let table = route_table();
    assert!(
        table.len() > 40,
        "the route table has {} routes",
        table.len()
    );
    assert_eq!(documented(&document), table);
    for expected in [
        ("/api/files/{id}", "head"),
        ("/api/chats/{id}/messages/{message_id}/swipes/active", "put"),
        ("/api/openapi.json", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            table.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?}"
        );
    }
}

/// Every `$ref` in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|inner| references(inner, found));
        }
        Value::Array(items) => items.iter().for_each(|inner| references(inner, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_resolves_and_every_error_has_the_envelope() {
    let document = document().await;
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(
            document.pointer(pointer).is_some(),
            "{target} does not resolve"
        );
    }
    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(operation_ids.insert(id.to_owned()), "{id} is used twice");
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {path} lacks 500");
            for (status, response) in responses {
                let status: u16 = status.parse().unwrap();
                // Health answers 503 with its own report: documented as such.
                if status < 400 || (status == 503 && path.starts_with("/api/health")) {
                    continue;
                }
                let target = response["$ref"].as_str().unwrap_or_else(|| {
                    panic!("{method} {path} {status} is not a shared error response")
                });
                let pointer = target.strip_prefix('#').unwrap();
                let schema = &document.pointer(pointer).unwrap()["content"]["application/json"]["schema"]
                    ["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorEnvelope", "{target}");
            }
        }
    }
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// The lint in `clippy.toml` keeps routes inside the route table; this holds even where the
/// lint is silenced: no source file but `routes.rs` hands a route to axum directly.
#[test]
fn routes_reach_axum_only_through_the_route_table() {
    // The private `/metrics` listener (`METRICS_ADDR`) is not part of the API.
    let allowed = [("src/http/routes.rs", 1), ("src/http/metrics.rs", 1)];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let calls = [".route(", ".route_service(", ".nest(", ".nest_service("]
            .iter()
            .map(|call| text.matches(call).count())
            .sum::<usize>();
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let expected = allowed
            .iter()
            .find(|(path, _)| *path == relative)
            .map_or(0, |(_, count)| *count);
        assert_eq!(
            calls, expected,
            "{relative} registers routes with axum directly: register them with \
             http::routes::Routes so /api/openapi.json lists them"
        );
    }
}

/// A concrete path for a documented template.
fn concrete(path: &str) -> String {
    path.replace("{name}", "docs.js")
        .replace("{id}", "0190f2d4-36b1-7c1e-8a0e-5f3c2b1a0d9e")
        .replace("{message_id}", "0190f2d4-36b1-7c1e-8a0e-5f3c2b1a0d9f")
}

#[tokio::test]
async fn the_router_answers_exactly_the_documented_methods() {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json").await;
    let documented = documented(&json_body(response).await);
    let paths: BTreeSet<&String> = documented.iter().map(|(path, _)| path).collect();
    for path in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app.send(app.request(verb, &concrete(path))).await;
            let routed = response.status() != StatusCode::METHOD_NOT_ALLOWED;
            let listed = documented.contains(&(path.clone(), method.to_owned()));
            assert_eq!(
                routed,
                listed,
                "{method} {path}: routed {routed} (status {}), documented {listed}",
                response.status()
            );
        }
    }
}

/// The values of `attribute="..."` in `html`.
fn attribute_values(html: &str, attribute: &str) -> Vec<String> {
    let marker = format!("{attribute}=\"");
    html.match_indices(&marker)
        .map(|(start, _)| {
            let rest = &html[start + marker.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_docs_page_loads_every_asset_from_this_server() {
    let app = spawn_app().await;
    let response = app.get("/api/docs").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(header(&headers, "content-type").starts_with("text/html"));
    let policy = header(&headers, "content-security-policy");
    assert!(
        policy.contains("default-src 'none'") && policy.contains("script-src 'self'"),
        "{policy}"
    );
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let assets: Vec<String> = ["src", "href"]
        .iter()
        .flat_map(|attribute| attribute_values(&html, attribute))
        .collect();
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in assets {
        assert!(
            asset.starts_with("/api/docs/assets/"),
            "{asset} is not on this server"
        );
        let response = app.get(&asset).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let content_type = header(response.headers(), "content-type");
        let body = response.text().await.unwrap();
        assert!(!body.is_empty(), "{asset} is empty");
        if asset.ends_with("docs.js") {
            assert!(body.contains("\"/api/openapi.json\""), "{body}");
            assert!(body.contains("validatorUrl: null"), "{body}");
        }
        let expected = if asset.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );
    }
    let missing = app.get("/api/docs/assets/nope.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // The browser asks for an icon whatever the page says: no icon, and no 404 either.
    let icon = app.get("/favicon.ico").await;
    assert_eq!(icon.status(), StatusCode::NO_CONTENT);
}

/// With `AUTH_MODE=none` there is nothing to authorize: the page says so and its script hides
/// the Authorize button and the locks; with JWT auth both stay.
#[tokio::test]
async fn the_docs_page_hides_authorization_without_auth() {
    let open = spawn_app().await;
    let page = open.get("/api/docs").await.text().await.unwrap();
    assert!(page.contains("<body data-auth-mode=\"none\">"), "{page}");
    let script = open
        .get("/api/docs/assets/docs.js")
        .await
        .text()
        .await
        .unwrap();
    for component in ["authorizeBtn", "authorizeOperationBtn", "dataset.authMode"] {
        assert!(script.contains(component), "{component} in {script}");
    }
    let guarded = crate::helpers::spawn_jwt_app().await;
    let page = guarded.get("/api/docs").await.text().await.unwrap();
    assert!(!page.contains("data-auth-mode"), "{page}");
}

/// The committed copy of the document (`docs/openapi.json`) is what the service serves, byte
/// for byte: a refactoring that must not change the API shows it here, and a change that does
/// shows up in review as a diff of that file. `QUILLSTORE_UPDATE_OPENAPI=1` rewrites the copy.
#[tokio::test]
async fn the_served_document_is_byte_identical_to_docs_openapi_json() {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let served = response.bytes().await.expect("the document's bytes");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    if std::env::var_os("QUILLSTORE_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &served).expect("write docs/openapi.json");
    }
    let committed = std::fs::read(&path).expect("docs/openapi.json is committed");
    assert!(
        committed == served.as_ref(),
        "the served OpenAPI document differs from docs/openapi.json ({} bytes served, {} \
         committed); rerun with QUILLSTORE_UPDATE_OPENAPI=1 when the change is meant",
        served.len(),
        committed.len()
    );
}
