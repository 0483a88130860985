//! `DATA_BACKEND=dual`: every write goes to both MongoDB and the json store, reads come from
//! the primary (`DUAL_PRIMARY`, mongodb by default). A safety net while migrating: the
//! secondary holds a copy to roll back to. The primary's answer is authoritative; the secondary
//! receives the resulting documents as they are, so ids, versions and timestamps match. A
//! failed secondary write is logged, counted and shown in health as degraded, never dropped in
//! silence, and what it touched is copied again from the primary once the secondary answers
//! (`repair.rs`); past what is tracked, `quillstore migrate copy` brings the secondary back in
//! line.
//!
//! Written once over any two [`MetadataBackend`]s, so it follows the trait: a new operation
//! is one more method here, chosen as a read (primary only) or a write (primary, then mirror).

#[cfg(test)]
mod fixture;
mod mirror;
pub mod repair;
#[cfg(test)]
mod repair_tests;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Mutex;

use self::mirror::MirrorState;
use self::repair::Missed;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::vectors::{Scored, VectorQuery};
use super::{
    HealthStatus, ListQuery, MessageChange, MessagePage, MessageQuery, MetadataBackend, Page,
    StoreHealth, StoreResult,
};
use crate::model::{Collection, Document, Removal, UserId};

pub struct DualStore<Primary, Secondary> {
    primary: Primary,
    secondary: Secondary,
    mirror: Mutex<MirrorState>,
    /// Held by id (a document's, or a chat's for its messages) from the primary's write to the
    /// end of its mirror, so that the secondary receives the writes to one record in the order
    /// the primary made them: a late mirror never puts an older version over a newer one.
    order: Vec<tokio::sync::Mutex<()>>,
    /// Held by a reference removal (it writes records without their stripes) and by each copy
    /// of a repair, so a copy never puts a version older than a removal's over it.
    unordered: tokio::sync::Mutex<()>,
    /// The repair task, once started (`repair::start`); stopped by `close`.
    repairing: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<Primary: MetadataBackend, Secondary: MetadataBackend> MetadataBackend
    for DualStore<Primary, Secondary>
{
    fn name(&self) -> &'static str {
        "dual"
    }

    fn insert(
        &self,
        collection: Collection,
        document: Document,
    ) -> BoxFuture<'_, StoreResult<Document>> {
        Box::pin(async move {
            let _order = self.ordered(document.id).await;
            let stored = self.primary.insert(collection, document).await?;
            let outcome = self
                .secondary
                .put_document(collection, stored.clone())
                .await;
            let missed = Missed::Document(collection, stored.user_id.clone(), stored.id);
            self.mirrored("insert", Some(missed), outcome);
            Ok(stored)
        })
    }

    fn get<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<std::sync::Arc<Document>>> {
        self.primary.get(collection, user, id)
    }

    fn replace<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        id: Uuid,
        expected_version: u64,
        body: Map<String, Value>,
    ) -> BoxFuture<'a, StoreResult<Document>> {
        Box::pin(async move {
            let _order = self.ordered(id).await;
            let stored = (self.primary)
                .replace(collection, user, id, expected_version, body)
                .await?;
            let outcome = self
                .secondary
                .put_document(collection, stored.clone())
                .await;
            self.mirrored(
                "replace",
                Some(Missed::Document(collection, user.clone(), id)),
                outcome,
            );
            Ok(stored)
        })
    }

    fn delete<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<Document>> {
        Box::pin(async move {
            let _order = self.ordered(id).await;
            let deleted = (self.primary)
                .delete(collection, user, id, expected_version)
                .await?;
            let outcome = self.secondary.delete(collection, user, id, None).await;
            self.mirrored(
                "delete",
                Some(Missed::Document(collection, user.clone(), id)),
                outcome,
            );
            Ok(deleted)
        })
    }

    fn list<'a>(&'a self, query: &'a ListQuery) -> BoxFuture<'a, StoreResult<Page>> {
        self.primary.list(query)
    }

    fn existing_ids<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, StoreResult<HashSet<Uuid>>> {
        self.primary.existing_ids(collection, user, ids)
    }

    fn taken_ids<'a>(
        &'a self,
        collection: Collection,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, StoreResult<HashSet<Uuid>>> {
        self.primary.taken_ids(collection, ids)
    }

    fn remove_references<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        removal: &'a Removal,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        Box::pin(async move {
            let _unordered = self.unordered.lock().await;
            let changed = (self.primary)
                .remove_references(collection, user, removal)
                .await?;
            let outcome = (self.secondary)
                .remove_references(collection, user, removal)
                .await;
            let missed = Missed::Collection(collection, user.clone());
            self.mirrored("remove references", Some(missed), outcome);
            Ok(changed)
        })
    }

    fn commit_messages<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
    ) -> BoxFuture<'a, StoreResult<Vec<Document>>> {
        Box::pin(async move {
            let deleted: Vec<Uuid> = changes
                .iter()
                .filter_map(|change| match change {
                    MessageChange::Delete { id, .. } => Some(*id),
                    _ => None,
                })
                .collect();
            let _order = self.ordered(chat_id).await;
            let written = self.primary.commit_messages(user, chat_id, changes).await?;
            let outcome = self.mirror_batch(user, chat_id, (written.clone(), deleted));
            let missed = Missed::Messages(user.clone(), chat_id);
            self.mirrored("messages", Some(missed), outcome.await);
            Ok(written)
        })
    }

    fn page_messages<'a>(
        &'a self,
        query: &'a MessageQuery,
    ) -> BoxFuture<'a, StoreResult<MessagePage>> {
        self.primary.page_messages(query)
    }

    fn get_message<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<Document>> {
        self.primary.get_message(user, chat_id, id)
    }

    fn put_document(
        &self,
        collection: Collection,
        document: Document,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            let _order = self.ordered(document.id).await;
            (self.primary)
                .put_document(collection, document.clone())
                .await?;
            let missed = Missed::Document(collection, document.user_id.clone(), document.id);
            let outcome = self.secondary.put_document(collection, document).await;
            self.mirrored("put", Some(missed), outcome);
            Ok(())
        })
    }

    fn put_messages(
        &self,
        chat_id: Uuid,
        messages: Vec<Document>,
        deleted: Vec<Uuid>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            let _order = self.ordered(chat_id).await;
            (self.primary)
                .put_messages(chat_id, messages.clone(), deleted.clone())
                .await?;
            let missed = (messages.first())
                .map(|message| Missed::Messages(message.user_id.clone(), chat_id));
            let outcome = (self.secondary)
                .put_messages(chat_id, messages, deleted)
                .await;
            self.mirrored("put messages", missed, outcome);
            Ok(())
        })
    }

    fn last_seq<'a>(&'a self, user: &'a UserId, chat_id: Uuid) -> BoxFuture<'a, StoreResult<u64>> {
        self.primary.last_seq(user, chat_id)
    }

    fn raise_last_seq<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        seq: u64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            self.primary.raise_last_seq(user, chat_id, seq).await?;
            let outcome = self.secondary.raise_last_seq(user, chat_id, seq).await;
            self.mirrored(
                "raise last seq",
                Some(Missed::Messages(user.clone(), chat_id)),
                outcome,
            );
            Ok(())
        })
    }

    fn scan_documents(
        &self,
        collection: Collection,
        after: Option<Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<Document>>> {
        self.primary.scan_documents(collection, after, limit)
    }

    fn nearest<'a>(&'a self, query: &'a VectorQuery) -> BoxFuture<'a, StoreResult<Vec<Scored>>> {
        self.primary.nearest(query)
    }

    fn vector_dimension<'a>(
        &'a self,
        user: &'a UserId,
        model: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<usize>>> {
        self.primary.vector_dimension(user, model)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let task = (self.repairing.lock())
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            if let Some(task) = task {
                task.abort();
                let _ = task.await;
            }
        })
    }

    /// The primary's health, degraded when the secondary is down or missed writes.
    fn health(&self) -> BoxFuture<'_, StoreHealth> {
        Box::pin(async move {
            let primary = self.primary.health().await;
            let secondary = self.secondary.health().await;
            let (waiting, untracked, last) = {
                let state = self.state();
                let last = state.last_failure.clone().unwrap_or_default();
                (state.pending.waiting(), state.pending.untracked, last)
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
            if waiting > 0 {
                notes.push(format!(
                    "{waiting} record(s) missed by the secondary {} wait to be copied again, \
                     tried every {} s (last miss: {last}); they are kept in memory only: after \
                     a restart, run `quillstore migrate copy` to resync",
                    secondary.backend,
                    repair::REPAIR_INTERVAL.as_secs()
                ));
            }
            if untracked > 0 {
                notes.push(format!(
                    "{untracked} write(s) missed the secondary {} past what is tracked (last \
                     miss: {last}); run `quillstore migrate copy` to resync",
                    secondary.backend
                ));
            }
            if status == HealthStatus::Healthy
                && (waiting > 0 || untracked > 0 || secondary.status != HealthStatus::Healthy)
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
        })
    }
}
