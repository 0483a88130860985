//! Removals a single `updateMany` cannot express portably: a key cleared inside the objects of
//! an array (a chat participant's profile id). Each matching document is read, changed and
//! written back with the version in the filter, retried when a concurrent writer moved it.

use futures_util::TryStreamExt;
use mongodb::bson::doc;

use super::{MongoStore, from_bson};
use crate::model::{Collection, Removal, UserId};
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
            for _ in 0..ATTEMPTS {
                let current = match self.get(collection, user, document_id).await {
                    Ok(current) => current,
                    Err(StoreError::NotFound) => break,
                    Err(error) => return Err(error),
                };
                let mut body = current.body.clone();
                for stat in super::convert::CHAT_STATS {
                    body.remove(*stat);
                }
                if !removal.apply(&mut body) {
                    break;
                }
                match self
                    .replace(collection, user, document_id, current.version, body)
                    .await
                {
                    Ok(_) => {
                        changed += 1;
                        break;
                    }
                    Err(StoreError::VersionMismatch) => continue,
                    Err(StoreError::NotFound) => break,
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(changed)
    }
}
