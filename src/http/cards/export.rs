//! `GET /api/characters/{id}/export?format=json|png|charx`: the character as a card.
//! JSON is V3 with the V1 fields mirrored; PNG is the avatar (or a plain default image) with a
//! `ccv3` (V3) and a `chara` (V2) tEXt chunk inserted after IHDR, the image bytes untouched;
//! CharX is `card.json` plus the files of the character's assets, the avatar as the main icon.
//! PNG and CharX are streamed from the blob store (`export_body`), never held whole.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::export_body::{self, Blob};
use crate::blob::BlobKey;
use crate::cards::card::{ExportParts, export_v2, export_v3};
use crate::cards::{charx, png, png_splice};
use crate::error::Result;
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
    let (content, content_type, extension) = match params.format {
        Format::Json => (
            Body::from(to_json(&export_v3(body, &parts))),
            "application/json",
            "json",
        ),
        Format::Png => {
            let image = match avatar {
                Some(file_id) => file_blob(&state, &user, file_id)
                    .await
                    .filter(|(mime, _)| mime == "image/png")
                    .map(|(_, blob)| blob),
                None => None,
            };
            let v3 = to_json(&export_v3(body, &parts));
            let v2 = to_json(&export_v2(body, &parts));
            let chunks = png_splice::card_chunks(&[(png::CCV3, &v3), (png::CHARA, &v2)])?;
            let content = export_body::png_body(image, chunks).await?;
            (content, "image/png", "png")
        }
        Format::Charx => {
            let (card, assets) = charx_parts(&state, &user, &character, &parts).await;
            let content = export_body::charx_body(card, assets);
            (content, "application/zip", "charx")
        }
    };
    let filename = sanitize_filename(&format!("{name}.{extension}"));
    let mut response = content.into_response();
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

/// A file's type and blob, in the store its record names (`None` when the record is gone).
async fn file_blob(state: &AppState, user: &UserId, id: Uuid) -> Option<(String, Blob)> {
    let record = state.store.get(Collection::Files, user, id).await.ok()?;
    let key = storage_key(&record).and_then(|key| BlobKey::parse(key).ok())?;
    let mime = record
        .body
        .get("mimeType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let blobs = state.blobs.holding(storage_backend(&record)).clone();
    Some((mime, (blobs, key)))
}

/// `card.json` and the blobs of the character's assets by archive path. An avatar that no
/// icon asset holds is added as the main icon, so the archive carries it.
async fn charx_parts(
    state: &AppState,
    user: &UserId,
    character: &Document,
    parts: &ExportParts<'_>,
) -> (Vec<u8>, Vec<(String, Blob)>) {
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
        && let Some((mime, _)) = file_blob(state, user, avatar).await
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
    let mut files: Vec<(String, Blob)> = Vec::new();
    for asset in &assets {
        let uri = asset.get("uri").and_then(Value::as_str).unwrap_or_default();
        if let (Some(path), Some(file_id)) = (
            uri.strip_prefix(charx::EMBEDDED),
            id_of(asset.get("fileId")),
        ) && !files.iter().any(|(existing, _)| existing == path)
            && let Some((_, blob)) = file_blob(state, user, file_id).await
        {
            files.push((path.to_owned(), blob));
        }
    }
    body.insert("assets".to_owned(), Value::Array(assets));
    (to_json(&export_v3(&body, parts)), files)
}
