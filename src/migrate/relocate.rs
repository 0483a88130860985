//! `quillstore migrate copy --from-fallback`: moves the blobs of the file records that still
//! name the old store (`BLOBS_FALLBACK`) into the configured one, beside a live service.
//!
//! Per blob key (records sharing a blob move together): the blob is streamed to the new
//! store unless an identical one is there, then read back and hashed there; only when the
//! hash is the records' SHA-256 is each record flipped (`storage.backend`, a versioned write
//! that reads again on a conflict with the service). The service serves each record from
//! the store its record names, so a download before or after the flip gets the same bytes.
//! The old blob is left where it is (remove the old store once the move is done); a copy
//! whose records were all deleted meanwhile is removed again, so nothing is left behind.

use std::collections::BTreeMap;

use anyhow::Context as _;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use super::report::MoveReport;
use crate::blob::{BlobError, BlobKey, BlobStore, BlobStores};
use crate::files::{records_with_hash, storage_backend, storage_key};
use crate::model::{Collection, Document};
use crate::store::MetadataStore;
use crate::store::retry::edit_document;

/// Blobs moved at once.
const CONCURRENT_MOVES: usize = 4;
/// Conflicting writes of the service a flip reads again before it gives up (for this run).
const FLIP_ATTEMPTS: usize = 10;

/// How a move runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct MoveOptions {
    /// Count what is left to move; write nothing.
    pub dry_run: bool,
    /// Stop after this many blobs (run again to continue).
    pub limit: Option<u64>,
}

/// What moving one blob (and its records) came to.
#[derive(Default)]
struct Moved {
    copied: bool,
    bytes: u64,
    flipped: u64,
    gone: u64,
    problems: Vec<String>,
}

/// Moves every record naming `from` (and its blob) to `to`, as described in the module.
pub async fn move_blobs(
    metadata: &MetadataStore,
    from: &BlobStore,
    to: &BlobStore,
    options: MoveOptions,
) -> anyhow::Result<MoveReport> {
    let records = metadata
        .all_documents(Collection::Files)
        .await
        .context("cannot read the file records")?;
    let mut by_key: BTreeMap<String, Vec<Document>> = BTreeMap::new();
    for record in records {
        if storage_backend(&record) == from.backend()
            && let Some(key) = storage_key(&record)
        {
            by_key.entry(key.to_owned()).or_default().push(record);
        }
    }
    let mut report = MoveReport {
        dry_run: options.dry_run,
        from: from.backend(),
        to: to.backend(),
        records: by_key.values().map(|records| records.len() as u64).sum(),
        blobs: by_key.len() as u64,
        ..MoveReport::default()
    };
    if options.dry_run {
        report.bytes = by_key.values().map(|records| size(&records[0])).sum();
        return Ok(report);
    }
    let take = options.limit.map_or(by_key.len(), |limit| {
        usize::try_from(limit).unwrap_or(usize::MAX)
    });
    report.left = by_key.len().saturating_sub(take) as u64;
    let mut moves = futures_util::stream::iter(by_key.into_iter().take(take))
        .map(|(key, records)| move_one(metadata, from, to, key, records))
        .buffer_unordered(CONCURRENT_MOVES);
    while let Some(moved) = moves.next().await {
        report.copied += u64::from(moved.copied);
        report.bytes += moved.bytes;
        report.flipped += moved.flipped;
        report.gone += moved.gone;
        report.problems.extend(moved.problems);
    }
    Ok(report)
}

/// `BLOBS_FALLBACK_MOVE=true`: the move run once by the service itself from its start
/// (the json store admits no second process); the outcome is logged.
pub async fn move_in_service(metadata: &MetadataStore, blobs: &BlobStores) {
    let Some(from) = blobs.fallback() else {
        return;
    };
    // Read back from the store itself, not from the cache the two stores share.
    let to = blobs.current().clone().with_cache(None);
    tracing::info!(
        from = from.backend(),
        to = to.backend(),
        "moving the blobs of BLOBS_FALLBACK"
    );
    match move_blobs(metadata, from, &to, MoveOptions::default()).await {
        Ok(report) if report.problems.is_empty() => {
            tracing::info!(report = %report.to_string().trim_end(), "BLOBS_FALLBACK move done");
        }
        Ok(report) => {
            tracing::error!(report = %report.to_string().trim_end(), "BLOBS_FALLBACK move left records behind");
        }
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "BLOBS_FALLBACK move failed");
        }
    }
}

fn size(record: &Document) -> u64 {
    record.body.get("size").and_then(Value::as_u64).unwrap_or(0)
}

fn sha256_of(record: &Document) -> &str {
    record
        .body
        .get("sha256")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Copies and verifies the blob `key`, then flips each of its `records`.
async fn move_one(
    metadata: &MetadataStore,
    from: &BlobStore,
    to: &BlobStore,
    key: String,
    records: Vec<Document>,
) -> Moved {
    let mut moved = Moved::default();
    let expected = sha256_of(&records[0]).to_owned();
    let placed = match BlobKey::parse(&key) {
        Ok(blob) => place(from, to, &blob, &expected).await,
        Err(error) => Err(anyhow::Error::from(error)),
    };
    match placed {
        Ok(copied) => {
            moved.copied = copied;
            moved.bytes = if copied { size(&records[0]) } else { 0 };
        }
        Err(error) => {
            moved.problems.push(format!(
                "blob {key} ({} record(s)): {error:#}",
                records.len()
            ));
            return moved;
        }
    }
    for record in &records {
        match flip(metadata, record, from.backend(), to.backend()).await {
            Ok(true) => moved.flipped += 1,
            Ok(false) => moved.gone += 1,
            Err(error) => moved.problems.push(format!(
                "record {} of user {}: {error:#}",
                record.id, record.user_id
            )),
        }
    }
    if moved.flipped == 0 && moved.problems.is_empty() {
        // Every record went while the blob was copied: the copy must not outlive them.
        if let Err(error) = drop_unnamed_copy(metadata, to, &records[0], &key).await {
            moved.problems.push(format!(
                "blob {key}: its records were deleted and its copy could not be checked or \
                 removed: {error:#}"
            ));
        }
    }
    moved
}

/// Makes the new store hold the blob `key` with SHA-256 `expected`, read back and hashed
/// there. True when it had to be copied.
async fn place(
    from: &BlobStore,
    to: &BlobStore,
    key: &BlobKey,
    expected: &str,
) -> anyhow::Result<bool> {
    if to.head(key).await?.is_some() {
        if digest(to, key).await? == expected {
            return Ok(false);
        }
        to.delete(key).await?;
    }
    let read = match from.get(key, None).await {
        Err(BlobError::NotFound) => {
            anyhow::bail!("missing from the old store (see `quillstore gc`)")
        }
        read => read.context("cannot read it from the old store")?,
    };
    let written = to
        .put(key, read.body, u64::MAX)
        .await
        .context("cannot write it to the new store")?;
    let found = digest(to, key).await?;
    if written.sha256 != expected || found != expected {
        to.delete(key).await?;
        anyhow::bail!(
            "its bytes hash to {found} in the new store, the record says {expected}; left on \
             the old store"
        );
    }
    Ok(true)
}

/// Points `record` at the new store when it still names the old one at `key`; false when it
/// is gone or was moved by someone else. Conflicting writes of the service are read again.
async fn flip(
    metadata: &MetadataStore,
    record: &Document,
    from: &str,
    to: &str,
) -> anyhow::Result<bool> {
    let key = storage_key(record).unwrap_or_default();
    let (user, id) = (&record.user_id, record.id);
    edit_document(
        FLIP_ATTEMPTS,
        || metadata.get(Collection::Files, user, id),
        |body| {
            let Some(storage) = body.get_mut("storage").and_then(Value::as_object_mut) else {
                return false;
            };
            let named = |field: &str, value: &str| {
                storage.get(field).and_then(Value::as_str) == Some(value)
            };
            let still_old = named("backend", from) && named("key", key);
            if still_old {
                storage.insert("backend".to_owned(), to.into());
            }
            still_old
        },
        |version, body| metadata.replace(Collection::Files, user, id, version, body),
    )
    .await
    .context("cannot point it at the new store")
}

/// Removes the new store's copy of `key` when no record of its owner names it any more.
async fn drop_unnamed_copy(
    metadata: &MetadataStore,
    to: &BlobStore,
    record: &Document,
    key: &str,
) -> anyhow::Result<()> {
    let named = records_with_hash(metadata, &record.user_id, sha256_of(record))
        .await?
        .iter()
        .any(|other| storage_key(other) == Some(key));
    if !named {
        to.delete(&BlobKey::parse(key)?).await?;
    }
    Ok(())
}

/// SHA-256 of a blob's bytes as `store` returns them.
async fn digest(store: &BlobStore, key: &BlobKey) -> anyhow::Result<String> {
    let read = store.get(key, None).await?;
    let hasher = read
        .body
        .try_fold(Sha256::new(), |mut hasher, chunk| async move {
            hasher.update(&chunk);
            Ok(hasher)
        })
        .await
        .with_context(|| format!("cannot read {key} back"))?;
    Ok(hex::encode(hasher.finalize()))
}
