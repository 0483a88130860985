//! Settings: one document per user with the app's preferences, created with defaults on first
//! read (`GET /api/settings`) and changed by merge patch.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::common::Checks;
use super::{Collection, Reference, Resource, UserId};

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({
    "theme": "dark",
    "avatarDisplayMode": "always",
    "avatarDisplayStyle": "circle",
    "tagStyles": {"0192f0c4-5d0e-7cc1-a3b2-9a1f1e0b7c11": {"emoji": "🌌"}},
    "preferences": {"enterToSend": true}
})))]
pub struct Settings {
    #[serde(default)]
    pub theme: Theme,
    #[serde(default)]
    pub avatar_display_mode: AvatarDisplayMode,
    #[serde(default)]
    pub avatar_display_style: AvatarDisplayStyle,
    /// Per tag id, a free-form style object (colour, emoji...).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub tag_styles: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_connection_profile_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_image_profile_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_embedding_profile_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_persona_id: Option<Uuid>,
    /// Free-form: everything else the app wants to keep per user.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub preferences: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Light,
    Dark,
    #[default]
    System,
}

/// When avatars are shown next to messages.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AvatarDisplayMode {
    #[default]
    Always,
    /// Only in chats with more than one character.
    Group,
    Never,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AvatarDisplayStyle {
    #[default]
    Circle,
    Square,
}

impl Settings {
    /// The id of a user's settings document: derived from the user id, so there is exactly one
    /// and the first read of concurrent requests all name the same document.
    pub fn id_for(user: &UserId) -> Uuid {
        Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("quillstore:settings:{}", user.as_str()).as_bytes(),
        )
    }
}

impl Resource for Settings {
    const COLLECTION: Collection = Collection::Settings;
    const FIELDS: &'static [&'static str] = &[
        "theme",
        "avatarDisplayMode",
        "avatarDisplayStyle",
        "tagStyles",
        "defaultConnectionProfileId",
        "defaultImageProfileId",
        "defaultEmbeddingProfileId",
        "defaultPersonaId",
        "preferences",
    ];

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        for (key, style) in &self.tag_styles {
            if Uuid::try_parse(key).is_err() {
                checks.fail(format!("tagStyles.{key}"), "keys must be tag ids");
            } else if !style.is_object() {
                checks.fail(format!("tagStyles.{key}"), "must be an object");
            }
        }
        checks.0
    }

    fn references(&self) -> Vec<Reference> {
        [
            (
                "defaultConnectionProfileId",
                Collection::ConnectionProfiles,
                self.default_connection_profile_id,
            ),
            (
                "defaultImageProfileId",
                Collection::ImageProfiles,
                self.default_image_profile_id,
            ),
            (
                "defaultEmbeddingProfileId",
                Collection::EmbeddingProfiles,
                self.default_embedding_profile_id,
            ),
            (
                "defaultPersonaId",
                Collection::Personas,
                self.default_persona_id,
            ),
        ]
        .into_iter()
        .filter_map(|(field, collection, id)| {
            Some(Reference {
                field: field.to_owned(),
                collection,
                id: id?,
            })
        })
        .collect()
    }
}
