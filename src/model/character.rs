//! Characters: the AI side of a chat, with prompts, looks and links to personas.

use std::collections::BTreeMap;

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
    /// Card `alternate_greetings`: other first messages to choose from.
    #[serde(default)]
    pub alternate_greetings: Vec<String>,
    /// Card `group_only_greetings` (V3): first messages used only in group chats.
    #[serde(default)]
    pub group_only_greetings: Vec<String>,
    /// Card `creator_notes`: notes for humans, never sent to a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_notes: Option<String>,
    /// Card `creator_notes_multilingual` (V3): notes by ISO 639-1 language code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_notes_multilingual: Option<BTreeMap<String, String>>,
    /// Card `post_history_instructions`: a prompt placed after the chat history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_history_instructions: Option<String>,
    /// Card `creator`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// Card `character_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character_version: Option<String>,
    /// Card `nickname` (V3): the name used in `{{char}}` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Card `source` (V3): where the card came from (URLs or ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Vec<String>>,
    /// Card `creation_date` (V3), Unix seconds: when the card was made, not this document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_creation_date: Option<i64>,
    /// Card `modification_date` (V3), Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_modification_date: Option<i64>,
    /// Card `extensions`, kept verbatim: apps store their own data here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<Map<String, Value>>,
    /// Card `assets` (V3): icons, backgrounds, emotions and other files of the card.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<CardAsset>,
    /// The lorebook embedded in the card (`character_book`), stored as a lorebook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lorebook_id: Option<Uuid>,
    /// Keys of an imported card that no field above holds, kept verbatim for export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_card_keys: Option<UnknownCardKeys>,
}

/// One asset of a V3 card. `uri` is kept as the card had it (`embeded://path`,
/// `ccdefault:`, `https://...`, a data URI); an embedded asset's bytes are the file `fileId`.
/// Remote URIs are references only: the server never fetches them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CardAsset {
    #[serde(rename = "type")]
    pub kind: String,
    pub uri: String,
    pub name: String,
    pub ext: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<Uuid>,
}

/// Keys of a card that quillstore has no field for: at the top level (`card`, e.g. the V1
/// mirror's `avatar` or `chat`) and inside `data` (`data`), each kept verbatim.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnknownCardKeys {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub card: Map<String, Value>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
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
        "alternateGreetings",
        "groupOnlyGreetings",
        "creatorNotes",
        "creatorNotesMultilingual",
        "postHistoryInstructions",
        "creator",
        "characterVersion",
        "nickname",
        "source",
        "cardCreationDate",
        "cardModificationDate",
        "extensions",
        "assets",
        "lorebookId",
        "unknownCardKeys",
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
        let assets = self.assets.iter().enumerate().filter_map(|(index, asset)| {
            Some(Reference {
                field: format!("assets[{index}].fileId"),
                collection: Collection::Files,
                id: asset.file_id?,
            })
        });
        let lorebook = self.lorebook_id.map(|id| Reference {
            field: "lorebookId".to_owned(),
            collection: Collection::Lorebooks,
            id,
        });
        tag_references(&self.tags)
            .chain(personas)
            .chain(files)
            .chain(assets)
            .chain(lorebook)
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
