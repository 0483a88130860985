//! Routes for personas: the user's roles in a chat.

use axum::Router;

use super::list::ListSpec;
use super::resource::{HttpResource, routes};
use crate::AppState;
use crate::model::persona::Persona;

impl HttpResource for Persona {
    const LIST: ListSpec = ListSpec {
        text_fields: &["name", "title"],
        tag: true,
        favorite: false,
        files: false,
        participants: false,
    };
}

pub fn router() -> Router<AppState> {
    routes::<Persona>()
}
