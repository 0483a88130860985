//! Chats: a conversation between participants (characters and personas). Messages are not
//! part of the chat document; they live in their own store (one record per message).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::common::{Checks, tag_references};
use super::{Collection, Reference, Removal, Resource, Timestamp};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({"title": "First contact", "contextSummary": "The crew meets Aria."})))]
pub struct Chat {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 500, pattern = r"\S")]
    pub title: String,
    #[serde(default)]
    pub participants: Vec<Participant>,
    #[serde(default)]
    pub tags: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_summary: Option<String>,
    /// Opaque, kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub silly_tavern_metadata: Option<Map<String, Value>>,
    /// Maintained by the server from the chat's messages.
    #[serde(default)]
    #[schema(read_only, required = true)]
    pub message_count: u64,
    /// Maintained by the server: `createdAt` of the chat's last message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only, value_type = Option<String>, format = DateTime)]
    pub last_message_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantType {
    Character,
    Persona,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Participant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: ParticipantType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona_id: Option<Uuid>,
    /// The LLM connection profile this participant speaks through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_profile_id: Option<Uuid>,
    /// The image profile this participant's pictures are generated with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_profile_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt_override: Option<String>,
    #[serde(default)]
    pub display_order: i64,
    #[serde(default = "yes")]
    pub is_active: bool,
}

fn yes() -> bool {
    true
}

impl Resource for Chat {
    const COLLECTION: Collection = Collection::Chats;
    const FIELDS: &'static [&'static str] = &[
        "title",
        "participants",
        "tags",
        "contextSummary",
        "sillyTavernMetadata",
    ];
    const SERVER_FIELDS: &'static [&'static str] = &["messageCount", "lastMessageAt"];

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.name("title", &mut self.title, 500);
        checks.no_duplicates("tags", &self.tags);
        for (index, participant) in self.participants.iter_mut().enumerate() {
            participant.id.get_or_insert_with(super::ids::new_id);
            let field = format!("participants[{index}]");
            match participant.kind {
                ParticipantType::Character if participant.character_id.is_none() => {
                    checks.fail(
                        format!("{field}.characterId"),
                        "a character participant needs characterId",
                    );
                }
                ParticipantType::Persona if participant.persona_id.is_none() => {
                    checks.fail(
                        format!("{field}.personaId"),
                        "a persona participant needs personaId",
                    );
                }
                _ => {}
            }
            if participant.kind == ParticipantType::Character && participant.persona_id.is_some()
                || participant.kind == ParticipantType::Persona
                    && participant.character_id.is_some()
            {
                checks.fail(
                    field,
                    "a participant names either a character or a persona, as its type says",
                );
            }
        }
        checks.0
    }

    fn references(&self) -> Vec<Reference> {
        let participants =
            self.participants
                .iter()
                .enumerate()
                .filter_map(|(index, participant)| {
                    let (key, collection, id) = match participant.kind {
                        ParticipantType::Character => (
                            "characterId",
                            Collection::Characters,
                            participant.character_id?,
                        ),
                        ParticipantType::Persona => {
                            ("personaId", Collection::Personas, participant.persona_id?)
                        }
                    };
                    Some(Reference {
                        field: format!("participants[{index}].{key}"),
                        collection,
                        id,
                    })
                });
        let profiles = self
            .participants
            .iter()
            .enumerate()
            .flat_map(|(index, participant)| {
                [
                    (
                        "connectionProfileId",
                        Collection::ConnectionProfiles,
                        participant.connection_profile_id,
                    ),
                    (
                        "imageProfileId",
                        Collection::ImageProfiles,
                        participant.image_profile_id,
                    ),
                ]
                .into_iter()
                .filter_map(move |(key, collection, id)| {
                    Some(Reference {
                        field: format!("participants[{index}].{key}"),
                        collection,
                        id: id?,
                    })
                })
            });
        tag_references(&self.tags)
            .chain(participants)
            .chain(profiles)
            .collect()
    }

    fn removals_on_delete(id: Uuid) -> Vec<(Collection, Removal)> {
        let memories = Removal::Scalar {
            field: "chatId",
            id,
        };
        vec![
            super::file::link_removal(id),
            (Collection::Memories, memories),
        ]
    }
}
