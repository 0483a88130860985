//! The blob phase of a walk: every blob under `users/` on both sides, by key. Image variants
//! (`variants/`) are not copied: they are derived from the originals and made again on
//! first request; the report says how many were left behind. A blob is
//! identical when its key and size match and, when its SHA-256 is known from the source's
//! file records, when the destination's bytes hash to it. A verification re-reads and hashes
//! every destination blob (against the record's SHA-256, or the source's bytes for a blob no
//! record names).

use std::collections::HashMap;

use anyhow::Context as _;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::compare::{Merged, Paired, Scan};
use super::progress::Progress;
use super::{Context, Mode, Pair, Tally, Writer};
use crate::blob::{BlobEntry, BlobKey, BlobStore};
use crate::files::storage_key;
use crate::model::Collection;

/// A blob listing, sorted by key, as one batch.
struct BlobScan(Option<Vec<BlobEntry>>);

impl BlobScan {
    async fn list(store: &BlobStore, side: &str) -> anyhow::Result<Self> {
        let mut entries = store
            .list(BlobKey::ALL_USERS)
            .await
            .with_context(|| format!("cannot list the {side} blobs"))?;
        entries.sort_by(|left, right| left.key.cmp(&right.key));
        Ok(Self(Some(entries)))
    }

    fn total_bytes(&self) -> u64 {
        self.0.iter().flatten().map(|entry| entry.size).sum()
    }
}

impl Scan for BlobScan {
    type Item = BlobEntry;
    type Key = BlobKey;

    fn key(entry: &BlobEntry) -> BlobKey {
        entry.key.clone()
    }

    async fn fetch(&mut self) -> anyhow::Result<Vec<BlobEntry>> {
        Ok(self.0.take().unwrap_or_default())
    }
}

/// Compares (and in a copy, writes) the blobs.
pub async fn blobs(context: &Context<'_>, stores: &Pair<BlobStore>) -> anyhow::Result<Tally> {
    let mut tally = Tally::new("blobs");
    let recorded = recorded_digests(context).await?;
    let source = BlobScan::list(&stores.source, "source").await?;
    let destination = BlobScan::list(&stores.destination, "destination").await?;
    let variants = stores
        .source
        .list(BlobKey::ALL_VARIANTS)
        .await
        .context("cannot list the source's image variants")?;
    if !variants.is_empty() {
        let bytes: u64 = variants.iter().map(|entry| entry.size).sum();
        tally.notes.push(format!(
            "skipped {} image variant blob(s) ({bytes} bytes) under variants/: derivable from \
             their originals, made again on first request",
            variants.len()
        ));
    }
    let progress = Progress::bytes("blobs", source.total_bytes());
    let mut merged = Merged::new(source, destination);
    let mut writer = Writer::new();
    while !context.budget.exhausted()
        && let Some(paired) = merged.next().await?
    {
        let (entry, replace) = match paired {
            Paired::Both {
                source,
                destination,
            } => {
                tally.source += 1;
                tally.destination += 1;
                progress.add(source.size);
                let expected = recorded.get(source.key.as_str());
                match difference(context, stores, &source, &destination, expected).await? {
                    None => {
                        tally.identical += 1;
                        continue;
                    }
                    Some(why) => {
                        tally.different += 1;
                        if context.mode == Mode::Verify {
                            tally.name(format!("{} differs: {why}", source.key));
                        }
                        (source, true)
                    }
                }
            }
            Paired::SourceOnly(source) => {
                tally.source += 1;
                tally.missing += 1;
                progress.add(source.size);
                if context.mode == Mode::Verify {
                    tally.name(format!("{} is missing at the destination", source.key));
                }
                (source, false)
            }
            Paired::DestinationOnly(extra) => {
                tally.destination += 1;
                tally.extra += 1;
                tally.name(format!("{} exists only at the destination", extra.key));
                if context.prunes() && context.budget.take() {
                    tally.removed += 1;
                    let store = &stores.destination;
                    writer
                        .push(async move {
                            store.delete(&extra.key).await?;
                            Ok(None)
                        })
                        .await?;
                }
                continue;
            }
        };
        if context.writes() && context.budget.take() {
            tally.written += 1;
            tally.bytes += entry.size;
            let expected = recorded.get(entry.key.as_str()).cloned();
            writer
                .push(copy_blob(stores, entry.key, replace, expected))
                .await?;
        }
    }
    for problem in writer.finish().await? {
        tally.fault(problem);
    }
    progress.finish();
    Ok(tally)
}

/// Why a blob present on both sides is not identical, if it is not.
async fn difference(
    context: &Context<'_>,
    stores: &Pair<BlobStore>,
    source: &BlobEntry,
    destination: &BlobEntry,
    recorded: Option<&String>,
) -> anyhow::Result<Option<String>> {
    if source.size != destination.size {
        return Ok(Some(format!(
            "{} bytes at the destination, {} at the source",
            destination.size, source.size
        )));
    }
    if context.mode != Mode::Verify && recorded.is_none() {
        return Ok(None);
    }
    let found = digest(&stores.destination, &destination.key).await?;
    let expected = match recorded {
        Some(recorded) => recorded.clone(),
        None => digest(&stores.source, &source.key).await?,
    };
    Ok((found != expected)
        .then(|| format!("SHA-256 {found} at the destination, {expected} expected")))
}

/// Streams one blob from the source to the destination (replacing a different one there).
async fn copy_blob(
    stores: &Pair<BlobStore>,
    key: BlobKey,
    replace: bool,
    recorded: Option<String>,
) -> anyhow::Result<Option<String>> {
    if replace {
        stores
            .destination
            .delete(&key)
            .await
            .with_context(|| format!("cannot replace blob {key}"))?;
    }
    let read = stores
        .source
        .get(&key, None)
        .await
        .with_context(|| format!("cannot read blob {key}"))?;
    let written = stores
        .destination
        .put(&key, read.body, u64::MAX)
        .await
        .with_context(|| format!("cannot write blob {key}"))?;
    Ok(match recorded {
        Some(recorded) if recorded != written.sha256 => Some(format!(
            "source blob {key} does not match its file record: SHA-256 {} read, {recorded} recorded",
            written.sha256
        )),
        _ => None,
    })
}

/// SHA-256 of a blob's bytes, read from `store`.
async fn digest(store: &BlobStore, key: &BlobKey) -> anyhow::Result<String> {
    let mut read = store
        .get(key, None)
        .await
        .with_context(|| format!("cannot read blob {key}"))?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = read.body.next().await {
        hasher.update(chunk.with_context(|| format!("cannot read blob {key}"))?);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The SHA-256 the source's file records give each blob key (none without metadata).
async fn recorded_digests(context: &Context<'_>) -> anyhow::Result<HashMap<String, String>> {
    let Some(metadata) = &context.stores.metadata else {
        return Ok(HashMap::new());
    };
    let records = metadata
        .source
        .all_documents(Collection::Files)
        .await
        .map_err(|error| anyhow::anyhow!("cannot read the source file records: {error}"))?;
    Ok(records
        .iter()
        .filter_map(|record| {
            let key = storage_key(record)?;
            let sha256 = record.body.get("sha256")?.as_str()?;
            Some((key.to_owned(), sha256.to_owned()))
        })
        .collect())
}
