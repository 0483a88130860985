//! `quillstore check-config`, run as the real binary: every configuration problem is listed by
//! its variable, secrets never print, the exit code tells success from failure, and each
//! configured store is reached (or said to be unreachable) by name.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::{Backend, BlobBackend, TEST_MASTER_KEY, TestBlobs};

/// Runs `quillstore check-config` with exactly `vars` as its environment (plus PATH).
fn check_config(vars: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quillstore"));
    command.arg("check-config").env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("run quillstore check-config")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn data_dir_var(dir: &Path) -> (&'static str, String) {
    ("DATA_DIR", dir.display().to_string())
}

#[test]
fn every_problem_is_listed_by_its_variable_and_the_exit_code_is_failure() {
    let dir = tempfile::tempdir().unwrap();
    let output = check_config(&[
        data_dir_var(dir.path()),
        ("PORT", "eighty".to_owned()),
        ("AUTH_MODE", "sometimes".to_owned()),
        ("MAX_UPLOAD_SIZE", "a lot".to_owned()),
        ("HEADER_READ_TIMEOUT_SECS", "0".to_owned()),
        ("FILES_SIGNING_SECRET", "short".to_owned()),
    ]);
    let all = text(&output);
    assert!(!output.status.success(), "{all}");
    for variable in [
        "PORT",
        "AUTH_MODE",
        "MAX_UPLOAD_SIZE",
        "HEADER_READ_TIMEOUT_SECS",
        "FILES_SIGNING_SECRET",
    ] {
        assert!(all.contains(variable), "{variable} is not named in: {all}");
    }
    assert!(!all.contains("effective configuration"), "{all}");
}

#[test]
fn a_valid_embedded_setup_passes_with_every_secret_masked() {
    let dir = tempfile::tempdir().unwrap();
    let signing = "signing-secret-that-must-never-print-0123456789";
    let jwt = "jwt-secret-that-must-never-print-0123456789";
    let metrics = "metrics-token-that-must-never-print";
    let output = check_config(&[
        data_dir_var(dir.path()),
        ("DATA_BACKEND", "json".to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("AUTH_JWT_SECRET", jwt.to_owned()),
        ("FILES_SIGNING_SECRET", signing.to_owned()),
        ("METRICS_TOKEN", metrics.to_owned()),
        ("KEEPALIVE_IDLE_SECS", "42".to_owned()),
        ("SEND_TIMEOUT_SECS", "17".to_owned()),
    ]);
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    for secret in [signing, jwt, metrics] {
        assert!(!all.contains(secret), "a secret printed: {all}");
    }
    assert!(all.contains("********"), "{all}");
    assert!(all.contains("ok    metadata (json)"), "{all}");
    assert!(all.contains("ok    blobs (fs)"), "{all}");
    let keepalive = all
        .lines()
        .find(|line| line.trim_start().starts_with("KEEPALIVE_IDLE_SECS"))
        .unwrap_or_default();
    assert!(keepalive.trim_end().ends_with("42"), "{all}");
    let send_timeout = all
        .lines()
        .find(|line| line.trim_start().starts_with("SEND_TIMEOUT_SECS"))
        .unwrap_or_default();
    assert!(send_timeout.trim_end().ends_with("17"), "{all}");
}

#[test]
fn an_unreachable_mongodb_fails_fast_by_name_with_its_password_masked() {
    let dir = tempfile::tempdir().unwrap();
    let password = "pa55word-that-must-never-print";
    let started = std::time::Instant::now();
    let output = check_config(&[
        data_dir_var(dir.path()),
        ("DATA_BACKEND", "mongodb".to_owned()),
        // Port 1 on loopback: nothing listens there.
        (
            "MONGODB_URI",
            format!("mongodb://app:{password}@127.0.0.1:1/?directConnection=true"),
        ),
        ("MONGODB_CONNECTION_TIMEOUT_MS", "500".to_owned()),
        ("ENCRYPTION_MASTER_KEY", TEST_MASTER_KEY.to_owned()),
    ]);
    let all = text(&output);
    assert!(!output.status.success(), "{all}");
    assert!(all.contains("FAIL  metadata (mongodb)"), "{all}");
    assert!(!all.contains(password), "the password printed: {all}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "an unreachable MongoDB took {:?} to report",
        started.elapsed()
    );
}

#[test]
fn the_stores_under_test_are_reached() {
    let dir = tempfile::tempdir().unwrap();
    let mut vars = vec![data_dir_var(dir.path())];
    vars.extend(Backend::under_test().env_vars(dir.path()));
    let blobs = TestBlobs::for_suite(dir.path());
    vars.extend(blobs.env_vars());
    let output = check_config(&vars);
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    let backend = Backend::under_test();
    assert_eq!(
        all.contains("ok    metadata (json)"),
        backend.uses_json(),
        "{all}"
    );
    assert_eq!(
        all.contains("ok    metadata (mongodb)"),
        backend.uses_mongodb(),
        "{all}"
    );
    match BlobBackend::under_test() {
        BlobBackend::Fs => assert!(all.contains("ok    blobs (fs)"), "{all}"),
        BlobBackend::S3 => assert!(all.contains("ok    blobs (s3)"), "{all}"),
    }
}
