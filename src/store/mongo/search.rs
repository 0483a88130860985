//! Memory search on MongoDB: a query filtered by user, character and embedding model (the
//! `user_character_model` index of `migrations/0002_data_model.json`), reading only ids and
//! vectors, scored exactly in the service; the winners are then read whole.

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, doc};

use super::{MongoStore, from_bson};
use crate::model::{Collection, UserId};
use crate::store::StoreResult;
use crate::store::vectors::{PreparedVector, Scored, TopK, VectorQuery, cosine, norm};

/// Vectors fetched per round trip.
const BATCH: u32 = 1000;

impl MongoStore {
    pub(super) async fn nearest(&self, query: &VectorQuery) -> StoreResult<Vec<Scored>> {
        let filter = doc! {
            "userId": query.user.as_str(),
            "characterId": query.character_id.to_string(),
            "embedding.model": &query.model,
        };
        let mut cursor = self
            .collection(Collection::Memories)
            .find(filter)
            .projection(doc! { "_id": 0, "id": 1, "embedding.vector": 1 })
            .batch_size(BATCH)
            .await?;
        let query_norm = norm(&query.vector);
        let mut top = TopK::new(query.limit, query.min_score);
        while let Some(stored) = cursor.try_next().await? {
            let id = stored
                .get_str("id")
                .ok()
                .and_then(|text| uuid::Uuid::try_parse(text).ok());
            let values = stored
                .get_document("embedding")
                .ok()
                .and_then(|embedding| embedding.get_array("vector").ok())
                .and_then(|items| {
                    items
                        .iter()
                        .map(|item| match item {
                            Bson::Double(value) => Some(*value as f32),
                            Bson::Int64(value) => Some(*value as f32),
                            Bson::Int32(value) => Some(*value as f32),
                            _ => None,
                        })
                        .collect::<Option<Box<[f32]>>>()
                });
            let (Some(id), Some(values)) = (id, values) else {
                continue;
            };
            let vector = PreparedVector::new(String::new(), values);
            if let Some(score) = cosine(&query.vector, query_norm, &vector) {
                top.offer(id, score);
            }
        }
        let ranked = top.into_sorted();
        let wanted: Vec<String> = ranked.iter().map(|(id, _)| id.to_string()).collect();
        let filter = doc! { "userId": query.user.as_str(), "id": { "$in": wanted } };
        let mut cursor = self.collection(Collection::Memories).find(filter).await?;
        let mut found = std::collections::HashMap::new();
        while let Some(stored) = cursor.try_next().await? {
            let document = from_bson(Collection::Memories, stored)?;
            found.insert(document.id, document);
        }
        Ok(ranked
            .into_iter()
            .filter_map(|(id, score)| {
                Some(Scored {
                    document: found.remove(&id)?,
                    score,
                })
            })
            .collect())
    }

    pub(super) async fn vector_dimension(
        &self,
        user: &UserId,
        model: &str,
    ) -> StoreResult<Option<usize>> {
        let filter = doc! { "userId": user.as_str(), "embedding.model": model };
        let stored = self
            .collection(Collection::Memories)
            .find_one(filter)
            .projection(doc! { "_id": 0, "embedding.vector": 1 })
            .await?;
        Ok(stored.and_then(|stored| {
            let embedding = stored.get_document("embedding").ok()?;
            Some(embedding.get_array("vector").ok()?.len())
        }))
    }
}
