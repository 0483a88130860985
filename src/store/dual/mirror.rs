//! The dual store's side of a mirror write: the order of writes to one record, the batch
//! handed to the secondary, and the record of what the secondary missed (log, metric, health,
//! and what waits for a copy: see `repair.rs`).

use std::sync::Mutex;

use uuid::Uuid;

use super::DualStore;
use super::repair::{Missed, Pending};
use crate::model::{Collection, Document, UserId};
use crate::store::messages::ChatStats;
use crate::store::{MetadataBackend, StoreError, StoreResult};

/// Stripes of [`DualStore::order`].
const ORDER_STRIPES: usize = 64;

#[derive(Default)]
pub(super) struct MirrorState {
    pub(super) last_failure: Option<String>,
    pub(super) pending: Pending,
}

impl<Primary: MetadataBackend, Secondary: MetadataBackend> DualStore<Primary, Secondary> {
    pub fn new(primary: Primary, secondary: Secondary) -> Self {
        Self {
            primary,
            secondary,
            mirror: Mutex::new(MirrorState::default()),
            order: (0..ORDER_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            unordered: tokio::sync::Mutex::new(()),
            repairing: Mutex::new(None),
        }
    }

    /// Orders the writes to the record `id` (see [`DualStore::order`]).
    pub(super) async fn ordered(&self, id: Uuid) -> tokio::sync::MutexGuard<'_, ()> {
        self.order[(id.as_u128() % ORDER_STRIPES as u128) as usize]
            .lock()
            .await
    }

    /// Records the outcome of a secondary write of `missed` (what it touched, when known). A
    /// document the secondary does not have (never copied there) is not a failure: there is
    /// nothing to keep in step.
    pub(super) fn mirrored<T>(
        &self,
        what: &'static str,
        missed: Option<Missed>,
        outcome: StoreResult<T>,
    ) {
        match outcome {
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(error) => {
                let secondary = self.secondary.name();
                tracing::error!(operation = what, secondary, error = %error, "dual store: the secondary missed a write");
                crate::metrics::record_secondary_miss(secondary, what);
                let mut state = self.state();
                state.pending.add(missed);
                state.last_failure = Some(format!("{what}: {error}"));
            }
        }
    }

    /// Mirrors a committed batch with the chat's counters as the primary now has them (so that
    /// the secondary need not recount the chat).
    pub(super) async fn mirror_batch(
        &self,
        user: &UserId,
        chat_id: Uuid,
        batch: (Vec<Document>, Vec<Uuid>),
    ) -> StoreResult<()> {
        let chat = self.primary.get(Collection::Chats, user, chat_id).await?;
        let last_seq = self.primary.last_seq(user, chat_id).await?;
        let stats = ChatStats::of(&chat.body);
        (self.secondary)
            .mirror_messages(user, chat_id, batch, (stats, last_seq))
            .await
    }

    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, MirrorState> {
        self.mirror
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
