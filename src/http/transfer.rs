//! Chat export and import formats, as JSON Lines.
//!
//! Ours: a header `{"type": "quillstore-chat", "version": 1, "chat": {...}}`, then one message
//! per line in (`seq`, `swipeIndex`) order, swipe members included. SillyTavern: a header with
//! `user_name`, `character_name`, `chat_metadata`, then lines with `name`, `is_user`, `mes`,
//! `send_date`, `swipes`, `swipe_id`.

use serde_json::{Map, Value};

use super::resource::{check_fields, parse};
use crate::chats::import::{ImportedMessage, ImportedPosition, LineError, ParsedImport};
use crate::chats::sillytavern::{self, SillyTavernChat};
use crate::error::{ApiError, FieldError, Result};
use crate::model::chat::Chat;
use crate::model::message::Message;
use crate::model::{Resource, SERVER_OWNED_FIELDS, Timestamp};

pub use crate::chats::format::{EXPORT_FORMAT, export_header, export_line, seq_of};
use crate::chats::format::{FORMAT_NAME, FORMAT_VERSION};

/// Names the input line in a client error, as a 422.
pub fn at_line(number: usize, error: ApiError) -> ApiError {
    let prefix = |field: &str| {
        if field.is_empty() || field == "." {
            format!("line {number}")
        } else {
            format!("line {number}: {field}")
        }
    };
    match error {
        ApiError::Validation(fields) => ApiError::Validation(
            fields
                .into_iter()
                .map(|error| FieldError::new(prefix(&error.field), error.message))
                .collect(),
        ),
        ApiError::BadRequest { message, details } => {
            let fields: Vec<FieldError> = if details.is_empty() {
                vec![FieldError::new(prefix(""), message)]
            } else {
                details
                    .into_iter()
                    .map(|item| FieldError::new(prefix(&item.field), item.message))
                    .collect()
            };
            ApiError::Validation(fields)
        }
        other => other,
    }
}

fn invalid(number: usize, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError::new(format!("line {number}"), message)])
}

impl From<LineError> for ApiError {
    fn from(error: LineError) -> Self {
        let field = match &error.field {
            Some(field) => format!("line {}: {field}", error.line),
            None => format!("line {}", error.line),
        };
        ApiError::Validation(vec![FieldError::new(field, error.message)])
    }
}

/// An import body, read: our own export, or a SillyTavern chat whose speakers are still to
/// be matched to participants.
pub enum Import {
    Ours(ParsedImport),
    SillyTavern(SillyTavernChat),
}

/// Reads an import body; any problem is a 422 naming its line. A leading UTF-8 byte order
/// mark (which Windows editors add) is skipped.
pub fn parse_import(bytes: &[u8]) -> Result<Import> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text =
        std::str::from_utf8(bytes).map_err(|_| invalid(1, "the import is not UTF-8 text"))?;
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => Ok((number, object)),
            Ok(_) => Err(LineError::new(number, "each line must be a JSON object")),
            Err(error) => Err(LineError::new(number, format!("malformed JSON: {error}"))),
        });
    let (header_line, header) = lines
        .next()
        .ok_or_else(|| invalid(1, "the import is empty"))??;
    if header.get("type").and_then(Value::as_str) == Some(FORMAT_NAME) {
        let rest: Vec<(usize, Map<String, Value>)> =
            lines.collect::<std::result::Result<_, LineError>>()?;
        Ok(Import::Ours(parse_ours(header_line, header, rest)?))
    } else if sillytavern::is_header(&header) {
        Ok(Import::SillyTavern(sillytavern::parse(
            Some(header),
            lines,
        )?))
    } else if sillytavern::is_message(&header) {
        // Group chats from SillyTavern 1.12 and older have no header line.
        let all = std::iter::once(Ok((header_line, header))).chain(lines);
        Ok(Import::SillyTavern(sillytavern::parse(None, all)?))
    } else {
        Err(invalid(
            header_line,
            "unrecognized header: expected a quillstore export or a SillyTavern chat",
        ))
    }
}

fn parse_ours(
    header_line: usize,
    header: Map<String, Value>,
    lines: Vec<(usize, Map<String, Value>)>,
) -> Result<ParsedImport> {
    let version = header.get("version").and_then(Value::as_u64);
    if version != Some(FORMAT_VERSION) {
        return Err(invalid(
            header_line,
            format!("unsupported export version {version:?}"),
        ));
    }
    let Some(Value::Object(mut chat)) = header.get("chat").cloned() else {
        return Err(invalid(header_line, "the header has no chat object"));
    };
    // Creation times come back (chat and messages); the other server-owned fields are new.
    let created_at = created_at_of(&chat);
    for field in SERVER_OWNED_FIELDS.iter().chain(Chat::SERVER_FIELDS) {
        chat.remove(*field);
    }
    let mut positions: Vec<(u64, ImportedPosition)> = Vec::new();
    // How many members of each position say they are the active swipe.
    let mut active_counts: Vec<usize> = Vec::new();
    for (number, mut object) in lines {
        let seq = object
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid(number, "seq: a positive integer is required"))?;
        let group = object
            .get("swipeGroupId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let index = object
            .get("swipeIndex")
            .and_then(Value::as_u64)
            .unwrap_or_default();
        let active = object
            .get("swipeActive")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let member_created_at = created_at_of(&object);
        for field in SERVER_OWNED_FIELDS.iter().chain(Message::SERVER_FIELDS) {
            object.remove(*field);
        }
        check_fields::<Message>(&object).map_err(|error| at_line(number, error))?;
        let message: Message = parse(object).map_err(|error| at_line(number, error))?;
        let member = ImportedMessage {
            message,
            created_at: member_created_at,
            line: number,
        };
        match positions.last_mut() {
            Some((last_seq, position)) if *last_seq == seq => {
                let (Some(indices), Some(_)) = (position.swipe_indices.as_mut(), group) else {
                    return Err(invalid(
                        number,
                        format!("seq {seq} repeats outside a swipe group"),
                    ));
                };
                if indices.last().is_some_and(|last| *last >= index) {
                    return Err(invalid(
                        number,
                        "swipeIndex must increase within a swipe group",
                    ));
                }
                if active {
                    position.active = position.members.len();
                }
                *active_counts.last_mut().unwrap_or(&mut 0) += usize::from(active);
                indices.push(index);
                position.members.push(member);
            }
            Some((last_seq, _)) if *last_seq > seq => {
                return Err(invalid(number, "messages must come in seq order"));
            }
            _ => {
                let mut position = ImportedPosition::single(member);
                if group.is_some() {
                    position.swipe_indices = Some(vec![index]);
                }
                positions.push((seq, position));
                active_counts.push(usize::from(active));
            }
        }
    }
    for ((_, position), active) in positions.iter().zip(&active_counts) {
        if position.swipe_indices.is_some() && *active != 1 {
            return Err(invalid(
                position.members[0].line,
                "a swipe group needs exactly one member with swipeActive",
            ));
        }
    }
    Ok(ParsedImport {
        chat,
        created_at,
        positions: positions
            .into_iter()
            .map(|(_, position)| position)
            .collect(),
    })
}

/// The `createdAt` an exported document carries, if it is a timestamp.
fn created_at_of(object: &Map<String, Value>) -> Option<Timestamp> {
    object
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse)
}
