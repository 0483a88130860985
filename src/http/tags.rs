//! Routes for tags: labels for characters and personas; names unique per user ignoring case.

use super::list::ListSpec;
use super::resource::{HttpResource, document_routes};
use super::routes::Routes;
use crate::model::tag::Tag;

impl HttpResource for Tag {
    const LIST: ListSpec = ListSpec {
        text_fields: &["name"],
        tag: false,
        favorite: false,
        files: false,
        participants: false,
    };
}

pub fn routes() -> Routes {
    document_routes::<Tag>()
}
