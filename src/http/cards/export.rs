//! `GET /api/characters/{id}/export?format=json|png|charx`: the character as a card.
//! JSON is V3 with the V1 fields mirrored; PNG is the avatar (or a plain default image) with a
//! `ccv3` (V3) and a `chara` (V2) tEXt chunk inserted before IEND, the image bytes untouched;
//! CharX is `card.json` plus the files of the character's assets, the avatar as the main icon.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::blob::BlobKey;
use crate::cards::card::{ExportParts, export_v2, export_v3};
use crate::cards::{charx, png};
use crate::error::{ApiError, Result};
use crate::files::names::{content_disposition, sanitize_filename};
use crate::files::{storage_backend, storage_key};
use crate::http::AppState;
use crate::http::extract::{ApiQuery, CurrentUser, DocumentId};
use crate::model::{Collection, Document, UserId};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Png,
    Charx,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    #[serde(default)]
    format: Format,
}

pub async fn export_character(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response> {
    let character = state.store.get(Collection::Characters, &user, id).await?;
    let body = &character.body;
    let mut tag_names = Vec::new();
    for tag_id in ids_in(body.get("tags")) {
        if let Ok(tag) = state.store.get(Collection::Tags, &user, tag_id).await
            && let Some(name) = tag.body.get("name").and_then(Value::as_str)
        {
            tag_names.push(name.to_owned());
        }
    }
    let lorebook = match id_of(body.get("lorebookId")) {
        Some(lorebook_id) => state
            .store
            .get(Collection::Lorebooks, &user, lorebook_id)
            .await
            .ok(),
        None => None,
    };
    let parts = ExportParts {
        tag_names,
        lorebook: lorebook.as_ref().map(|document| &document.body),
    };
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("character");
    let avatar = id_of(body.get("defaultImageId"));
    let (bytes, content_type, extension) = match params.format {
        Format::Json => (
            to_json(&export_v3(body, &parts)),
            "application/json",
            "json",
        ),
        Format::Png => {
            let image = match avatar {
                Some(file_id) => file_bytes(&state, &user, file_id)
                    .await?
                    .filter(|(mime, _)| mime == "image/png")
                    .map(|(_, bytes)| bytes),
                None => None,
            };
            let image = image.unwrap_or_else(|| png::DEFAULT_IMAGE.clone());
            let v3 = to_json(&export_v3(body, &parts));
            let v2 = to_json(&export_v2(body, &parts));
            let bytes = png::with_cards(&image, &[(png::CCV3, &v3), (png::CHARA, &v2)])?;
            (bytes, "image/png", "png")
        }
        Format::Charx => (
            charx_bytes(&state, &user, &character, &parts).await?,
            "application/zip",
            "charx",
        ),
    };
    let filename = sanitize_filename(&format!("{name}.{extension}"));
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(false, &filename)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn to_json(card: &Value) -> Vec<u8> {
    serde_json::to_vec(card).unwrap_or_default()
}

fn id_of(value: Option<&Value>) -> Option<Uuid> {
    value?.as_str()?.parse().ok()
}

fn ids_in(value: Option<&Value>) -> Vec<Uuid> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| id_of(Some(item)))
        .collect()
}

/// A file's type and bytes (`None` when the record or its blob is gone).
async fn file_bytes(
    state: &AppState,
    user: &UserId,
    id: Uuid,
) -> Result<Option<(String, Vec<u8>)>> {
    let Ok(record) = state.store.get(Collection::Files, user, id).await else {
        return Ok(None);
    };
    let Some(key) = storage_key(&record).and_then(|key| BlobKey::parse(key).ok()) else {
        return Ok(None);
    };
    let mime = record
        .body
        .get("mimeType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let blobs = state.blobs.holding(storage_backend(&record));
    let read = match blobs.get(&key, None).await {
        Ok(read) => read,
        Err(crate::blob::BlobError::NotFound) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let chunks: Vec<_> = read
        .body
        .try_collect()
        .await
        .map_err(|error| ApiError::Internal(error.into()))?;
    Ok(Some((mime, chunks.concat())))
}

/// `card.json` and the files of the character's assets. An avatar that no icon asset holds
/// is added as the main icon, so the archive carries it.
async fn charx_bytes(
    state: &AppState,
    user: &UserId,
    character: &Document,
    parts: &ExportParts<'_>,
) -> Result<Vec<u8>> {
    let mut body: Map<String, Value> = character.body.clone();
    let avatar = id_of(body.get("defaultImageId"));
    let mut assets: Vec<Value> = body
        .get("assets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let held = |file_id: Uuid| {
        assets
            .iter()
            .any(|asset| id_of(asset.get("fileId")) == Some(file_id))
    };
    if let Some(avatar) = avatar.filter(|avatar| !held(*avatar))
        && let Some((mime, _)) = file_bytes(state, user, avatar).await?
    {
        let ext = mime.rsplit('/').next().unwrap_or("png").to_owned();
        assets.push(json!({
            "type": "icon",
            "uri": format!("{}assets/icon/images/main.{ext}", charx::EMBEDDED),
            "name": "main",
            "ext": ext,
            "fileId": avatar,
        }));
    }
    let mut files = Vec::new();
    for asset in &assets {
        let uri = asset.get("uri").and_then(Value::as_str).unwrap_or_default();
        if let (Some(path), Some(file_id)) = (
            uri.strip_prefix(charx::EMBEDDED),
            id_of(asset.get("fileId")),
        ) && !files
            .iter()
            .any(|(existing, _): &(String, Vec<u8>)| existing == path)
            && let Some((_, bytes)) = file_bytes(state, user, file_id).await?
        {
            files.push((path.to_owned(), bytes));
        }
    }
    body.insert("assets".to_owned(), Value::Array(assets));
    let card = to_json(&export_v3(&body, parts));
    Ok(charx::write(&card, &files)?)
}
