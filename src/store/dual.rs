//! `DATA_BACKEND=dual`: every write goes to both MongoDB and the json store, reads come from
//! the primary (`DUAL_PRIMARY`, mongodb by default). A safety net while migrating: the
//! secondary holds a copy to roll back to. The primary's answer is authoritative; the secondary
//! receives the resulting documents as they are, so ids, versions and timestamps match. A
//! failed secondary write is logged, counted and shown in health as degraded, never dropped in
//! silence; `quillstore migrate copy` brings the secondary back in line.
//!
//! Written once over any two [`MetadataBackend`]s, so it follows the trait: a new operation
//! is one more method here, chosen as a read (primary only) or a write (primary, then mirror).

mod mirror;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Mutex;

use self::mirror::MirrorState;

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
            self.mirrored("insert", outcome);
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
            self.mirrored("replace", outcome);
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
            self.mirrored("delete", outcome);
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
            let changed = (self.primary)
                .remove_references(collection, user, removal)
                .await?;
            let outcome = (self.secondary)
                .remove_references(collection, user, removal)
                .await;
            self.mirrored("remove references", outcome);
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
            self.mirrored("messages", outcome.await);
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
            (self.primary)
                .put_document(collection, document.clone())
                .await?;
            let outcome = self.secondary.put_document(collection, document).await;
            self.mirrored("put", outcome);
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
            (self.primary)
                .put_messages(chat_id, messages.clone(), deleted.clone())
                .await?;
            let outcome = (self.secondary)
                .put_messages(chat_id, messages, deleted)
                .await;
            self.mirrored("put messages", outcome);
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
            self.mirrored("raise last seq", outcome);
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

    /// The primary's health, degraded when the secondary is down or missed writes.
    fn health(&self) -> BoxFuture<'_, StoreHealth> {
        Box::pin(async move {
            let primary = self.primary.health().await;
            let secondary = self.secondary.health().await;
            let (failures, last) = self.mirror_failures();
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
        })
    }
}
