//! [`MetadataBackend`]: the one interface every metadata backend implements (json, mongodb,
//! and the dual store over any two of them).
//!
//! Why a trait and not a macro over an enum (the `each!`/`on!` macros it replaces): the
//! compiler holds every backend to the same list of operations, so a backend that lacks one
//! does not build, and the dual store is written once, generically, instead of matching on its
//! two sides in every method. Adding an operation is: its definition here; its implementation
//! in each backend (an inherent `async fn` beside the code it uses, bound in the backend's
//! `backend.rs` by one line); one method in the dual store (a read from the primary, or a
//! write to both); and the handle's public method in the parent module, which says whether it
//! is a write to detach.
//!
//! Why boxed futures: [`MetadataStore`](super::MetadataStore) holds the dual store as an
//! `Arc<dyn MetadataBackend>` (its primary is chosen at startup), and a trait whose methods
//! are `async fn` cannot be used as `dyn`. The box costs one allocation per call, next to a
//! disk write or a network round trip. The futures are `Send`, so the handle can spawn a write
//! on its own task and run it to its end even if the request goes away (`detach` in the parent
//! module); the dual store's mirror write is part of the same future, so it is never cut off
//! from the primary's either.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::messages::ChatStats;
use super::vectors::{Scored, VectorQuery};
use super::{ListQuery, MessageChange, MessagePage, MessageQuery, Page, StoreHealth, StoreResult};
use crate::model::{Collection, Document, Removal, UserId};

/// What a metadata backend does. Documents are owned by a user: every read and write names
/// the user, except the whole-store scans and writes "as given" that copies and mirrors use.
pub trait MetadataBackend: Send + Sync + 'static {
    /// The backend's name in metrics: `json`, `mongodb` or `dual`.
    fn name(&self) -> &'static str;

    /// Stores a new document; a unique value another document holds is a conflict.
    fn insert(
        &self,
        collection: Collection,
        document: Document,
    ) -> BoxFuture<'_, StoreResult<Document>>;

    /// A document, shared: a store that keeps documents in memory hands out its own instead
    /// of a copy (`MetadataStore::get` makes the copy for a caller that changes it).
    fn get<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<Arc<Document>>>;

    /// Replaces the body of a document if its version is still `expected_version`; the new
    /// document has the next version and a fresh `updatedAt`.
    fn replace<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        id: Uuid,
        expected_version: u64,
        body: Map<String, Value>,
    ) -> BoxFuture<'a, StoreResult<Document>>;

    /// Deletes a document (a chat with its messages); with `expected_version`, only if it is
    /// still that version.
    fn delete<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<Document>>;

    fn list<'a>(&'a self, query: &'a ListQuery) -> BoxFuture<'a, StoreResult<Page>>;

    /// Which of `ids` name documents of `user` in `collection`.
    fn existing_ids<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, StoreResult<HashSet<Uuid>>>;

    /// Which of `ids` name documents of any user in `collection` (an account import keeps
    /// an archive's id only when no one holds it).
    fn taken_ids<'a>(
        &'a self,
        collection: Collection,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, StoreResult<HashSet<Uuid>>>;

    /// Removes a deleted document's id from every document of `user` in `collection`;
    /// returns how many documents changed (each gets a new version).
    fn remove_references<'a>(
        &'a self,
        collection: Collection,
        user: &'a UserId,
        removal: &'a Removal,
    ) -> BoxFuture<'a, StoreResult<u64>>;

    /// Applies a batch of message changes to one chat atomically.
    fn commit_messages<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
    ) -> BoxFuture<'a, StoreResult<Vec<Document>>>;

    fn page_messages<'a>(
        &'a self,
        query: &'a MessageQuery,
    ) -> BoxFuture<'a, StoreResult<MessagePage>>;

    fn get_message<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<Document>>;

    /// Writes a document as given, whatever is stored (copies and the dual store's mirror).
    fn put_document(
        &self,
        collection: Collection,
        document: Document,
    ) -> BoxFuture<'_, StoreResult<()>>;

    /// Writes messages as given and removes `deleted`, whatever is stored (copies, mirrors).
    fn put_messages(
        &self,
        chat_id: Uuid,
        messages: Vec<Document>,
        deleted: Vec<Uuid>,
    ) -> BoxFuture<'_, StoreResult<()>>;

    /// The dual store's mirror of a committed batch: [`put_messages`](Self::put_messages) with
    /// the chat's `stats` and `last_seq` as the primary has them after the batch, for a backend
    /// that would otherwise recount the whole chat on every append (MongoDB). The default
    /// ignores them: the json store's counters follow from its log at no cost.
    fn mirror_messages<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        batch: (Vec<Document>, Vec<Uuid>),
        (stats, last_seq): (ChatStats, u64),
    ) -> BoxFuture<'a, StoreResult<()>> {
        let _ = (user, stats, last_seq);
        self.put_messages(chat_id, batch.0, batch.1)
    }

    /// The highest `seq` ever assigned in a chat, deleted messages included.
    fn last_seq<'a>(&'a self, user: &'a UserId, chat_id: Uuid) -> BoxFuture<'a, StoreResult<u64>>;

    /// Raises a chat's highest assigned `seq` to at least `seq`.
    fn raise_last_seq<'a>(
        &'a self,
        user: &'a UserId,
        chat_id: Uuid,
        seq: u64,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Documents of every user in `collection`, by id, after `after` (for copies and checks).
    fn scan_documents(
        &self,
        collection: Collection,
        after: Option<Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<Document>>>;

    /// The memories of one user and character whose embedding of `query.model` is nearest
    /// to `query.vector` (exact cosine), best first. Reads no other user's or character's.
    fn nearest<'a>(&'a self, query: &'a VectorQuery) -> BoxFuture<'a, StoreResult<Vec<Scored>>>;

    /// The dimension of `user`'s stored memory vectors of `model`, if there are any.
    fn vector_dimension<'a>(
        &'a self,
        user: &'a UserId,
        model: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<usize>>>;

    fn health(&self) -> BoxFuture<'_, StoreHealth>;

    /// Stops the backend's background work before the process lets go of its stores (a
    /// restart on the same `DATA_DIR` needs them closed). The default has none.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
