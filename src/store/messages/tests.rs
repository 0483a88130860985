use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Edited, MessageStamp};
use crate::model::{Document, Timestamp, UserId};
use crate::store::StoreError;

fn body(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

fn user() -> UserId {
    UserId::parse("user-1").unwrap()
}

#[test]
fn a_new_message_is_stamped_with_its_chat_position_and_first_version() {
    let (user, chat_id) = (user(), Uuid::now_v7());
    let stamp = MessageStamp::new(&user, chat_id);
    let message = stamp.new_message(body(json!({"role": "user", "seq": 99})), 7);
    assert_eq!(message.version, 1);
    assert_eq!(message.user_id, user);
    assert_eq!(message.created_at, message.updated_at);
    assert_eq!(message.body["chatId"], json!(chat_id.to_string()));
    assert_eq!(
        message.body["seq"],
        json!(7),
        "the store's seq wins over the body's"
    );
    assert_eq!(message.body["role"], json!("user"));
    let other = stamp.new_message(Map::new(), 8);
    assert_ne!(message.id, other.id);
    assert_eq!(message.created_at, other.created_at, "one batch, one time");
}

#[test]
fn an_imported_message_keeps_its_original_creation_time_out_of_its_body() {
    let user = user();
    let stamp = MessageStamp::new(&user, Uuid::now_v7());
    let original = "2023-04-21T20:02:47.124Z";
    let message = stamp.new_message(body(json!({"role": "user", "createdAt": original})), 1);
    assert_eq!(message.created_at, Timestamp::parse(original).unwrap());
    assert!(message.updated_at > message.created_at, "written now");
    assert!(!message.body.contains_key("createdAt"));
}

fn stored(swipe_index: u64) -> Document {
    Document {
        updated_at: Timestamp::from_millis(2_000),
        version: 3,
        ..Document::new(
            Uuid::now_v7(),
            user(),
            Timestamp::from_millis(1_000),
            body(json!({"seq": 4, "swipeIndex": swipe_index, "content": "old"})),
        )
    }
}

#[test]
fn an_edit_keeps_identity_position_and_creation_time_and_bumps_the_version() {
    let (user, chat_id) = (user(), Uuid::now_v7());
    let current = stored(1);
    let edited = MessageStamp::new(&user, chat_id)
        .edited_message(
            Edited::of(&current),
            body(json!({"swipeIndex": 1, "content": "new"})),
        )
        .unwrap();
    assert_eq!(edited.id, current.id);
    assert_eq!(edited.created_at, current.created_at);
    assert_eq!(edited.version, 4);
    assert!(edited.updated_at > current.updated_at);
    assert_eq!(edited.body["seq"], json!(4));
    assert_eq!(edited.body["chatId"], json!(chat_id.to_string()));
    assert_eq!(edited.body["content"], json!("new"));
}

#[test]
fn an_edit_cannot_move_a_message_in_its_swipe_group() {
    let user = user();
    let moved = MessageStamp::new(&user, Uuid::now_v7())
        .edited_message(Edited::of(&stored(0)), body(json!({"swipeIndex": 2})));
    assert!(
        matches!(&moved, Err(StoreError::Internal(error)) if error.to_string().contains("move")),
        "{moved:?}"
    );
}

#[test]
fn an_edit_keeps_the_stored_seq_whatever_its_body_says() {
    let user = user();
    let edited = MessageStamp::new(&user, Uuid::now_v7())
        .edited_message(Edited::of(&stored(0)), body(json!({"seq": 9})))
        .unwrap();
    assert_eq!(edited.body["seq"], json!(4), "the stored seq is kept");
}
