//! `quillstore check-config`: prints the effective configuration with secrets masked, then
//! checks that each configured store can be reached. Fails on any problem.

use std::path::Path;

use anyhow::bail;

use crate::blob::S3BlobStore;
use crate::config::{BlobsFallback, Config, DataBackend, MongoConfig, RawConfig, S3Config};
use crate::store::{HealthStatus, MongoStore};

pub async fn check_config(raw: RawConfig) -> anyhow::Result<()> {
    let config = Config::from_raw(raw)?;
    println!("effective configuration:");
    for (name, value) in config.describe() {
        println!("  {name:<30} {value}");
    }
    println!("checks:");
    let mut checks = Vec::new();
    if config.data_backend != DataBackend::Mongodb {
        checks.push(("metadata (json)", check_data_dir(&config.data_dir)));
    }
    if let Some(mongo) = &config.mongodb {
        checks.push(("metadata (mongodb)", check_mongodb(mongo).await));
    }
    match &config.s3 {
        None => checks.push((
            "blobs (fs)",
            check_data_dir(&crate::layout::DataDir::new(&config.data_dir).blobs()),
        )),
        Some(s3) => checks.push(("blobs (s3)", check_s3(s3).await)),
    }
    match &config.blobs_fallback {
        None => {}
        Some(BlobsFallback::Fs(data_dir)) => checks.push((
            "BLOBS_FALLBACK (fs)",
            check_existing_dir(&crate::layout::DataDir::new(data_dir).blobs()),
        )),
        Some(BlobsFallback::S3(s3)) => checks.push(("BLOBS_FALLBACK (s3)", check_s3(s3).await)),
    }
    let mut failed = 0;
    for (name, outcome) in checks {
        match outcome {
            Ok(detail) => println!("  ok    {name}: {detail}"),
            Err(error) => {
                failed += 1;
                println!("  FAIL  {name}: {error:#}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} check(s) failed");
    }
    Ok(())
}

/// MongoDB must answer a ping within the configured timeout.
async fn check_mongodb(settings: &MongoConfig) -> anyhow::Result<String> {
    let settings = MongoConfig {
        auto_migrate: false,
        ..settings.clone()
    };
    let store = MongoStore::connect(&settings).await?;
    let health = store.health().await;
    match health.status {
        HealthStatus::Healthy => Ok(format!(
            "database {} answers a ping in {:.1} ms",
            settings.database,
            health.latency.as_secs_f64() * 1000.0
        )),
        _ => bail!(
            "{}",
            health.message.unwrap_or_else(|| "no answer".to_owned())
        ),
    }
}

/// The bucket must answer a HeadBucket (or be created, when allowed) within S3_TIMEOUT_MS.
async fn check_s3(settings: &S3Config) -> anyhow::Result<String> {
    let store = S3BlobStore::open(settings).await?;
    let health = store.health().await;
    match health.status {
        HealthStatus::Healthy => Ok(format!(
            "bucket {} answers a HeadBucket in {:.1} ms; SHA-256 checksums {}; writes carry {}",
            settings.bucket,
            health.latency.as_secs_f64() * 1000.0,
            if store.verifies_checksums() {
                "verified by the store"
            } else {
                "not sent"
            },
            store.write_checksum()
        )),
        _ => bail!(
            "{}",
            health.message.unwrap_or_else(|| "no answer".to_owned())
        ),
    }
}

/// The data directory must exist (or be creatable) and be writable.
fn check_data_dir(dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".tmp-check-{}", std::process::id()));
    std::fs::write(&probe, b"probe")?;
    std::fs::remove_file(&probe)?;
    Ok(format!("{} is writable", dir.display()))
}

/// The blobs a fallback serves must be there already: a fallback is never created.
fn check_existing_dir(dir: &Path) -> anyhow::Result<String> {
    if !dir.is_dir() {
        bail!(
            "{} does not exist (the blobs of the old store are read from there)",
            dir.display()
        );
    }
    std::fs::read_dir(dir)?;
    Ok(format!("{} is readable", dir.display()))
}
