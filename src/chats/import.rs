//! What an import becomes before it is stored: the new chat's fields and its positions in
//! order, each a message or the members of a swipe group. Both import formats (ours and
//! SillyTavern's) produce this; the handler checks references and commits it in one batch.

use serde_json::{Map, Value};

use super::message::Swipe;
use crate::model::message::Message;
use crate::model::{Timestamp, ids};
use crate::store::ORIGINAL_CREATED_AT;

/// A problem with one line of an import (numbered from 1), and the field at fault if any.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    pub line: usize,
    pub field: Option<String>,
    pub message: String,
}

impl LineError {
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            field: None,
            message: message.into(),
        }
    }

    pub fn at(line: usize, field: &str, message: impl Into<String>) -> Self {
        Self {
            line,
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

/// A parsed import: the new chat's fields, when it was first created, and its positions.
pub struct ParsedImport {
    pub chat: Map<String, Value>,
    pub created_at: Option<Timestamp>,
    pub positions: Vec<ImportedPosition>,
}

/// One member of an imported position, with the time it was first written.
pub struct ImportedMessage {
    pub message: Message,
    pub created_at: Option<Timestamp>,
    /// Its input line, for error messages.
    pub line: usize,
}

/// One position of the imported chat: a message, or the members of a swipe group.
pub struct ImportedPosition {
    pub members: Vec<ImportedMessage>,
    /// `swipeIndex` of each member, when the position is a swipe group.
    pub swipe_indices: Option<Vec<u64>>,
    /// Which member is the active one.
    pub active: usize,
}

impl ImportedPosition {
    pub fn single(member: ImportedMessage) -> Self {
        Self {
            members: vec![member],
            swipe_indices: None,
            active: 0,
        }
    }

    /// A swipe group of `members` at indices 0, 1, ...
    pub fn group(members: Vec<ImportedMessage>, active: usize) -> Self {
        let indices = (0..members.len() as u64).collect();
        Self {
            members,
            swipe_indices: Some(indices),
            active,
        }
    }

    /// The bodies to store: client-owned fields, fresh swipe group fields for a group, and
    /// the original creation time (which the store's stamp takes out of the body).
    pub fn into_bodies(self) -> Vec<Map<String, Value>> {
        let group = self.swipe_indices.as_ref().map(|_| ids::new_id());
        self.members
            .into_iter()
            .enumerate()
            .map(|(position, member)| {
                let mut body = match serde_json::to_value(&member.message) {
                    Ok(Value::Object(body)) => body,
                    _ => Map::new(),
                };
                if let (Some(group), Some(indices)) = (group, &self.swipe_indices) {
                    Swipe {
                        group,
                        index: indices[position],
                        active: position == self.active,
                    }
                    .write_to(&mut body);
                }
                if let Some(created_at) = member.created_at {
                    body.insert(
                        ORIGINAL_CREATED_AT.to_owned(),
                        Value::String(created_at.to_string()),
                    );
                }
                body
            })
            .collect()
    }
}
