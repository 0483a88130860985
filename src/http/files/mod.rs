//! Routes for files: upload (`upload.rs`), download (`download.rs`), direct uploads
//! (`direct.rs`), and the JSON routes for
//! listing, metadata, deletion and signed links (here). Upload and download stream bodies of
//! any length, so only the JSON routes get the JSON body limit and time limit.

mod direct;
mod download;
mod form;
mod register;
mod upload;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

use super::extract::{ApiQuery, CurrentUser, DocumentId, IfMatch, JsonObject, Precondition};
use super::list::{ListParams, ListSpec};
use super::resource::{self, HttpResource};
use crate::AppState;
use crate::error::{ApiError, Result};
use crate::files::signing::{DEFAULT_LIFETIME_SECS, MAX_LIFETIME_SECS, unix_now};
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

pub fn router(state: &AppState) -> Router<AppState> {
    let json = |route: MethodRouter<AppState>| {
        route
            .layer(DefaultBodyLimit::max(state.config.max_json_bytes))
            .layer(middleware::from_fn_with_state(
                state.clone(),
                super::router::limit_time,
            ))
    };
    Router::new()
        .route(
            "/api/files",
            json(get(list_files))
                .merge(post(upload::upload_file).layer(DefaultBodyLimit::disable())),
        )
        .route(
            "/api/files/{id}",
            get(download::get_file).merge(json(axum::routing::delete(delete_file))),
        )
        .route(
            "/api/files/{id}/metadata",
            json(get(get_metadata).patch(update_metadata)),
        )
        .route("/api/files/{id}/url", json(post(create_url)))
        .route("/api/files/uploads", json(post(direct::create_upload)))
        .route(
            "/api/files/uploads/{id}",
            axum::routing::put(direct::put_upload).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/files/uploads/{id}/complete",
            json(post(direct::complete_upload)),
        )
        // Every answer of a file route, errors included, forbids type sniffing.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UrlRequest {
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
