//! Secrets the service generates for itself when none is configured, so the embedded
//! default needs no setup and still keeps what it signed valid across restarts: created once
//! under `DATA_DIR/secrets/` with owner-only permissions (0600), then read back on every start.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::config::Secret;

/// Bytes of randomness in a generated secret (stored as hex).
const SECRET_BYTES: usize = 32;

/// The secret stored at `path`, generating it first when the file does not exist. A file that
/// exists but cannot be read or is empty is an error, never silently replaced: replacing it
/// would invalidate everything signed with it.
pub fn load_or_create(path: &Path) -> anyhow::Result<Secret> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = text.trim();
            anyhow::ensure!(
                text.len() >= 2 * SECRET_BYTES,
                "{} is damaged (shorter than a generated secret); restore it from a backup or \
                 remove it to generate a new one",
                path.display()
            );
            Ok(Secret::new(text))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn create(path: &Path) -> anyhow::Result<Secret> {
    let dir = path.parent().context("a secret's path has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    let text = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(path).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    match written {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "generated a secret; back it up with DATA_DIR");
            Ok(Secret::new(text))
        }
        // Another process created it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(error) => Err(error).with_context(|| format!("cannot write {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_generated_once_with_owner_only_permissions_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets/test.key");
        let first = load_or_create(&path).unwrap();
        let second = load_or_create(&path).unwrap();
        assert_eq!(first.expose(), second.expose());
        assert_eq!(first.expose().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_secret_file_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.key");
        std::fs::write(&path, "short").unwrap();
        let error = load_or_create(&path).unwrap_err().to_string();
        assert!(error.contains("damaged"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short");
    }
}
