//! The swipe rules on hand-built messages: what each request changes, member by member.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::*;
use crate::model::{Timestamp, UserId, ids};

const SEQ: u64 = 7;

/// A stored message at `SEQ`, in `swipe`'s group when given; its version is 3.
fn stored(role: &str, swipe: Option<Swipe>) -> Document {
    let mut body = Map::new();
    body.insert("role".to_owned(), json!(role));
    body.insert("content".to_owned(), json!("text"));
    body.insert("seq".to_owned(), json!(SEQ));
    if let Some(swipe) = swipe {
        swipe.write_to(&mut body);
    }
    Document {
        id: ids::new_id(),
        user_id: UserId::local(),
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
        version: 3,
        body,
    }
}

/// A group of assistant messages with indexes 0..count, `active` the active one.
fn swipe_group(count: u64, active: u64) -> (Uuid, Vec<Document>) {
    let group = ids::new_id();
    let members = (0..count)
        .map(|index| {
            let swipe = Swipe {
                group,
                index,
                active: index == active,
            };
            stored("assistant", Some(swipe))
        })
        .collect();
    (group, members)
}

/// A change as the tests compare it: what happens to which message, and its swipe fields after.
#[derive(Debug, PartialEq)]
enum Seen {
    Deleted(Uuid),
    Replaced(Uuid, Option<Swipe>),
    Inserted(u64, Option<Swipe>),
}

fn seen(changes: &[MessageChange]) -> Vec<Seen> {
    let swipe_of = |body: &Map<String, Value>| {
        let mut document = stored("assistant", None);
        document.body = body.clone();
        document.swipe()
    };
    changes
        .iter()
        .map(|change| match change {
            MessageChange::Delete {
                id,
                expected_version,
            } => {
                assert_eq!(*expected_version, 3, "a delete checks the version it read");
                Seen::Deleted(*id)
            }
            MessageChange::Replace {
                id,
                expected_version,
                body,
            } => {
                assert_eq!(*expected_version, 3, "a replace checks the version it read");
                Seen::Replaced(*id, swipe_of(body))
            }
            MessageChange::Insert { seq, body } => Seen::Inserted(*seq, swipe_of(body)),
            MessageChange::Append { .. } => panic!("a swipe rule never appends"),
        })
        .collect()
}

fn swipe(group: Uuid, index: u64, active: bool) -> Option<Swipe> {
    Some(Swipe {
        group,
        index,
        active,
    })
}

fn new_swipe_body() -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("role".to_owned(), json!("assistant"));
    body.insert("content".to_owned(), json!("another answer"));
    body
}

#[test]
fn a_new_swipe_on_a_single_message_forms_a_group() {
    let original = stored("assistant", None);
    let new_group = ids::new_id();
    let members = [original.clone()];
    let changes = plan_swipe(&original, &members, new_swipe_body(), new_group).unwrap();
    assert_eq!(
        seen(&changes),
        [
            Seen::Replaced(original.id, swipe(new_group, 0, false)),
            Seen::Inserted(SEQ, swipe(new_group, 1, true)),
        ]
    );
    let MessageChange::Insert { body, .. } = &changes[1] else {
        unreachable!()
    };
    assert_eq!(body["content"], json!("another answer"));
}

#[test]
fn a_swipe_on_a_group_gets_the_next_index_and_becomes_active() {
    let (group, members) = swipe_group(3, 1);
    // Any member may be the target; the group is its group, not a new one.
    let changes = plan_swipe(&members[0], &members, new_swipe_body(), ids::new_id()).unwrap();
    assert_eq!(
        seen(&changes),
        [
            Seen::Replaced(members[1].id, swipe(group, 1, false)),
            Seen::Inserted(SEQ, swipe(group, 3, true)),
        ]
    );
    assert_eq!(next_index(&members), 3);
}

#[test]
fn only_assistant_messages_get_swipes() {
    let question = stored("user", None);
    let members = [question.clone()];
    let refused = plan_swipe(&question, &members, new_swipe_body(), ids::new_id());
    assert_eq!(refused.unwrap_err(), SwipeError::NotAssistant);
}

#[test]
fn selecting_an_index_moves_the_active_role_to_it() {
    let (group, members) = swipe_group(3, 0);
    let selection = plan_selection(&members[1], &members, 2).unwrap();
    assert_eq!(selection.chosen, members[2].id);
    assert_eq!(
        seen(&selection.changes),
        [
            Seen::Replaced(members[0].id, swipe(group, 0, false)),
            Seen::Replaced(members[2].id, swipe(group, 2, true)),
        ]
    );
    let again = plan_selection(&members[0], &members, 0).unwrap();
    assert!(again.changes.is_empty(), "the active member stays as it is");
}

#[test]
fn selecting_a_missing_index_is_refused() {
    let (_, members) = swipe_group(2, 0);
    let refused = plan_selection(&members[0], &members, 5);
    assert_eq!(refused.unwrap_err(), SwipeError::NoSuchIndex);
    let single = stored("assistant", None);
    let refused = plan_selection(&single, &[], 0);
    assert_eq!(refused.unwrap_err(), SwipeError::NoSwipes);
}

#[test]
fn deleting_the_active_member_activates_the_nearest_lower_index_first() {
    let (group, members) = swipe_group(4, 2);
    assert_eq!(
        seen(&plan_delete(&members[2], &members, false)),
        [
            Seen::Deleted(members[2].id),
            Seen::Replaced(members[1].id, swipe(group, 1, true)),
        ]
    );
    // Nothing below the active member: the lowest one left takes over.
    let (group, members) = swipe_group(3, 0);
    assert_eq!(
        seen(&plan_delete(&members[0], &members, false)),
        [
            Seen::Deleted(members[0].id),
            Seen::Replaced(members[1].id, swipe(group, 1, true)),
        ]
    );
}

#[test]
fn deleting_the_last_member_leaves_nothing_to_activate() {
    let (_, members) = swipe_group(1, 0);
    assert_eq!(
        seen(&plan_delete(&members[0], &members, false)),
        [Seen::Deleted(members[0].id)]
    );
    let single = stored("assistant", None);
    assert_eq!(
        seen(&plan_delete(&single, &[], false)),
        [Seen::Deleted(single.id)]
    );
}

#[test]
fn deleting_a_whole_group_deletes_every_member() {
    let (_, members) = swipe_group(3, 1);
    let expected: Vec<Seen> = members
        .iter()
        .map(|member| Seen::Deleted(member.id))
        .collect();
    assert_eq!(seen(&plan_delete(&members[0], &members, true)), expected);
}

#[test]
fn deleting_a_member_that_is_not_active_changes_no_other() {
    let (_, members) = swipe_group(3, 1);
    assert_eq!(
        seen(&plan_delete(&members[2], &members, false)),
        [Seen::Deleted(members[2].id)]
    );
}
