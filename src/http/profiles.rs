//! Routes for the three kinds of profile: LLM connection, image generation and embedding.

use super::list::{FieldFilter, FieldKind, ListExtras, ListSpec};
use super::resource::{HttpResource, document_routes};
use super::routes::Routes;
use crate::model::profile::{ConnectionProfile, EmbeddingProfile, ImageProfile};

const PROFILE_LIST: ListSpec = ListSpec {
    text_fields: &["name", "modelName"],
    tag: true,
    favorite: false,
    files: false,
    participants: false,
};

const PROFILE_EXTRAS: ListExtras = ListExtras {
    sorts: &[],
    fields: &[FieldFilter {
        name: "provider",
        kind: FieldKind::Text,
        description: "only profiles of this provider (exact)",
    }],
};

impl HttpResource for ConnectionProfile {
    const LIST: ListSpec = PROFILE_LIST;
    const LIST_EXTRAS: ListExtras = PROFILE_EXTRAS;
}

impl HttpResource for ImageProfile {
    const LIST: ListSpec = PROFILE_LIST;
    const LIST_EXTRAS: ListExtras = PROFILE_EXTRAS;
}

impl HttpResource for EmbeddingProfile {
    const LIST: ListSpec = PROFILE_LIST;
    const LIST_EXTRAS: ListExtras = PROFILE_EXTRAS;
}

pub fn routes() -> Routes {
    document_routes::<ConnectionProfile>()
        .merge(document_routes::<ImageProfile>())
        .merge(document_routes::<EmbeddingProfile>())
}
