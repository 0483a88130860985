//! The MongoDB metadata store, on the official driver: one client for the process, write
//! concern majority, server selection bounded by `MONGODB_CONNECTION_TIMEOUT_MS`. Every
//! collection is served by the same generic code; optimistic concurrency puts `version` in
//! the update filter.

mod backend;
mod convert;
pub mod errors;
mod messages;
mod removals;
pub mod schema;
mod search;
mod transactions;

use std::collections::HashSet;
use std::time::Instant;

use futures_util::TryStreamExt;
use mongodb::bson::{self, Bson, doc};
use mongodb::options::{ClientOptions, ReturnDocument, WriteConcern};
use mongodb::{Client, Collection as MongoCollection, Database};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use self::convert::{from_bson, to_bson};
use super::{HealthStatus, ListQuery, Page, StoreError, StoreHealth, StoreResult};
use crate::config::MongoConfig;
use crate::model::{Collection, Document, Removal, Timestamp, UserId};

#[derive(Clone)]
pub struct MongoStore {
    client: Client,
    database: Database,
}

impl MongoStore {
    /// Builds the client (it connects lazily) and, when asked, applies pending migrations.
    pub async fn connect(config: &MongoConfig) -> anyhow::Result<Self> {
        let mut options = ClientOptions::parse(config.uri.expose()).await?;
        options.app_name = Some("quillstore".to_owned());
        options.max_pool_size = Some(config.max_pool_size);
        options.connect_timeout = Some(config.timeout);
        options.server_selection_timeout = Some(config.timeout);
        options.write_concern = Some(WriteConcern::majority());
        let client = Client::with_options(options)?;
        let store = Self {
            database: client.database(&config.database),
            client,
        };
        if config.auto_migrate {
            schema::apply(&store.database).await?;
        }
        Ok(store)
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    fn collection(&self, collection: Collection) -> MongoCollection<bson::Document> {
        self.database.collection(collection.name())
    }

    async fn find_one(
        &self,
        collection: Collection,
        filter: bson::Document,
    ) -> StoreResult<Option<Document>> {
        match self.collection(collection).find_one(filter).await? {
            Some(stored) => Ok(Some(from_bson(collection, stored)?)),
            None => Ok(None),
        }
    }

    async fn insert(&self, collection: Collection, document: Document) -> StoreResult<Document> {
        let stored = to_bson(collection, &document)?;
        match self.collection(collection).insert_one(stored).await {
            Ok(_) => Ok(document),
            Err(error) if errors::is_duplicate_key(&error) => {
                Err(self.duplicate(collection, &document).await)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The conflict for a document whose unique value another document holds.
    async fn duplicate(&self, collection: Collection, document: &Document) -> StoreError {
        let Some(field) = collection.unique_field() else {
            return StoreError::Internal(anyhow::anyhow!("duplicate key on {}", collection.name()));
        };
        let lower = document
            .body
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase();
        let filter = doc! { "userId": document.user_id.as_str(), "nameLower": lower };
        match self.find_one(collection, filter).await {
            Ok(Some(holder)) => StoreError::Duplicate {
                field: field.to_owned(),
                existing_id: holder.id,
            },
            Ok(None) => StoreError::VersionMismatch,
            Err(error) => error,
        }
    }

    async fn get(&self, collection: Collection, user: &UserId, id: Uuid) -> StoreResult<Document> {
        let filter = doc! { "userId": user.as_str(), "id": id.to_string() };
        self.find_one(collection, filter)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Why a version-filtered write matched nothing: the document is gone or has moved on.
    async fn missed(&self, collection: Collection, user: &UserId, id: Uuid) -> StoreError {
        match self.get(collection, user, id).await {
            Ok(_) => StoreError::VersionMismatch,
            Err(error) => error,
        }
    }

    async fn replace(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
        expected_version: u64,
        body: Map<String, Value>,
    ) -> StoreResult<Document> {
        let current = self.get(collection, user, id).await?;
        if current.version != expected_version {
            return Err(StoreError::VersionMismatch);
        }
        let next = Document {
            version: current.version + 1,
            updated_at: Timestamp::now().max(current.updated_at),
            body,
            ..current.clone()
        };
        let set = convert::settable(collection, &next)?;
        let unset: bson::Document = current
            .body
            .keys()
            .filter(|key| {
                !next.body.contains_key(*key) && !convert::CHAT_STATS.contains(&key.as_str())
            })
            .map(|key| (key.clone(), Bson::String(String::new())))
            .collect();
        let mut update = doc! { "$set": set };
        if !unset.is_empty() {
            update.insert("$unset", unset);
        }
        let filter = doc! { "userId": user.as_str(), "id": id.to_string(), "version": expected_version as i64 };
        let updated = self
            .collection(collection)
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .await;
        match updated {
            Ok(Some(stored)) => Ok(from_bson(collection, stored)?),
            Ok(None) => Err(self.missed(collection, user, id).await),
            Err(error) if errors::is_duplicate_key(&error) => {
                Err(self.duplicate(collection, &next).await)
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn delete(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
        expected_version: Option<u64>,
    ) -> StoreResult<Document> {
        let mut filter = doc! { "userId": user.as_str(), "id": id.to_string() };
        if let Some(version) = expected_version {
            filter.insert("version", version as i64);
        }
        let Some(stored) = self
            .collection(collection)
            .find_one_and_delete(filter)
            .await?
        else {
            return Err(self.missed(collection, user, id).await);
        };
        if collection == Collection::Chats {
            let messages = doc! { "userId": user.as_str(), "chatId": id.to_string() };
            self.collection(Collection::Messages)
                .delete_many(messages)
                .await?;
        }
        Ok(from_bson(collection, stored)?)
    }

    async fn list(&self, query: &ListQuery) -> StoreResult<Page> {
        let mut filter = doc! { "userId": query.user.as_str() };
        let mut conditions = Vec::new();
        for condition in &query.filters {
            conditions.push(Bson::Document(convert::filter_to_bson(condition)?));
        }
        if !conditions.is_empty() {
            filter.insert("$and", conditions.clone());
        }
        let total = if query.include_total {
            Some(
                self.collection(query.collection)
                    .count_documents(filter.clone())
                    .await?,
            )
        } else {
            None
        };
        let field = convert::sort_field(query.sort);
        let (direction, beyond) = if query.descending {
            (-1, "$lt")
        } else {
            (1, "$gt")
        };
        if let Some((key, id)) = &query.after {
            let key = convert::sort_value(key, query.sort);
            let position = doc! { "$or": [
                { &field: { beyond: key.clone() } },
                { &field: key, "id": { beyond: id.to_string() } },
            ] };
            conditions.push(Bson::Document(position));
            filter.insert("$and", conditions);
        }
        let mut cursor = self
            .collection(query.collection)
            .find(filter)
            .sort(doc! { &field: direction, "id": direction })
            .limit(query.limit as i64 + 1)
            .await?;
        let mut items = Vec::new();
        while let Some(stored) = cursor.try_next().await? {
            items.push(from_bson(query.collection, stored)?);
        }
        let next = if items.len() > query.limit {
            items.truncate(query.limit);
            items.last().map(|last| {
                let value = super::SortValue::of(last, query.sort, query.collection.name_field());
                (value, last.id)
            })
        } else {
            None
        };
        Ok(Page { items, next, total })
    }

    async fn existing_ids(
        &self,
        collection: Collection,
        user: &UserId,
        ids: &[Uuid],
    ) -> StoreResult<HashSet<Uuid>> {
        let wanted: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        self.ids_matching(
            collection,
            doc! { "userId": user.as_str(), "id": { "$in": wanted } },
        )
        .await
    }

    async fn taken_ids(&self, collection: Collection, ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
        let wanted: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        self.ids_matching(collection, doc! { "id": { "$in": wanted } })
            .await
    }

    /// The ids of the documents of `collection` that match `filter`.
    async fn ids_matching(
        &self,
        collection: Collection,
        filter: mongodb::bson::Document,
    ) -> StoreResult<HashSet<Uuid>> {
        let mut cursor = self
            .collection(collection)
            .find(filter)
            .projection(doc! { "id": 1 })
            .await?;
        let mut found = HashSet::new();
        while let Some(stored) = cursor.try_next().await? {
            if let Some(id) = stored
                .get_str("id")
                .ok()
                .and_then(|text| Uuid::try_parse(text).ok())
            {
                found.insert(id);
            }
        }
        Ok(found)
    }

    /// One `updateMany` per removal: `$pull` or `$unset`, with a new version and `updatedAt`.
    async fn remove_references(
        &self,
        collection: Collection,
        user: &UserId,
        removal: &Removal,
    ) -> StoreResult<u64> {
        let id = removal.id().to_string();
        let (filter, change) = match removal {
            Removal::Owned { field, .. } => {
                let filter = doc! { "userId": user.as_str(), *field: &id };
                let result = self.collection(collection).delete_many(filter).await?;
                return Ok(result.deleted_count);
            }
            Removal::ArrayObjectKey { .. } => {
                return self
                    .remove_nested_references(collection, user, removal)
                    .await;
            }
            Removal::ArrayValue { field, .. } => {
                (doc! { *field: &id }, doc! { "$pull": { *field: &id } })
            }
            Removal::ArrayObject { field, key, .. } => (
                doc! { format!("{field}.{key}"): &id },
                doc! { "$pull": { *field: { *key: &id } } },
            ),
            Removal::Scalar { field, .. } => {
                (doc! { *field: &id }, doc! { "$unset": { *field: "" } })
            }
        };
        let mut filter = filter;
        filter.insert("userId", user.as_str());
        let mut update = change;
        update.insert("$inc", doc! { "version": 1_i64 });
        update.insert("$currentDate", doc! { "updatedAt": true });
        let result = self
            .collection(collection)
            .update_many(filter, update)
            .await?;
        Ok(result.modified_count)
    }

    /// Writes a document as given (a copy or a mirror); a chat keeps its message counters.
    /// Fields the stored version has and the given one lacks are removed.
    async fn put_document(&self, collection: Collection, document: Document) -> StoreResult<()> {
        let filter = doc! { "userId": document.user_id.as_str(), "id": document.id.to_string() };
        let mut set = convert::settable(collection, &document)?;
        for (key, value) in doc! { "createdAt": convert::millis(document.created_at) } {
            set.insert(key, value);
        }
        let stored = self.collection(collection).find_one(filter.clone()).await?;
        let stale = stored
            .map(|stored| convert::stale_fields(&stored, &set))
            .unwrap_or_default();
        let mut update = doc! { "$set": set };
        if !stale.is_empty() {
            update.insert("$unset", stale);
        }
        self.collection(collection)
            .update_one(filter, update)
            .upsert(true)
            .await?;
        Ok(())
    }

    /// Every user's documents of `collection` with ids after `after`, in id order.
    async fn scan_documents(
        &self,
        collection: Collection,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<Document>> {
        let filter = match after {
            Some(after) => doc! { "id": { "$gt": after.to_string() } },
            None => doc! {},
        };
        let mut cursor = self
            .collection(collection)
            .find(filter)
            .sort(doc! { "id": 1 })
            .limit(limit as i64)
            .await?;
        let mut found = Vec::new();
        while let Some(stored) = cursor.try_next().await? {
            found.push(from_bson(collection, stored)?);
        }
        Ok(found)
    }

    pub async fn health(&self) -> StoreHealth {
        let started = Instant::now();
        let ping = self.database.run_command(doc! { "ping": 1 }).await;
        let latency = started.elapsed();
        let (status, message) = match ping {
            Ok(_) => (HealthStatus::Healthy, None),
            Err(error) => (
                HealthStatus::Unhealthy,
                Some(format!("ping failed: {error}")),
            ),
        };
        StoreHealth {
            backend: "mongodb",
            status,
            latency,
            message,
        }
    }
}
