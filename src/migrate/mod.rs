//! `quillstore migrate`: copies data between backends and checks copies.
//!
//! A copy walks every kind of record (the document collections, then each chat's messages,
//! then the blobs) as a merge join of the source and the destination in key order
//! ([`compare`]), writes what is missing or different at the destination (documents, messages
//! and blobs exactly as they are: ids, versions and timestamps kept), skips what is already
//! identical (so an interrupted copy simply runs again) and ends with a verification pass over
//! the same walk that compares every record and re-reads and hashes every blob at the
//! destination. Rolling back is the same copy with the ends swapped.

mod blobs;
pub mod cli;
mod compare;
mod counters;
mod documents;
mod messages;
pub mod progress;
pub mod relocate;
#[cfg(test)]
mod relocate_tests;
mod report;
pub mod spec;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;

pub use self::report::{Report, Tally};
use crate::blob::BlobStore;
use crate::model::{Collection, Document};
use crate::store::MetadataStore;

/// Writes in flight at once.
const CONCURRENT_WRITES: usize = 8;

/// The two ends of a copy.
pub struct Pair<T> {
    pub source: T,
    pub destination: T,
}

/// What to copy or check: metadata, blobs, or both.
pub struct Stores {
    pub metadata: Option<Pair<MetadataStore>>,
    pub blobs: Option<Pair<BlobStore>>,
}

/// How a copy runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// Count what would be copied; write nothing.
    pub dry_run: bool,
    /// Remove records that exist only at the destination.
    pub prune: bool,
    /// Stop after this many writes (a deliberate interruption; run again to continue).
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Copy { dry_run: bool, prune: bool },
    Verify,
}

/// What every phase of one walk shares.
struct Context<'a> {
    mode: Mode,
    stores: &'a Stores,
    budget: Budget,
}

impl Context<'_> {
    fn writes(&self) -> bool {
        matches!(self.mode, Mode::Copy { dry_run: false, .. })
    }

    fn prunes(&self) -> bool {
        matches!(
            self.mode,
            Mode::Copy {
                dry_run: false,
                prune: true
            }
        )
    }

    /// A source document as it must be at the destination: file records name the blob
    /// backend they now live on when blobs move to another kind of backend.
    fn adapt(&self, collection: Collection, mut document: Document) -> Document {
        let Some(blobs) = &self.stores.blobs else {
            return document;
        };
        let backend = blobs.destination.backend();
        if collection == Collection::Files
            && blobs.source.backend() != backend
            && let Some(storage) = document
                .body
                .get_mut("storage")
                .and_then(|storage| storage.as_object_mut())
        {
            storage.insert("backend".to_owned(), backend.into());
        }
        document
    }
}

/// The number of writes a run may still make (`--limit`).
struct Budget {
    left: Option<AtomicU64>,
    exhausted: AtomicBool,
}

impl Budget {
    fn new(limit: Option<u64>) -> Self {
        Self {
            left: limit.map(AtomicU64::new),
            exhausted: AtomicBool::new(false),
        }
    }

    /// Claims one write; false once the budget is spent.
    fn take(&self) -> bool {
        let Some(left) = &self.left else { return true };
        let granted = left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if !granted {
            self.exhausted.store(true, Ordering::SeqCst);
        }
        granted
    }

    fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::SeqCst)
    }
}

/// Runs writes with bounded concurrency; each may name a problem it found.
struct Writer<'a> {
    running: FuturesUnordered<BoxFuture<'a, anyhow::Result<Option<String>>>>,
    problems: Mutex<Vec<String>>,
}

impl<'a> Writer<'a> {
    fn new() -> Self {
        Self {
            running: FuturesUnordered::new(),
            problems: Mutex::new(Vec::new()),
        }
    }

    async fn push(
        &mut self,
        write: impl Future<Output = anyhow::Result<Option<String>>> + Send + 'a,
    ) -> anyhow::Result<()> {
        while self.running.len() >= CONCURRENT_WRITES {
            self.settle_one().await?;
        }
        self.running.push(Box::pin(write));
        Ok(())
    }

    async fn settle_one(&mut self) -> anyhow::Result<()> {
        if let Some(outcome) = self.running.next().await
            && let Some(problem) = outcome?
        {
            self.problems
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(problem);
        }
        Ok(())
    }

    /// Waits for every write queued so far.
    async fn drain(&mut self) -> anyhow::Result<()> {
        while !self.running.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }

    /// Waits for every write; returns the problems they named.
    async fn finish(mut self) -> anyhow::Result<Vec<String>> {
        self.drain().await?;
        Ok(self
            .problems
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

/// Copies `stores.source` to `stores.destination` and, unless it was a dry run or stopped by
/// `--limit`, verifies the result. Returns the copy's report and the verification's.
pub async fn copy(
    stores: &Stores,
    options: CopyOptions,
) -> anyhow::Result<(Report, Option<Report>)> {
    let mode = Mode::Copy {
        dry_run: options.dry_run,
        prune: options.prune,
    };
    let copied = walk(stores, mode, options.limit).await?;
    if options.dry_run || copied.interrupted {
        return Ok((copied, None));
    }
    let verified = walk(stores, Mode::Verify, None).await?;
    Ok((copied, Some(verified)))
}

/// Compares the destination with the source record by record, hashing every blob.
pub async fn verify(stores: &Stores) -> anyhow::Result<Report> {
    walk(stores, Mode::Verify, None).await
}

async fn walk(stores: &Stores, mode: Mode, limit: Option<u64>) -> anyhow::Result<Report> {
    let started = Instant::now();
    let context = Context {
        mode,
        stores,
        budget: Budget::new(limit),
    };
    let mut tallies = Vec::new();
    if let Some(metadata) = &stores.metadata {
        for collection in Collection::DOCUMENTS {
            tallies.push(documents::documents(&context, metadata, collection).await?);
        }
        tallies.push(messages::messages(&context, metadata).await?);
    }
    if let Some(blobs) = &stores.blobs {
        tallies.push(blobs::blobs(&context, blobs).await?);
    }
    Ok(Report {
        verification: mode == Mode::Verify,
        dry_run: matches!(mode, Mode::Copy { dry_run: true, .. }),
        tallies,
        interrupted: context.budget.exhausted(),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::Budget;

    #[test]
    fn a_budget_grants_exactly_its_limit() {
        let budget = Budget::new(Some(2));
        assert!(budget.take() && budget.take());
        assert!(!budget.exhausted());
        assert!(!budget.take());
        assert!(budget.exhausted());
        let unlimited = Budget::new(None);
        assert!((0..10_000).all(|_| unlimited.take()));
        assert!(!unlimited.exhausted());
    }
}
