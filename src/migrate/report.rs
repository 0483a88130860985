//! What a copy or a verification found, per kind of record, printed as a table followed by
//! the named problems; and what a move off `BLOBS_FALLBACK` did (`MoveReport`).

use std::fmt;
use std::time::Duration;

/// Named problems kept per kind; the rest are counted.
const NAMED_PROBLEMS: usize = 25;

/// The counts of one kind of record (a collection, messages or blobs).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub kind: String,
    /// Records at the source.
    pub source: u64,
    /// Records at the destination (before a copy wrote anything).
    pub destination: u64,
    /// Present on both sides and identical (a copy skips them).
    pub identical: u64,
    /// At the source only.
    pub missing: u64,
    /// On both sides, not identical.
    pub different: u64,
    /// At the destination only.
    pub extra: u64,
    /// Records written to the destination.
    pub written: u64,
    /// Records removed from the destination (`--prune`).
    pub removed: u64,
    /// Bytes written (blobs), or that would be.
    pub bytes: u64,
    /// Problems found beyond the counts above (e.g. a source blob unlike its record).
    pub faults: u64,
    /// The first problems, by name.
    pub problems: Vec<String>,
    /// What the walk left alone on purpose, said once (e.g. image variants).
    pub notes: Vec<String>,
}

impl Tally {
    pub fn new(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            ..Self::default()
        }
    }

    /// Names a problem (the first few are kept for the report).
    pub fn name(&mut self, problem: String) {
        if self.problems.len() < NAMED_PROBLEMS {
            self.problems.push(problem);
        }
    }

    /// A problem that is not a difference between the two sides.
    pub fn fault(&mut self, problem: String) {
        self.faults += 1;
        self.name(problem);
    }

    /// Differences and faults: what makes a verification fail.
    pub fn mismatches(&self) -> u64 {
        self.missing + self.different + self.extra + self.faults
    }
}

/// One walk over every kind: a copy (or dry run) or a verification.
#[derive(Debug, Clone)]
pub struct Report {
    pub verification: bool,
    pub dry_run: bool,
    pub tallies: Vec<Tally>,
    /// Stopped by `--limit` before the end.
    pub interrupted: bool,
    pub elapsed: Duration,
}

impl Report {
    pub fn mismatches(&self) -> u64 {
        self.tallies.iter().map(Tally::mismatches).sum()
    }

    pub fn faults(&self) -> u64 {
        self.tallies.iter().map(|tally| tally.faults).sum()
    }

    pub fn written(&self) -> u64 {
        self.tallies.iter().map(|tally| tally.written).sum()
    }

    pub fn skipped(&self) -> u64 {
        self.tallies.iter().map(|tally| tally.identical).sum()
    }

    pub fn tally(&self, kind: &str) -> Option<&Tally> {
        self.tallies.iter().find(|tally| tally.kind == kind)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.verification {
            writeln!(
                formatter,
                "{:<12} {:>10} {:>12} {:>10} {:>8} {:>10} {:>8}",
                "verify", "source", "destination", "identical", "missing", "different", "extra"
            )?;
            for tally in &self.tallies {
                writeln!(
                    formatter,
                    "{:<12} {:>10} {:>12} {:>10} {:>8} {:>10} {:>8}",
                    tally.kind,
                    tally.source,
                    tally.destination,
                    tally.identical,
                    tally.missing,
                    tally.different,
                    tally.extra
                )?;
            }
        } else {
            let wrote = if self.dry_run { "would copy" } else { "copied" };
            writeln!(
                formatter,
                "{:<12} {:>10} {:>10} {:>10} {:>16} {:>8}",
                if self.dry_run { "dry run" } else { "copy" },
                "source",
                "skipped",
                wrote,
                "only-destination",
                "removed"
            )?;
            for tally in &self.tallies {
                let copied = if self.dry_run {
                    tally.missing + tally.different
                } else {
                    tally.written
                };
                writeln!(
                    formatter,
                    "{:<12} {:>10} {:>10} {:>10} {:>16} {:>8}",
                    tally.kind, tally.source, tally.identical, copied, tally.extra, tally.removed
                )?;
            }
        }
        for tally in &self.tallies {
            for note in &tally.notes {
                writeln!(formatter, "  {}: {note}", tally.kind)?;
            }
            for problem in &tally.problems {
                writeln!(formatter, "  {}: {problem}", tally.kind)?;
            }
            let unnamed = tally.problems.len() as u64;
            let total = if self.verification {
                tally.mismatches()
            } else {
                tally.faults
            };
            if total > unnamed && !tally.problems.is_empty() {
                writeln!(
                    formatter,
                    "  {}: ... and {} more",
                    tally.kind,
                    total - unnamed
                )?;
            }
        }
        let seconds = self.elapsed.as_secs_f64().max(0.001);
        if !self.verification && !self.dry_run {
            let bytes: u64 = self.tallies.iter().map(|tally| tally.bytes).sum();
            writeln!(
                formatter,
                "wrote {} record(s) and {} blob byte(s) in {seconds:.2} s ({:.0} records/s, {:.1} MiB/s); skipped {} identical",
                self.written(),
                bytes,
                self.written() as f64 / seconds,
                bytes as f64 / seconds / (1024.0 * 1024.0),
                self.skipped()
            )?;
        } else {
            writeln!(formatter, "took {seconds:.2} s")?;
        }
        Ok(())
    }
}

/// What a move did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct MoveReport {
    pub dry_run: bool,
    /// The backend moved from and to.
    pub from: &'static str,
    pub to: &'static str,
    /// Records that named the old store when the run started, and their distinct blobs.
    pub records: u64,
    pub blobs: u64,
    pub bytes: u64,
    /// Blobs written to the new store (the others were there already, verified).
    pub copied: u64,
    /// Records now naming the new store.
    pub flipped: u64,
    /// Records deleted (or moved by someone else) while the run went on.
    pub gone: u64,
    /// Records still naming the old store because of a problem (listed).
    pub problems: Vec<String>,
    /// Blobs left for the next run (`--limit`).
    pub left: u64,
}

impl fmt::Display for MoveReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (from, to) = (self.from, self.to);
        if self.dry_run {
            return writeln!(
                formatter,
                "dry run: {} file record(s) ({} blob(s), {} bytes) still on {from}; nothing was \
                 written",
                self.records, self.blobs, self.bytes
            );
        }
        writeln!(
            formatter,
            "{from} -> {to}: {} of {} file record(s) moved ({} blob(s) copied and verified, {} \
             bytes); {} deleted meanwhile; {} blob(s) left by --limit",
            self.flipped, self.records, self.copied, self.bytes, self.gone, self.left
        )?;
        for problem in &self.problems {
            writeln!(formatter, "  problem: {problem}")?;
        }
        Ok(())
    }
}
