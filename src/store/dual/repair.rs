//! Writes the secondary missed, copied again: each miss is remembered by what it touched (a
//! document, a user's documents of a collection, a chat's messages), and a task started with
//! the store copies those from the primary every [`REPAIR_INTERVAL`] until the secondary takes
//! them. A passing outage of the secondary heals by itself; health is degraded only while
//! something waits. Past [`MAX_PENDING`] misses are only counted, and `quillstore migrate
//! copy` brings the secondary back in line.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use uuid::Uuid;

use super::DualStore;
use crate::model::message::Placement;
use crate::model::{Collection, Document, UserId};
use crate::store::messages::ChatStats;
use crate::store::{ListQuery, MessageQuery, MetadataBackend, StoreError, StoreResult};

/// How often missed writes are copied again.
pub const REPAIR_INTERVAL: Duration = Duration::from_secs(5);
/// Missed records remembered one by one; past this, misses are only counted.
pub const MAX_PENDING: usize = 100_000;
/// Documents or message positions read per page while copying.
pub(super) const PAGE: usize = 500;

/// What a missed write touched, as the primary now holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Missed {
    Document(Collection, UserId, Uuid),
    /// Every document of a user in a collection (a reference removal may touch any of them).
    Collection(Collection, UserId),
    /// A chat's messages, swipes included, and its highest `seq`.
    Messages(UserId, Uuid),
}

/// What waits for a copy: each miss with the number of the last write that missed it, so a
/// miss during a copy keeps it waiting.
#[derive(Default)]
pub(super) struct Pending {
    missed: HashMap<Missed, u64>,
    writes: u64,
    /// Misses not remembered (past [`MAX_PENDING`], or of nothing known).
    pub(super) untracked: u64,
}

impl Pending {
    pub(super) fn add(&mut self, missed: Option<Missed>) {
        self.writes += 1;
        match missed {
            Some(missed)
                if self.missed.len() < MAX_PENDING || self.missed.contains_key(&missed) =>
            {
                self.missed.insert(missed, self.writes);
            }
            _ => self.untracked += 1,
        }
    }

    pub(super) fn waiting(&self) -> usize {
        self.missed.len()
    }

    /// What waits, each with the number of its last miss.
    fn snapshot(&self) -> Vec<(Missed, u64)> {
        (self.missed.iter())
            .map(|(missed, write)| (missed.clone(), *write))
            .collect()
    }

    /// `missed` was copied as the primary held it after its miss number `write`: it stops
    /// waiting unless it missed another write since.
    fn copied(&mut self, missed: &Missed, write: u64) {
        if self.missed.get(missed) == Some(&write) {
            self.missed.remove(missed);
        }
    }
}

impl<Primary: MetadataBackend, Secondary: MetadataBackend> DualStore<Primary, Secondary> {
    /// Copies what the secondary missed from the primary; returns how many records still
    /// wait. Documents go first (a chat before its messages). A copy that fails stays
    /// waiting; an unavailable secondary ends the round (it is most likely still away).
    pub async fn repair(&self) -> usize {
        let mut waiting = self.state().pending.snapshot();
        waiting.sort_by_key(|(missed, write)| (matches!(missed, Missed::Messages(..)), *write));
        let mut failed: Option<(Missed, StoreError)> = None;
        let mut failures = 0;
        for (missed, write) in waiting {
            let copied = {
                let _unordered = self.unordered.lock().await;
                self.copy(&missed).await
            };
            match copied {
                Ok(()) => self.state().pending.copied(&missed, write),
                Err(error) => {
                    failures += 1;
                    let unavailable = matches!(error, StoreError::Unavailable(_));
                    failed.get_or_insert((missed, error));
                    if unavailable {
                        break;
                    }
                }
            }
        }
        // One line per round, however many copies failed in it.
        if let Some((missed, error)) = failed {
            tracing::warn!(failures, first = ?missed, error = %error, "dual store: the secondary still misses writes; retried later");
        }
        let left = self.state().pending.waiting();
        if left == 0 {
            tracing::info!("dual store: the secondary has every write it missed");
        }
        left
    }

    async fn copy(&self, missed: &Missed) -> StoreResult<()> {
        match missed {
            Missed::Document(collection, user, id) => {
                let _order = self.ordered(*id).await;
                self.copy_document(*collection, user, *id).await
            }
            Missed::Collection(collection, user) => {
                let mut query = ListQuery::all_of(*collection, user, PAGE);
                loop {
                    let page = self.primary.list(&query).await?;
                    for document in &page.items {
                        // Read again under its stripe: the page may be older than a write.
                        let _order = self.ordered(document.id).await;
                        self.copy_document(*collection, user, document.id).await?;
                    }
                    match page.next {
                        Some(next) => query.after = Some(next),
                        None => return Ok(()),
                    }
                }
            }
            Missed::Messages(user, chat_id) => {
                let _order = self.ordered(*chat_id).await;
                self.copy_messages(user, *chat_id).await
            }
        }
    }

    /// The primary's version of a document, or its absence.
    async fn copy_document(
        &self,
        collection: Collection,
        user: &UserId,
        id: Uuid,
    ) -> StoreResult<()> {
        match self.primary.get(collection, user, id).await {
            Ok(document) => {
                (self.secondary)
                    .put_document(collection, Document::clone(&document))
                    .await
            }
            Err(StoreError::NotFound) => {
                match self.secondary.delete(collection, user, id, None).await {
                    Ok(_) | Err(StoreError::NotFound) => Ok(()),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// The chat's messages as the primary has them: every one put, those only the secondary
    /// has removed, the counters and the highest `seq` carried over. A chat the secondary
    /// lacks is put first, so its messages have a chat to belong to.
    async fn copy_messages(&self, user: &UserId, chat_id: Uuid) -> StoreResult<()> {
        let chat = match self.primary.get(Collection::Chats, user, chat_id).await {
            Ok(chat) => chat,
            // The chat is gone: its removal is a document of its own.
            Err(StoreError::NotFound) => return Ok(()),
            Err(error) => return Err(error),
        };
        match self.secondary.get(Collection::Chats, user, chat_id).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                (self.secondary)
                    .put_document(Collection::Chats, Document::clone(&chat))
                    .await?;
            }
            Err(error) => return Err(error),
        }
        // Page by page (a long chat is never held whole); then the ids only the secondary has.
        let last_seq = self.primary.last_seq(user, chat_id).await?;
        let counters = (ChatStats::of(&chat.body), last_seq);
        let mut kept = HashSet::new();
        let mut pages = MessagePages::new(user, chat_id);
        while let Some(page) = pages.next(&self.primary).await? {
            if page.is_empty() {
                continue;
            }
            kept.extend(page.iter().map(|message| message.id));
            (self.secondary)
                .mirror_messages(user, chat_id, (page, Vec::new()), counters)
                .await?;
        }
        let mut removed = Vec::new();
        let mut pages = MessagePages::new(user, chat_id);
        loop {
            match pages.next(&self.secondary).await {
                Ok(Some(page)) => removed
                    .extend((page.into_iter().map(|copy| copy.id)).filter(|id| !kept.contains(id))),
                Ok(None) | Err(StoreError::NotFound) => break,
                Err(error) => return Err(error),
            }
        }
        if !removed.is_empty() {
            (self.secondary)
                .mirror_messages(user, chat_id, (Vec::new(), removed), counters)
                .await?;
        }
        self.secondary.raise_last_seq(user, chat_id, last_seq).await
    }
}

/// A chat's messages in `store`, swipes included, a page of positions at a time.
struct MessagePages {
    query: Option<MessageQuery>,
}

impl MessagePages {
    fn new(user: &UserId, chat_id: Uuid) -> Self {
        Self {
            query: Some(MessageQuery {
                user: user.clone(),
                chat_id,
                after: None,
                before: None,
                latest: false,
                limit: PAGE,
                include_swipes: true,
            }),
        }
    }

    /// The next page; `None` after the last.
    async fn next(&mut self, store: &impl MetadataBackend) -> StoreResult<Option<Vec<Document>>> {
        let Some(query) = &mut self.query else {
            return Ok(None);
        };
        let page = store.page_messages(query).await?;
        match page.items.last() {
            Some(last) if page.has_more => query.after = Some(Placement::of(&last.body).seq),
            _ => self.query = None,
        }
        Ok(Some(page.items))
    }
}

/// Starts the repair task of `dual`; it ends when the store is closed (`close`, at
/// shutdown, which waits for it) or dropped.
pub fn start<Primary: MetadataBackend, Secondary: MetadataBackend>(
    dual: DualStore<Primary, Secondary>,
) -> Arc<DualStore<Primary, Secondary>> {
    let dual = Arc::new(dual);
    let weak: Weak<DualStore<Primary, Secondary>> = Arc::downgrade(&dual);
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(REPAIR_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(dual) = weak.upgrade() else { return };
            if dual.state().pending.waiting() > 0 {
                dual.repair().await;
            }
        }
    });
    *dual
        .repairing
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(task);
    dual
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(n: u128) -> Missed {
        Missed::Document(
            Collection::Tags,
            UserId::parse("u").unwrap(),
            Uuid::from_u128(n),
        )
    }

    #[test]
    fn a_record_that_missed_a_write_during_its_copy_keeps_waiting() {
        let mut pending = Pending::default();
        pending.add(Some(tag(1)));
        pending.add(Some(tag(2)));
        let copying = pending.snapshot();
        // A write to tag 1 misses again while the copy runs (the copy may predate it).
        pending.add(Some(tag(1)));
        for (missed, write) in &copying {
            pending.copied(missed, *write);
        }
        assert_eq!(pending.snapshot(), vec![(tag(1), 3)]);
        pending.copied(&tag(1), 3);
        assert_eq!(pending.waiting(), 0);
        assert_eq!(pending.untracked, 0);
    }

    #[test]
    fn past_the_limit_misses_are_counted_not_kept() {
        let mut pending = Pending::default();
        for n in 0..MAX_PENDING as u128 {
            pending.add(Some(tag(n)));
        }
        pending.add(Some(tag(0)));
        pending.add(Some(tag(u128::MAX)));
        pending.add(None);
        assert_eq!(pending.waiting(), MAX_PENDING);
        assert_eq!(pending.untracked, 2);
    }
}
