//! Chat export and import formats, as JSON Lines.
//!
//! Ours: a header `{"type": "quillstore-chat", "version": 1, "chat": {...}}`, then one message
//! per line in (`seq`, `swipeIndex`) order, swipe members included. SillyTavern: a header with
//! `user_name`, `character_name`, `chat_metadata`, then lines with `name`, `is_user`, `mes`,
//! `send_date`, `swipes`, `swipe_id`.

use axum::body::Bytes;
use serde_json::{Map, Value, json};

use super::resource::{check_fields, parse, to_body};
use crate::error::{ApiError, FieldError, Result};
use crate::model::chat::Chat;
use crate::model::message::{Message, Role};
use crate::model::{Document, Resource, SERVER_OWNED_FIELDS, ids};

pub const EXPORT_FORMAT: &str = "application/x-ndjson";
const FORMAT_NAME: &str = "quillstore-chat";
const FORMAT_VERSION: u64 = 1;

pub fn export_header(chat: &Document) -> Bytes {
    line(&json!({"type": FORMAT_NAME, "version": FORMAT_VERSION, "chat": chat}))
}

pub fn export_line(message: &Document) -> Bytes {
    line(&json!(message))
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

pub fn seq_of(message: &Document) -> u64 {
    message
        .body
        .get("seq")
        .and_then(Value::as_u64)
        .unwrap_or_default()
}

/// A parsed import: the new chat's fields and its positions in order.
pub struct ParsedImport {
    pub chat: Map<String, Value>,
    pub positions: Vec<ImportedPosition>,
}

/// One position of the imported chat: a message, or the members of a swipe group.
pub struct ImportedPosition {
    pub members: Vec<Message>,
    /// The input line of each member, for error messages.
    pub lines: Vec<usize>,
    /// `swipeIndex` of each member, when the position is a swipe group.
    pub swipe_indices: Option<Vec<u64>>,
    pub active: usize,
}

impl ImportedPosition {
    fn single(message: Message, line: usize) -> Self {
        Self {
            members: vec![message],
            lines: vec![line],
            swipe_indices: None,
            active: 0,
        }
    }

    /// The bodies to store, with fresh swipe group fields for a group.
    pub fn into_bodies(self) -> Vec<Map<String, Value>> {
        let group = self
            .swipe_indices
            .as_ref()
            .map(|_| ids::new_id().to_string());
        self.members
            .iter()
            .enumerate()
            .map(|(position, message)| {
                let mut body = to_body(message).unwrap_or_default();
                if let (Some(group), Some(indices)) = (&group, &self.swipe_indices) {
                    body.insert("swipeGroupId".to_owned(), Value::String(group.clone()));
                    body.insert("swipeIndex".to_owned(), Value::from(indices[position]));
                    body.insert(
                        "swipeActive".to_owned(),
                        Value::Bool(position == self.active),
                    );
                }
                body
            })
            .collect()
    }
}

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
            let fields: Vec<FieldError> = details
                .and_then(|details| serde_json::from_value::<Vec<Map<String, Value>>>(details).ok())
                .map(|items| {
                    items
                        .iter()
                        .map(|item| {
                            let field = item
                                .get("field")
                                .and_then(Value::as_str)
                                .unwrap_or_default();
                            let text = item
                                .get("message")
                                .and_then(Value::as_str)
                                .unwrap_or(&message);
                            FieldError::new(prefix(field), text)
                        })
                        .collect()
                })
                .unwrap_or_else(|| vec![FieldError::new(prefix(""), message.clone())]);
            ApiError::Validation(fields)
        }
        other => other,
    }
}

fn invalid(number: usize, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError::new(format!("line {number}"), message)])
}

/// Reads an import body; any problem is a 422 naming its line.
pub fn parse_import(bytes: &[u8]) -> Result<ParsedImport> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| invalid(1, "the import is not UTF-8 text"))?;
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => Ok((number, object)),
            Ok(_) => Err(invalid(number, "each line must be a JSON object")),
            Err(error) => Err(invalid(number, format!("malformed JSON: {error}"))),
        });
    let (header_line, header) = lines
        .next()
        .ok_or_else(|| invalid(1, "the import is empty"))??;
    let rest: Vec<(usize, Map<String, Value>)> = lines.collect::<Result<_>>()?;
    if header.get("type").and_then(Value::as_str) == Some(FORMAT_NAME) {
        parse_ours(header_line, header, rest)
    } else if ["user_name", "character_name", "chat_metadata"]
        .iter()
        .any(|key| header.contains_key(*key))
    {
        parse_silly_tavern(header, rest)
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
        for field in SERVER_OWNED_FIELDS.iter().chain(Message::SERVER_FIELDS) {
            object.remove(*field);
        }
        check_fields::<Message>(&object).map_err(|error| at_line(number, error))?;
        let message: Message = parse(object).map_err(|error| at_line(number, error))?;
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
                position.members.push(message);
                position.lines.push(number);
            }
            Some((last_seq, _)) if *last_seq > seq => {
                return Err(invalid(number, "messages must come in seq order"));
            }
            _ => {
                let mut position = ImportedPosition::single(message, number);
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
                position.lines[0],
                "a swipe group needs exactly one member with swipeActive",
            ));
        }
    }
    Ok(ParsedImport {
        chat,
        positions: positions
            .into_iter()
            .map(|(_, position)| position)
            .collect(),
    })
}

fn parse_silly_tavern(
    header: Map<String, Value>,
    lines: Vec<(usize, Map<String, Value>)>,
) -> Result<ParsedImport> {
    let text = |key: &str| header.get(key).and_then(Value::as_str).map(str::to_owned);
    let title = match text("character_name") {
        Some(name) if !name.trim().is_empty() => format!("Chat with {}", name.trim()),
        _ => "Imported chat".to_owned(),
    };
    let mut metadata = Map::new();
    for key in [
        "user_name",
        "character_name",
        "create_date",
        "chat_metadata",
    ] {
        if let Some(value) = header.get(key) {
            metadata.insert(key.to_owned(), value.clone());
        }
    }
    let mut chat = Map::new();
    chat.insert(
        "title".to_owned(),
        Value::String(title.chars().take(500).collect()),
    );
    chat.insert("sillyTavernMetadata".to_owned(), Value::Object(metadata));
    let mut positions = Vec::new();
    for (number, object) in lines {
        let flag = |key: &str| object.get(key).and_then(Value::as_bool).unwrap_or(false);
        let role = if flag("is_user") {
            Role::User
        } else if flag("is_system") {
            Role::System
        } else {
            Role::Assistant
        };
        let content = object
            .get("mes")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(number, "mes: a string is required"))?;
        let message = |content: &str| Message {
            kind: Default::default(),
            role,
            content: content.to_owned(),
            attachments: Vec::new(),
            token_count: None,
            raw_response: None,
        };
        let swipes: Vec<&str> = match object.get("swipes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .ok_or_else(|| invalid(number, "swipes: every swipe must be a string"))
                })
                .collect::<Result<_>>()?,
            Some(_) => return Err(invalid(number, "swipes: expected an array of strings")),
        };
        if swipes.len() > 1 {
            let active = object.get("swipe_id").and_then(Value::as_u64).unwrap_or(0) as usize;
            if active >= swipes.len() {
                return Err(invalid(number, "swipe_id: points past the swipes"));
            }
            positions.push(ImportedPosition {
                members: swipes.iter().map(|swipe| message(swipe)).collect(),
                lines: vec![number; swipes.len()],
                swipe_indices: Some((0..swipes.len() as u64).collect()),
                active,
            });
        } else {
            positions.push(ImportedPosition::single(message(content), number));
        }
    }
    Ok(ParsedImport { chat, positions })
}
