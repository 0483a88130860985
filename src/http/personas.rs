//! Routes for personas: the user's roles in a chat.

use super::list::ListSpec;
use super::resource::{HttpResource, document_routes};
use super::routes::Routes;
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

pub fn routes() -> Routes {
    document_routes::<Persona>()
}
