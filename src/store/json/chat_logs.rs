//! Which chat logs are open, and opening them on first use.
//!
//! At start every log is checked against its persisted index (`log_index.rs`): a log whose
//! index fits it exactly stays closed ("dormant"), known only by the index header (message
//! count, last message time, attached files, problems). A log whose index is behind (a crash
//! after appends) has its tail replayed; one without a usable index is read whole. Either way
//! the torn tail is cut off and damage reported at start, as before, and a fresh index is
//! written, so the next start reads headers only. A dormant log is opened (its index read
//! whole) when a request first needs its messages; memory grows with the chats in use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use uuid::Uuid;

use super::log::{self, ChatLog, LogState};
use super::log_index::{self, Fit, Header};
use super::{JsonStore, disk};
use crate::layout::DataDir;
use crate::model::{Collection, ids};
use crate::store::StoreResult;
use crate::store::messages::ChatStats;

/// What start-up found in `chats/`.
#[derive(Default)]
pub struct Survey {
    /// Logs whose index fits: closed, known by their header.
    pub dormant: HashMap<Uuid, Header>,
    /// Logs that had to be read and whose index could not be written: kept open.
    pub opened: Vec<(Uuid, LogState)>,
    pub problems: Vec<String>,
}

/// Checks every log in `dir` against its index (in parallel), brings stale indexes up to date,
/// and removes the logs and indexes of chats whose document is gone.
pub fn survey(dir: &Path) -> anyhow::Result<Survey> {
    let mut logs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(chat_id) = name.strip_suffix(".index").and_then(ids::parse_id) {
            if !dir.join(DataDir::chat_log_name(chat_id)).exists() {
                disk::remove_durably(dir, &name)?;
            }
        } else if let Some(chat_id) = name.strip_suffix(".jsonl").and_then(ids::parse_id) {
            if dir.join(disk::document_file_name(chat_id)).exists() {
                logs.push(chat_id);
            } else {
                // A crash between the two steps of a chat delete. A chat file that exists but
                // cannot be read keeps its log.
                tracing::warn!(%chat_id, "removing the message log of a deleted chat");
                disk::remove_durably(dir, &name)?;
                disk::remove_durably(dir, &DataDir::chat_log_index_name(chat_id))?;
            }
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |count| count.get())
        .min(8);
    let chunk = logs.len().div_ceil(threads).max(1);
    let parts: Vec<anyhow::Result<Survey>> = std::thread::scope(|scope| {
        let workers: Vec<_> = logs
            .chunks(chunk)
            .map(|part| scope.spawn(move || survey_part(dir, part)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a log survey panicked")))
            })
            .collect()
    });
    let mut survey = Survey::default();
    for part in parts {
        let part = part?;
        survey.dormant.extend(part.dormant);
        survey.opened.extend(part.opened);
        survey.problems.extend(part.problems);
    }
    Ok(survey)
}

fn survey_part(dir: &Path, chats: &[Uuid]) -> anyhow::Result<Survey> {
    let mut survey = Survey::default();
    for &chat_id in chats {
        let (log_path, index_path) = paths(dir, chat_id);
        let header = match log_index::fit(&log_path, &index_path) {
            Fit::Current(header) => header,
            fit => {
                let state = bring_up_to_date(&log_path, &index_path, fit)?;
                match log_index::write(&log_path, &index_path, &state) {
                    Ok(header) => header,
                    Err(error) => {
                        tracing::warn!(%chat_id, error = %format!("{error:#}"), "cannot write a message log index; the log stays open");
                        survey.problems.extend(state.problems.iter().cloned());
                        survey.opened.push((chat_id, state));
                        continue;
                    }
                }
            }
        };
        survey.problems.extend(header.problems.iter().cloned());
        survey.dormant.insert(chat_id, header);
    }
    Ok(survey)
}

fn paths(dir: &Path, chat_id: Uuid) -> (PathBuf, PathBuf) {
    (
        dir.join(DataDir::chat_log_name(chat_id)),
        dir.join(DataDir::chat_log_index_name(chat_id)),
    )
}

/// The state of a log: from its index plus the replayed tail, or from the whole log.
fn bring_up_to_date(log_path: &Path, index_path: &Path, fit: Fit) -> anyhow::Result<LogState> {
    let from_index = match fit {
        Fit::Current(_) | Fit::Behind => log_index::read(index_path)
            .map_err(|error| tracing::warn!(path = %index_path.display(), error = %format!("{error:#}"), "rebuilding an unreadable message log index"))
            .ok(),
        Fit::Unusable => None,
    };
    let (state, _) = match from_index {
        Some(state) => log::replay(log_path, state)?,
        None => log::load(log_path)?,
    };
    Ok(state)
}

impl JsonStore {
    fn chats_dir(&self) -> PathBuf {
        DataDir::new(&self.inner.root).collection(Collection::Chats.name())
    }

    /// The chat's log, opened if it was dormant; `None` when the chat has no messages yet.
    pub(super) async fn open_log(&self, chat_id: Uuid) -> StoreResult<Option<Arc<ChatLog>>> {
        if let Some(log) = self.logs().get(&chat_id) {
            return Ok(Some(log.clone()));
        }
        let _opening = self.inner.opening.lock().await;
        if let Some(log) = self.logs().get(&chat_id) {
            return Ok(Some(log.clone()));
        }
        if !self.dormant().contains_key(&chat_id) {
            return Ok(None);
        }
        let (log_path, index_path) = paths(&self.chats_dir(), chat_id);
        let opened = super::run_blocking(move || {
            let fit = log_index::fit(&log_path, &index_path);
            let up_to_date = matches!(fit, Fit::Current(_));
            let state = bring_up_to_date(&log_path, &index_path, fit)?;
            let log = ChatLog::new(log_path, index_path, state);
            if !up_to_date {
                // Changed behind the store's back since start: index it again.
                log_index::checkpoint(&log, 0)?;
            }
            Ok(log)
        })
        .await?;
        let log = Arc::new(opened);
        self.logs_mut().insert(chat_id, log.clone());
        self.dormant_mut().remove(&chat_id);
        Ok(Some(log))
    }

    /// The chat's log for a writer: opened if dormant, created empty if the chat has none.
    pub(super) async fn chat_log(&self, chat_id: Uuid) -> StoreResult<Arc<ChatLog>> {
        if let Some(log) = self.open_log(chat_id).await? {
            return Ok(log);
        }
        let _opening = self.inner.opening.lock().await;
        let (log_path, index_path) = paths(&self.chats_dir(), chat_id);
        Ok(self
            .logs_mut()
            .entry(chat_id)
            .or_insert_with(|| Arc::new(ChatLog::new(log_path, index_path, LogState::default())))
            .clone())
    }

    /// What the chat's messages make of its `messageCount` and `lastMessageAt`.
    pub fn chat_stats(&self, chat_id: Uuid) -> ChatStats {
        if let Some(log) = self.logs().get(&chat_id) {
            return log.state().stats();
        }
        self.dormant()
            .get(&chat_id)
            .map(Header::stats)
            .unwrap_or_default()
    }

    /// The chats of `chats` whose messages may attach `file_id`.
    pub(super) fn chats_attaching(&self, chats: &[Uuid], file_id: Uuid) -> Vec<Uuid> {
        let logs = self.logs();
        let dormant = self.dormant();
        chats
            .iter()
            .filter(|chat_id| {
                logs.get(chat_id).is_some_and(|log| {
                    log.state()
                        .attachments
                        .values()
                        .any(|files| files.contains(&file_id))
                }) || dormant
                    .get(chat_id)
                    .is_some_and(|header| header.attached_files.contains(&file_id))
            })
            .copied()
            .collect()
    }

    /// Removes a deleted chat's log and its index.
    pub(super) async fn delete_chat_log(&self, chat_id: Uuid) -> StoreResult<()> {
        let Some(log) = self.open_log(chat_id).await? else {
            return Ok(());
        };
        let _writer = log.writer.lock().await;
        log.state().deleted = true;
        let dir = self.chats_dir();
        super::run_blocking(move || {
            disk::remove_durably(&dir, &DataDir::chat_log_name(chat_id))?;
            disk::remove_durably(&dir, &DataDir::chat_log_index_name(chat_id))
        })
        .await?;
        self.logs_mut().remove(&chat_id);
        Ok(())
    }
}

/// Persists the index of every open log that moved since its last checkpoint (at a clean
/// shutdown, so the next start reads headers only).
pub fn checkpoint_all<'a>(logs: impl Iterator<Item = &'a Arc<ChatLog>>) {
    for log in logs {
        if let Err(error) = log_index::checkpoint(log, 0) {
            tracing::warn!(path = %log.path.display(), error = %format!("{error:#}"), "cannot persist a message log index");
        }
    }
}
