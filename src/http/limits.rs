//! `GET /api/limits`: what a client needs to know before it uploads or posts JSON.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::openapi::{Access, Op, reference, with_dependencies};
use super::routes::{Endpoint, Routes};
use crate::http::AppState;

pub fn routes() -> Routes {
    let op = Op::new("getLimits", "service", "Upload and body limits")
        .access(Access::Public)
        .json(200, "the limits", reference("Limits"));
    Routes::new()
        .endpoint("/api/limits", Endpoint::get(get_limits, op))
        .schemas(with_dependencies::<Limits>())
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Limits {
    /// `MAX_UPLOAD_SIZE`
    max_upload_bytes: u64,
    /// `ALLOWED_MIME_TYPES`; `type/*` admits every subtype.
    allowed_mime_types: Vec<String>,
    /// Files larger than this are redirected to the blob store (when it can sign links).
    redirect_threshold_bytes: u64,
    /// `MAX_JSON_BYTES`
    max_json_bytes: usize,
}

async fn get_limits(State(state): State<AppState>) -> axum::Json<Limits> {
    let files = &state.config.files;
    let limits = Limits {
        max_upload_bytes: files.max_upload_size,
        allowed_mime_types: files.allowed_mime_types.clone(),
        redirect_threshold_bytes: files.redirect_threshold,
        max_json_bytes: state.config.max_json_bytes,
    };
    axum::Json(limits)
}
