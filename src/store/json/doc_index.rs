//! The persisted index of one collection's documents: `indexes/<collection>.index`, the
//! summaries ([`Entry`]) of every document, so a start reads one file per collection instead
//! of every document file.
//!
//! The index is a cache, never the truth. It is trusted only when
//! - it was written by this format, for this collection, with the collection's indexed
//!   fields as they are now ([`Collection::indexed_fields`]: a summary made for fewer would
//!   not name the fields it lacks), and is complete (its row count), and
//! - the collection directory is the one it was made from: same device, inode, modification
//!   and change times ([`DirStamp`]: creating, replacing or removing a document file changes
//!   them), and
//! - no write of the store has touched the collection since: the first write of a run removes
//!   the index durably before it writes ([`super::JsonStore`]'s `unseal`), so a crash leaves
//!   no index to trust.
//!
//! Otherwise the collection is read file by file, as without an index, and the index is
//! written again (at start, and at every clean shutdown). The file is one JSON array, one
//! element a line (so rows parse in parallel): the [`Header`], then one [`Row`] per document.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::disk;
use super::summary::Entry;
use crate::layout::DataDir;
use crate::model::{Collection, Timestamp, UserId};

/// Bumped whenever the layout below changes; an index of another version is rebuilt.
const INDEX_FORMAT: u32 = 3;

/// Directory times come from a coarse clock (a few milliseconds a tick): a stamp is taken
/// only once the directory's last change is this much in the past, so that any later change
/// gets other times.
const CLOCK_TICK_MARGIN: Duration = Duration::from_millis(25);

/// What identifies the state of a collection directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirStamp {
    dev: u64,
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl DirStamp {
    pub fn of(dir: &Path) -> anyhow::Result<Self> {
        let meta = fs::metadata(dir).with_context(|| format!("cannot stat {}", dir.display()))?;
        if let Ok(changed) = meta.modified()
            && let Ok(age) = SystemTime::now().duration_since(changed)
            && age < CLOCK_TICK_MARGIN
        {
            std::thread::sleep(CLOCK_TICK_MARGIN - age);
        }
        let nanos =
            |seconds: i64, nanos: i64| i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
        Ok(Self {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    format: u32,
    collection: String,
    stamp: DirStamp,
    count: usize,
    /// The collection's indexed fields when the summaries were made.
    indexed_fields: Vec<String>,
    /// Files found unreadable when the collection was last read file by file.
    problems: Vec<String>,
}

/// One document: id, owner, created and updated (milliseconds), version, the fields the
/// summary holds as a JSON object (taken as raw text: it is kept as text in memory, so it
/// loads without building the values and is parsed once, here), and the indexed fields it
/// left out for their length; no such list when the summary is the whole body.
#[derive(Deserialize)]
struct Row<'a>(
    Uuid,
    UserId,
    i64,
    i64,
    u64,
    #[serde(borrow)] &'a RawValue,
    #[serde(default)] Option<Vec<String>>,
);

/// A collection as its index describes it.
pub struct Indexed {
    /// Each document's owner and summary.
    pub entries: Vec<(UserId, Entry)>,
    pub problems: Vec<String>,
    pub stamp: DirStamp,
}

/// The collection's index, if there is one that fits its directory (see the module docs).
pub fn read(root: &Path, collection: Collection) -> Option<Indexed> {
    let path = DataDir::new(root).document_index(collection.name());
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read a document index; reading the collection");
            return None;
        }
    };
    match parse(root, collection, &bytes) {
        Ok(indexed) => Some(indexed),
        Err(error) => {
            tracing::info!(path = %path.display(), reason = %format!("{error:#}"), "not using a document index; reading the collection");
            None
        }
    }
}

fn parse(root: &Path, collection: Collection, bytes: &[u8]) -> anyhow::Result<Indexed> {
    let mut lines: Vec<&[u8]> = bytes.split(|byte| *byte == b'\n').collect();
    if lines.last() == Some(&&b""[..]) {
        lines.pop();
    }
    if lines.len() < 2 || lines.pop() != Some(b"]") {
        bail!("not a complete index");
    }
    let first = lines.remove(0);
    let header = (first.strip_prefix(b"[")).context("not an index")?;
    let header: Header = serde_json::from_slice(element(header)).context("header")?;
    if header.format != INDEX_FORMAT || header.collection != collection.name() {
        bail!("another format or collection");
    }
    if header.indexed_fields != collection.indexed_fields() {
        bail!("made for other indexed fields");
    }
    let stamp = DirStamp::of(&DataDir::new(root).collection(collection.name()))?;
    if stamp != header.stamp {
        bail!("the collection directory changed since the index was written");
    }
    if lines.len() != header.count {
        bail!("{} rows for {} documents", lines.len(), header.count);
    }
    let chunk = lines.len().div_ceil(disk::parallelism()).max(1);
    let parts: Vec<anyhow::Result<Vec<(UserId, Entry)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (lines.chunks(chunk))
            .map(|part| scope.spawn(move || part.iter().map(|line| entry(element(line))).collect()))
            .collect();
        (workers.into_iter())
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a parser panicked")))
            })
            .collect()
    });
    let mut entries = Vec::with_capacity(header.count);
    for part in parts {
        entries.extend(part?);
    }
    Ok(Indexed {
        entries,
        problems: header.problems,
        stamp,
    })
}

/// One element of the array, without the comma that follows it.
fn element(line: &[u8]) -> &[u8] {
    line.strip_suffix(b",").unwrap_or(line)
}

fn entry(line: &[u8]) -> anyhow::Result<(UserId, Entry)> {
    let Row(id, user_id, created, updated, version, fields, left_out) =
        serde_json::from_slice(line).context("a row")?;
    let envelope = (
        id,
        Timestamp::from_millis(created),
        Timestamp::from_millis(updated),
        version,
    );
    let entry = Entry::from_row(envelope, fields, left_out).context("a row's fields")?;
    Ok((user_id, entry))
}

/// Writes the index of `collection` crash-safely from its entries, stamped with the
/// directory as it is now; the caller keeps writers out meanwhile. Returns the stamp.
pub fn write<'a>(
    root: &Path,
    collection: Collection,
    entries: impl ExactSizeIterator<Item = (&'a UserId, &'a Entry)>,
    problems: &[String],
) -> anyhow::Result<DirStamp> {
    let data = DataDir::new(root);
    let stamp = DirStamp::of(&data.collection(collection.name()))?;
    let header = Header {
        format: INDEX_FORMAT,
        collection: collection.name().to_owned(),
        stamp,
        count: entries.len(),
        indexed_fields: (collection.indexed_fields().iter())
            .map(|field| (*field).to_owned())
            .collect(),
        problems: problems.to_vec(),
    };
    let mut bytes = b"[".to_vec();
    serde_json::to_writer(&mut bytes, &header)?;
    for (user, entry) in entries {
        bytes.extend_from_slice(b",\n");
        let (fields, left_out) = entry.row_body();
        let envelope = (
            entry.id,
            user,
            entry.created_at.millis(),
            entry.updated_at.millis(),
            entry.version,
        );
        serde_json::to_writer(&mut bytes, &envelope)?;
        // The row goes on inside the envelope's array: the fields as the JSON text they are
        // held as (made by serializing a map, or checked when read), then what was left out.
        bytes.pop();
        bytes.push(b',');
        bytes.extend_from_slice(fields.as_bytes());
        if let Some(left_out) = left_out {
            bytes.push(b',');
            serde_json::to_writer(&mut bytes, left_out)?;
        }
        bytes.push(b']');
    }
    bytes.extend_from_slice(b"\n]\n");
    let path = data.document_index(collection.name());
    let dir = path.parent().context("the index has a directory")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = file_name(&path)?;
    disk::write_atomically(dir, name, &bytes)?;
    Ok(stamp)
}

/// Removes the index of `collection` durably (before the first write of a run).
pub fn remove(root: &Path, collection: Collection) -> anyhow::Result<()> {
    let path = DataDir::new(root).document_index(collection.name());
    let dir = path.parent().context("the index has a directory")?;
    disk::remove_durably(dir, file_name(&path)?)
}

/// Removes the temp files of index writes a crash interrupted.
pub fn clean(root: &Path) -> anyhow::Result<()> {
    let dir = DataDir::new(root).document_indexes();
    if dir.exists() {
        disk::remove_temp_files(&dir)?;
    }
    Ok(())
}

fn file_name(path: &Path) -> anyhow::Result<&str> {
    path.file_name()
        .and_then(|name| name.to_str())
        .context("the index has a file name")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::model::Document;

    #[test]
    fn an_index_round_trips_and_a_changed_directory_voids_it() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        let dir = DataDir::new(root).collection("characters");
        fs::create_dir_all(&dir).unwrap();
        let long = "x".repeat(500);
        let Value::Object(body) = json!({"name": "a", "title": long, "description": "d"}) else {
            unreachable!()
        };
        let document = Document::new(Uuid::now_v7(), UserId::local(), Timestamp::now(), body);
        let mut small = document.clone();
        small.id = Uuid::now_v7();
        small.body.remove("title");
        let entries = [
            Entry::of(Collection::Characters, document.clone()),
            Entry::of(Collection::Characters, small),
        ];
        let user = UserId::local();
        let rows = || entries.iter().map(|entry| (&user, entry));
        let problems = vec!["one bad file".to_owned()];
        write(root, Collection::Characters, rows(), &problems).unwrap();
        let path = DataDir::new(root).document_index("characters");
        let whole: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(whole.as_array().map(Vec::len), Some(3), "one JSON array");
        let read_back = read(root, Collection::Characters).expect("fits");
        assert_eq!(read_back.problems, problems);
        assert_eq!(read_back.entries.len(), 2);
        let (owner, first) = &read_back.entries[0];
        assert_eq!(owner, &user);
        assert_eq!(first.envelope(&user), entries[0].envelope(&user));
        assert_eq!(first.row_body(), entries[0].row_body());
        assert!(first.lacks_any(Collection::Characters, &["title"]));
        assert!(first.lacks_any(Collection::Characters, &["description"]));
        assert!(read_back.entries[1].1.is_whole());
        assert_eq!(
            read_back.entries[1].1.document(&user),
            entries[1].document(&user)
        );
        assert!(
            read(root, Collection::Tags).is_none(),
            "no index, none read"
        );

        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(dir.join("new.json"), b"{}").unwrap();
        assert!(read(root, Collection::Characters).is_none(), "stale");
        write(root, Collection::Characters, rows(), &problems).unwrap();
        assert!(read(root, Collection::Characters).is_some());
        remove(root, Collection::Characters).unwrap();
        assert!(read(root, Collection::Characters).is_none(), "removed");
    }
}
