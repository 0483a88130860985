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

use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::routing::MethodRouter;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

use super::extract::{ApiQuery, CurrentUser, DocumentId, IfMatch, JsonObject, Precondition};
use super::list::{ListParams, ListSpec};
use super::openapi::files as docs;
use super::resource::{self, HttpResource};
use super::routes::{Endpoint, Routes};
use crate::AppState;
use crate::config::Config;
use crate::error::{ApiError, Result};
use crate::files::signing::{
    DEFAULT_LIFETIME_SECS, LinkError, MAX_LIFETIME_SECS, SignedQuery, unix_now,
};
use crate::files::{records_with_hash, storage_key};
use crate::model::file::File;
use crate::model::{Collection, Timestamp, UserId};

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
                super::router::limit_time(timeout, request, next)
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

/// The caller of a route open to signed links: with link parameters in the query, the user
/// `verify` finds the link signed for (for the id in the path); without them, the bearer
/// token's user. A link on a path without a valid id is a bad signature.
fn link_or_bearer(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    id: Option<Uuid>,
    signed: &SignedQuery,
    verify: impl FnOnce(Uuid, &SignedQuery) -> std::result::Result<UserId, LinkError>,
) -> Result<UserId> {
    if signed.is_empty() {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        return state.auth.authenticate(authorization);
    }
    let id = id.ok_or(LinkError::BadSignature);
    id.and_then(|id| verify(id, signed))
        .map_err(|problem| ApiError::Unauthorized(problem.to_string()))
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
    tokio::spawn(async move { remove_file(&state, &user, id, precondition).await })
        .await
        .map_err(|error| anyhow::anyhow!("a delete task failed: {error}"))??;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_file(
    state: &AppState,
    user: &UserId,
    id: Uuid,
    precondition: Precondition,
) -> Result<()> {
    let current = state.store.get(Collection::Files, user, id).await?;
    let sha256 = current
        .body
        .get("sha256")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = storage_key(&current).unwrap_or_default().to_owned();
    let _shared = state.file_locks.lock(user, sha256).await;
    resource::delete::<File>(state, user, id, precondition).await?;
    let still_used = records_with_hash(&state.store, user, sha256)
        .await?
        .iter()
        .any(|record| storage_key(record) == Some(key.as_str()));
    if !still_used {
        let removed = match crate::blob::BlobKey::parse(&key) {
            Ok(key) => state.blobs.delete(&key).await,
            Err(error) => Err(error),
        };
        if let Err(error) = removed {
            tracing::error!(%key, error = %error, "cannot delete the blob of a deleted file; `quillstore gc` will find it");
        }
    }
    Ok(())
}

/// The optional body of `POST /api/files/{id}/url`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UrlRequest {
    /// Seconds the link lives, default 900.
    #[schema(minimum = 1, maximum = 3600)]
    expires_in: Option<u64>,
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
        serde_json::from_value(Value::Object(object)).map_err(|error| {
            if error.to_string().starts_with("unknown field") {
                ApiError::bad_request(format!("bad body: {error}"))
            } else {
                ApiError::validation("expiresIn", "must be a whole number of seconds")
            }
        })?
    } else {
        UrlRequest { expires_in: None }
    };
    let lifetime = request.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS);
    if !(1..=MAX_LIFETIME_SECS).contains(&lifetime) {
        return Err(ApiError::validation(
            "expiresIn",
            format!("must be 1-{MAX_LIFETIME_SECS} seconds"),
        ));
    }
    state.store.get(Collection::Files, &user, id).await?;
    let expires = unix_now() + lifetime;
    let url = state.signer.signed_path(id, &user, expires);
    let expires_at =
        Timestamp::from_millis(i64::try_from(expires).unwrap_or(i64::MAX / 1000) * 1000);
    Ok(axum::Json(json!({"url": url, "expiresAt": expires_at})))
}
