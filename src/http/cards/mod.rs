//! Character card routes: `POST /api/characters/import` and
//! `GET /api/characters/{id}/export`, and the world-info routes of lorebooks. The formats are
//! `crate::cards`; these modules read requests, write through the stores and answer.

mod body;
mod docs;
mod export;
mod export_body;
mod import;
mod world_info;

use super::routes::{Endpoint, Routes};

pub fn routes() -> Routes {
    Routes::new()
        .endpoint(
            "/api/characters/import",
            Endpoint::post(import::import_character, docs::import_character()),
        )
        .endpoint(
            "/api/characters/{id}/export",
            Endpoint::get(export::export_character, docs::export_character()),
        )
        .endpoint(
            "/api/lorebooks/import",
            Endpoint::post(world_info::import_lorebook, docs::import_lorebook()),
        )
        .endpoint(
            "/api/lorebooks/{id}/export",
            Endpoint::get(world_info::export_lorebook, docs::export_lorebook()),
        )
}
