//! Hostile or damaged account archives are refused with a 422 (413 past the size limit) and
//! leave nothing behind: no document, no blob.

use reqwest::StatusCode;
use serde_json::json;

use crate::account::{export, fill_account, import, snapshot};
use crate::helpers::{Api, TestApp, assert_error, spawn_app_with, spawn_jwt_app};

/// A ustar header for a regular file (what the service writes; enough to build bad archives).
fn header(path: &str, size: u64) -> Vec<u8> {
    let mut block = vec![0u8; 512];
    block[..path.len()].copy_from_slice(path.as_bytes());
    let octal = |block: &mut [u8], range: std::ops::Range<usize>, value: u64| {
        let digits = range.len() - 1;
        let text = format!("{value:0digits$o}");
        block[range.start..range.start + digits].copy_from_slice(text.as_bytes());
    };
    octal(&mut block, 100..108, 0o644);
    octal(&mut block, 124..136, size);
    block[156] = b'0';
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    block[148..156].copy_from_slice(b"        ");
    let sum: u64 = block.iter().map(|byte| u64::from(*byte)).sum();
    octal(&mut block, 148..155, sum);
    block
}

fn entry(path: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = header(path, data.len() as u64);
    bytes.extend_from_slice(data);
    bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    bytes
}

fn position(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
        .expect("the archive holds the needle")
}

/// Imports `archive` into `api`'s empty account and checks it is refused and nothing kept.
async fn refused(app: &TestApp, api: &Api, archive: Vec<u8>, status: StatusCode, why: &str) {
    let empty = snapshot(api).await;
    let body = assert_error(import(api, archive).await, status, expected_code(status)).await;
    eprintln!("{why}: {}", body["error"]);
    assert_eq!(snapshot(api).await, empty, "{why}: nothing kept");
    let blobs = app.blobs().keys_under("users/eve").await;
    assert!(blobs.is_empty(), "{why}: {blobs:?}");
}

fn expected_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        _ => "validation_failed",
    }
}

#[tokio::test]
async fn damaged_and_hostile_archives_are_refused_with_nothing_kept() {
    let app = spawn_jwt_app().await;
    let (alice, eve) = (app.as_user("alice"), app.as_user("eve"));
    fill_account(&alice, 7).await;
    let good = export(&alice).await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;

    // A byte of a file's content changed: its blob no longer hashes to its name.
    let mut flipped = good.clone();
    let at = position(&flipped, &crate::helpers::text_bytes(5_000, 7)[..64]);
    flipped[at] ^= 1;
    refused(&app, &eve, flipped, unprocessable, "a wrong blob hash").await;

    // A document changed (same length): its entry no longer matches the manifest.
    let mut edited = good.clone();
    let at = position(&edited, b"\"likes tea\"");
    edited[at + 1] = b'L';
    refused(&app, &eve, edited, unprocessable, "a wrong entry hash").await;

    // The manifest's counts lie.
    let mut counts = good.clone();
    let at = position(&counts, b"\"messages\": 3");
    counts[at + 12] = b'4';
    refused(&app, &eve, counts, unprocessable, "a bad manifest").await;

    // No manifest at all (the archive cut before it).
    let at = position(&good, b"manifest.json");
    refused(
        &app,
        &eve,
        good[..at].to_vec(),
        unprocessable,
        "a missing manifest",
    )
    .await;

    for path in ["../evil", "/etc/passwd", "collections/../../x", ".hidden"] {
        let mut archive = entry(path, b"{}\n");
        archive.extend_from_slice(&good);
        refused(&app, &eve, archive, unprocessable, path).await;
    }

    // An entry claiming more than a page may hold (and more than there is).
    let mut oversize = header("collections/tags/000001.jsonl", 1 << 32);
    oversize.extend_from_slice(&[0u8; 1024]);
    refused(&app, &eve, oversize, unprocessable, "an oversize entry").await;

    let not_tar = b"this is not an archive at all".repeat(40);
    refused(&app, &eve, not_tar, unprocessable, "not a tar file").await;

    // After all of that, the real archive still imports.
    assert_eq!(import(&eve, good).await.status(), StatusCode::CREATED);
    assert_eq!(
        eve.list("/api/chats").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_archive_past_max_account_import_bytes_is_a_413() {
    let app = spawn_app_with(|raw| raw.max_account_import_bytes = Some("4KiB".into())).await;
    app.create("tags", json!({"name": "x"})).await;
    app.upload(&crate::helpers::text_bytes(8_000, 3), "big.txt", None)
        .await;
    let archive = export(&app).await;
    assert!(archive.len() > 4096);
    let response = import(&app, archive).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}
