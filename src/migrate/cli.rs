//! The `quillstore migrate` commands: `schema`, `copy` and `verify`. Reports go to stdout,
//! progress and logs to stderr; any mismatch or failure ends with a non-zero exit.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::relocate::{self, MoveOptions};
use super::spec::{self, BlobSpec, MetadataSpec, Role};
use super::{CopyOptions, Pair, Report, Stores};
use crate::blob::{BlobStore, FsBlobStore, S3BlobStore};
use crate::config::{Config, DataBackend, LogFormat, MongoConfig, RawConfig};
use crate::layout::DataDir;
use crate::store::{HealthStatus, MetadataStore, MongoStore, mongo::schema};
use crate::telemetry;

#[derive(Subcommand)]
pub enum MigrateCommand {
    /// Apply the pending MongoDB schema migrations (indexes, validators) to the database of
    /// MONGODB_URI / MONGODB_DATABASE and print what was applied. Running it again changes
    /// nothing.
    Schema(Box<RawConfig>),
    /// Copy metadata (--from/--to) and/or blobs (--from-blobs/--to-blobs) to another backend:
    /// what is identical at the destination is skipped, the rest written as it is (ids,
    /// versions, timestamps), then everything is verified. Stop the service first. Or, with
    /// --from-fallback, move the blobs still on BLOBS_FALLBACK beside a live service.
    Copy(CopyArgs),
    /// Compare a destination with its source, record by record, hashing every destination
    /// blob; exits non-zero on any difference.
    Verify(Endpoints),
}

/// The two ends of a copy or a check.
#[derive(Args)]
pub struct Endpoints {
    /// Metadata source: json:DIR (a DATA_DIR), mongodb:URI[#DATABASE] (database quillstore by
    /// default) or mongodb (MONGODB_URI and MONGODB_DATABASE).
    #[arg(long, value_name = "SPEC", value_parser = MetadataSpec::parse, requires = "to")]
    pub from: Option<MetadataSpec>,
    /// Metadata destination, same forms as --from.
    #[arg(long, value_name = "SPEC", value_parser = MetadataSpec::parse, requires = "from")]
    pub to: Option<MetadataSpec>,
    /// Blob source: fs:DIR (the blobs of the DATA_DIR DIR, kept in DIR/blobs), or s3 (the
    /// bucket of the S3_* settings).
    #[arg(long, value_name = "SPEC", value_parser = BlobSpec::parse, requires = "to_blobs")]
    pub from_blobs: Option<BlobSpec>,
    /// Blob destination, same forms as --from-blobs.
    #[arg(long, value_name = "SPEC", value_parser = BlobSpec::parse, requires = "from_blobs")]
    pub to_blobs: Option<BlobSpec>,
}

/// The settings the environment gives (`MONGODB_*` for the `mongodb` spec and the
/// connection limits, `LOG_FORMAT`); copies take no other configuration.
#[derive(clap::Parser)]
struct Environment {
    #[command(flatten)]
    raw: RawConfig,
}

fn environment() -> RawConfig {
    use clap::Parser;
    Environment::try_parse_from(["quillstore"])
        .map(|environment| environment.raw)
        .unwrap_or_default()
}

#[derive(Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub endpoints: Endpoints,
    /// Only count what would be copied; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove what exists only at the destination (documents, messages, blobs), so it
    /// ends up exactly like the source.
    #[arg(long)]
    pub prune: bool,
    /// Stop after this many writes (run the same command again to continue).
    #[arg(long, value_name = "WRITES")]
    pub limit: Option<u64>,
    /// Move the blobs of the file records that still name BLOBS_FALLBACK into the blob store,
    /// with the service's own settings (DATA_BACKEND, MONGODB_*, S3_*, BLOBS_FALLBACK) and
    /// beside it while it runs: each blob is copied, read back and hashed in the new store,
    /// then its records are pointed at it. --limit counts blobs.
    #[arg(long, conflicts_with_all = ["from", "to", "from_blobs", "to_blobs", "prune"])]
    pub from_fallback: bool,
}

pub async fn run(command: MigrateCommand) -> anyhow::Result<()> {
    match command {
        MigrateCommand::Schema(raw) => apply_schema(*raw).await,
        MigrateCommand::Copy(args) => copy(args).await,
        MigrateCommand::Verify(endpoints) => verify(endpoints).await,
    }
}

fn init_logs(raw: &RawConfig) {
    let format = match raw.log_format.as_deref() {
        Some("json") => LogFormat::Json,
        _ => LogFormat::Text,
    };
    telemetry::init_with_default(format, "warn");
}

async fn apply_schema(raw: RawConfig) -> anyhow::Result<()> {
    init_logs(&raw);
    let settings = MongoConfig {
        auto_migrate: false,
        ..MongoConfig::from_raw(&raw)?
    };
    let store = MongoStore::connect(&settings).await?;
    let applied = schema::apply(store.database()).await?;
    if applied.is_empty() {
        println!(
            "database {}: up to date, no migration to apply ({} known)",
            settings.database,
            schema::MIGRATIONS.len()
        );
    } else {
        for name in &applied {
            println!("database {}: applied {name}", settings.database);
        }
        println!("applied {} migration(s)", applied.len());
    }
    Ok(())
}

async fn copy(args: CopyArgs) -> anyhow::Result<()> {
    if args.from_fallback {
        let options = MoveOptions {
            dry_run: args.dry_run,
            limit: args.limit,
        };
        return move_from_fallback(options).await;
    }
    let config = environment();
    init_logs(&config);
    let mode = if args.dry_run {
        Opening::DryRun
    } else {
        Opening::Copy
    };
    let stores = open(&args.endpoints, &config, mode).await?;
    let options = CopyOptions {
        dry_run: args.dry_run,
        prune: args.prune,
        limit: args.limit,
    };
    let (copied, verified) = super::copy(&stores, options).await?;
    print!("{copied}");
    if copied.interrupted {
        bail!(
            "stopped after {} write(s) (--limit): run the same command again to continue",
            args.limit.unwrap_or_default()
        );
    }
    if copied.faults() > 0 {
        println!(
            "{} problem(s) found while copying (listed above)",
            copied.faults()
        );
    }
    match verified {
        Some(verified) => conclude(&verified),
        None => {
            println!("dry run: nothing was written");
            Ok(())
        }
    }
}

/// `copy --from-fallback`: the service's stores, opened beside it (see `relocate`).
async fn move_from_fallback(options: MoveOptions) -> anyhow::Result<()> {
    let raw = environment();
    init_logs(&raw);
    let config = Config::from_raw(raw)?;
    let Some(fallback) = &config.blobs_fallback else {
        bail!(
            "--from-fallback moves the blobs still on BLOBS_FALLBACK: set it as the service has it"
        );
    };
    let metadata =
        crate::store::open(&config)
            .await
            .with_context(|| match config.data_backend {
                DataBackend::Json => {
                    "cannot open the json store: while a quillstore serves it, it holds \
                              DATA_DIR (one process per json store); set BLOBS_FALLBACK_MOVE=true \
                              on the service instead, which moves them itself"
                        .to_owned()
                }
                _ => "cannot open the metadata store".to_owned(),
            })?;
    let from = crate::stores::open_fallback(fallback).await?;
    let to = match &config.s3 {
        Some(s3) => BlobStore::S3(S3BlobStore::open(s3).await?),
        None => BlobStore::Fs(FsBlobStore::beside(&DataDir::new(&config.data_dir).blobs()).await?),
    };
    let report = relocate::move_blobs(&metadata, &from, &to, options).await?;
    print!("{report}");
    if !report.problems.is_empty() {
        bail!(
            "{} problem(s): those records still name {}",
            report.problems.len(),
            report.from
        );
    }
    if !options.dry_run && report.left == 0 {
        println!(
            "every file record read names {}: once no service writes to {} any more, unset \
             BLOBS_FALLBACK (run it again first if uploads reached the old store meanwhile)",
            report.to, report.from
        );
    }
    Ok(())
}

async fn verify(endpoints: Endpoints) -> anyhow::Result<()> {
    let config = environment();
    init_logs(&config);
    let stores = open(&endpoints, &config, Opening::Verify).await?;
    let verified = super::verify(&stores).await?;
    conclude(&verified)
}

/// Prints a verification and fails on any mismatch.
fn conclude(verified: &Report) -> anyhow::Result<()> {
    print!("{verified}");
    let mismatches = verified.mismatches();
    if mismatches > 0 {
        bail!("verification FAILED: {mismatches} mismatch(es) between source and destination");
    }
    println!("verification passed: the destination matches the source");
    Ok(())
}

/// Why the stores are opened.
#[derive(Clone, Copy)]
enum Opening {
    Copy,
    DryRun,
    Verify,
}

/// Opens both ends: a copy's destination is created and prepared (MongoDB migrations), a dry
/// run's only created, a verified one must exist.
async fn open(endpoints: &Endpoints, config: &RawConfig, mode: Opening) -> anyhow::Result<Stores> {
    let metadata = endpoints.from.as_ref().zip(endpoints.to.as_ref());
    let blobs = endpoints
        .from_blobs
        .as_ref()
        .zip(endpoints.to_blobs.as_ref());
    if metadata.is_none() && blobs.is_none() {
        bail!("name what to copy: --from and --to (metadata), --from-blobs and --to-blobs (blobs)");
    }
    spec::check_distinct(metadata, blobs, config)?;
    let destination_role = match mode {
        Opening::Copy => Role::Destination,
        Opening::DryRun => Role::Preview,
        Opening::Verify => Role::Source,
    };
    let metadata = match metadata {
        Some((from, to)) => {
            let (source, _) = from
                .open(Role::Source, config)
                .await
                .with_context(|| format!("source {from}"))?;
            let (destination, applied) = to
                .open(destination_role, config)
                .await
                .with_context(|| format!("destination {to}"))?;
            for name in applied {
                println!("destination {to}: applied schema migration {name}");
            }
            report_health("source", from, &source).await?;
            report_health("destination", to, &destination).await?;
            Some(Pair {
                source,
                destination,
            })
        }
        None => None,
    };
    let blobs = match blobs {
        Some((from, to)) => Some(Pair {
            source: from
                .open(Role::Source, config)
                .await
                .with_context(|| format!("source {from}"))?,
            destination: to
                .open(destination_role, config)
                .await
                .with_context(|| format!("destination {to}"))?,
        }),
        None => None,
    };
    println!("{}{}", metadata_line(endpoints), blob_line(endpoints));
    Ok(Stores { metadata, blobs })
}

/// A store that cannot be read whole (damaged json files) would be copied incompletely.
async fn report_health(
    side: &str,
    spec: &MetadataSpec,
    store: &MetadataStore,
) -> anyhow::Result<()> {
    let health = store.health().await;
    match health.status {
        HealthStatus::Healthy => Ok(()),
        _ => bail!(
            "the {side} {spec} is {:?}: {} (repair it first, see docs/storage-layout.md)",
            health.status,
            health.message.unwrap_or_default()
        ),
    }
}

fn metadata_line(endpoints: &Endpoints) -> String {
    match (&endpoints.from, &endpoints.to) {
        (Some(from), Some(to)) => format!("metadata: {from} -> {to}"),
        _ => String::new(),
    }
}

fn blob_line(endpoints: &Endpoints) -> String {
    match (&endpoints.from_blobs, &endpoints.to_blobs) {
        (Some(from), Some(to)) if endpoints.from.is_some() => format!("; blobs: {from} -> {to}"),
        (Some(from), Some(to)) => format!("blobs: {from} -> {to}"),
        _ => String::new(),
    }
}
