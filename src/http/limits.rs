//! `GET /api/limits`: what a client needs to know before it uploads or posts JSON.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/limits", get(get_limits))
}

async fn get_limits(State(state): State<AppState>) -> axum::Json<Value> {
    let files = &state.config.files;
    axum::Json(json!({
        "maxUploadBytes": files.max_upload_size,
        "allowedMimeTypes": files.allowed_mime_types,
        "redirectThresholdBytes": files.redirect_threshold,
        "maxJsonBytes": state.config.max_json_bytes,
    }))
}
