//! `GET|PATCH /api/settings`: the caller's one settings document, created with defaults on
//! first read; changed by JSON merge patch with `If-Match` like any document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::extract::{CurrentUser, IfMatch, JsonObject};
use super::openapi::{Op, patch_schema, with_dependencies};
use super::resource::{self, document_response, to_body};
use super::routes::{Endpoint, Routes};
use crate::error::Result;
use crate::http::AppState;
use crate::model::settings::Settings;
use crate::model::{Collection, Document, Timestamp, UserId};
use crate::store::StoreError;

pub fn routes() -> Routes {
    let mut schemas = with_dependencies::<Settings>();
    schemas.retain(|(name, _)| name != "Settings");
    schemas.push((
        "Settings".to_owned(),
        super::openapi::document_schema::<Settings>(Vec::new(), &[]).into(),
    ));
    schemas.push((
        "SettingsPatch".to_owned(),
        patch_schema::<Settings>().into(),
    ));
    Routes::new()
        .endpoint(
            "/api/settings",
            Endpoint::get(get_settings, get_op()).and(Endpoint::patch(update_settings, patch_op())),
        )
        .schemas(schemas)
}

fn get_op() -> Op {
    Op::new("getSettings", "settings", "Read the caller's settings")
        .describe("Created with defaults on first read: one document per user.")
        .document(200, "the settings", "Settings")
}

fn patch_op() -> Op {
    Op::new(
        "updateSettings",
        "settings",
        "Change the caller's settings (JSON merge patch)",
    )
    .if_match()
    .merge_patch_body("SettingsPatch")
    .document(200, "the changed settings", "Settings")
    .errors(&[409])
}

/// The user's settings document, stored with defaults if it does not exist yet.
async fn settings_of(state: &AppState, user: &UserId) -> Result<Document> {
    let id = Settings::id_for(user);
    match state.store.get(Collection::Settings, user, id).await {
        Err(StoreError::NotFound) => {}
        other => return Ok(other?),
    }
    let defaults: Map<String, Value> = to_body(&Settings::default())?;
    let document = Document::new(id, user.clone(), Timestamp::now(), defaults);
    match state.store.insert(Collection::Settings, document).await {
        Ok(stored) => Ok(stored),
        // A concurrent first read stored it: use theirs.
        Err(_) => Ok(state.store.get(Collection::Settings, user, id).await?),
    }
}

async fn get_settings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Response> {
    let document = settings_of(&state, &user).await?;
    Ok(document_response(StatusCode::OK, &document, None))
}

async fn update_settings(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    IfMatch(precondition): IfMatch,
    JsonObject(patch): JsonObject,
) -> Result<Response> {
    let document = settings_of(&state, &user).await?;
    resource::update::<Settings>(&state, &user, document.id, precondition, patch).await
}
