//! What the dual store's tests share: a dual store over a json primary and a json secondary
//! that can be switched off.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use tempfile::TempDir;
use uuid::Uuid;

use super::DualStore;
use crate::model::{Collection, Document, Removal, Timestamp, UserId, ids};
use crate::store::messages::ChatStats;
use crate::store::vectors::{Scored, VectorQuery};
use crate::store::{
    JsonStore, ListQuery, MessageChange, MessagePage, MessageQuery, MetadataBackend, Page,
    StoreError, StoreHealth, StoreResult,
};

/// A json store whose writes fail while it is switched off (reads still answer).
#[derive(Clone)]
pub(super) struct Switch {
    pub(super) inner: JsonStore,
    pub(super) off: Arc<AtomicBool>,
}

impl Switch {
    fn up(&self) -> StoreResult<()> {
        match self.off.load(Ordering::SeqCst) {
            true => Err(StoreError::Unavailable("switched off".to_owned())),
            false => Ok(()),
        }
    }
}

impl MetadataBackend for Switch {
    fn name(&self) -> &'static str {
        "switch"
    }
    fn insert(&self, c: Collection, d: Document) -> BoxFuture<'_, StoreResult<Document>> {
        Box::pin(async move {
            self.up()?;
            self.inner.insert(c, d).await
        })
    }
    fn get<'a>(
        &'a self,
        c: Collection,
        u: &'a UserId,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<Arc<Document>>> {
        self.inner.get(c, u, id)
    }
    fn replace<'a>(
        &'a self,
        c: Collection,
        u: &'a UserId,
        id: Uuid,
        v: u64,
        b: Map<String, Value>,
    ) -> BoxFuture<'a, StoreResult<Document>> {
        Box::pin(async move {
            self.up()?;
            self.inner.replace(c, u, id, v, b).await
        })
    }
    fn delete<'a>(
        &'a self,
        c: Collection,
        u: &'a UserId,
        id: Uuid,
        v: Option<u64>,
    ) -> BoxFuture<'a, StoreResult<Document>> {
        Box::pin(async move {
            self.up()?;
            self.inner.delete(c, u, id, v).await
        })
    }
    fn list<'a>(&'a self, q: &'a ListQuery) -> BoxFuture<'a, StoreResult<Page>> {
        self.inner.list(q)
    }
    fn existing_ids<'a>(
        &'a self,
        c: Collection,
        u: &'a UserId,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, StoreResult<HashSet<Uuid>>> {
        self.inner.existing_ids(c, u, ids)
    }
    fn taken_ids<'a>(
        &'a self,
        c: Collection,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, StoreResult<HashSet<Uuid>>> {
        self.inner.taken_ids(c, ids)
    }
    fn remove_references<'a>(
        &'a self,
        c: Collection,
        u: &'a UserId,
        r: &'a Removal,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        Box::pin(async move {
            self.up()?;
            self.inner.remove_references(c, u, r).await
        })
    }
    fn commit_messages<'a>(
        &'a self,
        u: &'a UserId,
        chat: Uuid,
        changes: Vec<MessageChange>,
    ) -> BoxFuture<'a, StoreResult<Vec<Document>>> {
        Box::pin(async move {
            self.up()?;
            self.inner.commit_messages(u, chat, changes).await
        })
    }
    fn page_messages<'a>(&'a self, q: &'a MessageQuery) -> BoxFuture<'a, StoreResult<MessagePage>> {
        self.inner.page_messages(q)
    }
    fn get_message<'a>(
        &'a self,
        u: &'a UserId,
        chat: Uuid,
        id: Uuid,
    ) -> BoxFuture<'a, StoreResult<Document>> {
        self.inner.get_message(u, chat, id)
    }
    fn put_document(&self, c: Collection, d: Document) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            self.up()?;
            self.inner.put_document(c, d).await
        })
    }
    fn put_messages(
        &self,
        chat: Uuid,
        m: Vec<Document>,
        d: Vec<Uuid>,
    ) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            self.up()?;
            self.inner.put_messages(chat, m, d).await
        })
    }
    fn mirror_messages<'a>(
        &'a self,
        u: &'a UserId,
        chat: Uuid,
        batch: (Vec<Document>, Vec<Uuid>),
        counters: (ChatStats, u64),
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            self.up()?;
            self.inner.mirror_messages(u, chat, batch, counters).await
        })
    }
    fn last_seq<'a>(&'a self, u: &'a UserId, chat: Uuid) -> BoxFuture<'a, StoreResult<u64>> {
        self.inner.last_seq(u, chat)
    }
    fn raise_last_seq<'a>(
        &'a self,
        u: &'a UserId,
        chat: Uuid,
        seq: u64,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            self.up()?;
            self.inner.raise_last_seq(u, chat, seq).await
        })
    }
    fn scan_documents(
        &self,
        c: Collection,
        after: Option<Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<Document>>> {
        self.inner.scan_documents(c, after, limit)
    }
    fn nearest<'a>(&'a self, q: &'a VectorQuery) -> BoxFuture<'a, StoreResult<Vec<Scored>>> {
        self.inner.nearest(q)
    }
    fn vector_dimension<'a>(
        &'a self,
        u: &'a UserId,
        model: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<usize>>> {
        self.inner.vector_dimension(u, model)
    }
    fn health(&self) -> BoxFuture<'_, StoreHealth> {
        self.inner.health()
    }
}

pub(super) fn body(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

/// A dual store over a json primary and a json secondary switched `off` or on.
pub(super) struct Fixture {
    pub(super) dual: DualStore<JsonStore, Switch>,
    pub(super) primary: JsonStore,
    pub(super) secondary: Switch,
    pub(super) user: UserId,
    pub(super) _dirs: (TempDir, TempDir),
}

pub(super) async fn fixture(off: bool) -> Fixture {
    let dirs = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let primary = JsonStore::open(dirs.0.path()).await.unwrap();
    let secondary = Switch {
        inner: JsonStore::open(dirs.1.path()).await.unwrap(),
        off: Arc::new(AtomicBool::new(off)),
    };
    Fixture {
        dual: DualStore::new(primary.clone(), secondary.clone()),
        primary,
        secondary,
        user: UserId::parse("user-1").unwrap(),
        _dirs: dirs,
    }
}

/// A new document of `user` with `value` as its body.
pub(super) fn document(user: &UserId, value: Value) -> Document {
    Document::new(ids::new_id(), user.clone(), Timestamp::now(), body(value))
}
