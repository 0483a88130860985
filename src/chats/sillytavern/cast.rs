//! Who is who in an imported SillyTavern chat: the characters and persona the importer named
//! or whose names matched, made into the chat's participants, and each message pointed at the
//! participant who wrote it.

use std::collections::HashMap;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::SillyTavernChat;
use crate::chats::import::ParsedImport;
use crate::model::chat::{Participant, ParticipantType};
use crate::model::ids;
use crate::model::message::Role;

/// The longest chat title, in characters.
const MAX_TITLE: usize = 500;
/// How many character names a derived title lists before "and N more".
const TITLE_NAMES: usize = 3;

/// What the importer asked for and what the user's own documents matched.
#[derive(Debug, Default, Clone)]
pub struct Cast {
    /// `?title=`: wins over a derived title.
    pub title: Option<String>,
    /// `?characterId=`: a participant, and the speaker of every character line of a chat with
    /// one character.
    pub character: Option<Uuid>,
    /// `?personaId=` or the persona whose name is the user's: the speaker of user lines.
    pub persona: Option<Uuid>,
    /// The user's characters by lowercased name (only names that matched exactly one).
    pub characters_by_name: HashMap<String, Uuid>,
}

impl SillyTavernChat {
    /// The chat to create: title, participants (one per character, then the persona), the
    /// header as `sillyTavernMetadata` (an empty object for a file without a header), and
    /// every message pointed at its participant.
    pub fn into_import(mut self, cast: &Cast) -> ParsedImport {
        let names = self.character_names();
        let mut participants: Vec<Participant> = Vec::new();
        let mut add = |kind, character_id: Option<Uuid>, persona_id: Option<Uuid>| {
            let existing = participants.iter().find(|participant| {
                participant.character_id == character_id && participant.persona_id == persona_id
            });
            if let Some(existing) = existing {
                return existing.id;
            }
            let id = Some(ids::new_id());
            participants.push(Participant {
                id,
                kind,
                character_id,
                persona_id,
                connection_profile_id: None,
                image_profile_id: None,
                system_prompt_override: None,
                display_order: participants.len() as i64,
                is_active: true,
            });
            id
        };
        let explicit = cast
            .character
            .and_then(|id| add(ParticipantType::Character, Some(id), None));
        let mut speakers: HashMap<String, Uuid> = HashMap::new();
        for name in &names {
            if let Some(character) = cast.characters_by_name.get(&name.to_lowercase())
                && let Some(participant) = add(ParticipantType::Character, Some(*character), None)
            {
                speakers.insert(name.to_lowercase(), participant);
            }
        }
        let persona = cast
            .persona
            .and_then(|id| add(ParticipantType::Persona, None, Some(id)));
        let single_character = names.len() <= 1;
        for position in &mut self.positions {
            for member in &mut position.members {
                let message = &mut member.message;
                message.participant_id = match message.role {
                    Role::User => persona,
                    Role::Assistant => message
                        .speaker_name
                        .as_ref()
                        .and_then(|name| speakers.get(&name.trim().to_lowercase()).copied())
                        .or(explicit.filter(|_| single_character)),
                    _ => None,
                };
            }
        }
        let title = cast.title.clone().unwrap_or_else(|| derived_title(&names));
        let mut chat = Map::new();
        chat.insert(
            "title".to_owned(),
            Value::String(title.chars().take(MAX_TITLE).collect()),
        );
        chat.insert(
            "participants".to_owned(),
            serde_json::to_value(&participants).unwrap_or(Value::Array(Vec::new())),
        );
        chat.insert(
            "sillyTavernMetadata".to_owned(),
            Value::Object(self.header.unwrap_or_default()),
        );
        ParsedImport {
            chat,
            created_at: self.created_at,
            positions: self.positions,
        }
    }
}

/// "Chat with A", "Chat with A, B and C", "Chat with A, B, C and 2 more", "Imported chat".
fn derived_title(names: &[String]) -> String {
    match names {
        [] => "Imported chat".to_owned(),
        [one] => format!("Chat with {one}"),
        _ if names.len() <= TITLE_NAMES => {
            let (last, rest) = names.split_last().unwrap_or((&names[0], &[]));
            format!("Chat with {} and {last}", rest.join(", "))
        }
        _ => format!(
            "Chat with {} and {} more",
            names[..TITLE_NAMES].join(", "),
            names.len() - TITLE_NAMES
        ),
    }
}
