//! Personas: the user's own roles in a chat.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::common::{Checks, PhysicalDescription, tag_references};
use super::file::{file_references, link_removal};
use super::{Collection, Reference, Removal, Resource};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({"name": "Captain", "description": "the ship's captain"})))]
pub struct Persona {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality_traits: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_image_id: Option<Uuid>,
    #[serde(default)]
    pub tags: Vec<Uuid>,
    #[serde(default)]
    pub physical_descriptions: Vec<PhysicalDescription>,
    /// Opaque, kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub silly_tavern_data: Option<Map<String, Value>>,
}

impl Resource for Persona {
    const COLLECTION: Collection = Collection::Personas;
    const FIELDS: &'static [&'static str] = &[
        "name",
        "title",
        "description",
        "personalityTraits",
        "defaultImageId",
        "tags",
        "physicalDescriptions",
        "sillyTavernData",
    ];

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.name("name", &mut self.name, 200);
        checks.no_duplicates("tags", &self.tags);
        checks.physical_descriptions(&mut self.physical_descriptions);
        checks.0
    }

    fn references(&self) -> Vec<Reference> {
        let files = file_references(self.default_image_id, std::iter::empty());
        tag_references(&self.tags).chain(files).collect()
    }

    fn removals_on_delete(id: Uuid) -> Vec<(Collection, Removal)> {
        let links = Removal::ArrayObject {
            field: "personaLinks",
            key: "personaId",
            id,
        };
        let participants = Removal::ArrayObject {
            field: "participants",
            key: "personaId",
            id,
        };
        vec![
            (Collection::Characters, links),
            (Collection::Chats, participants),
            link_removal(id),
            (
                Collection::Memories,
                Removal::Scalar {
                    field: "personaId",
                    id,
                },
            ),
            (
                Collection::Settings,
                Removal::Scalar {
                    field: "defaultPersonaId",
                    id,
                },
            ),
        ]
    }
}
