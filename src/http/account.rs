//! The caller's whole account: `GET /api/account/export` (one tar archive, streamed),
//! `POST /api/account/import` (that archive, all or nothing), `DELETE /api/account` (with
//! `X-Confirm-Delete: <user id>`), and `GET /api/usage`. The rules are in `crate::accounts`.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::{Content, ResponseBuilder};

use super::extract::CurrentUser;
use super::openapi::{Op, reference, string, with_dependencies};
use super::routes::{Endpoint, Routes};
use crate::accounts::deletion::{self, DeletionReport};
use crate::accounts::import::{self, ImportReport};
use crate::accounts::usage::{self, Usage};
use crate::accounts::{AccountStores, export};
use crate::config::Config;
use crate::error::{ApiError, Result};
use crate::http::AppState;
use crate::layout::DataDir;

/// The header a deletion must carry, naming the caller's own user id.
pub const CONFIRM_HEADER: &str = "x-confirm-delete";
const ARCHIVE_TYPE: &str = "application/x-tar";

pub fn routes(config: &Config) -> Routes {
    let idle_timeout = config.guard.upload_idle_timeout;
    let streamed = move |route: axum::routing::MethodRouter<AppState>| {
        route
            .layer(DefaultBodyLimit::disable())
            .layer(middleware::from_fn(move |request, next| {
                super::idle::limit_idle(idle_timeout, request, next)
            }))
    };
    Routes::new()
        .endpoint(
            "/api/account/export",
            Endpoint::get(export_account, export_op()),
        )
        .endpoint(
            "/api/account/import",
            Endpoint::post(import_account, import_op()).map(streamed),
        )
        .endpoint(
            "/api/account",
            Endpoint::delete(delete_account, delete_op()),
        )
        .endpoint("/api/usage", Endpoint::get(get_usage, usage_op()))
        .schemas(with_dependencies::<Usage>())
        .schemas(with_dependencies::<ImportReport>())
        .schemas(with_dependencies::<DeletionReport>())
}

fn stores(state: &AppState) -> AccountStores {
    AccountStores {
        metadata: state.store.clone(),
        blobs: state.blobs.clone(),
    }
}

async fn export_account(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Response {
    let disposition = format!("attachment; filename=\"quillstore-account-{user}.tar\"");
    let body = Body::from_stream(export::archive_stream(stores(&state), user));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ARCHIVE_TYPE));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn import_account(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    request: Request,
) -> Result<Response> {
    let limit = state.config.accounts.max_import_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(import::ImportError::TooLarge(limit).into());
    }
    let dir = DataDir::new(&state.config.data_dir).imports();
    let body = request.into_body().into_data_stream();
    let spooled = import::spool(&dir, body, limit).await?;
    // Once checked, the import runs to its end (or is undone) even if the client goes away.
    let task = tokio::spawn(async move {
        let _account = state.file_locks.lock(&user, "account").await;
        import::import_archive(
            &stores(&state),
            &state.keyring,
            &state.quotas,
            &user,
            &spooled,
        )
        .await
    });
    let report = task
        .await
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("import task failed: {error}")))??;
    Ok((StatusCode::CREATED, axum::Json(report)).into_response())
}

async fn delete_account(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
) -> Result<Response> {
    let confirmed = headers
        .get(CONFIRM_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim() == user.as_str());
    if !confirmed {
        return Err(ApiError::bad_fields(
            format!(
                "deleting an account needs the header `X-Confirm-Delete: {user}` (your user id)"
            ),
            vec![crate::error::FieldError::new(
                "X-Confirm-Delete",
                "must name the caller's user id",
            )],
        ));
    }
    // Runs to its end even if the client goes away; an interruption is finished at startup.
    let task = tokio::spawn(async move {
        let _account = state.file_locks.lock(&user, "account").await;
        deletion::delete_account(&stores(&state), &user, &|_| {}).await
    });
    let report = task
        .await
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("deletion task failed: {error}")))?
        .map_err(|error| match error {
            deletion::DeletionError::Store(error) => ApiError::from(error),
            deletion::DeletionError::Blob(error) => ApiError::from(error),
        })?;
    Ok(axum::Json(report).into_response())
}

async fn get_usage(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<axum::Json<Usage>> {
    let usage = usage::usage(&state.store, &user, &state.config.accounts).await?;
    Ok(axum::Json(usage))
}

fn export_op() -> Op {
    let archive = ResponseBuilder::new()
        .description(
            "A tar archive, streamed: `collections/{collection}/{part}.jsonl` (stored documents, \
             a page per part), `chats/{chatId}/{part}.jsonl` (the chat export format, header in \
             part 1), `blobs/{sha256}` (file bytes, once per content) and `manifest.json` last \
             (counts, and every entry's size and SHA-256). API keys stay sealed (encrypted).",
        )
        .content(ARCHIVE_TYPE, Content::new(Some(string())));
    Op::new(
        "exportAccount",
        "account",
        "Export everything the caller owns",
    )
    .response(200, archive)
}

fn import_op() -> Op {
    let body = utoipa::openapi::request_body::RequestBodyBuilder::new()
        .description(Some("an archive from `GET /api/account/export`"))
        .required(Some(utoipa::openapi::Required::True))
        .content(ARCHIVE_TYPE, Content::new(Some(string())))
        // The body is read as bytes whatever its type says; generic clients send this one.
        .content("application/octet-stream", Content::new(Some(string())))
        .build();
    Op::new("importAccount", "account", "Import an account archive")
        .describe(
            "All or nothing, within `MAX_ACCOUNT_IMPORT_BYTES`. Every entry is checked against \
             the manifest (paths, sizes, SHA-256s, counts) before anything is stored; a bad \
             archive is a 422. Ids are kept when free and remapped (every reference rewritten) \
             when taken. An archive already imported into this account is a 409. Files count \
             against the quotas (413 `quota_exceeded`).",
        )
        .body(body)
        .json(201, "what was imported", reference("ImportReport"))
        .errors(&[400, 408, 409, 413, 422])
}

fn delete_op() -> Op {
    Op::new(
        "deleteAccount",
        "account",
        "Delete everything the caller owns",
    )
    .describe(
        "Needs `X-Confirm-Delete: <the caller's user id>` (else 400). Removes every \
             document, message, file record, blob, image variant and API key of the caller, \
             nothing of anyone else. An interrupted deletion is finished at the next startup \
             or by calling again.",
    )
    .header(
        "X-Confirm-Delete",
        None,
        "the caller's user id, confirming the deletion",
    )
    .json(200, "what was removed", reference("DeletionReport"))
    .errors(&[400])
}

fn usage_op() -> Op {
    Op::new(
        "getUsage",
        "account",
        "What the caller stores, and the quotas",
    )
    .json(
        200,
        "documents per collection, messages, files and bytes",
        reference("Usage"),
    )
}
