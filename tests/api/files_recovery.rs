//! Failure safety of files: a `kill -9` in the middle of an upload leaves no record and its
//! temp file is removed at the next start; `quillstore gc` finds blobs without records (and
//! records without blobs), removing the former only with `--apply`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use futures::SinkExt;
use futures::channel::mpsc;
use reqwest::multipart::{Form, Part};

use crate::binary::spawn_binary;
use crate::helpers::{
    Api, Backend, BlobBackend, TestBlobs, blob_files, fs_blobs_only, spawn_app, temp_files,
    text_bytes,
};

/// How long the test waits for the server to reach a state before it gives up.
const DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_killed_upload_leaves_no_record_and_no_temp_file() {
    if !fs_blobs_only("a_killed_upload_leaves_no_record_and_no_temp_file") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = spawn_binary(dir.path()).await;
    let api = Api::at(server.address.clone());
    let kept = api.upload(b"kept", "kept.txt", None).await;

    let (mut sender, receiver) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let part = Part::stream(reqwest::Body::wrap_stream(receiver)).file_name("big.txt");
    let upload_api = api.clone();
    let upload = tokio::spawn(async move {
        let request = upload_api
            .request(reqwest::Method::POST, "/api/files")
            .multipart(Form::new().part("file", part));
        upload_api
            .try_send(request)
            .await
            .map(|response| response.status())
    });
    for seed in 0..8 {
        sender.send(Ok(text_bytes(256 * 1024, seed))).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while temp_files(dir.path()).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the upload never started writing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().expect("kill -9 the server");
    server.child.wait().unwrap();
    drop(sender);
    let outcome = upload.await.unwrap();
    assert!(
        outcome.is_err(),
        "the upload cannot have succeeded: {outcome:?}"
    );
    assert_eq!(
        temp_files(dir.path()).len(),
        1,
        "the kill left the temp file behind"
    );

    let server = spawn_binary(dir.path()).await;
    assert!(temp_files(dir.path()).is_empty(), "removed at start");
    let api = Api::at(server.address.clone());
    let page = api.list("/api/files").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the finished upload: {page}");
    assert_eq!(items[0]["id"], kept["id"]);
    assert_eq!(blob_files(dir.path()).len(), 1);
}

/// Runs `quillstore gc --min-age 0` (with `--apply` when asked) on `data_dir` and `blobs`: the
/// tests plant their orphans a moment before.
pub async fn gc(data_dir: &Path, blobs: &TestBlobs, apply: bool) -> Output {
    let mut args = vec!["--min-age", "0"];
    if apply {
        args.push("--apply");
    }
    gc_with(data_dir, blobs, &args).await
}

/// Runs `quillstore gc ARGS` on `data_dir` and `blobs`.
pub async fn gc_with(data_dir: &Path, blobs: &TestBlobs, args: &[&str]) -> Output {
    let data_dir = data_dir.to_path_buf();
    let blobs = blobs.clone();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_quillstore"))
            .arg("gc")
            .args(&args)
            .env("DATA_DIR", &data_dir)
            .env("AUTH_MODE", "none")
            .env("RUST_LOG", "warn")
            .envs(blobs.env_vars())
            .envs(Backend::under_test().env_vars(&data_dir))
            .env_remove("HOST")
            .output()
            .expect("run quillstore gc")
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn gc_keeps_orphans_younger_than_min_age() {
    let mut app = spawn_app().await;
    app.upload(b"kept", "kept.txt", None).await;
    let blobs = app.blobs();
    // With MongoDB and S3 gc may run beside the service; otherwise it must be stopped.
    let live = !Backend::under_test().uses_json() && BlobBackend::under_test() == BlobBackend::S3;
    if !live {
        app.stop().await;
    }
    let fresh_key = format!("users/local/image/{}_fresh.png", uuid::Uuid::now_v7());
    blobs
        .put_raw(&fresh_key, b"an upload about to record me")
        .await;

    let kept = gc_with(&app.data_dir, &blobs, &["--apply"]).await;
    let report = String::from_utf8_lossy(&kept.stdout).into_owned();
    assert!(
        kept.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&kept.stderr)
    );
    assert!(
        report.contains(&format!(
            "recent orphan blob, kept (younger than --min-age): {fresh_key}"
        )),
        "{report}"
    );
    assert!(report.contains("removed 0 orphan blob(s)"), "{report}");
    assert!(blobs.keys().await.contains(&fresh_key), "{report}");

    let removed = gc(&app.data_dir, &blobs, true).await;
    let report = String::from_utf8_lossy(&removed.stdout).into_owned();
    assert!(report.contains("removed 1 orphan blob(s)"), "{report}");
    assert!(!blobs.keys().await.contains(&fresh_key), "{report}");
}

#[tokio::test]
async fn gc_finds_orphan_blobs_and_records_without_blobs() {
    let mut app = spawn_app().await;
    let kept = app.upload(b"kept", "kept.txt", None).await;
    let lost = app.upload(b"lost", "lost.txt", None).await;
    let blobs = app.blobs();
    if Backend::under_test().uses_json() || BlobBackend::under_test() == BlobBackend::Fs {
        // The DATA_DIR lock (taken by the json store, or by the fs blob store beside MongoDB)
        // keeps gc away from a running service on the same DATA_DIR.
        let busy = gc(&app.data_dir, &blobs, false).await;
        assert!(!busy.status.success(), "gc must not run beside the service");
        assert!(String::from_utf8_lossy(&busy.stderr).contains("in use"));
    }
    app.stop().await;

    let orphan_key = format!("users/local/image/{}_orphan.png", uuid::Uuid::now_v7());
    blobs.put_raw(&orphan_key, b"nobody points here").await;
    let lost_key = blobs.key_of(&lost).await;
    let kept_key = blobs.key_of(&kept).await;
    blobs.remove_raw(&lost_key).await;

    let dry = gc(&app.data_dir, &blobs, false).await;
    let report = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        report.contains(&format!("orphan blob: {orphan_key} (18 bytes)")),
        "{report}"
    );
    let lost_id = lost["id"].as_str().unwrap();
    assert!(
        report.contains(&format!("record without blob: file {lost_id}")),
        "{report}"
    );
    assert!(report.contains("would remove 1 orphan blob(s)"), "{report}");
    assert!(
        blobs.keys().await.contains(&orphan_key),
        "a dry run removes nothing"
    );

    let applied = gc(&app.data_dir, &blobs, true).await;
    let report = String::from_utf8_lossy(&applied.stdout).into_owned();
    assert!(applied.status.success(), "{report}");
    assert!(report.contains("removed 1 orphan blob(s)"), "{report}");
    assert_eq!(blobs.keys().await, [kept_key]);

    app.start().await;
    assert_eq!(
        app.download_bytes(kept["id"].as_str().unwrap()).await,
        b"kept"
    );
}
