//! Tags: named, optionally coloured labels other documents hold by id in `tags`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::common::Checks;
use super::{Collection, Removal, Resource};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({"name": "fantasy", "color": "#7a3ff2"})))]
pub struct Tag {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 50, pattern = r"\S")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<String>,
    #[serde(default)]
    pub quick_hide: bool,
}

impl Tag {
    pub const MAX_NAME: usize = 50;
}

fn is_hex_color(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit())
}

impl Resource for Tag {
    const COLLECTION: Collection = Collection::Tags;
    const FIELDS: &'static [&'static str] = &["name", "color", "quickHide"];

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.name("name", &mut self.name, Self::MAX_NAME);
        if let Some(color) = &self.color
            && !is_hex_color(color)
        {
            checks.fail("color", "must be a colour like #a1b2c3");
        }
        checks.0
    }

    fn removals_on_delete(id: Uuid) -> Vec<(Collection, Removal)> {
        [
            Collection::Characters,
            Collection::Personas,
            Collection::Files,
            Collection::Chats,
            Collection::Memories,
            Collection::ConnectionProfiles,
            Collection::ImageProfiles,
            Collection::EmbeddingProfiles,
        ]
        .into_iter()
        .map(|collection| (collection, Removal::ArrayValue { field: "tags", id }))
        .collect()
    }
}
