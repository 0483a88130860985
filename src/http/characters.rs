//! Routes for characters: the AI side of a chat.

use axum::Router;

use super::list::ListSpec;
use super::resource::{HttpResource, routes};
use crate::AppState;
use crate::model::character::Character;

impl HttpResource for Character {
    const LIST: ListSpec = ListSpec {
        text_fields: &["name", "title"],
        tag: true,
        favorite: true,
        files: false,
        participants: false,
    };
}

pub fn router() -> Router<AppState> {
    routes::<Character>()
}
