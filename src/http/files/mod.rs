//! Routes for files: upload (`upload.rs`), download (`download.rs`), direct uploads
//! (`direct.rs`), signed links (`link.rs`), and the JSON routes for
//! listing, metadata and deletion (here). Upload and download stream bodies of
//! any length, so only the JSON routes get the JSON body limit and time limit.

mod direct;
mod download;
mod form;
mod linger;
mod link;
mod query;
mod register;
mod serve;
mod upload;
mod variant;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::routing::MethodRouter;
use serde::Deserialize;
use serde_json::Value;
use tower_http::set_header::SetResponseHeaderLayer;

use self::link::ReadyLinks;
use super::extract::{
    ApiQuery, CurrentUser, DocumentId, IfMatch, IfMatchTag, JsonObject, Precondition,
    TagPrecondition,
};
use super::list::{ListParams, ListSpec, parse_bool};
use super::openapi::files as docs;
use super::resource::{self, HttpResource};
use super::routes::{Endpoint, Routes};
use crate::config::Config;
use crate::error::{ApiError, Result};
use crate::files::FileStores;
use crate::files::removal;
use crate::http::AppState;
use crate::images::VariantQuery;
use crate::model::Collection;
use crate::model::file::File;

impl HttpResource for File {
    const LIST: ListSpec = ListSpec {
        text_fields: &["originalFilename", "description"],
        tag: true,
        favorite: false,
        participants: false,
        files: true,
    };
}

pub fn routes(config: &Config) -> Routes {
    let (max_json_bytes, timeout) = (config.max_json_bytes, config.request_timeout);
    let idle_timeout = config.guard.upload_idle_timeout;
    let upload = move |route: MethodRouter<AppState>| {
        route
            .layer(DefaultBodyLimit::disable())
            .layer(middleware::from_fn(move |request, next| {
                super::idle::limit_idle(idle_timeout, request, next)
            }))
    };
    let json = move |route: MethodRouter<AppState>| {
        route
            .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(max_json_bytes))
            .layer(super::idle::TimeLimitLayer::new(timeout))
    };
    Routes::new()
        .endpoint(
            "/api/files",
            Endpoint::get(list_files, docs::list(&File::LIST))
                .map(json)
                .and(
                    Endpoint::post(upload::upload_file, docs::upload()).map(|route| {
                        upload(route).layer(middleware::from_fn(linger::linger_on_refusal))
                    }),
                ),
        )
        .endpoint(
            "/api/files/{id}",
            Endpoint::get(download::get_file, docs::get())
                .with_head(docs::head())
                .and(Endpoint::delete(delete_file, docs::delete()).map(json)),
        )
        .endpoint(
            "/api/files/{id}/metadata",
            Endpoint::get(get_metadata, docs::get_metadata())
                .and(Endpoint::patch(update_metadata, docs::update_metadata()))
                .map(json),
        )
        .endpoint(
            "/api/files/{id}/url",
            Endpoint::post(link::create_url, docs::create_url()).map(json),
        )
        .endpoint(
            "/api/files/uploads",
            Endpoint::post(direct::create_upload, docs::create_upload()).map(json),
        )
        .endpoint(
            "/api/files/uploads/{id}",
            Endpoint::put(direct::put_upload, docs::put_upload()).map(upload),
        )
        .endpoint(
            "/api/files/uploads/{id}/complete",
            Endpoint::post(direct::complete_upload, docs::complete_upload()).map(json),
        )
        .schemas(docs::schemas(super::openapi::with_dependencies::<
            link::UrlRequest,
        >()))
        // Every answer of a file route, errors included, forbids type sniffing.
        .map(|router| {
            router.layer(SetResponseHeaderLayer::overriding(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
        })
}

/// The file rules' view of the state.
fn file_stores(state: &AppState) -> FileStores<'_> {
    FileStores {
        metadata: &state.store,
        blobs: &state.blobs,
        locks: &state.file_locks,
        variants: &state.variants,
    }
}

/// A page of the user's files; with `signedUrls=true` each carries a ready `signedUrl`.
async fn list_files(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<axum::Json<Value>> {
    let signed = match &params.signed_urls {
        Some(text) => parse_bool("signedUrls", text)?,
        None => false,
    };
    let links = ReadyLinks::asked(&state, signed, &params.variant())?;
    let axum::Json(mut page) = resource::list::<File>(&state, &user, params, &File::LIST).await?;
    if let Some(links) = links {
        for item in page["items"].as_array_mut().into_iter().flatten() {
            if let Value::Object(item) = item {
                let id = item.get("id").and_then(Value::as_str);
                let id = id.and_then(|id| uuid::Uuid::try_parse(id).ok());
                let id = id.ok_or_else(|| anyhow::anyhow!("a file record without an id"))?;
                links.add(&state, &user, id, item)?;
            }
        }
    }
    Ok(axum::Json(page))
}

/// The query of `GET /api/files/{id}/metadata`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MetadataQuery {
    signed_urls: Option<bool>,
    w: Option<String>,
    h: Option<String>,
    fit: Option<String>,
    format: Option<String>,
}

/// A file's metadata (`ETag`: its version); with `signedUrls=true` it carries a ready
/// `signedUrl`.
async fn get_metadata(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    ApiQuery(query): ApiQuery<MetadataQuery>,
) -> Result<axum::response::Response> {
    let variant = VariantQuery {
        w: query.w,
        h: query.h,
        fit: query.fit,
        format: query.format,
    };
    let links = ReadyLinks::asked(&state, query.signed_urls == Some(true), &variant)?;
    let stored = state.store.get(Collection::Files, &user, id).await?;
    let mut document = resource::visible::<File>(stored);
    if let Some(links) = links {
        links.add(&state, &user, id, &mut document.body)?;
    }
    Ok(resource::document_response(StatusCode::OK, &document, None))
}

/// The answer to a new file: its metadata (without storage internals), `Location` the
/// content URL `/api/files/{id}`, and `ETag` that URL's ETag, the SHA-256 of the content.
/// (The metadata's own ETag, its version, is the one `GET`/`PATCH .../metadata` use.)
pub(super) fn created_file(document: crate::model::Document) -> axum::response::Response {
    let document = resource::visible::<File>(document);
    let mut response =
        resource::document_response(StatusCode::CREATED, &document, Some("/api/files"));
    let sha256 = document.body.get("sha256").and_then(Value::as_str);
    if let Some(etag) = sha256.and_then(|sha| HeaderValue::from_str(&format!("\"{sha}\"")).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

async fn update_metadata(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    IfMatch(precondition): IfMatch,
    JsonObject(patch): JsonObject,
) -> Result<axum::response::Response> {
    resource::update::<File>(&state, &user, id, precondition, patch).await
}

/// Deletes the record (after removing its id from every document naming it), then the blob
/// if no other record of the user shares it. A blob that cannot be deleted is left to `gc`.
/// `If-Match` takes the ETag of this URL, the SHA-256 a `GET` of the content returned.
async fn delete_file(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    IfMatchTag(precondition): IfMatchTag,
) -> Result<StatusCode> {
    // Runs to its end even if the client goes away, like every store write.
    tokio::spawn(async move {
        if precondition != TagPrecondition::None {
            let current = state.store.get(Collection::Files, &user, id).await?;
            let sha256 = current.body.get("sha256").and_then(Value::as_str);
            let sha256 = sha256.unwrap_or_default();
            if !precondition.admits(sha256) {
                return Err(ApiError::precondition_failed(format!("\"{sha256}\"")));
            }
        }
        // The content under a file id never changes: no version to pin once it matched.
        let delete_record = resource::delete::<File>(&state, &user, id, Precondition::None);
        removal::remove_file(file_stores(&state), &user, id, delete_record).await
    })
    .await
    .map_err(|error| anyhow::anyhow!("a delete task failed: {error}"))??;
    Ok(StatusCode::NO_CONTENT)
}
