//! Routes for tags: labels for characters and personas; names unique per user ignoring case.

use axum::Router;

use super::list::ListSpec;
use super::resource::{HttpResource, routes};
use crate::AppState;
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

pub fn router() -> Router<AppState> {
    routes::<Tag>()
}
