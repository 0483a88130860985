//! `DATA_BACKEND=dual`: every write goes to both MongoDB and the json store, reads come from
//! the primary (`DUAL_PRIMARY`, mongodb by default). A safety net while migrating: the
//! secondary holds a copy to roll back to. The primary's answer is authoritative; the secondary
//! receives the resulting documents as they are, so ids, versions and timestamps match. A
//! failed secondary write is logged, counted and shown in health as degraded, never dropped in
//! silence; `quillstore migrate copy` brings the secondary back in line.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    HealthStatus, JsonStore, ListQuery, MessageChange, MessagePage, MessageQuery, MongoStore, Page,
    StoreError, StoreHealth, StoreResult,
};
use crate::model::{Collection, Document, Removal, UserId};

pub struct DualStore {
    primary: Side,
    secondary: Side,
    mirror: Mutex<MirrorState>,
}

/// One of the two backends of a dual store.
pub enum Side {
    Json(JsonStore),
    Mongo(MongoStore),
}

/// Calls the same method on whichever backend a side is.
macro_rules! on {
    ($side:expr, $store:ident => $call:expr) => {
        match &$side {
            Side::Json($store) => $call,
            Side::Mongo($store) => $call,
        }
    };
}

#[derive(Default)]
struct MirrorState {
    failures: u64,
    last_failure: Option<String>,
}

impl DualStore {
    pub fn new(primary: Side, secondary: Side) -> Self {
        Self {
            primary,
            secondary,
            mirror: Mutex::new(MirrorState::default()),
        }
    }

    /// Records the outcome of a secondary write.
    fn mirrored<T>(&self, what: &str, outcome: StoreResult<T>) {
        match outcome {
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(error) => {
                tracing::error!(operation = what, error = %error, "dual store: the secondary missed a write");
                let mut state = self
                    .mirror
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.failures += 1;
                state.last_failure = Some(format!("{what}: {error}"));
            }
        }
    }

    pub async fn insert(
        &self,
        collection: Collection,
        document: Document,
    ) -> StoreResult<Document> {
        let stored = on!(self.primary, store => store.insert(collection, document).await)?;
        self.mirrored(
            "insert",
            on!(self.secondary, store => store.put_document(collection, stored.clone()).await),
        );
        Ok(stored)
    }

    pub async fn get(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
    ) -> StoreResult<Document> {
        on!(self.primary, store => store.get(collection, user, id).await)
    }

    pub async fn replace(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
        expected_version: u64,
        body: Map<String, Value>,
    ) -> StoreResult<Document> {
        let stored = on!(self.primary, store => store.replace(collection, user, id, expected_version, body).await)?;
        self.mirrored(
            "replace",
            on!(self.secondary, store => store.put_document(collection, stored.clone()).await),
        );
        Ok(stored)
    }

    pub async fn delete(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> StoreResult<Document> {
        let deleted =
            on!(self.primary, store => store.delete(collection, user, id, expected_version).await)?;
        self.mirrored(
            "delete",
            on!(self.secondary, store => store.delete(collection, user, id, None).await),
        );
        Ok(deleted)
    }

    pub async fn list(&self, query: &ListQuery) -> StoreResult<Page> {
        on!(self.primary, store => store.list(query).await)
    }

    pub async fn existing_ids(
        &self,
        collection: Collection,
        user: &UserId,
        ids: &[Uuid],
    ) -> StoreResult<HashSet<Uuid>> {
        on!(self.primary, store => store.existing_ids(collection, user, ids).await)
    }

    pub async fn remove_references(
        &self,
        collection: Collection,
        user: &UserId,
        removal: &Removal,
    ) -> StoreResult<u64> {
        let changed =
            on!(self.primary, store => store.remove_references(collection, user, removal).await)?;
        self.mirrored(
            "remove references",
            on!(self.secondary, store => store.remove_references(collection, user, removal).await),
        );
        Ok(changed)
    }

    pub async fn commit_messages(
        &self,
        user: &UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
    ) -> StoreResult<Vec<Document>> {
        let deleted: Vec<Uuid> = changes
            .iter()
            .filter_map(|change| match change {
                MessageChange::Delete { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        let written =
            on!(self.primary, store => store.commit_messages(user, chat_id, changes).await)?;
        self.mirrored("messages", on!(self.secondary, store => store.put_messages(chat_id, written.clone(), deleted).await));
        Ok(written)
    }

    pub async fn page_messages(&self, query: &MessageQuery) -> StoreResult<MessagePage> {
        on!(self.primary, store => store.page_messages(query).await)
    }

    pub async fn get_message(
        &self,
        user: &UserId,
        chat_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Document> {
        on!(self.primary, store => store.get_message(user, chat_id, id).await)
    }

    pub async fn put_document(
        &self,
        collection: Collection,
        document: Document,
    ) -> StoreResult<()> {
        on!(self.primary, store => store.put_document(collection, document.clone()).await)?;
        self.mirrored(
            "put",
            on!(self.secondary, store => store.put_document(collection, document).await),
        );
        Ok(())
    }

    pub async fn put_messages(
        &self,
        chat_id: Uuid,
        messages: Vec<Document>,
        deleted: Vec<Uuid>,
    ) -> StoreResult<()> {
        on!(self.primary, store => store.put_messages(chat_id, messages.clone(), deleted.clone()).await)?;
        self.mirrored(
            "put messages",
            on!(self.secondary, store => store.put_messages(chat_id, messages, deleted).await),
        );
        Ok(())
    }

    pub async fn last_seq(&self, user: &UserId, chat_id: Uuid) -> StoreResult<u64> {
        on!(self.primary, store => store.last_seq(user, chat_id).await)
    }

    pub async fn raise_last_seq(&self, user: &UserId, chat_id: Uuid, seq: u64) -> StoreResult<()> {
        on!(self.primary, store => store.raise_last_seq(user, chat_id, seq).await)?;
        self.mirrored(
            "raise last seq",
            on!(self.secondary, store => store.raise_last_seq(user, chat_id, seq).await),
        );
        Ok(())
    }

    pub async fn scan_documents(
        &self,
        collection: Collection,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<Document>> {
        on!(self.primary, store => store.scan_documents(collection, after, limit).await)
    }

    /// The primary's health, degraded when the secondary is down or missed writes.
    pub async fn health(&self) -> StoreHealth {
        let primary = on!(self.primary, store => store.health().await);
        let secondary = on!(self.secondary, store => store.health().await);
        let (failures, last) = {
            let state = self
                .mirror
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            (state.failures, state.last_failure.clone())
        };
        let mut notes: Vec<String> = primary.message.iter().cloned().collect();
        let mut status = primary.status;
        if secondary.status != HealthStatus::Healthy {
            notes.push(format!(
                "secondary {} is {:?}: {}",
                secondary.backend,
                secondary.status,
                secondary.message.unwrap_or_default()
            ));
        }
        if failures > 0 {
            notes.push(format!(
                "{failures} write(s) did not reach the secondary {} (last: {}); run `quillstore migrate copy` to resync",
                secondary.backend,
                last.unwrap_or_default()
            ));
        }
        if status == HealthStatus::Healthy
            && (failures > 0 || secondary.status != HealthStatus::Healthy)
        {
            status = HealthStatus::Degraded;
        }
        StoreHealth {
            backend: if primary.backend == "json" {
                "dual (json primary)"
            } else {
                "dual (mongodb primary)"
            },
            status,
            latency: primary.latency,
            message: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    }
}
