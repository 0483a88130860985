//! Memory search on the json store: the user's vectors of one character, already parsed to
//! `f32` in the in-memory index, scored outside the index lock.

use std::sync::Arc;

use super::JsonStore;
use crate::model::{Collection, Document, UserId};
use crate::store::StoreResult;
use crate::store::vectors::{PreparedVector, Scored, TopK, VectorQuery, cosine, norm};

impl JsonStore {
    pub(super) async fn nearest(&self, query: &VectorQuery) -> StoreResult<Vec<Scored>> {
        // Only this user's memories of this character are touched: clone their handles out
        // of the index and let go of the lock before scoring.
        let candidates: Vec<(uuid::Uuid, Arc<PreparedVector>)> = {
            let indexes = self.read();
            indexes
                .user(Collection::Memories, &query.user)
                .and_then(|documents| documents.vectors.by_character.get(&query.character_id))
                .map(|group| {
                    group
                        .iter()
                        .filter(|(_, vector)| vector.model == query.model)
                        .map(|(id, vector)| (*id, Arc::clone(vector)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let query_norm = norm(&query.vector);
        let mut top = TopK::new(query.limit, query.min_score);
        for (id, vector) in &candidates {
            if let Some(score) = cosine(&query.vector, query_norm, vector) {
                top.offer(*id, score);
            }
        }
        let indexes = self.read();
        let documents = indexes.user(Collection::Memories, &query.user);
        Ok(top
            .into_sorted()
            .into_iter()
            .filter_map(|(id, score)| {
                // Memories are kept whole (see `summary.rs`).
                let entry = documents?.by_id.get(&id)?;
                Some(Scored {
                    document: Document::clone(entry.held_document()?),
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
        Ok(self
            .read()
            .user(Collection::Memories, user)
            .and_then(|documents| documents.vectors.dimension(model)))
    }
}
