//! Removals a single `updateMany` cannot express portably: a key cleared inside the objects of
//! an array (a chat participant's profile id). Each matching document is read, changed and
//! written back with the version in the filter, retried when a concurrent writer moved it
//! (`store::retry::edit_document`).

use futures_util::TryStreamExt;
use mongodb::bson::doc;

use super::{MongoStore, from_bson};
use crate::model::{Collection, Removal, UserId};
use crate::store::retry::edit_document;
use crate::store::{StoreError, StoreResult};

/// How often one document is retried when concurrent writers keep changing it.
const ATTEMPTS: usize = 16;

impl MongoStore {
    pub(super) async fn remove_nested_references(
        &self,
        collection: Collection,
        user: &UserId,
        removal: &Removal,
    ) -> StoreResult<u64> {
        let Removal::ArrayObjectKey { field, key, id } = removal else {
            return Err(StoreError::Internal(anyhow::anyhow!(
                "remove_nested_references takes ArrayObjectKey removals"
            )));
        };
        let filter = doc! { "userId": user.as_str(), format!("{field}.{key}"): id.to_string() };
        let mut cursor = self.collection(collection).find(filter).await?;
        let mut matching = Vec::new();
        while let Some(stored) = cursor.try_next().await? {
            matching.push(from_bson(collection, stored)?.id);
        }
        let mut changed = 0;
        for document_id in matching {
            let written = edit_document(
                ATTEMPTS,
                || self.get(collection, user, document_id),
                |body| {
                    for stat in super::convert::CHAT_STATS {
                        body.remove(*stat);
                    }
                    removal.apply(body)
                },
                |version, body| self.replace(collection, user, document_id, version, body),
            )
            .await?;
            changed += u64::from(written);
        }
        Ok(changed)
    }
}
