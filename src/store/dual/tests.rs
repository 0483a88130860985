//! The dual store over two json stores in temp dirs: what it writes where, what it reads from
//! where, and how a secondary that misses a write shows.

use serde_json::json;

use super::fixture::{Fixture, body, document, fixture};
use crate::model::{Collection, Document, UserId};
use crate::store::{
    HealthStatus, ListQuery, MessageChange, MessageQuery, MetadataBackend, StoreError,
};

fn tag(user: &UserId, name: &str) -> Document {
    document(user, json!({"name": name}))
}

#[tokio::test]
async fn writes_reach_both_stores_as_the_primary_made_them() {
    let Fixture {
        dual,
        primary,
        secondary,
        user,
        _dirs,
    } = fixture(false).await;
    let inserted = dual
        .insert(Collection::Tags, tag(&user, "blue"))
        .await
        .unwrap();
    let replaced = dual
        .replace(
            Collection::Tags,
            &user,
            inserted.id,
            1,
            body(json!({"name": "navy"})),
        )
        .await
        .unwrap();
    for store in [&primary, &secondary.inner] {
        let stored = store.get(Collection::Tags, &user, inserted.id).await;
        assert_eq!(*stored.unwrap(), replaced);
    }

    let chat = dual
        .insert(Collection::Chats, tag(&user, "a chat"))
        .await
        .unwrap();
    let append = MessageChange::Append {
        members: vec![body(json!({"role": "user", "content": "hello"}))],
    };
    let written = dual
        .commit_messages(&user, chat.id, vec![append])
        .await
        .unwrap();
    let query = MessageQuery {
        user: user.clone(),
        chat_id: chat.id,
        after: None,
        before: None,
        latest: false,
        limit: 10,
        include_swipes: true,
    };
    assert_eq!(
        secondary.page_messages(&query).await.unwrap().items,
        written
    );

    dual.delete(Collection::Tags, &user, inserted.id, Some(2))
        .await
        .unwrap();
    let gone = secondary.get(Collection::Tags, &user, inserted.id).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    assert_eq!(dual.health().await.status, HealthStatus::Healthy);
}

#[tokio::test]
async fn reads_come_from_the_primary_only() {
    let fixture = fixture(false).await;
    let user = &fixture.user;
    let only_primary = tag(user, "primary");
    let only_secondary = tag(user, "secondary");
    (fixture.primary)
        .put_document(Collection::Tags, only_primary.clone())
        .await
        .unwrap();
    (fixture.secondary)
        .put_document(Collection::Tags, only_secondary.clone())
        .await
        .unwrap();
    let found = fixture
        .dual
        .get(Collection::Tags, user, only_primary.id)
        .await;
    assert_eq!(*found.unwrap(), only_primary);
    let missing = (fixture.dual)
        .get(Collection::Tags, user, only_secondary.id)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    let scanned = (fixture.dual)
        .scan_documents(Collection::Tags, None, 10)
        .await
        .unwrap();
    assert_eq!(scanned, vec![only_primary]);
}

#[tokio::test]
async fn a_write_the_secondary_refuses_is_counted_and_shown_in_health() {
    let fixture = fixture(false).await;
    let user = &fixture.user;
    // The secondary already has another tag of that name: its copy of the insert is refused.
    (fixture.secondary)
        .put_document(Collection::Tags, tag(user, "Blue"))
        .await
        .unwrap();
    let inserted = (fixture.dual)
        .insert(Collection::Tags, tag(user, "blue"))
        .await
        .expect("the primary's answer is the answer");
    let copy = (fixture.secondary)
        .get(Collection::Tags, user, inserted.id)
        .await;
    assert!(matches!(copy, Err(StoreError::NotFound)), "{copy:?}");
    let health = fixture.dual.health().await;
    assert_eq!(health.status, HealthStatus::Degraded);
    assert_eq!(health.backend, "dual (json primary)");
    let message = health.message.unwrap_or_default();
    assert!(
        message.contains("1 record(s) missed by the secondary json wait to be copied again")
            && message.contains("(last miss: insert:"),
        "{message}"
    );

    // Once the secondary would take it (the other tag is gone), a repair copies it.
    let other = (fixture
        .secondary
        .list(&ListQuery::all_of(Collection::Tags, user, 100))
        .await
        .unwrap()
        .items)
        .into_iter()
        .find(|document| document.body["name"] == "Blue")
        .unwrap();
    (fixture.secondary)
        .delete(Collection::Tags, user, other.id, None)
        .await
        .unwrap();
    assert_eq!(fixture.dual.repair().await, 0, "nothing left waiting");
    let copy = (fixture.secondary)
        .get(Collection::Tags, user, inserted.id)
        .await
        .unwrap();
    assert_eq!(*copy, inserted);
    assert_eq!(fixture.dual.health().await.status, HealthStatus::Healthy);
}

#[tokio::test]
async fn a_document_the_secondary_never_had_is_not_a_missed_write() {
    let fixture = fixture(false).await;
    let user = &fixture.user;
    let document = tag(user, "primary only");
    (fixture.primary)
        .put_document(Collection::Tags, document.clone())
        .await
        .unwrap();
    (fixture.dual)
        .delete(Collection::Tags, user, document.id, None)
        .await
        .unwrap();
    assert_eq!(fixture.dual.health().await.status, HealthStatus::Healthy);
}
