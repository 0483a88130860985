//! Exclusive flags: a boolean at most one document of a user holds (a profile's `isDefault`).
//! Setting it on one document clears it on the others, each with a version-checked write
//! (`store::retry::edit_document`).

use serde_json::Value;
use uuid::Uuid;

use super::retry::edit_document;
use super::{Filter, ListQuery, MetadataStore, SortField, StoreResult};
use crate::model::{Collection, UserId};

/// How often one document is retried when concurrent writers keep changing it.
const ATTEMPTS: usize = 16;
/// Documents holding the flag read at once (normally one, more only after a race).
const BATCH: usize = 50;

impl MetadataStore {
    /// Sets `flag` to false on every document of `user` in `collection` but `keep`; returns
    /// how many changed.
    pub async fn clear_flag_except(
        &self,
        collection: Collection,
        user: &UserId,
        flag: &'static str,
        keep: Uuid,
    ) -> StoreResult<u64> {
        let query = ListQuery {
            collection,
            user: user.clone(),
            filters: vec![Filter::Equals {
                field: flag,
                value: Value::Bool(true),
            }],
            sort: SortField::UpdatedAt,
            descending: true,
            after: None,
            limit: BATCH,
            include_total: false,
        };
        let holders: Vec<Uuid> = self
            .list(&query)
            .await?
            .items
            .into_iter()
            .map(|document| document.id)
            .filter(|id| *id != keep)
            .collect();
        let mut changed = 0;
        for id in holders {
            let written = edit_document(
                ATTEMPTS,
                || self.get(collection, user, id),
                |body| {
                    let holds = body.get(flag) == Some(&Value::Bool(true));
                    if holds {
                        body.insert(flag.to_owned(), Value::Bool(false));
                    }
                    holds
                },
                |version, body| self.replace(collection, user, id, version, body),
            )
            .await?;
            changed += u64::from(written);
        }
        Ok(changed)
    }
}
