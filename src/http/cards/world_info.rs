//! `POST /api/lorebooks/import` (a SillyTavern world-info file, or a card's `character_book`
//! on its own) and `GET /api/lorebooks/{id}/export?format=sillytavern|character_book`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::body;
use crate::cards::{CardError, book, json_object};
use crate::error::Result;
use crate::files::names::{content_disposition, sanitize_filename};
use crate::http::AppState;
use crate::http::extract::{ApiQuery, CurrentUser, DocumentId};
use crate::http::resource::{document_response, insert};
use crate::model::Collection;
use crate::model::lorebook::Lorebook;

pub async fn import_lorebook(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    request: Request,
) -> Result<Response> {
    let upload = body::read(&state, request).await?;
    let file = json_object(&upload.bytes, "lorebook")?;
    // SillyTavern names a book by its file name.
    let fallback = upload
        .filename
        .as_deref()
        .map(|name| name.strip_suffix(".json").unwrap_or(name).to_owned())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "Imported lorebook".to_owned());
    let lorebook = match file.get("entries") {
        Some(Value::Object(_)) => book::from_world_info(file, &fallback)?,
        Some(Value::Array(_)) => book::from_character_book(file, &fallback)?,
        _ => {
            return Err(CardError::invalid(
                "entries",
                "expected a world-info file (`entries` object) or a character book (`entries` array)",
            )
            .into());
        }
    };
    let stored = insert::<Lorebook>(&state, &user, lorebook).await?;
    Ok(document_response(
        StatusCode::CREATED,
        &stored,
        Some("/api/lorebooks"),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Sillytavern,
    CharacterBook,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    #[serde(default)]
    format: Format,
}

pub async fn export_lorebook(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response> {
    let lorebook = state.store.get(Collection::Lorebooks, &user, id).await?;
    let exported = match params.format {
        Format::Sillytavern => book::to_world_info(&lorebook.body),
        Format::CharacterBook => book::to_character_book(&lorebook.body),
    };
    let name = lorebook
        .body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("lorebook");
    let filename = sanitize_filename(&format!("{name}.json"));
    let mut response =
        Body::from(serde_json::to_vec(&exported).unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(false, &filename)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
