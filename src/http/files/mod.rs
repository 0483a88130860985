//! Routes for files: upload (`upload.rs`), download (`download.rs`), direct uploads
//! (`direct.rs`), and the JSON routes for
//! listing, metadata, deletion and signed links (here). Upload and download stream bodies of
//! any length, so only the JSON routes get the JSON body limit and time limit.

mod direct;
mod download;
mod form;
mod linger;
mod register;
mod upload;
mod variant;

use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::routing::MethodRouter;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

use super::extract::{ApiQuery, CurrentUser, DocumentId, IfMatch, JsonObject};
use super::list::{ListParams, ListSpec};
use super::openapi::files as docs;
use super::resource::{self, HttpResource};
use super::routes::{Endpoint, Routes};
use crate::config::Config;
use crate::error::{ApiError, Result};
use crate::files::FileStores;
use crate::files::links::{self, LinkPurpose};
use crate::files::removal;
use crate::files::signing::{SignedQuery, unix_now};
use crate::http::AppState;
use crate::images::variants::SOURCE_TYPES;
use crate::images::{VariantQuery, VariantSpec};
use crate::model::file::File;
use crate::model::{Collection, UserId};

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
            .layer(DefaultBodyLimit::max(max_json_bytes))
            .layer(middleware::from_fn(move |request, next| {
                super::idle::limit_time(timeout, request, next)
            }))
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
            Endpoint::post(create_url, docs::create_url()).map(json),
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
        .schemas(docs::schemas(
            super::openapi::with_dependencies::<UrlRequest>(),
        ))
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

/// The caller of a route open to signed links of `purpose`: the link's user, or without
/// link parameters the bearer token's.
fn link_or_bearer(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    purpose: LinkPurpose<'_>,
    id: Option<Uuid>,
    signed: &SignedQuery,
) -> Result<UserId> {
    links::caller(&state.signer, purpose, id, signed, unix_now(), || {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        state.auth.authenticate(authorization)
    })
}

async fn list_files(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<axum::Json<Value>> {
    resource::list::<File>(&state, &user, params, &File::LIST).await
}

async fn get_metadata(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
) -> Result<axum::response::Response> {
    resource::read::<File>(&state, &user, id).await
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
async fn delete_file(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    IfMatch(precondition): IfMatch,
) -> Result<StatusCode> {
    // Runs to its end even if the client goes away, like every store write.
    tokio::spawn(async move {
        let delete_record = resource::delete::<File>(&state, &user, id, precondition);
        removal::remove_file(file_stores(&state), &user, id, delete_record).await
    })
    .await
    .map_err(|error| anyhow::anyhow!("a delete task failed: {error}"))??;
    Ok(StatusCode::NO_CONTENT)
}

/// The optional body of `POST /api/files/{id}/url`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UrlRequest {
    /// Seconds the link lives, default 900.
    #[schema(minimum = 1, maximum = 3600)]
    expires_in: Option<u64>,
    /// A link to this variant of an image file instead of the file itself; the signature
    /// covers it, so the link opens no other size.
    variant: Option<VariantRequest>,
}

/// The variant a signed link serves: the query parameters of a variant download.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VariantRequest {
    /// Width in pixels, one of `IMAGE_VARIANT_SIZES`.
    w: Option<u32>,
    /// Height in pixels, one of `IMAGE_VARIANT_SIZES`.
    h: Option<u32>,
    /// `cover` (default) or `contain`.
    fit: Option<String>,
    /// `webp` (default), `jpeg` or `png`.
    format: Option<String>,
}

impl VariantRequest {
    fn query(&self) -> VariantQuery {
        VariantQuery {
            w: self.w.map(|width| width.to_string()),
            h: self.h.map(|height| height.to_string()),
            fit: self.fit.clone(),
            format: self.format.clone(),
        }
    }
}

/// `{url, expiresAt}`: a link that serves this one file without an auth header.
async fn create_url(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    request: Request,
) -> Result<axum::Json<Value>> {
    // A POST without a body (and so without a Content-Type) asks for the defaults.
    let request = if request.headers().contains_key(header::CONTENT_TYPE) {
        let JsonObject(object) = JsonObject::from_request(request, &state).await?;
        serde_path_to_error::deserialize(Value::Object(object)).map_err(|error| {
            let field = error.path().to_string();
            let problem = error.into_inner().to_string();
            if problem.starts_with("unknown field") {
                ApiError::bad_request(format!("bad body: {problem}"))
            } else if field.starts_with("variant") {
                ApiError::validation(
                    field,
                    "a variant is an object of w and h (whole numbers of pixels), fit and format",
                )
            } else {
                ApiError::validation("expiresIn", "must be a whole number of seconds")
            }
        })?
    } else {
        UrlRequest {
            expires_in: None,
            variant: None,
        }
    };
    let sizes = &state.config.images.variant_sizes;
    let spec = match &request.variant {
        Some(variant) => VariantSpec::parse(&variant.query(), sizes)?,
        None => None,
    };
    let canonical = spec.as_ref().map(VariantSpec::canonical_query);
    let link = links::file_link(
        &state.signer,
        id,
        &user,
        canonical.as_deref(),
        request.expires_in,
        unix_now(),
    )?;
    let document = state.store.get(Collection::Files, &user, id).await?;
    let mime_type = document.body.get("mimeType").and_then(Value::as_str);
    if spec.is_some() && !mime_type.is_some_and(|mime| SOURCE_TYPES.contains(&mime)) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "variants are made from {} files; this file is {}",
            SOURCE_TYPES.join(", "),
            mime_type.unwrap_or("of no known type")
        )));
    }
    Ok(axum::Json(
        json!({"url": link.url, "expiresAt": link.expires_at}),
    ))
}
