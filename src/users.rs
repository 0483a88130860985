//! `quillstore users list|export|delete`: the account operations for operators, on the
//! stores the configuration names (stop the service first with the json store or fs blobs:
//! they lock `DATA_DIR`). Reports go to stdout, progress to stderr.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::accounts::deletion::{self, Step};
use crate::accounts::{AccountStores, export};
use crate::config::{Config, RawConfig};
use crate::migrate::progress::Progress;
use crate::model::{Collection, UserId};
use crate::{stores, telemetry};

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Every user with stored documents: documents, files and file bytes per user.
    List(Box<RawConfig>),
    /// Write USER's account archive (what `GET /api/account/export` streams) to a file.
    Export(ExportArgs),
    /// Delete everything USER owns (what `DELETE /api/account` does); needs --yes.
    /// An interrupted deletion is finished by running it again (or by the next `serve`).
    Delete(DeleteArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    pub user: String,
    /// Where to write the archive (default: quillstore-account-USER.tar).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub config: Box<RawConfig>,
}

#[derive(Args)]
pub struct DeleteArgs {
    pub user: String,
    /// Confirms the deletion: nothing of USER can be recovered afterwards.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub config: Box<RawConfig>,
}

pub async fn run(command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::List(raw) => list(&open(*raw).await?).await,
        UsersCommand::Export(args) => {
            let user = parse_user(&args.user)?;
            let output = args
                .output
                .unwrap_or_else(|| PathBuf::from(format!("quillstore-account-{user}.tar")));
            export_to(&open(*args.config).await?, user, output).await
        }
        UsersCommand::Delete(args) => {
            let user = parse_user(&args.user)?;
            if !args.yes {
                bail!("deleting {user} removes everything they own; add --yes to confirm");
            }
            delete(&open(*args.config).await?, user).await
        }
    }
}

fn parse_user(text: &str) -> anyhow::Result<UserId> {
    UserId::parse(text).map_err(|error| anyhow::anyhow!("{text:?} is not a user id: {error}"))
}

async fn open(raw: RawConfig) -> anyhow::Result<AccountStores> {
    let config = Config::from_raw(raw)?;
    telemetry::init(config.log_format);
    let (metadata, blobs) = stores::open_stores(&config).await?;
    Ok(AccountStores { metadata, blobs })
}

#[derive(Default)]
struct Row {
    documents: u64,
    files: u64,
    bytes: u64,
}

async fn list(stores: &AccountStores) -> anyhow::Result<()> {
    const BATCH: usize = 1000;
    let mut users: BTreeMap<String, Row> = BTreeMap::new();
    let progress = Progress::items("documents", None);
    for collection in Collection::DOCUMENTS {
        let mut after = None;
        loop {
            let batch = stores
                .metadata
                .scan_documents(collection, after, BATCH)
                .await?;
            progress.add(batch.len() as u64);
            for document in &batch {
                let row = users.entry(document.user_id.to_string()).or_default();
                row.documents += 1;
                if collection == Collection::Files {
                    row.files += 1;
                    row.bytes += document
                        .body
                        .get("size")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                }
            }
            if batch.len() < BATCH {
                break;
            }
            after = batch.last().map(|document| document.id);
        }
    }
    progress.finish();
    println!(
        "{:<40} {:>10} {:>8} {:>14}",
        "USER", "DOCUMENTS", "FILES", "BYTES"
    );
    for (user, row) in &users {
        println!(
            "{user:<40} {:>10} {:>8} {:>14}",
            row.documents, row.files, row.bytes
        );
    }
    Ok(())
}

async fn export_to(stores: &AccountStores, user: UserId, output: PathBuf) -> anyhow::Result<()> {
    let partial = output.with_extension("tar.partial");
    let mut file = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let progress = Progress::items("bytes", None);
    let mut archive = std::pin::pin!(export::archive_stream(stores.clone(), user.clone()));
    let mut written = 0u64;
    while let Some(chunk) = archive.next().await {
        let chunk = chunk.context("the export failed (see the log above)")?;
        file.write_all(&chunk).await?;
        written += chunk.len() as u64;
        progress.add(chunk.len() as u64);
    }
    file.flush().await?;
    file.sync_all().await?;
    progress.finish();
    tokio::fs::rename(&partial, &output).await?;
    println!("exported {user}: {written} bytes to {}", output.display());
    Ok(())
}

async fn delete(stores: &AccountStores, user: UserId) -> anyhow::Result<()> {
    let documents = Progress::items("documents", None);
    let blobs = Progress::items("blobs", None);
    let report = deletion::delete_account(stores, &user, &|step| match step {
        Step::Documents(count) => documents.add(count),
        Step::Blob => blobs.add(1),
    })
    .await?;
    documents.finish();
    blobs.finish();
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
