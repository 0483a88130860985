//! The append-only message log of one chat: `chats/<chatId>.jsonl`, one record per line.
//!
//! A record puts a whole message (append or edit) or deletes one. A batch of changes is a run
//! of lines whose last line carries `"commit": true`; at start, a run without its commit line
//! (a crash mid-write) and a torn last line are cut off, so every acknowledged batch survives
//! whole and no unacknowledged one half-applies. The index (position → byte range of the live
//! record) lives in memory while the chat is in use, so a page reads only its own lines, and is
//! checkpointed to `chats/<chatId>.index` (see `log_index.rs`) so that start-up and a chat's
//! first use need not read the log. When more than half of the file is superseded records it
//! is rewritten (temp file, fsync, rename).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use tokio::sync::oneshot;

use super::disk;
use crate::model::message::Placement;
use crate::model::{Document, Timestamp, UserId};
use crate::store::StoreResult;
use crate::store::messages::{ChatStats, MessageChange};

/// Logs smaller than this are never compacted.
const COMPACT_MIN_BYTES: u64 = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Record {
    Put {
        message: Document,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        commit: bool,
    },
    Delete {
        id: Uuid,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        commit: bool,
    },
    /// Written first by a compaction: the highest `seq` ever assigned, so a deleted last
    /// message's `seq` is never handed out again.
    Seq {
        last: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        commit: bool,
    },
}

impl Record {
    fn commit(&self) -> bool {
        match self {
            Self::Put { commit, .. } | Self::Delete { commit, .. } | Self::Seq { commit, .. } => {
                *commit
            }
        }
    }

    pub fn to_line(&self) -> anyhow::Result<Vec<u8>> {
        let mut line = serde_json::to_vec(self)?;
        line.push(b'\n');
        Ok(line)
    }
}

/// Position of a message in the chat: (`seq`, `swipeIndex`).
pub type Key = (u64, u64);

/// Where the live record of one message is, and what the index needs without reading it.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub id: Uuid,
    pub offset: u64,
    pub length: u64,
    pub version: u64,
    pub visible: bool,
    pub created_at: Timestamp,
}

/// The in-memory index of one log.
#[derive(Debug, Default, Clone)]
pub struct LogState {
    pub last_seq: u64,
    pub entries: BTreeMap<Key, Entry>,
    pub by_id: HashMap<Uuid, Key>,
    pub file_len: u64,
    garbage: u64,
    visible: u64,
    /// A line in the middle could not be read: the log is served but never compacted.
    pub damaged: bool,
    /// The chat was deleted; the log accepts nothing more.
    pub deleted: bool,
    /// The file ids in `attachments`, for each message that has any (to find the messages a
    /// deleted file must leave).
    pub attachments: HashMap<Uuid, Vec<Uuid>>,
    /// The log length the persisted index describes (0: none written by this process).
    pub indexed_length: u64,
    /// Damage found in the log (also kept in its persisted index, for health).
    pub problems: Vec<String>,
}

impl LogState {
    /// Applies one record found at `offset` (`length` bytes).
    pub fn apply(&mut self, record: &Record, offset: u64, length: u64) {
        match record {
            Record::Put { message, .. } => {
                self.remove(message.id);
                let placement = Placement::of(&message.body);
                let key = (placement.seq, placement.swipe_index);
                if let Some(displaced) = self.entries.get(&key).map(|entry| entry.id) {
                    self.remove(displaced);
                }
                self.last_seq = self.last_seq.max(placement.seq);
                let attached: Vec<Uuid> = message
                    .body
                    .get("attachments")
                    .and_then(serde_json::Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|item| {
                                item.as_str().and_then(|text| Uuid::try_parse(text).ok())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let entry = Entry {
                    id: message.id,
                    offset,
                    length,
                    version: message.version,
                    visible: placement.visible,
                    created_at: message.created_at,
                };
                self.insert_entry(key, entry, attached);
            }
            Record::Delete { id, .. } => {
                self.remove(*id);
                self.garbage += length;
            }
            Record::Seq { last, .. } => self.last_seq = self.last_seq.max(*last),
        }
    }

    /// Indexes one live message at `key` (the caller removed what was there).
    pub fn insert_entry(&mut self, key: Key, entry: Entry, attached: Vec<Uuid>) {
        if !attached.is_empty() {
            self.attachments.insert(entry.id, attached);
        }
        self.visible += u64::from(entry.visible);
        self.by_id.insert(entry.id, key);
        self.entries.insert(key, entry);
    }

    /// Bytes of superseded records (what a compaction would drop).
    pub fn garbage(&self) -> u64 {
        self.garbage
    }

    pub fn set_garbage(&mut self, garbage: u64) {
        self.garbage = garbage;
    }

    fn remove(&mut self, id: Uuid) {
        self.attachments.remove(&id);
        if let Some(key) = self.by_id.remove(&id)
            && let Some(entry) = self.entries.remove(&key)
        {
            self.garbage += entry.length;
            self.visible -= u64::from(entry.visible);
        }
    }

    pub fn stats(&self) -> ChatStats {
        let last = self.entries.values().rev().find(|entry| entry.visible);
        ChatStats {
            message_count: self.visible,
            last_message_at: last.map(|entry| entry.created_at),
        }
    }

    pub fn wants_compaction(&self) -> bool {
        !self.damaged && self.file_len >= COMPACT_MIN_BYTES && self.garbage * 2 > self.file_len
    }
}

/// A batch waiting for the chat's writer.
pub struct Pending {
    pub user: UserId,
    pub changes: Vec<MessageChange>,
    pub reply: oneshot::Sender<StoreResult<Vec<Document>>>,
}

/// One chat's log: a lock that serializes writers, and the index behind a short-held mutex.
pub struct ChatLog {
    pub path: PathBuf,
    /// The persisted index (`chats/<chatId>.index`).
    pub index_path: PathBuf,
    pub writer: tokio::sync::Mutex<()>,
    state: Mutex<LogState>,
    /// Batches waiting for the writer (group commit).
    queue: Mutex<Vec<Pending>>,
}

impl ChatLog {
    pub fn new(path: PathBuf, index_path: PathBuf, state: LogState) -> Self {
        Self {
            path,
            index_path,
            writer: tokio::sync::Mutex::new(()),
            state: Mutex::new(state),
            queue: Mutex::new(Vec::new()),
        }
    }

    pub fn queue(&self) -> MutexGuard<'_, Vec<Pending>> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn state(&self) -> MutexGuard<'_, LogState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens the file for reading while the index is locked, so the offsets taken with it
    /// stay valid even if a compaction replaces the file afterwards.
    pub fn open_reader(&self, state: &LogState) -> anyhow::Result<Option<File>> {
        if state.file_len == 0 {
            return Ok(None);
        }
        File::open(&self.path)
            .map(Some)
            .with_context(|| format!("cannot open {}", self.path.display()))
    }
}

/// Reads the record of `entry` through an open reader.
pub fn read_message(file: &File, entry: &Entry) -> anyhow::Result<Document> {
    let mut buffer = vec![0; entry.length as usize];
    file.read_exact_at(&mut buffer, entry.offset)?;
    match serde_json::from_slice(&buffer)? {
        Record::Put { message, .. } => Ok(message),
        _ => anyhow::bail!("the index points at a record that holds no message"),
    }
}

/// Appends `bytes` durably. On failure the file is cut back to `previous_len`, so a failed
/// batch leaves nothing behind.
pub fn append_durably(path: &Path, bytes: &[u8], previous_len: u64) -> anyhow::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    let result = file.write_all(bytes).and_then(|()| file.sync_data());
    if let Err(error) = result {
        let _ = file.set_len(previous_len);
        return Err(error).with_context(|| format!("cannot append to {}", path.display()));
    }
    if previous_len == 0
        && let Some(dir) = path.parent()
    {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Reads a whole log: applies every committed batch, cuts off a torn or uncommitted tail,
/// and reports (without touching) lines in the middle that cannot be read.
pub fn load(path: &Path) -> anyhow::Result<(LogState, Vec<String>)> {
    replay(path, LogState::default())
}

/// Applies the log's records after `state.file_len` (the end of a committed batch) to `state`,
/// as [`load`] does from the start: a torn or uncommitted tail is cut off, damage reported.
pub fn replay(path: &Path, mut state: LogState) -> anyhow::Result<(LogState, Vec<String>)> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let start = state.file_len;
    file.seek(SeekFrom::Start(start))?;
    let mut reader = BufReader::new(file);
    let mut problems = Vec::new();
    let mut pending: Vec<(Record, u64, u64)> = Vec::new();
    let (mut offset, mut committed_end) = (start, start);
    loop {
        let mut line = Vec::new();
        let length = reader.read_until(b'\n', &mut line)? as u64;
        if length == 0 {
            break;
        }
        let complete = line.ends_with(b"\n");
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) if complete => {
                let commit = record.commit();
                pending.push((record, offset, length));
                if commit {
                    for (record, at, size) in pending.drain(..) {
                        state.apply(&record, at, size);
                    }
                    committed_end = offset + length;
                }
            }
            // A last line without its newline is a write a crash cut short: never acknowledged.
            _ if !complete && reader.fill_buf()?.is_empty() => break,
            _ => {
                // A whole line that cannot be read is damage, not a crash: report it and keep
                // it. The unfinished batch before it (its commit line may be this one) is
                // not applied.
                problems.push(format!(
                    "{}: unreadable line at byte {offset}",
                    path.display()
                ));
                state.damaged = true;
                let dropped: u64 = pending.drain(..).map(|(_, _, size)| size).sum();
                state.garbage += length + dropped;
                committed_end = offset + length;
            }
        }
        offset += length;
    }
    if committed_end < offset {
        tracing::warn!(
            path = %path.display(),
            cut = offset - committed_end,
            "cutting off an unacknowledged tail of a message log (interrupted write)"
        );
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(committed_end)?;
        file.sync_all()?;
    }
    state.file_len = committed_end;
    state.problems.extend(problems.iter().cloned());
    Ok((state, problems))
}

/// Rewrites the log with only its live records (its index is then persisted by the caller,
/// `log_index::checkpoint`).
pub fn compact(log: &ChatLog) -> anyhow::Result<()> {
    let (reader, entries) = {
        let state = log.state();
        (
            log.open_reader(&state)?,
            state.entries.values().copied().collect::<Vec<_>>(),
        )
    };
    let Some(reader) = reader else { return Ok(()) };
    let last_seq = log.state().last_seq;
    let mut bytes = Record::Seq {
        last: last_seq,
        commit: true,
    }
    .to_line()?;
    let mut fresh = LogState {
        last_seq,
        ..LogState::default()
    };
    for entry in entries {
        let record = Record::Put {
            message: read_message(&reader, &entry)?,
            commit: true,
        };
        let line = record.to_line()?;
        fresh.apply(&record, bytes.len() as u64, line.len() as u64);
        bytes.extend_from_slice(&line);
    }
    let dir = log.path.parent().context("a log has a directory")?;
    let name = log.path.file_name().context("a log has a file name")?;
    let temp = disk::write_temp(dir, &name.to_string_lossy(), &bytes)?;
    fresh.file_len = bytes.len() as u64;
    // The old index describes the old file: it goes first, so that no crash can pair it with
    // the new one (its fingerprint would not match either, but it is not left to chance).
    let index_name = log
        .index_path
        .file_name()
        .context("an index has a file name")?;
    if let Err(error) = disk::remove_durably(dir, &index_name.to_string_lossy()) {
        let _ = std::fs::remove_file(&temp);
        return Err(error);
    }
    {
        // Readers open the file and take offsets under this lock, so they see either the old
        // file with the old index or the new file with the new index.
        let mut state = log.state();
        if let Err(error) = std::fs::rename(&temp, &log.path) {
            let _ = std::fs::remove_file(&temp);
            return Err(error).context("cannot replace a compacted log");
        }
        *state = fresh;
    }
    File::open(dir)?.sync_all()?;
    Ok(())
}
