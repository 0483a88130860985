//! The persisted index of one chat's message log: `chats/<chatId>.index`, a checkpoint of the
//! in-memory [`LogState`] as of a byte length of the log.
//!
//! Why: reading every log at start took seconds with a million messages and held them all in
//! memory. With the index, start reads one header line per chat (counts, last message time,
//! problems) and a chat's full index is read only when the chat is first used.
//!
//! The index is a cache, never the truth: it is trusted only while the log still starts with
//! the bytes it was made from (same length, or longer with the same bytes before that length,
//! in which case the newer tail is replayed). A missing, unreadable, foreign or stale index is
//! rebuilt from the log. Line 1 is the [`Header`], then one [`Row`] per live message.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::disk;
use super::log::{ChatLog, Entry, LogState};
use crate::model::Timestamp;
use crate::store::messages::ChatStats;

/// Bumped whenever the layout below changes; an index of another version is rebuilt.
const INDEX_FORMAT: u32 = 1;
/// How many bytes before the indexed length must match for the index to fit the log.
const FINGERPRINT_BYTES: u64 = 64;

/// Replay at most this much of a log after a crash: the index is rewritten when the log has
/// grown by this many bytes since its last checkpoint.
pub const CHECKPOINT_BYTES: u64 = 1024 * 1024;

/// The first line: what start-up needs without the rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    format: u32,
    /// The log length this index describes (always the end of a committed batch).
    log_length: u64,
    /// The last bytes of the log before `log_length`: a rewritten log does not match them.
    fingerprint: Vec<u8>,
    last_seq: u64,
    garbage: u64,
    damaged: bool,
    pub problems: Vec<String>,
    pub message_count: u64,
    pub last_message_at: Option<Timestamp>,
    /// Every file id some message of the chat attaches (a file delete opens only these chats).
    pub attached_files: BTreeSet<Uuid>,
}

impl Header {
    pub fn stats(&self) -> ChatStats {
        ChatStats {
            message_count: self.message_count,
            last_message_at: self.last_message_at,
        }
    }
}

/// One live message: position, byte range, id, version, visibility, creation time, attachments.
#[derive(Serialize, Deserialize)]
struct Row(
    u64,
    u64,
    Uuid,
    u64,
    u64,
    u64,
    bool,
    Timestamp,
    #[serde(default, skip_serializing_if = "Vec::is_empty")] Vec<Uuid>,
);

/// How an index relates to its log.
pub enum Fit {
    /// It describes the whole log.
    Current(Header),
    /// It describes a prefix of the log; the bytes after its length must be replayed.
    Behind,
    /// Missing, unreadable or made from other bytes: rebuild from the log.
    Unusable,
}

/// Persists `log`'s index when it grew by `at_least` bytes, and by a quarter of its
/// length, since it was last written: a restart after a crash replays at most that much,
/// and the cost of rewriting the index stays proportional to what was appended. The
/// caller holds the writer lock (or is the last owner), so the log does not change meanwhile.
pub fn checkpoint(log: &ChatLog, at_least: u64) -> anyhow::Result<()> {
    let snapshot = {
        let state = log.state();
        let due = match at_least {
            0 => 0,
            bytes => bytes.max(state.file_len / 4),
        };
        let unindexed = state.file_len.saturating_sub(state.indexed_length);
        if state.deleted
            || state.file_len == 0
            || state.file_len == state.indexed_length
            || unindexed < due
        {
            return Ok(());
        }
        state.clone()
    };
    write(&log.path, &log.index_path, &snapshot)?;
    let mut state = log.state();
    if state.file_len == snapshot.file_len {
        state.indexed_length = snapshot.file_len;
    }
    Ok(())
}

/// Checks the index at `index` against the log at `log` (a header read, a stat, one small read).
pub fn fit(log: &Path, index: &Path) -> Fit {
    let Ok(header) = read_header(index) else {
        return Fit::Unusable;
    };
    let Ok(length) = std::fs::metadata(log).map(|metadata| metadata.len()) else {
        return Fit::Unusable;
    };
    if length < header.log_length
        || fingerprint(log, header.log_length).ok() != Some(header.fingerprint.clone())
    {
        return Fit::Unusable;
    }
    if length == header.log_length {
        Fit::Current(header)
    } else {
        Fit::Behind
    }
}

fn read_header(index: &Path) -> anyhow::Result<Header> {
    let mut reader = BufReader::new(File::open(index)?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let header: Header = serde_json::from_str(&line)?;
    if header.format != INDEX_FORMAT {
        bail!("index format {} is not {INDEX_FORMAT}", header.format);
    }
    Ok(header)
}

/// The last up to [`FINGERPRINT_BYTES`] bytes of `log` before `length`.
fn fingerprint(log: &Path, length: u64) -> anyhow::Result<Vec<u8>> {
    let size = length.min(FINGERPRINT_BYTES);
    let mut bytes = vec![0; size as usize];
    File::open(log)?.read_exact_at(&mut bytes, length - size)?;
    Ok(bytes)
}

/// Reads a whole index into a state describing the log up to the header's `log_length`.
/// Every row is checked against that length; a row that points outside it makes the index
/// unusable.
pub fn read(index: &Path) -> anyhow::Result<LogState> {
    let mut reader = BufReader::new(File::open(index)?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let header: Header = serde_json::from_str(&line)?;
    let mut state = LogState::default();
    state.last_seq = header.last_seq;
    state.file_len = header.log_length;
    state.indexed_length = header.log_length;
    state.damaged = header.damaged;
    state.problems = header.problems;
    state.set_garbage(header.garbage);
    for line in reader.lines() {
        let Row(seq, swipe_index, id, offset, length, version, visible, created_at, files) =
            serde_json::from_str(&line?)?;
        if offset + length > header.log_length {
            bail!("an index row points past the indexed length");
        }
        let entry = Entry {
            id,
            offset,
            length,
            version,
            visible,
            created_at,
        };
        state.insert_entry((seq, swipe_index), entry, files);
    }
    Ok(state)
}

/// Writes the index of `state` (which describes `log` up to `state.file_len`) crash-safely;
/// returns its header.
pub fn write(log: &Path, index: &Path, state: &LogState) -> anyhow::Result<Header> {
    let stats = state.stats();
    let header = Header {
        format: INDEX_FORMAT,
        log_length: state.file_len,
        fingerprint: fingerprint(log, state.file_len)?,
        last_seq: state.last_seq,
        garbage: state.garbage(),
        damaged: state.damaged,
        problems: state.problems.clone(),
        message_count: stats.message_count,
        last_message_at: stats.last_message_at,
        attached_files: state.attachments.values().flatten().copied().collect(),
    };
    let mut bytes = serde_json::to_vec(&header)?;
    bytes.push(b'\n');
    for (&(seq, swipe_index), entry) in &state.entries {
        let files = state
            .attachments
            .get(&entry.id)
            .cloned()
            .unwrap_or_default();
        let row = Row(
            seq,
            swipe_index,
            entry.id,
            entry.offset,
            entry.length,
            entry.version,
            entry.visible,
            entry.created_at,
            files,
        );
        serde_json::to_writer(&mut bytes, &row)?;
        bytes.push(b'\n');
    }
    let dir = index.parent().context("an index has a directory")?;
    let name = index
        .file_name()
        .and_then(|name| name.to_str())
        .context("an index has a file name")?;
    disk::write_atomically(dir, name, &bytes)?;
    Ok(header)
}
