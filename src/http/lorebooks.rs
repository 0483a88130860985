//! Routes for lorebooks (world info): the shared document routes, plus SillyTavern
//! world-info import and export.

use super::list::ListSpec;
use super::resource::{HttpResource, document_routes};
use super::routes::Routes;
use crate::model::lorebook::Lorebook;

impl HttpResource for Lorebook {
    const LIST: ListSpec = ListSpec {
        text_fields: &["name"],
        tag: false,
        favorite: false,
        files: false,
        participants: false,
    };
}

pub fn routes() -> Routes {
    document_routes::<Lorebook>()
}
