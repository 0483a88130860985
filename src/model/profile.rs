//! Profiles: how the app reaches a model. LLM connection profiles, image generation profiles
//! and embedding profiles have one shape (a provider, a model, an optional base URL and API
//! key, free-form parameters) and one rule: at most one default per user and kind.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::common::{Checks, tag_references};
use super::{Collection, Reference, Removal, Resource};

/// The client-owned fields every profile has.
const PROFILE_FIELDS: &[&str] = &[
    "name",
    "provider",
    "modelName",
    "baseUrl",
    "apiKeyId",
    "parameters",
    "isDefault",
    "tags",
];

/// Defines one kind of profile: the struct, its schema and its [`Resource`] rules.
macro_rules! profile {
    ($(#[$meta:meta])* $name:ident, $collection:ident, $example:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        #[schema(examples($example))]
        pub struct $name {
            #[serde(default)]
            #[schema(required = true, min_length = 1, max_length = 200, pattern = r"\S")]
            pub name: String,
            /// The provider, e.g. `OPENAI`, `ANTHROPIC`, `OLLAMA`.
            #[serde(default)]
            #[schema(required = true, min_length = 1, max_length = 100)]
            pub provider: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schema(max_length = 200)]
            pub model_name: Option<String>,
            /// An `http(s)://` URL of a self-hosted or proxy endpoint.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schema(max_length = 2000)]
            pub base_url: Option<String>,
            /// The API key (`/api/api-keys`) this profile uses.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub api_key_id: Option<Uuid>,
            /// Free-form: temperature, max tokens, size, steps...
            #[serde(default)]
            #[schema(value_type = Object)]
            pub parameters: Map<String, Value>,
            /// At most one profile of this kind per user is the default: setting it here
            /// clears it on the others.
            #[serde(default)]
            pub is_default: bool,
            #[serde(default)]
            pub tags: Vec<Uuid>,
        }

        impl Resource for $name {
            const COLLECTION: Collection = Collection::$collection;
            const FIELDS: &'static [&'static str] = PROFILE_FIELDS;
            const EXCLUSIVE_FLAG: Option<&'static str> = Some("isDefault");

            fn validate(&mut self) -> Vec<FieldError> {
                let mut checks = Checks::default();
                checks.name("name", &mut self.name, 200);
                checks.name("provider", &mut self.provider, 100);
                check_base_url(&mut checks, self.base_url.as_deref());
                checks.no_duplicates("tags", &self.tags);
                checks.0
            }

            fn references(&self) -> Vec<Reference> {
                let key = self.api_key_id.map(|id| Reference {
                    field: "apiKeyId".to_owned(),
                    collection: Collection::ApiKeys,
                    id,
                });
                key.into_iter().chain(tag_references(&self.tags)).collect()
            }

            fn removals_on_delete(id: Uuid) -> Vec<(Collection, Removal)> {
                profile_removals(Collection::$collection, id)
            }
        }
    };
}

profile!(
    /// An LLM connection profile.
    ConnectionProfile,
    ConnectionProfiles,
    json!({"name": "Creative", "provider": "OPENAI", "modelName": "gpt-4o",
           "parameters": {"temperature": 0.9, "maxTokens": 1024}, "isDefault": true})
);
profile!(
    /// An image generation profile.
    ImageProfile,
    ImageProfiles,
    json!({"name": "Portraits", "provider": "OPENAI", "modelName": "gpt-image-1",
           "parameters": {"size": "1024x1024"}})
);
profile!(
    /// An embedding model profile.
    EmbeddingProfile,
    EmbeddingProfiles,
    json!({"name": "Small", "provider": "OPENAI", "modelName": "text-embedding-3-small",
           "parameters": {"dimensions": 1536}})
);

fn check_base_url(checks: &mut Checks, url: Option<&str>) {
    let Some(url) = url else { return };
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if !scheme_ok || url.len() > 2000 || url.chars().any(char::is_whitespace) {
        checks.fail("baseUrl", "must be an http:// or https:// URL");
    }
}

/// What a deleted profile is removed from: the chat participants and the settings naming it.
fn profile_removals(collection: Collection, id: Uuid) -> Vec<(Collection, Removal)> {
    let settings = |field| (Collection::Settings, Removal::Scalar { field, id });
    let participants = |key| {
        (
            Collection::Chats,
            Removal::ArrayObjectKey {
                field: "participants",
                key,
                id,
            },
        )
    };
    match collection {
        Collection::ConnectionProfiles => vec![
            participants("connectionProfileId"),
            settings("defaultConnectionProfileId"),
        ],
        Collection::ImageProfiles => vec![
            participants("imageProfileId"),
            settings("defaultImageProfileId"),
        ],
        _ => vec![settings("defaultEmbeddingProfileId")],
    }
}
