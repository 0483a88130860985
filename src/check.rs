//! `quillstore check-config`: prints the effective configuration with secrets masked, then
//! checks that each configured store can be reached. Fails on any problem.

use std::path::Path;

use anyhow::bail;

use crate::config::{Config, DataBackend, RawConfig};

pub async fn check_config(raw: RawConfig) -> anyhow::Result<()> {
    let config = Config::from_raw(raw)?;
    println!("effective configuration:");
    for (name, value) in config.describe() {
        println!("  {name:<24} {value}");
    }
    println!("checks:");
    let mut checks = match config.data_backend {
        DataBackend::Json => vec![("metadata (json)", check_data_dir(&config.data_dir))],
    };
    checks.push((
        "blobs (fs)",
        check_data_dir(&config.data_dir.join(crate::BLOBS_DIR)),
    ));
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

/// The data directory must exist (or be creatable) and be writable.
fn check_data_dir(dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".tmp-check-{}", std::process::id()));
    std::fs::write(&probe, b"probe")?;
    std::fs::remove_file(&probe)?;
    Ok(format!("{} is writable", dir.display()))
}
