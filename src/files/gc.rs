//! `quillstore gc`: compares the blob store with the file records. Blobs no record points at
//! (left by a crash between the blob and its record, or a failed delete) are listed and, with
//! `--apply`, removed; records whose blob is missing are reported, never changed. Direct
//! uploads never completed within `PENDING_MAX_AGE` (their age is in their UUIDv7 id) are
//! removed the same way. Image variants (`variants/{user}/{sha256}/...`) are kept while a
//! record of that user with that SHA-256 exists; the others (their original deleted while a
//! variant was being made, or a failed delete) are orphans like any blob. Listings use
//! prefixes ending in `/`, so one user's prefix never matches another's.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use uuid::Uuid;

use crate::blob::{BlobEntry, BlobKey, BlobStore};
use crate::config::Config;
use crate::files::storage_key;
use crate::files::uploads::{PENDING_MAX_AGE, upload_age};
use crate::model::{Collection, UserId};
use crate::store::MetadataStore;

/// A file record whose blob is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingBlob {
    pub user: UserId,
    pub file_id: Uuid,
    pub key: String,
}

/// What one run found and did.
#[derive(Debug, Default)]
pub struct GcReport {
    pub records: usize,
    pub blobs: usize,
    pub orphans: Vec<BlobEntry>,
    pub missing: Vec<MissingBlob>,
    /// Orphan blobs written less than the minimum age ago: kept, since an upload in flight
    /// writes its blob a moment before its record.
    pub recent_orphans: Vec<BlobEntry>,
    /// Objects of direct uploads abandoned before completion.
    pub abandoned_uploads: Vec<BlobEntry>,
    /// Image variants whose original still exists (kept).
    pub variants: usize,
    /// Image variants whose original is gone.
    pub orphan_variants: Vec<BlobEntry>,
    /// False for a dry run.
    pub applied: bool,
    pub removed: usize,
}

impl GcReport {
    pub fn orphan_bytes(&self) -> u64 {
        self.orphans.iter().map(|entry| entry.size).sum()
    }
}

/// The default of `quillstore gc --min-age`: ten minutes.
pub const DEFAULT_MIN_AGE_SECS: u64 = 600;

/// Opens the stores of `config` (the json store takes the `DATA_DIR` lock, so there the
/// service must be stopped) and runs [`collect`].
pub async fn run(config: &Config, apply: bool, min_age: Duration) -> anyhow::Result<GcReport> {
    if let Some(fallback) = &config.blobs_fallback {
        anyhow::bail!(
            "BLOBS_FALLBACK={} is set: blobs are moving between stores and gc compares the \
             records with one store; finish the move (`quillstore migrate copy \
             --from-fallback`), unset BLOBS_FALLBACK, then run gc",
            fallback.backend()
        );
    }
    let (store, blobs) = crate::stores::open_stores(config).await?;
    collect(&store, blobs.current(), apply, min_age).await
}

pub async fn collect(
    store: &MetadataStore,
    blobs: &BlobStore,
    apply: bool,
    min_age: Duration,
) -> anyhow::Result<GcReport> {
    let records = store
        .all_documents(Collection::Files)
        .await
        .context("cannot read the file records")?;
    let entries = blobs
        .list(BlobKey::ALL_USERS)
        .await
        .context("cannot list the blobs")?;
    let referenced: HashSet<&str> = records.iter().filter_map(storage_key).collect();
    let present: HashSet<&str> = entries.iter().map(|entry| entry.key.as_str()).collect();
    let mut report = GcReport {
        records: records.len(),
        blobs: entries.len(),
        applied: apply,
        ..GcReport::default()
    };
    for record in &records {
        let key = storage_key(record).unwrap_or_default();
        if !present.contains(key) {
            report.missing.push(MissingBlob {
                user: record.user_id.clone(),
                file_id: record.id,
                key: key.to_owned(),
            });
        }
    }
    // Records are read before blobs are listed: a blob written after that read may belong to
    // an upload about to record it, so only blobs older than `min_age` count as orphans.
    let now = SystemTime::now();
    let old_enough = |entry: &BlobEntry| {
        entry
            .modified
            .is_none_or(|modified| now.duration_since(modified).is_ok_and(|age| age >= min_age))
    };
    (report.orphans, report.recent_orphans) = entries
        .iter()
        .filter(|entry| !referenced.contains(entry.key.as_str()))
        .cloned()
        .partition(old_enough);
    report.abandoned_uploads = abandoned_uploads(blobs).await?;
    let originals: HashSet<(&str, &str)> = records
        .iter()
        .filter_map(|record| {
            let sha256 = record.body.get("sha256")?.as_str()?;
            Some((record.user_id.as_str(), sha256))
        })
        .collect();
    let variants = blobs
        .list(BlobKey::ALL_VARIANTS)
        .await
        .context("cannot list the image variants")?;
    report.variants = variants.len();
    report.orphan_variants = variants
        .into_iter()
        .filter(|entry| {
            let mut segments = entry.key.segments().skip(1);
            let original = (
                segments.next().unwrap_or_default(),
                segments.next().unwrap_or_default(),
            );
            !originals.contains(&original) && old_enough(entry)
        })
        .collect();
    report.variants -= report.orphan_variants.len();
    if apply {
        let removable = report.orphans.iter().chain(&report.abandoned_uploads);
        for orphan in removable.chain(&report.orphan_variants) {
            blobs
                .delete(&orphan.key)
                .await
                .with_context(|| format!("cannot remove blob {}", orphan.key))?;
            report.removed += 1;
        }
    }
    Ok(report)
}

/// The objects under `uploads/{user}/{uploadId}/` whose upload is older than
/// [`PENDING_MAX_AGE`].
async fn abandoned_uploads(blobs: &BlobStore) -> anyhow::Result<Vec<BlobEntry>> {
    let entries = blobs
        .list(BlobKey::ALL_UPLOADS)
        .await
        .context("cannot list the pending uploads")?;
    let now = std::time::SystemTime::now();
    Ok(entries
        .into_iter()
        .filter(|entry| {
            let upload_id = entry
                .key
                .segments()
                .nth(2)
                .and_then(crate::model::ids::parse_id);
            match upload_id.and_then(|id| upload_age(id, now)) {
                Some(age) => age > PENDING_MAX_AGE,
                None => {
                    tracing::warn!(key = %entry.key, "not a pending upload: left alone");
                    false
                }
            }
        })
        .collect())
}

impl fmt::Display for GcReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            formatter,
            "checked {} file record(s) and {} blob(s)",
            self.records, self.blobs
        )?;
        let verb = if self.applied {
            "removed"
        } else {
            "would remove"
        };
        for orphan in &self.orphans {
            writeln!(
                formatter,
                "orphan blob: {} ({} bytes)",
                orphan.key, orphan.size
            )?;
        }
        for recent in &self.recent_orphans {
            writeln!(
                formatter,
                "recent orphan blob, kept (younger than --min-age): {} ({} bytes)",
                recent.key, recent.size
            )?;
        }
        for upload in &self.abandoned_uploads {
            writeln!(
                formatter,
                "abandoned direct upload: {} ({} bytes)",
                upload.key, upload.size
            )?;
        }
        for variant in &self.orphan_variants {
            writeln!(
                formatter,
                "image variant of a deleted original: {} ({} bytes)",
                variant.key, variant.size
            )?;
        }
        for missing in &self.missing {
            writeln!(
                formatter,
                "record without blob: file {} of user {} (key {})",
                missing.file_id, missing.user, missing.key
            )?;
        }
        writeln!(
            formatter,
            "{verb} {} orphan blob(s), {} bytes, and {} object(s) of abandoned uploads; {} \
             record(s) without blob; {} recent orphan blob(s) kept",
            self.orphans.len(),
            self.orphan_bytes(),
            self.abandoned_uploads.len(),
            self.missing.len(),
            self.recent_orphans.len()
        )?;
        writeln!(
            formatter,
            "image variants: {} kept (their original exists), {verb} {} whose original is gone",
            self.variants,
            self.orphan_variants.len()
        )?;
        let anything_to_remove = !self.orphans.is_empty()
            || !self.abandoned_uploads.is_empty()
            || !self.orphan_variants.is_empty();
        if !self.applied && anything_to_remove {
            writeln!(
                formatter,
                "dry run: run `quillstore gc --apply` to remove them"
            )?;
        }
        Ok(())
    }
}
