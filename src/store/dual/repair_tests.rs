//! A secondary that goes away and comes back: every kind of write it missed meanwhile is
//! copied again by a repair, after which both stores hold the same and health is healthy.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::json;
use uuid::Uuid;

use super::fixture::{Fixture, body, document, fixture};
use crate::model::{Collection, Document, Removal, UserId};
use crate::store::{
    HealthStatus, ListQuery, MessageChange, MessageQuery, MetadataBackend, StoreError,
};

async fn messages(store: &impl MetadataBackend, user: &UserId, chat: Uuid) -> Vec<Document> {
    let query = MessageQuery {
        user: user.clone(),
        chat_id: chat,
        after: None,
        before: None,
        latest: false,
        limit: 1000,
        include_swipes: true,
    };
    store.page_messages(&query).await.unwrap().items
}

#[tokio::test]
async fn what_the_secondary_missed_while_away_is_copied_once_it_is_back() {
    let Fixture {
        dual,
        primary,
        secondary,
        user,
        _dirs,
    } = fixture(false).await;

    // Written while the secondary is there.
    let tag = (dual.insert(Collection::Tags, document(&user, json!({"name": "kept"}))))
        .await
        .unwrap();
    let doomed = (dual.insert(Collection::Tags, document(&user, json!({"name": "doomed"}))))
        .await
        .unwrap();
    let character = document(&user, json!({"name": "C", "tags": [tag.id]}));
    let character = dual
        .insert(Collection::Characters, character)
        .await
        .unwrap();
    let chat = (dual.insert(
        Collection::Chats,
        document(&user, json!({"name": "a chat"})),
    ))
    .await
    .unwrap();
    let append = |text: &str| MessageChange::Append {
        members: vec![body(json!({"role": "user", "content": text}))],
    };
    let first = dual
        .commit_messages(&user, chat.id, vec![append("one"), append("two")])
        .await
        .unwrap();

    // The secondary goes away: every kind of write misses it.
    secondary.off.store(true, Ordering::SeqCst);
    let added = (dual.insert(Collection::Tags, document(&user, json!({"name": "added"}))))
        .await
        .unwrap();
    let renamed = dual
        .replace(
            Collection::Tags,
            &user,
            tag.id,
            1,
            body(json!({"name": "renamed"})),
        )
        .await
        .unwrap();
    dual.delete(Collection::Tags, &user, doomed.id, None)
        .await
        .unwrap();
    let removal = Removal::ArrayValue {
        field: "tags",
        id: tag.id,
    };
    dual.remove_references(Collection::Characters, &user, &removal)
        .await
        .unwrap();
    let gone = (first.iter().find(|m| m.body["content"] == "one")).unwrap();
    let changes = vec![
        append("three"),
        MessageChange::Delete {
            id: gone.id,
            expected_version: gone.version,
        },
    ];
    dual.commit_messages(&user, chat.id, changes).await.unwrap();
    let health = dual.health().await;
    assert_eq!(health.status, HealthStatus::Degraded);
    let message = health.message.unwrap_or_default();
    assert!(message.contains("wait to be copied again"), "{message}");

    // Still away: a repair copies nothing and keeps everything waiting.
    let waiting = dual.state().pending.waiting();
    assert_eq!(
        waiting, 5,
        "tags added, renamed, deleted; characters; the chat"
    );
    assert_eq!(dual.repair().await, waiting);

    // Back: one repair brings the secondary in line with the primary.
    secondary.off.store(false, Ordering::SeqCst);
    assert_eq!(dual.repair().await, 0);
    for collection in [Collection::Tags, Collection::Characters, Collection::Chats] {
        let query = ListQuery::all_of(collection, &user, 100);
        let ours = primary.list(&query).await.unwrap().items;
        let theirs = secondary.list(&query).await.unwrap().items;
        assert_eq!(ours, theirs, "{collection:?}");
    }
    let copy = secondary.get(Collection::Tags, &user, added.id).await;
    assert_eq!(*copy.unwrap(), added);
    let copy = secondary.get(Collection::Tags, &user, tag.id).await;
    assert_eq!(*copy.unwrap(), renamed);
    let copy = secondary.get(Collection::Tags, &user, doomed.id).await;
    assert!(matches!(copy, Err(StoreError::NotFound)), "{copy:?}");
    let copy = (secondary.get(Collection::Characters, &user, character.id)).await;
    assert_eq!(copy.unwrap().body["tags"], json!([]));
    assert_eq!(
        messages(&secondary, &user, chat.id).await,
        messages(&primary, &user, chat.id).await
    );
    assert_eq!(
        secondary.last_seq(&user, chat.id).await.unwrap(),
        primary.last_seq(&user, chat.id).await.unwrap()
    );
    assert_eq!(dual.health().await.status, HealthStatus::Healthy);
}

#[tokio::test]
async fn a_chat_begun_while_the_secondary_was_away_arrives_whole() {
    let Fixture {
        dual,
        primary,
        secondary,
        user,
        _dirs,
    } = fixture(true).await;
    let chat = (dual.insert(Collection::Chats, document(&user, json!({"name": "new"}))))
        .await
        .unwrap();
    for text in ["one", "two"] {
        let append = MessageChange::Append {
            members: vec![body(json!({"role": "user", "content": text}))],
        };
        dual.commit_messages(&user, chat.id, vec![append])
            .await
            .unwrap();
    }
    secondary.off.store(false, Ordering::SeqCst);
    assert_eq!(dual.repair().await, 0);
    let copy = secondary.get(Collection::Chats, &user, chat.id).await;
    assert_eq!(copy.unwrap().id, chat.id);
    let copied = messages(&secondary, &user, chat.id).await;
    assert_eq!(copied.len(), 2);
    assert_eq!(copied, messages(&primary, &user, chat.id).await);
    assert_eq!(dual.health().await.status, HealthStatus::Healthy);
}

#[tokio::test]
async fn messages_of_a_chat_the_secondary_never_had_bring_their_chat_along() {
    let Fixture {
        dual,
        primary,
        secondary,
        user,
        _dirs,
    } = fixture(true).await;
    // A chat from before the dual store, on the primary only.
    let chat = document(&user, json!({"name": "old"}));
    primary
        .put_document(Collection::Chats, chat.clone())
        .await
        .unwrap();
    // More positions than one page of a copy.
    let appends = (0..super::repair::PAGE + 20)
        .map(|n| MessageChange::Append {
            members: vec![body(
                json!({"role": "user", "content": format!("hello {n}")}),
            )],
        })
        .collect();
    dual.commit_messages(&user, chat.id, appends).await.unwrap();
    secondary.off.store(false, Ordering::SeqCst);
    assert_eq!(dual.repair().await, 0, "nothing left waiting");
    let copy = secondary.get(Collection::Chats, &user, chat.id).await;
    assert_eq!(copy.unwrap().id, chat.id);
    let copied = messages(&secondary, &user, chat.id).await;
    assert_eq!(copied.len(), super::repair::PAGE + 20);
    assert_eq!(copied, messages(&primary, &user, chat.id).await);
    assert_eq!(
        secondary.last_seq(&user, chat.id).await.unwrap(),
        primary.last_seq(&user, chat.id).await.unwrap()
    );
}

#[tokio::test]
async fn closing_stops_the_repair_task_and_lets_go_of_the_store() {
    let Fixture {
        dual,
        secondary,
        user,
        _dirs,
        ..
    } = fixture(true).await;
    // Something waits, so every round takes the store for a while.
    (dual.insert(Collection::Tags, document(&user, json!({"name": "waits"}))))
        .await
        .unwrap();
    let dual = super::repair::start(dual);
    tokio::task::yield_now().await;
    assert_eq!(Arc::weak_count(&dual), 1, "the running task's reference");
    dual.close().await;
    assert!(dual.repairing.lock().unwrap().is_none());
    assert_eq!(
        Arc::weak_count(&dual),
        0,
        "the task is gone, and its reference with it"
    );
    assert_eq!(Arc::strong_count(&dual), 1);
    drop(secondary);
}
