//! SillyTavern (and TavernAI) chat files, both ways, as pure functions. A file is JSON Lines:
//! a header (`user_name`, `character_name`, `create_date`, `chat_metadata`, and whatever else
//! the writer put there; group chats from SillyTavern 1.12 and older have none), then one line
//! per message. Import keeps every field of every line (mapped, or verbatim in the message's
//! `sillyTavernData`, the chat's `sillyTavernMetadata`), so that [`write`] gives the same
//! lines back, JSON-equal, for a chat nobody changed since; what was changed in quillstore
//! wins over the stored originals.

mod cast;
pub mod dates;
mod read;
pub mod write;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

pub use self::cast::Cast;
use super::import::{ImportedPosition, LineError};
use crate::model::Timestamp;
use crate::model::message::Role;

/// The name current SillyTavern writes in a header's `user_name`/`character_name` (group
/// chats, and every chat since 1.13): it names nobody.
pub const UNUSED_NAME: &str = "unused";

/// A SillyTavern chat file read into positions, before speakers are matched to participants.
pub struct SillyTavernChat {
    /// The header line verbatim; `None` for a file without one.
    pub header: Option<Map<String, Value>>,
    pub created_at: Option<Timestamp>,
    pub positions: Vec<ImportedPosition>,
}

/// Whether a first line is a SillyTavern header.
pub fn is_header(line: &Map<String, Value>) -> bool {
    ["user_name", "character_name", "chat_metadata"]
        .iter()
        .any(|key| line.contains_key(*key))
}

/// Whether a first line is a SillyTavern message (a file without a header starts with one).
pub fn is_message(line: &Map<String, Value>) -> bool {
    line.get("mes").is_some_and(Value::is_string)
}

/// Reads a file's header (if it has one) and its numbered message lines, one at a time (a
/// line's JSON is dropped once it became a position, so a large file is held about once).
pub fn parse(
    header: Option<Map<String, Value>>,
    lines: impl IntoIterator<Item = Result<(usize, Map<String, Value>), LineError>>,
) -> Result<SillyTavernChat, LineError> {
    let header_date = header
        .as_ref()
        .and_then(|header| header.get("create_date"))
        .and_then(dates::parse);
    let mut previous = header_date;
    let mut positions = Vec::new();
    for line in lines {
        let (number, line) = line?;
        let position = read::read_line(number, line, previous)?;
        previous = position.members[position.active].created_at.or(previous);
        positions.push(position);
    }
    let first_message = positions
        .first()
        .and_then(|position| position.members[position.active].created_at);
    Ok(SillyTavernChat {
        header,
        created_at: header_date.or(first_message),
        positions,
    })
}

impl SillyTavernChat {
    /// The characters the file names, in order of first appearance: the header's
    /// `character_name` (unless "unused") and `character_names`, then every name that speaks
    /// as a character.
    pub fn character_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            let name = name.trim();
            if !name.is_empty()
                && name != UNUSED_NAME
                && !names.iter().any(|known| known.eq_ignore_ascii_case(name))
            {
                names.push(name.to_owned());
            }
        };
        if let Some(header) = &self.header {
            if let Some(name) = header.get("character_name").and_then(Value::as_str) {
                add(name);
            }
            for name in header
                .get("character_names")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                add(name);
            }
        }
        for position in &self.positions {
            let message = &position.members[position.active].message;
            if message.role == Role::Assistant
                && let Some(name) = &message.speaker_name
            {
                add(name);
            }
        }
        names
    }

    /// The user's name: the header's `user_name` (unless "unused"), else the first user line's.
    pub fn user_name(&self) -> Option<String> {
        let from_header = self
            .header
            .as_ref()
            .and_then(|header| header.get("user_name"))
            .and_then(Value::as_str)
            .filter(|name| *name != UNUSED_NAME && !name.trim().is_empty());
        from_header.map(str::to_owned).or_else(|| {
            self.positions
                .iter()
                .map(|position| &position.members[position.active].message)
                .find(|message| message.role == Role::User)
                .and_then(|message| message.speaker_name.clone())
        })
    }
}
