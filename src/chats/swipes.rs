//! The swipe rules. A swipe group is the set of alternative assistant messages at one
//! position (`seq`), told apart by `swipeIndex`; exactly one member is active. Each rule takes
//! the target message and the members of its position as read, and returns the changes that
//! keep the rule when committed together.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::message::{StoredMessage, Swipe};
use crate::model::Document;
use crate::model::message::Role;
use crate::store::MessageChange;

/// Why a swipe rule refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SwipeError {
    /// Swipes are alternative assistant answers; the target is another role.
    #[error("only assistant messages can have swipes")]
    NotAssistant,
    /// The target is a message outside any swipe group.
    #[error("this message has no swipes")]
    NoSwipes,
    /// No member of the target's group has the requested `swipeIndex`.
    #[error("no member of the group has this index")]
    NoSuchIndex,
}

/// The changes that delete `target`. `members` are the messages at its position (empty or
/// ignored when it has no group); `whole_group` deletes all of them. Deleting the active member
/// of a group makes the nearest remaining member active, a lower index first.
pub fn plan_delete(
    target: &Document,
    members: &[Document],
    whole_group: bool,
) -> Vec<MessageChange> {
    let Some(swipe) = target.swipe() else {
        return vec![delete(target)];
    };
    if whole_group {
        return members.iter().map(delete).collect();
    }
    let mut changes = vec![delete(target)];
    if swipe.active
        && let Some(heir) = heir(target, swipe, members)
    {
        changes.push(replace(heir, heir.with_active(true)));
    }
    changes
}

/// The member that becomes active when the active `target` goes: the nearest one below it,
/// else the lowest one left.
fn heir<'a>(target: &Document, swipe: Swipe, members: &'a [Document]) -> Option<&'a Document> {
    let rest: Vec<&Document> = members
        .iter()
        .filter(|member| member.id != target.id)
        .collect();
    rest.iter()
        .rev()
        .find(|member| member.swipe_index() < swipe.index)
        .or_else(|| rest.first())
        .copied()
}

/// The changes that add `new_body` as a swipe of `target` and make it the active member.
/// `members` are the messages at the target's position. A target outside any group first forms
/// one with id `new_group`, itself at index 0.
pub fn plan_swipe(
    target: &Document,
    members: &[Document],
    mut new_body: Map<String, Value>,
    new_group: Uuid,
) -> Result<Vec<MessageChange>, SwipeError> {
    if target.role() != Some(Role::Assistant) {
        return Err(SwipeError::NotAssistant);
    }
    let group = target.swipe().map_or(new_group, |swipe| swipe.group);
    let mut changes = Vec::new();
    for member in members {
        let current = member.swipe();
        if current.is_none_or(|swipe| swipe.active) {
            let index = current.map_or(0, |swipe| swipe.index);
            let body = member.with_swipe(Swipe {
                group,
                index,
                active: false,
            });
            changes.push(replace(member, body));
        }
    }
    Swipe {
        group,
        index: next_index(members),
        active: true,
    }
    .write_to(&mut new_body);
    changes.push(MessageChange::Insert {
        seq: target.seq(),
        body: new_body,
    });
    Ok(changes)
}

/// The index a new swipe at this position gets: one past the highest (1 when the position
/// holds only a message about to form a group, whose index becomes 0).
pub fn next_index(members: &[Document]) -> u64 {
    members
        .iter()
        .map(StoredMessage::swipe_index)
        .max()
        .map_or(1, |highest| highest + 1)
}

/// The outcome of selecting a swipe: which member is now active, and the changes that make it so.
#[derive(Debug)]
pub struct Selection {
    pub chosen: Uuid,
    pub changes: Vec<MessageChange>,
}

/// Makes the member of `target`'s group with `swipe_index` the active one. `members` are the
/// messages at the target's position; only members whose state changes are written.
pub fn plan_selection(
    target: &Document,
    members: &[Document],
    swipe_index: u64,
) -> Result<Selection, SwipeError> {
    if target.swipe().is_none() {
        return Err(SwipeError::NoSwipes);
    }
    let chosen = members
        .iter()
        .find(|member| member.swipe_index() == swipe_index)
        .ok_or(SwipeError::NoSuchIndex)?;
    let changes = members
        .iter()
        .filter_map(|member| {
            let active = member.id == chosen.id;
            (member.is_shown() != active).then(|| replace(member, member.with_active(active)))
        })
        .collect();
    Ok(Selection {
        chosen: chosen.id,
        changes,
    })
}

fn delete(member: &Document) -> MessageChange {
    MessageChange::Delete {
        id: member.id,
        expected_version: member.version,
    }
}

fn replace(member: &Document, body: Map<String, Value>) -> MessageChange {
    MessageChange::Replace {
        id: member.id,
        expected_version: member.version,
        body,
    }
}

#[cfg(test)]
mod tests;
