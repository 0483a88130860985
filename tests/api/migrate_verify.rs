//! `quillstore migrate verify` and the checks around a copy: planted corruption is found and
//! named (and repaired by copying again), records only at the destination fail the check until
//! `--prune`, and stores in use, missing, identical or damaged are refused.

use std::path::{Path, PathBuf};

use quillstore::config::RawConfig;
use serde_json::Value;

use crate::helpers::migrate::{as_strs, dirs_args, populate, quillstore, snapshot};
use crate::helpers::{blob_files, spawn_app_in, text_bytes};

fn json_backend(raw: &mut RawConfig) {
    raw.data_backend = Some("json".to_owned());
    // The copy is between `fs:` blob directories, whatever blob store the suite runs on.
    crate::helpers::pin_fs_blobs(raw);
}

/// A populated source and a verified copy of it.
async fn copied_pair(temp: &Path) -> (PathBuf, PathBuf, serde_json::Map<String, Value>) {
    let (source, destination) = (temp.join("source"), temp.join("copy"));
    let mut app = spawn_app_in(&source, json_backend).await;
    populate(&app.api, "local").await;
    let before = snapshot(&app.api).await;
    app.stop().await;
    let copy = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(copy.success, "{}\n{}", copy.stdout, copy.stderr);
    (source, destination, before)
}

#[tokio::test]
async fn verification_names_planted_corruption_and_a_copy_repairs_it() {
    // `migrate copy` takes fs:DIR blob ends only (S3 ends are not wired yet).
    if !crate::helpers::fs_blobs_only("verification_names_planted_corruption_and_a_copy_repairs_it")
    {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let (source, destination, _) = copied_pair(temp.path()).await;

    let blob = blob_files(&destination)
        .into_iter()
        .max_by_key(|path| std::fs::metadata(path).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[1000] ^= 0x01;
    std::fs::write(&blob, &bytes).unwrap();
    let key = blob
        .strip_prefix(destination.join("blobs"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let character = std::fs::read_dir(destination.join("characters"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .unwrap();
    let text = std::fs::read_to_string(&character).unwrap();
    std::fs::write(&character, text.replace("local Aria", "local Mallory")).unwrap();
    let character_id = character.file_stem().unwrap().to_str().unwrap().to_owned();

    let verify = quillstore(&as_strs(&dirs_args("verify", &source, &destination))).await;
    assert!(!verify.success, "{}", verify.stdout);
    assert!(
        verify
            .stderr
            .contains("verification FAILED: 2 mismatch(es)"),
        "{}",
        verify.stderr
    );
    let named = |needle: &str| {
        verify
            .stdout
            .lines()
            .any(|line| line.contains(needle) && line.contains("differs"))
    };
    assert!(named(&key), "the blob is named: {}", verify.stdout);
    assert!(
        named(&format!("{character_id} (user local) differs in name")),
        "{}",
        verify.stdout
    );
    assert_eq!(verify.row("verify", "blobs"), [3, 3, 2, 0, 1, 0]);

    let repair = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(repair.success, "{}\n{}", repair.stdout, repair.stderr);
    // source, skipped, copied, only at the destination, removed
    assert_eq!(repair.row("copy", "characters"), [1, 0, 1, 0, 0]);
    assert_eq!(repair.row("copy", "blobs"), [3, 2, 1, 0, 0]);
    assert!(
        repair.stdout.contains("verification passed"),
        "{}",
        repair.stdout
    );
}

#[tokio::test]
async fn records_only_at_the_destination_fail_verification_until_pruned() {
    // `migrate copy` takes fs:DIR blob ends only (S3 ends are not wired yet).
    if !crate::helpers::fs_blobs_only(
        "records_only_at_the_destination_fail_verification_until_pruned",
    ) {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let (source, destination, before) = copied_pair(temp.path()).await;
    let mut later = spawn_app_in(&destination, json_backend).await;
    later
        .api
        .create(
            "tags",
            serde_json::json!({"name": "written after the copy"}),
        )
        .await;
    later
        .api
        .upload(&text_bytes(500, 3), "later.txt", Some("text/plain"))
        .await;
    later.stop().await;

    let copy = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(!copy.success, "{}", copy.stdout);
    assert!(
        copy.stdout.contains("exists only at the destination"),
        "{}",
        copy.stdout
    );
    assert_eq!(copy.row("verify", "tags"), [2, 3, 2, 0, 0, 1]);

    let mut prune = dirs_args("copy", &source, &destination);
    prune.push("--prune".to_owned());
    let pruned = quillstore(&as_strs(&prune)).await;
    assert!(pruned.success, "{}\n{}", pruned.stdout, pruned.stderr);
    assert_eq!(pruned.row("copy", "tags"), [2, 2, 0, 1, 1]);
    assert_eq!(pruned.row("copy", "blobs"), [3, 3, 0, 1, 1]);
    let copied = spawn_app_in(&destination, json_backend).await;
    assert_eq!(snapshot(&copied.api).await, before);
}

#[tokio::test]
async fn stores_in_use_missing_or_identical_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    let (source, destination, _) = copied_pair(temp.path()).await;
    let running = spawn_app_in(&destination, json_backend).await;
    let busy = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(!busy.success);
    assert!(
        busy.stderr.contains("in use by another quillstore process"),
        "{}",
        busy.stderr
    );
    assert!(
        busy.stderr.contains("must be stopped first"),
        "{}",
        busy.stderr
    );
    drop(running);

    let nowhere = temp.path().join("nowhere");
    let missing = quillstore(&as_strs(&dirs_args("copy", &nowhere, &destination))).await;
    assert!(!missing.success);
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
    assert!(!nowhere.exists(), "a missing source is not created");

    let same = quillstore(&as_strs(&dirs_args("copy", &source, &source))).await;
    assert!(!same.success);
    assert!(
        same.stderr.contains("are the same store"),
        "{}",
        same.stderr
    );

    let damaged = std::fs::read_dir(source.join("tags"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .unwrap();
    std::fs::write(&damaged, b"{ not json").unwrap();
    let incomplete = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(
        !incomplete.success,
        "a source that cannot be read whole is not copied"
    );
    assert!(
        incomplete.stderr.contains("could not be read"),
        "{}",
        incomplete.stderr
    );

    let nothing = quillstore(&["migrate", "copy"]).await;
    assert!(!nothing.success);
    assert!(nothing.stderr.contains("--from"), "{}", nothing.stderr);
}
