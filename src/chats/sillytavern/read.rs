//! One SillyTavern line into a position of the chat. What quillstore has a field for is
//! mapped (`mes` → `content`, `name` → `speakerName`, `is_user`/`is_system` → `role`,
//! `send_date` → the creation time, `extra.reasoning` → `reasoning`, `extra.token_count` →
//! `tokenCount`, `swipes`/`swipe_id` → a swipe group); the rest of the line stays verbatim in
//! the active member's `sillyTavernData`, and each `swipe_info` entry verbatim in its swipe's
//! `sillyTavernSwipeInfo`. The flags, `send_date` and `extra` stay there too, because their
//! exact form (absent or `false`, which date format) is part of what the export gives back.

use serde_json::{Map, Value};

use super::dates;
use crate::chats::import::{ImportedMessage, ImportedPosition, LineError};
use crate::model::Timestamp;
use crate::model::message::{Message, MessageType, Role};

/// The role a line's flags say: `is_user` wins (SillyTavern also sets `is_system` on hidden
/// messages), then `is_system`, else the character speaks.
pub fn role_of(line: &Map<String, Value>) -> Role {
    let flag = |key: &str| line.get(key).and_then(Value::as_bool).unwrap_or(false);
    if flag("is_user") {
        Role::User
    } else if flag("is_system") {
        Role::System
    } else {
        Role::Assistant
    }
}

/// The `reasoning` and `token_count` an `extra` object holds, as quillstore reads them.
pub fn mapped_extra(extra: Option<&Value>) -> (Option<String>, Option<u64>) {
    let field = |key: &str| extra.and_then(|extra| extra.get(key));
    (
        field("reasoning")
            .and_then(Value::as_str)
            .map(str::to_owned),
        field("token_count").and_then(Value::as_u64),
    )
}

/// Reads line `number`. `fallback` is the creation time a line without a readable
/// `send_date` gets (the previous message's, else the chat's).
pub fn read_line(
    number: usize,
    mut line: Map<String, Value>,
    fallback: Option<Timestamp>,
) -> Result<ImportedPosition, LineError> {
    let content = match line.remove("mes") {
        Some(Value::String(text)) => text,
        _ => return Err(LineError::at(number, "mes", "a string is required")),
    };
    let role = role_of(&line);
    let speaker_name = match line.remove("name") {
        Some(Value::String(name)) => Some(name),
        Some(other) => {
            line.insert("name".to_owned(), other);
            None
        }
        None => None,
    };
    let created_at = line.get("send_date").and_then(dates::parse).or(fallback);
    let swipes = take_swipes(number, &mut line)?;
    let (reasoning, token_count) = mapped_extra(line.get("extra"));
    let message = |content: String, reasoning, token_count, data, swipe_info| Message {
        kind: MessageType::Message,
        role,
        content,
        attachments: Vec::new(),
        token_count,
        raw_response: None,
        speaker_name: speaker_name.clone(),
        participant_id: None,
        reasoning,
        silly_tavern_data: data,
        silly_tavern_swipe_info: swipe_info,
    };
    let Some(Swipes {
        texts,
        active,
        info,
    }) = swipes
    else {
        let single = message(content, reasoning, token_count, Some(line), None);
        return Ok(ImportedPosition::single(ImportedMessage {
            message: single,
            created_at,
            line: number,
        }));
    };
    let mut info = info.map(Vec::into_iter);
    let mut line = Some(line);
    let mut members = Vec::with_capacity(texts.len());
    for (index, text) in texts.into_iter().enumerate() {
        let entry = info.as_mut().and_then(Iterator::next);
        let member = if index == active {
            // The line's own fields describe the active swipe; `mes` is its text.
            let data = line.take();
            ImportedMessage {
                message: message(content.clone(), reasoning.clone(), token_count, data, entry),
                created_at,
                line: number,
            }
        } else {
            let (reasoning, token_count) =
                mapped_extra(entry.as_ref().and_then(|e| e.get("extra")));
            let sent = entry
                .as_ref()
                .and_then(|entry| entry.get("send_date"))
                .and_then(dates::parse);
            ImportedMessage {
                message: message(text, reasoning, token_count, None, entry),
                created_at: sent.or(created_at),
                line: number,
            }
        };
        members.push(member);
    }
    Ok(ImportedPosition::group(members, active))
}

/// The alternatives of a line with a non-empty `swipes` array.
struct Swipes {
    texts: Vec<String>,
    active: usize,
    /// The `swipe_info` entries, when the line has that array.
    info: Option<Vec<Value>>,
}

/// Takes `swipes`, `swipe_id` and a non-empty array `swipe_info` out of the line. An empty
/// `swipes` array, or a `swipe_info` that is empty or not an array, stays in the line verbatim.
fn take_swipes(number: usize, line: &mut Map<String, Value>) -> Result<Option<Swipes>, LineError> {
    let texts: Vec<String> = match line.get("swipes") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if items.is_empty() => return Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| LineError::at(number, "swipes", "every swipe must be a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(LineError::at(
                number,
                "swipes",
                "expected an array of strings",
            ));
        }
    };
    let active = match line.get("swipe_id") {
        None | Some(Value::Null) => 0,
        Some(value) => value
            .as_u64()
            .and_then(|index| usize::try_from(index).ok())
            .filter(|index| *index < texts.len())
            .ok_or_else(|| LineError::at(number, "swipe_id", "must point at one of the swipes"))?,
    };
    line.remove("swipes");
    line.remove("swipe_id");
    let info = match line.get("swipe_info") {
        Some(Value::Array(entries)) if !entries.is_empty() => match line.remove("swipe_info") {
            Some(Value::Array(entries)) => Some(entries),
            _ => None,
        },
        _ => None,
    };
    Ok(Some(Swipes {
        texts,
        active,
        info,
    }))
}
