//! Backend-neutral message operations: atomic batches of changes to one chat's messages and
//! pages by `seq`. Swipe rules live above this (in the HTTP layer's message service); the
//! store only guarantees atomicity, version checks and `seq` assignment.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{Document, UserId};

/// One change in an atomic batch.
#[derive(Debug, Clone)]
pub enum MessageChange {
    /// A new position at the end of the chat, with the next `seq`. More than one member makes
    /// a swipe group (the caller sets the swipe fields).
    Append { members: Vec<Map<String, Value>> },
    /// A new member at the existing position `seq` (a swipe); the caller sets the swipe fields.
    Insert { seq: u64, body: Map<String, Value> },
    /// A new body for a message still at `expected_version`.
    Replace {
        id: Uuid,
        expected_version: u64,
        body: Map<String, Value>,
    },
    /// Removes a message still at `expected_version`.
    Delete { id: Uuid, expected_version: u64 },
}

/// A page of a chat's messages. `after`/`before` are positions (`seq`); `latest` asks for the
/// last positions. Items always come in ascending (`seq`, `swipeIndex`) order.
#[derive(Debug, Clone)]
pub struct MessageQuery {
    pub user: UserId,
    pub chat_id: Uuid,
    pub after: Option<u64>,
    pub before: Option<u64>,
    pub latest: bool,
    /// Number of positions.
    pub limit: usize,
    pub include_swipes: bool,
}

#[derive(Debug, Clone)]
pub struct MessagePage {
    pub items: Vec<Document>,
    /// More positions exist in the direction of the walk.
    pub has_more: bool,
}

/// What the server maintains on a chat from its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatStats {
    pub message_count: u64,
    pub last_message_at: Option<crate::model::Timestamp>,
}

impl ChatStats {
    pub fn apply(&self, body: &mut Map<String, Value>) {
        body.insert("messageCount".to_owned(), Value::from(self.message_count));
        match self.last_message_at {
            Some(at) => body.insert("lastMessageAt".to_owned(), Value::String(at.to_string())),
            None => body.remove("lastMessageAt"),
        };
    }
}
