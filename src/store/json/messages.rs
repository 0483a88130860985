//! Messages in the json store: one append-only log per chat (see `log.rs`), reached through
//! the chat document so that only the chat's owner can touch them.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::JsonStore;
use super::log::{self, ChatLog, Entry, LogState, Pending, Record};
use super::log_index;
use crate::model::message::Placement;
use crate::model::{Collection, Document, Removal, UserId};
use crate::store::messages::{Edited, MessageChange, MessagePage, MessageQuery, MessageStamp};
use crate::store::{StoreError, StoreResult};

impl JsonStore {
    /// Applies a batch of changes atomically: all are durable before this returns, or none.
    ///
    /// Concurrent batches of one chat share writes (group commit): a caller queues its batch,
    /// and whoever holds the chat's writer lock plans every queued batch, appends them in one
    /// write with one fsync, and answers each. Each batch still ends in its own commit line,
    /// so it stays atomic on its own.
    pub(super) async fn commit_messages(
        &self,
        user: &UserId,
        chat_id: Uuid,
        changes: Vec<MessageChange>,
    ) -> StoreResult<Vec<Document>> {
        self.envelope(Collection::Chats, user, chat_id)?;
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let log = self.chat_log(chat_id).await?;
        let (reply, mut answer) = oneshot::channel();
        log.queue().push(Pending {
            user: user.clone(),
            changes,
            reply,
        });
        loop {
            tokio::select! {
                biased;
                result = &mut answer => {
                    return result.unwrap_or_else(|_| Err(anyhow::anyhow!("a group commit was abandoned").into()));
                }
                writer = log.writer.lock() => {
                    let queued = std::mem::take(&mut *log.queue());
                    if !queued.is_empty() {
                        self.commit_group(&log, chat_id, queued).await;
                    }
                    drop(writer);
                }
            }
        }
    }

    /// Plans and writes queued batches; the caller holds the writer lock. Runs of plain appends
    /// share one write; any other batch is written on its own, in queue order.
    async fn commit_group(&self, log: &Arc<ChatLog>, chat_id: Uuid, queued: Vec<Pending>) {
        let mut group = Group::default();
        let mut next_seq = log.state().last_seq;
        for pending in queued {
            let alive = !log.state().deleted
                && self
                    .envelope(Collection::Chats, &pending.user, chat_id)
                    .is_ok();
            if !alive {
                let _ = pending.reply.send(Err(StoreError::NotFound));
                continue;
            }
            let only_appends = pending
                .changes
                .iter()
                .all(|change| matches!(change, MessageChange::Append { .. }));
            if !only_appends {
                self.flush(log, &mut group).await;
                let planned = {
                    let state = log.state();
                    plan(
                        &state,
                        &pending.user,
                        chat_id,
                        pending.changes,
                        state.last_seq,
                    )
                };
                let outcome = match planned {
                    Ok((records, _)) => {
                        let previous_len = log.state().file_len;
                        self.write_records(log, records, previous_len).await
                    }
                    Err(error) => Err(error),
                };
                let _ = pending.reply.send(outcome);
                next_seq = log.state().last_seq;
                continue;
            }
            let planned = plan(
                &log.state(),
                &pending.user,
                chat_id,
                pending.changes,
                next_seq,
            );
            match planned {
                Ok((records, last_seq)) => {
                    next_seq = last_seq;
                    group.owners.push((pending.reply, records.len()));
                    group.records.extend(records);
                }
                Err(error) => {
                    let _ = pending.reply.send(Err(error));
                }
            }
        }
        self.flush(log, &mut group).await;
        if log.state().file_len == 0 {
            // Nothing was ever written (the chat is gone, or every batch was refused): drop the
            // empty log rather than keep it for a chat that may no longer exist.
            let mut logs = self.logs_mut();
            if logs
                .get(&chat_id)
                .is_some_and(|held| Arc::ptr_eq(held, log))
                && log.queue().is_empty()
            {
                logs.remove(&chat_id);
            }
        }
    }

    /// Writes the planned appends of a group in one go and answers each batch.
    async fn flush(&self, log: &Arc<ChatLog>, group: &mut Group) {
        let Group { records, owners } = std::mem::take(group);
        if records.is_empty() {
            return;
        }
        let previous_len = log.state().file_len;
        match self.write_records(log, records, previous_len).await {
            Ok(written) => {
                let mut written = written.into_iter();
                for (reply, count) in owners {
                    let _ = reply.send(Ok(written.by_ref().take(count).collect()));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for (reply, _) in owners {
                    let _ = reply.send(Err(anyhow::anyhow!("{message}").into()));
                }
            }
        }
    }

    /// Appends records durably, then applies them to the index; compacts when due.
    async fn write_records(
        &self,
        log: &Arc<ChatLog>,
        records: Vec<Record>,
        previous_len: u64,
    ) -> StoreResult<Vec<Document>> {
        let mut bytes = Vec::new();
        let mut placed = Vec::with_capacity(records.len());
        for record in records {
            let line = record.to_line().context("cannot serialize a message")?;
            placed.push((record, bytes.len() as u64, line.len() as u64));
            bytes.extend_from_slice(&line);
        }
        let path = log.path.clone();
        super::run_blocking(move || log::append_durably(&path, &bytes, previous_len)).await?;
        let mut written = Vec::new();
        let wants_compaction = {
            let mut state = log.state();
            for (record, offset, length) in placed {
                state.apply(&record, previous_len + offset, length);
                state.file_len = state.file_len.max(previous_len + offset + length);
                if let Record::Put { message, .. } = record {
                    written.push(message);
                }
            }
            state.wants_compaction()
        };
        if wants_compaction {
            let compacting = log.clone();
            let compact = move || {
                log::compact(&compacting)?;
                log_index::checkpoint(&compacting, 0)
            };
            if let Err(error) = super::run_blocking(compact).await {
                // The log is intact (the rewrite goes through a temp file); try again later.
                tracing::error!(path = %log.path.display(), error = ?error, "message log compaction failed");
            }
        } else {
            let checkpointing = log.clone();
            let checkpoint =
                move || log_index::checkpoint(&checkpointing, log_index::CHECKPOINT_BYTES);
            if let Err(error) = super::run_blocking(checkpoint).await {
                // Only a restart after a crash pays for it: it replays a longer tail.
                tracing::warn!(path = %log.path.display(), error = ?error, "cannot persist a message log index");
            }
        }
        Ok(written)
    }

    /// Removes a deleted file's id from the attachments of every message of `user` that holds
    /// it, each a version-checked edit. Returns how many messages changed.
    pub(super) async fn remove_message_references(
        &self,
        user: &UserId,
        removal: &Removal,
    ) -> StoreResult<u64> {
        let chats: Vec<Uuid> = self
            .read()
            .user(Collection::Chats, user)
            .map(|documents| documents.by_id.keys().copied().collect())
            .unwrap_or_default();
        let mut changed = 0;
        for chat_id in self.chats_attaching(&chats, removal.id()) {
            let Some(log) = self.open_log(chat_id).await? else {
                continue;
            };
            let holders: Vec<Uuid> = log
                .state()
                .attachments
                .iter()
                .filter(|(_, files)| files.contains(&removal.id()))
                .map(|(message, _)| *message)
                .collect();
            for message_id in holders {
                for _ in 0..super::REMOVAL_ATTEMPTS {
                    let Ok(current) = self.get_message(user, chat_id, message_id).await else {
                        break;
                    };
                    let mut body = current.body.clone();
                    if !removal.apply(&mut body) {
                        break;
                    }
                    let change = MessageChange::Replace {
                        id: message_id,
                        expected_version: current.version,
                        body,
                    };
                    match self.commit_messages(user, chat_id, vec![change]).await {
                        Ok(_) => {
                            changed += 1;
                            break;
                        }
                        Err(StoreError::VersionMismatch | StoreError::NotFound) => continue,
                        Err(error) => return Err(error),
                    }
                }
            }
        }
        Ok(changed)
    }

    /// Writes messages as given and removes `deleted` (a copy or a mirror): one atomic batch.
    pub(super) async fn put_messages(
        &self,
        chat_id: Uuid,
        messages: Vec<Document>,
        deleted: Vec<Uuid>,
    ) -> StoreResult<()> {
        let log = self.chat_log(chat_id).await?;
        let _writer = log.writer.lock().await;
        let mut records: Vec<Record> = messages
            .into_iter()
            .map(|message| Record::Put {
                message,
                commit: false,
            })
            .collect();
        records.extend(
            deleted
                .into_iter()
                .map(|id| Record::Delete { id, commit: false }),
        );
        let Some(last) = records.last_mut() else {
            return Ok(());
        };
        let (Record::Put { commit, .. }
        | Record::Delete { commit, .. }
        | Record::Seq { commit, .. }) = last;
        *commit = true;
        let previous_len = log.state().file_len;
        self.write_records(&log, records, previous_len)
            .await
            .map(|_| ())
    }

    /// The highest `seq` ever assigned in the chat (deleted messages included).
    pub(super) async fn last_seq(&self, user: &UserId, chat_id: Uuid) -> StoreResult<u64> {
        self.envelope(Collection::Chats, user, chat_id)?;
        Ok(self
            .open_log(chat_id)
            .await?
            .map_or(0, |log| log.state().last_seq))
    }

    /// Makes sure no `seq` up to `seq` is handed out again in the chat (copies).
    pub(super) async fn raise_last_seq(
        &self,
        user: &UserId,
        chat_id: Uuid,
        seq: u64,
    ) -> StoreResult<()> {
        self.envelope(Collection::Chats, user, chat_id)?;
        let log = self.chat_log(chat_id).await?;
        let _writer = log.writer.lock().await;
        if log.state().last_seq >= seq {
            return Ok(());
        }
        let record = Record::Seq {
            last: seq,
            commit: true,
        };
        let previous_len = log.state().file_len;
        self.write_records(&log, vec![record], previous_len)
            .await
            .map(|_| ())
    }

    pub(super) async fn page_messages(&self, query: &MessageQuery) -> StoreResult<MessagePage> {
        self.envelope(Collection::Chats, &query.user, query.chat_id)?;
        let Some(log) = self.open_log(query.chat_id).await? else {
            return Ok(MessagePage {
                items: Vec::new(),
                has_more: false,
            });
        };
        let query = query.clone();
        super::run_blocking(move || {
            let (reader, entries, has_more) = {
                let state = log.state();
                let (entries, has_more) = select(&state, &query);
                (log.open_reader(&state)?, entries, has_more)
            };
            let Some(reader) = reader else {
                return Ok(MessagePage {
                    items: Vec::new(),
                    has_more: false,
                });
            };
            let items = entries
                .iter()
                .map(|entry| log::read_message(&reader, entry))
                .collect::<anyhow::Result<_>>()?;
            Ok(MessagePage { items, has_more })
        })
        .await
    }

    pub(super) async fn get_message(
        &self,
        user: &UserId,
        chat_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Document> {
        self.envelope(Collection::Chats, user, chat_id)?;
        let log = self.open_log(chat_id).await?.ok_or(StoreError::NotFound)?;
        let found = {
            let state = log.state();
            match state
                .by_id
                .get(&id)
                .and_then(|key| state.entries.get(key))
                .copied()
            {
                Some(entry) => Some((entry, log.open_reader(&state)?)),
                None => None,
            }
        };
        let Some((entry, Some(reader))) = found else {
            return Err(StoreError::NotFound);
        };
        super::run_blocking(move || log::read_message(&reader, &entry)).await
    }
}

/// Planned appends of several batches that go out in one write.
#[derive(Default)]
struct Group {
    records: Vec<Record>,
    /// Who gets the written messages, and how many records are theirs.
    owners: Vec<(oneshot::Sender<StoreResult<Vec<Document>>>, usize)>,
}

/// Turns a batch into records, checking every change against the current index; new
/// positions start after `last_seq`. Returns the records and the last `seq` they use.
fn plan(
    state: &LogState,
    user: &UserId,
    chat_id: Uuid,
    changes: Vec<MessageChange>,
    last_seq: u64,
) -> StoreResult<(Vec<Record>, u64)> {
    let stamp = MessageStamp::new(user, chat_id);
    let mut next_seq = last_seq;
    let mut touched = HashSet::new();
    let mut records = Vec::new();
    for change in changes {
        match change {
            MessageChange::Append { members } => {
                next_seq += 1;
                for body in members {
                    records.push(Record::Put {
                        message: stamp.new_message(body, next_seq),
                        commit: false,
                    });
                }
            }
            MessageChange::Insert { seq, body } => {
                let index = Placement::of(&body).swipe_index;
                let position_exists = state
                    .entries
                    .range((seq, 0)..=(seq, u64::MAX))
                    .next()
                    .is_some();
                if !position_exists {
                    return Err(StoreError::NotFound);
                }
                if state.entries.contains_key(&(seq, index)) {
                    return Err(StoreError::VersionMismatch);
                }
                records.push(Record::Put {
                    message: stamp.new_message(body, seq),
                    commit: false,
                });
            }
            MessageChange::Replace {
                id,
                expected_version,
                body,
            } => {
                let ((seq, swipe_index), entry) =
                    current_entry(state, id, expected_version, &mut touched)?;
                let current = Edited {
                    id,
                    created_at: entry.created_at,
                    version: entry.version,
                    seq,
                    swipe_index,
                };
                records.push(Record::Put {
                    message: stamp.edited_message(current, body)?,
                    commit: false,
                });
            }
            MessageChange::Delete {
                id,
                expected_version,
            } => {
                current_entry(state, id, expected_version, &mut touched)?;
                records.push(Record::Delete { id, commit: false });
            }
        }
    }
    match records.last_mut() {
        Some(
            Record::Put { commit, .. } | Record::Delete { commit, .. } | Record::Seq { commit, .. },
        ) => *commit = true,
        None => {}
    }
    Ok((records, next_seq))
}

fn current_entry(
    state: &LogState,
    id: Uuid,
    expected_version: u64,
    touched: &mut HashSet<Uuid>,
) -> StoreResult<((u64, u64), Entry)> {
    let key = *state.by_id.get(&id).ok_or(StoreError::NotFound)?;
    let entry = state.entries[&key];
    if entry.version != expected_version || !touched.insert(id) {
        return Err(StoreError::VersionMismatch);
    }
    Ok((key, entry))
}

/// The entries of one page and whether more positions follow in the walk's direction.
fn select(state: &LogState, query: &MessageQuery) -> (Vec<Entry>, bool) {
    let descending = query.latest || query.before.is_some() && query.after.is_none();
    let lower = query.after.map_or(0, |after| after.saturating_add(1));
    let upper = query.before.unwrap_or(u64::MAX);
    if lower >= upper {
        return (Vec::new(), false);
    }
    let range = state.entries.range((lower, 0)..(upper, 0));
    let walk: Box<dyn Iterator<Item = (&(u64, u64), &Entry)>> = if descending {
        Box::new(range.rev())
    } else {
        Box::new(range)
    };
    let mut picked: Vec<Entry> = Vec::new();
    let mut positions = 0;
    let mut current: Option<u64> = None;
    for (&(seq, _), entry) in walk {
        if !(query.include_swipes || entry.visible) {
            continue;
        }
        if current != Some(seq) {
            if positions == query.limit {
                if descending {
                    picked.reverse();
                }
                return (picked, true);
            }
            positions += 1;
            current = Some(seq);
        }
        picked.push(*entry);
    }
    if descending {
        picked.reverse();
    }
    (picked, false)
}
