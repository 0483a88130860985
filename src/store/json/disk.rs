//! On-disk side of the json store: the lock on `DATA_DIR`, the format marker, crash-safe
//! document writes (temp file, fsync, rename, fsync of the directory) and loading at start.
//! The layout is documented in `docs/storage-layout.md`.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use uuid::Uuid;

use crate::layout::DataDir;
use crate::model::Document;

/// The on-disk format this build reads and writes. Bumped on any incompatible change.
pub const FORMAT_VERSION: u64 = 1;
const FORMAT_NAME: &str = "quillstore-json";
const TEMP_PREFIX: &str = ".tmp-";

/// Takes the process-wide lock on `root`, creating the directory if needed. The lock is held
/// for as long as the returned file is open; a second process gets a clear error.
pub fn lock_data_dir(root: &Path) -> anyhow::Result<File> {
    fs::create_dir_all(root)
        .with_context(|| format!("cannot create DATA_DIR {}", root.display()))?;
    let path = DataDir::new(root).lock_file();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() { "unknown" } else { holder };
            bail!(
                "DATA_DIR {} is in use by another quillstore process (pid {holder}); \
                 stop it or choose another DATA_DIR",
                root.display()
            );
        }
        Err(TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(file, "{}", std::process::id())?;
    file.sync_all()?;
    Ok(file)
}

/// Checks the format marker, writing it on a new directory. A directory written by a newer
/// format is refused rather than misread.
pub fn check_format(root: &Path) -> anyhow::Result<()> {
    let path = DataDir::new(root).format_file();
    match fs::read(&path) {
        Ok(bytes) => {
            let marker: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not valid JSON", path.display()))?;
            let name = marker.get("format").and_then(|value| value.as_str());
            let version = marker.get("version").and_then(|value| value.as_u64());
            match (name, version) {
                (Some(FORMAT_NAME), Some(FORMAT_VERSION)) => Ok(()),
                (Some(FORMAT_NAME), Some(other)) => bail!(
                    "{} has storage format version {other}; this build reads version \
                     {FORMAT_VERSION} (see docs/storage-layout.md)",
                    path.display()
                ),
                _ => bail!("{} is not a quillstore format marker", path.display()),
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let marker = serde_json::json!({"format": FORMAT_NAME, "version": FORMAT_VERSION});
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .context("the format marker has a file name")?;
            write_atomically(root, name, &serde_json::to_vec_pretty(&marker)?)
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `bytes` to `dir/name` so that a crash leaves either the old or the new content.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = write_temp(dir, name, bytes)?;
    let result = fs::rename(&temp, dir.join(name)).and_then(|()| sync_dir(dir));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.with_context(|| format!("cannot write {}", dir.join(name).display()))
}

/// Writes `bytes` to a new fsynced temp file in `dir` for the file `name`
/// (`.tmp-<name>-<random>`) and returns its path, for a caller that renames it into place.
pub fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let temp = dir.join(format!("{TEMP_PREFIX}{name}-{}", Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(error) = result {
        let _ = fs::remove_file(&temp);
        return Err(error).with_context(|| format!("cannot write {}", temp.display()));
    }
    Ok(temp)
}

/// Removes `dir/name` durably; a missing file is not an error.
pub fn remove_durably(dir: &Path, name: &str) -> anyhow::Result<()> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot remove {}", dir.join(name).display()));
        }
    }
    sync_dir(dir).with_context(|| format!("cannot sync {}", dir.display()))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

pub fn document_file_name(id: Uuid) -> String {
    format!("{id}.json")
}

/// What loading one collection directory found.
pub struct Loaded<T> {
    pub documents: Vec<T>,
    /// Files that could not be read as documents: reported, skipped, never touched.
    pub problems: Vec<String>,
}

impl<T> Default for Loaded<T> {
    fn default() -> Self {
        Self {
            documents: Vec::new(),
            problems: Vec::new(),
        }
    }
}

/// How many threads read a collection at start.
pub fn parallelism() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |count| count.get())
        .min(8)
}

/// Removes the temp files of writes a crash interrupted from `dir`; returns the other names.
pub fn remove_temp_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(TEMP_PREFIX) {
            fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
        } else {
            paths.push(entry.path());
        }
    }
    Ok(paths)
}

/// Reads every document of a collection directory (creating it if missing), each turned into
/// what the caller keeps of it by `keep`, and removes the temp files of writes a crash
/// interrupted.
pub fn load_collection<T: Send>(
    dir: &Path,
    keep: impl Fn(Document) -> T + Sync,
) -> anyhow::Result<Loaded<T>> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut paths = remove_temp_files(dir)?;
    paths.retain(|path| {
        path.extension()
            .is_some_and(|extension| extension == "json")
    });
    let chunk = paths.len().div_ceil(parallelism()).max(1);
    let keep = &keep;
    let parts: Vec<Loaded<T>> = std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .map(|part| scope.spawn(move || load_files(part, keep)))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    let mut loaded = Loaded::default();
    for part in parts {
        loaded.documents.extend(part.documents);
        loaded.problems.extend(part.problems);
    }
    Ok(loaded)
}

fn load_files<T>(paths: &[PathBuf], keep: &impl Fn(Document) -> T) -> Loaded<T> {
    let mut loaded = Loaded::default();
    for path in paths {
        match read_document(path) {
            Ok((document, _)) => loaded.documents.push(keep(document)),
            Err(error) => {
                let problem = format!("{}: {error:#}", path.display());
                tracing::error!(%problem, "skipping a document file that cannot be read");
                loaded.problems.push(problem);
            }
        }
    }
    loaded
}

/// Reads one document file; returns it with the file's length.
pub fn read_document(path: &Path) -> anyhow::Result<(Document, usize)> {
    let bytes = fs::read(path)?;
    let document: Document = serde_json::from_slice(&bytes)?;
    let expected = document_file_name(document.id);
    if path.file_name().and_then(|name| name.to_str()) != Some(expected.as_str()) {
        bail!("holds document {} under another file name", document.id);
    }
    Ok((document, bytes.len()))
}
