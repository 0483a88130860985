//! Backend-neutral message operations: atomic batches of changes to one chat's messages and
//! pages by `seq`. Swipe rules live above this (in the HTTP layer's message service); the
//! store only guarantees atomicity, version checks and `seq` assignment.
//!
//! What a backend stamps on the messages it writes (ids, `chatId`, `seq`, timestamps,
//! versions) and the rule that an edit never moves a message are here, once, in
//! [`MessageStamp`]; the backends only decide where a batch's `seq` values come from.

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{StoreError, StoreResult};
use crate::model::message::Placement;
use crate::model::{Document, Timestamp, UserId, ids};

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
    /// The stats a chat document's body shows (`messageCount`, `lastMessageAt`).
    pub fn of(body: &Map<String, Value>) -> Self {
        Self {
            message_count: body
                .get("messageCount")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            last_message_at: body
                .get("lastMessageAt")
                .and_then(Value::as_str)
                .and_then(crate::model::Timestamp::parse),
        }
    }

    pub fn apply(&self, body: &mut Map<String, Value>) {
        body.insert("messageCount".to_owned(), Value::from(self.message_count));
        match self.last_message_at {
            Some(at) => body.insert("lastMessageAt".to_owned(), Value::String(at.to_string())),
            None => body.remove("lastMessageAt"),
        };
    }
}

/// The body key by which an import hands a new message the time it was first written (a
/// SillyTavern `send_date`, the `createdAt` of our own export). `createdAt` is server-owned, so
/// no client request can carry it (the field checks refuse it before a body is built); only
/// the import puts it there, after those checks.
pub const ORIGINAL_CREATED_AT: &str = "createdAt";

/// The server-owned fields of the messages one batch writes: whose, which chat, when. Every
/// message of a batch gets the same timestamp.
pub struct MessageStamp<'a> {
    user: &'a UserId,
    chat_id: Uuid,
    now: Timestamp,
}

/// What an edit keeps of the message it replaces.
#[derive(Debug, Clone, Copy)]
pub struct Edited {
    pub id: Uuid,
    pub created_at: Timestamp,
    pub version: u64,
    pub seq: u64,
    pub swipe_index: u64,
}

impl Edited {
    pub fn of(message: &Document) -> Self {
        let placement = Placement::of(&message.body);
        Self {
            id: message.id,
            created_at: message.created_at,
            version: message.version,
            seq: placement.seq,
            swipe_index: placement.swipe_index,
        }
    }
}

impl<'a> MessageStamp<'a> {
    pub fn new(user: &'a UserId, chat_id: Uuid) -> Self {
        Self {
            user,
            chat_id,
            now: Timestamp::now(),
        }
    }

    /// A new message at position `seq`: a fresh id, version 1, `chatId` and `seq` set. It was
    /// created now, unless its body carries [`ORIGINAL_CREATED_AT`] (taken out of the body).
    pub fn new_message(&self, mut body: Map<String, Value>, seq: u64) -> Document {
        let created_at = body
            .remove(ORIGINAL_CREATED_AT)
            .and_then(|value| value.as_str().and_then(Timestamp::parse))
            .unwrap_or(self.now);
        self.place(&mut body, seq);
        let mut message = Document::new(ids::new_id(), self.user.clone(), self.now, body);
        message.created_at = created_at;
        message
    }

    /// The next version of `current` with a new body: same id, creation time, chat and `seq`.
    /// A body whose `swipeIndex` would move the message to another place in its swipe group
    /// is refused: the caller's plan is wrong, not the client's request.
    pub fn edited_message(
        &self,
        current: Edited,
        mut body: Map<String, Value>,
    ) -> StoreResult<Document> {
        self.place(&mut body, current.seq);
        let placement = Placement::of(&body);
        if (placement.seq, placement.swipe_index) != (current.seq, current.swipe_index) {
            return Err(StoreError::Internal(anyhow::anyhow!(
                "an edit tried to move a message"
            )));
        }
        Ok(Document {
            id: current.id,
            user_id: self.user.clone(),
            created_at: current.created_at,
            updated_at: self.now,
            version: current.version + 1,
            body,
        })
    }

    fn place(&self, body: &mut Map<String, Value>, seq: u64) {
        body.insert("chatId".to_owned(), self.chat_id.to_string().into());
        body.insert("seq".to_owned(), seq.into());
    }
}
