//! The machine-readable contract and its page: `GET /api/openapi.json` (the OpenAPI 3.1
//! document built from the route table) and `GET /api/docs` (Swagger UI). The UI's files are
//! compiled into the binary (`assets/docs/`), so the page needs no network beyond this server.
//! `GET /favicon.ico` answers 204, so the page's console shows no 404.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{Content, ObjectBuilder};

use super::openapi::{Access, Op, one_of, string};
use super::routes::{Endpoint, Routes};
use crate::config::AuthConfig;
use crate::error::{ApiError, Result};
use crate::http::AppState;

/// The serialized document, built once when the router is.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<Bytes>);

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        (
            $name,
            $content_type,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/docs/", $name)).as_slice(),
        )
    };
}

/// The files `/api/docs/assets/{name}` serves: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    asset!("swagger-ui.css", "text/css; charset=utf-8"),
    asset!("docs.js", "text/javascript; charset=utf-8"),
];

const PAGE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/docs/index.html"
));

/// Only this server's own files run on the page; the document and "try it out" requests go to
/// this server too.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

pub fn routes() -> Routes {
    let op = |id: &str, summary: &str| Op::new(id, "service", summary).access(Access::Public);
    let text = |description: &str, types: &[&str]| {
        types.iter().fold(
            ResponseBuilder::new().description(description),
            |response, kind| response.content(*kind, Content::new(Some(string()))),
        )
    };
    let document = op("getOpenApi", "This document (OpenAPI 3.1)").response(
        200,
        ResponseBuilder::new()
            .description("the document")
            .content("application/json", Content::new(Some(ObjectBuilder::new()))),
    );
    let page = op("getDocs", "Interactive documentation (Swagger UI)")
        .response(200, text("the page", &["text/html"]));
    let asset = op("getDocsAsset", "A file of the documentation page")
        .path(
            "name",
            one_of(&ASSETS.iter().map(|(name, ..)| *name).collect::<Vec<_>>()),
            "the file's name, as the page names it",
        )
        .response(200, text("the file", &["text/javascript", "text/css"]))
        .errors(&[404]);
    let icon = op(
        "getFavicon",
        "The documentation page's icon: none (204), so the page never gets a 404",
    )
    .response(204, ResponseBuilder::new().description("no icon"));
    Routes::new()
        .endpoint("/api/openapi.json", Endpoint::get(get_openapi, document))
        .endpoint("/favicon.ico", Endpoint::get(get_favicon, icon))
        .endpoint("/api/docs", Endpoint::get(get_docs, page))
        .endpoint(
            "/api/docs/assets/{name}",
            Endpoint::get(get_docs_asset, asset),
        )
}

async fn get_openapi(Extension(OpenApiJson(document)): Extension<OpenApiJson>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Bytes::clone(&document),
    )
        .into_response()
}

/// The page; with `AUTH_MODE=none` it says so (`data-auth-mode="none"` on its body), and
/// `docs.js` then hides the Authorize button and the locks: there is nothing to authorize.
async fn get_docs(State(state): State<AppState>) -> Response {
    let page = match state.config.auth {
        AuthConfig::None => PAGE.replacen("<body>", "<body data-auth-mode=\"none\">", 1),
        AuthConfig::Jwt { .. } => PAGE.to_owned(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        page,
    )
        .into_response()
}

/// Browsers ask for `/favicon.ico` whatever the page says; there is none, and that is no error.
async fn get_favicon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}

async fn get_docs_asset(
    name: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let Path(name) = name.map_err(|_| ApiError::bad_request("malformed path"))?;
    let (_, content_type, bytes) = ASSETS
        .iter()
        .find(|(asset, ..)| *asset == name)
        .ok_or(ApiError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, *content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *bytes,
    )
        .into_response())
}
