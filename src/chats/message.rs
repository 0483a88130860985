//! Typed access to the server-owned fields of a stored message (`seq`, `role`, and the swipe
//! fields `swipeGroupId`, `swipeIndex`, `swipeActive`), so rules read and set them by name in
//! one place instead of editing JSON maps by key.

use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::Document;
use crate::model::message::{MESSAGE_SERVER_FIELDS, Placement, Role};

const GROUP: &str = "swipeGroupId";
const INDEX: &str = "swipeIndex";
const ACTIVE: &str = "swipeActive";

/// The swipe fields of a message that belongs to a swipe group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swipe {
    pub group: Uuid,
    /// Its place among the alternatives; unique within the group.
    pub index: u64,
    /// Whether it is the group's one active (shown) member.
    pub active: bool,
}

/// A stored message read through its typed fields.
pub trait StoredMessage {
    /// Its position in the chat.
    fn seq(&self) -> u64;
    /// Who wrote it; `None` when the stored role is not one the model knows.
    fn role(&self) -> Option<Role>;
    /// Its swipe fields; `None` for a message outside any swipe group.
    fn swipe(&self) -> Option<Swipe>;
    /// Its `swipeIndex` (0 when it has none).
    fn swipe_index(&self) -> u64;
    /// True for a message outside any group and for the active member of a group.
    fn is_shown(&self) -> bool {
        self.swipe().is_none_or(|swipe| swipe.active)
    }
    /// Its body with `swipeActive` set to `active` (group and index untouched).
    fn with_active(&self, active: bool) -> Map<String, Value>;
    /// Its body with all three swipe fields set to `swipe`.
    fn with_swipe(&self, swipe: Swipe) -> Map<String, Value>;
    /// Its body split into the fields a client owns and the ones only the server sets (which
    /// an edit by the client carries over unchanged).
    fn split_server_fields(&self) -> (Map<String, Value>, Map<String, Value>);
}

impl StoredMessage for Document {
    fn seq(&self) -> u64 {
        Placement::of(&self.body).seq
    }

    fn role(&self) -> Option<Role> {
        Role::deserialize(self.body.get("role")?).ok()
    }

    fn swipe(&self) -> Option<Swipe> {
        let placement = Placement::of(&self.body);
        Some(Swipe {
            group: placement.swipe_group?,
            index: placement.swipe_index,
            active: placement.visible,
        })
    }

    fn swipe_index(&self) -> u64 {
        Placement::of(&self.body).swipe_index
    }

    fn with_active(&self, active: bool) -> Map<String, Value> {
        let mut body = self.body.clone();
        body.insert(ACTIVE.to_owned(), Value::Bool(active));
        body
    }

    fn with_swipe(&self, swipe: Swipe) -> Map<String, Value> {
        let mut body = self.body.clone();
        swipe.write_to(&mut body);
        body
    }

    fn split_server_fields(&self) -> (Map<String, Value>, Map<String, Value>) {
        self.body
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .partition(|(key, _)| !MESSAGE_SERVER_FIELDS.contains(&key.as_str()))
    }
}

impl Swipe {
    /// Sets the three swipe fields of `body` (a stored message's or a new member's).
    pub fn write_to(self, body: &mut Map<String, Value>) {
        body.insert(GROUP.to_owned(), Value::String(self.group.to_string()));
        body.insert(INDEX.to_owned(), Value::from(self.index));
        body.insert(ACTIVE.to_owned(), Value::Bool(self.active));
    }
}
