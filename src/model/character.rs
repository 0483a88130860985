//! Characters: the AI side of a chat, with prompts, looks and links to personas.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::common::{Checks, PhysicalDescription, tag_references};
use super::file::{file_references, link_removal};
use super::{Collection, Reference, Removal, Resource};
use crate::error::FieldError;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({
    "name": "Aria",
    "title": "Starship navigator",
    "personality": "curious, dry humour",
    "firstMessage": "Course plotted. Where to?",
    "isFavorite": true,
    "physicalDescriptions": [{"name": "uniform", "shortPrompt": "navy flight suit"}]
})))]
pub struct Character {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example_dialogues: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub is_favorite: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_image_id: Option<Uuid>,
    #[serde(default)]
    pub tags: Vec<Uuid>,
    #[serde(default)]
    pub persona_links: Vec<PersonaLink>,
    #[serde(default)]
    pub avatar_overrides: Vec<AvatarOverride>,
    #[serde(default)]
    pub physical_descriptions: Vec<PhysicalDescription>,
    /// Opaque, kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub silly_tavern_data: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersonaLink {
    pub persona_id: Uuid,
    #[serde(default)]
    pub is_default: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvatarOverride {
    pub chat_id: Uuid,
    pub file_id: Uuid,
}

impl Resource for Character {
    const COLLECTION: Collection = Collection::Characters;
    const FIELDS: &'static [&'static str] = &[
        "name",
        "title",
        "description",
        "personality",
        "scenario",
        "firstMessage",
        "exampleDialogues",
        "systemPrompt",
        "isFavorite",
        "defaultImageId",
        "tags",
        "personaLinks",
        "avatarOverrides",
        "physicalDescriptions",
        "sillyTavernData",
    ];

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.name("name", &mut self.name, 200);
        checks.no_duplicates("tags", &self.tags);
        let linked: Vec<Uuid> = self
            .persona_links
            .iter()
            .map(|link| link.persona_id)
            .collect();
        checks.no_duplicates("personaLinks", &linked);
        if self
            .persona_links
            .iter()
            .filter(|link| link.is_default)
            .count()
            > 1
        {
            checks.fail(
                "personaLinks",
                "at most one persona link may be the default",
            );
        }
        checks.physical_descriptions(&mut self.physical_descriptions);
        checks.0
    }

    fn references(&self) -> Vec<Reference> {
        let personas = self
            .persona_links
            .iter()
            .enumerate()
            .map(|(index, link)| Reference {
                field: format!("personaLinks[{index}].personaId"),
                collection: Collection::Personas,
                id: link.persona_id,
            });
        let files = file_references(
            self.default_image_id,
            self.avatar_overrides.iter().map(|item| item.file_id),
        );
        tag_references(&self.tags)
            .chain(personas)
            .chain(files)
            .collect()
    }

    fn removals_on_delete(id: Uuid) -> Vec<(Collection, Removal)> {
        vec![
            (
                Collection::Chats,
                Removal::ArrayObject {
                    field: "participants",
                    key: "characterId",
                    id,
                },
            ),
            link_removal(id),
            (
                Collection::Memories,
                Removal::Owned {
                    field: "characterId",
                    id,
                },
            ),
        ]
    }
}
