//! The json store as a [`MetadataBackend`]: each operation bound to the inherent `async fn`
//! that implements it (documents in `mod.rs`, messages in `messages.rs`).

use std::collections::HashSet;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::JsonStore;
use crate::model::{Collection, Document, Removal, UserId};
use crate::store::vectors::{Scored, VectorQuery};
use crate::store::{
    ListQuery, MessageChange, MessagePage, MessageQuery, MetadataBackend, Page, StoreHealth,
    StoreResult,
};

// Inherent methods win over trait methods of the same name, so `Self::insert(self, ..)` below
// is the store's own `insert`, not a call back into this impl.
impl MetadataBackend for JsonStore {
    fn name(&self) -> &'static str {
        "json"
    }

    fn insert(
        &self,
        collection: Collection,
        document: Document,
    ) -> BoxFuture<'_, StoreResult<Document>> {
        Box::pin(Self::insert(self, collection, document))
    }

    fn get<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<std::sync::Arc<Document>>> {
        Box::pin(Self::get(self, collection, user, id))
    }

    fn replace<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        id: Uuid,
        expected_version: u64,
        body: Map<String, Value>,
    ) -> BoxFuture<'a, StoreResult<Document>> {
        Box::pin(Self::replace(
            self,
            collection,
            user,
            id,
            expected_version,
            body,
        ))
    }

    fn delete<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<Document>> {
        Box::pin(Self::delete(self, collection, user, id, expected_version))
    }

    fn list<'a>(&'a self, query: &'a ListQuery) -> BoxFuture<'a, StoreResult<Page>> {
        Box::pin(Self::list(self, query))
    }

    fn existing_ids<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, StoreResult<HashSet<Uuid>>> {
        Box::pin(Self::existing_ids(self, collection, user, ids))
    }

    fn taken_ids<'a>(
        &'a self,
        collection: Collection,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, StoreResult<HashSet<Uuid>>> {
        Box::pin(Self::taken_ids(self, collection, ids))
    }

    fn remove_references<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        removal: &'a Removal,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        Box::pin(Self::remove_references(self, collection, user, removal))
    }

    fn commit_messages<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
    ) -> BoxFuture<'a, StoreResult<Vec<Document>>> {
        Box::pin(Self::commit_messages(self, user, chat_id, changes))
    }

    fn page_messages<'a>(
        &'a self,
        query: &'a MessageQuery,
    ) -> BoxFuture<'a, StoreResult<MessagePage>> {
        Box::pin(Self::page_messages(self, query))
    }

    fn get_message<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<Document>> {
        Box::pin(Self::get_message(self, user, chat_id, id))
    }

    fn put_document(
        &self,
        collection: Collection,
        document: Document,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(Self::put_document(self, collection, document))
    }

    fn put_messages(
        &self,
        chat_id: Uuid,
        messages: Vec<Document>,
        deleted: Vec<Uuid>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(Self::put_messages(self, chat_id, messages, deleted))
    }

    fn last_seq<'a>(&'a self, user: &'a UserId, chat_id: Uuid) -> BoxFuture<'a, StoreResult<u64>> {
        Box::pin(Self::last_seq(self, user, chat_id))
    }

    fn raise_last_seq<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        seq: u64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(Self::raise_last_seq(self, user, chat_id, seq))
    }

    fn scan_documents(
        &self,
        collection: Collection,
        after: Option<Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<Document>>> {
        Box::pin(Self::scan_documents(self, collection, after, limit))
    }

    fn nearest<'a>(&'a self, query: &'a VectorQuery) -> BoxFuture<'a, StoreResult<Vec<Scored>>> {
        Box::pin(Self::nearest(self, query))
    }

    fn vector_dimension<'a>(
        &'a self,
        user: &'a UserId,
        model: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<usize>>> {
        Box::pin(Self::vector_dimension(self, user, model))
    }

    fn health(&self) -> BoxFuture<'_, StoreHealth> {
        Box::pin(Self::health(self))
    }
}
