//! Routes for characters: the AI side of a chat.

use super::list::ListSpec;
use super::resource::{HttpResource, document_routes};
use super::routes::Routes;
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

pub fn routes() -> Routes {
    document_routes::<Character>()
}
