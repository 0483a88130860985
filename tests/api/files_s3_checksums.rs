//! What quillstore's own writes to S3 carry, against a real Garage: with `S3_CHECKSUM=auto` a
//! CRC32C the store verified and kept (whole for one PutObject, per part for a multipart
//! upload); with `sha256` a SHA-256; with `off` none (the payload is signed instead).

use aws_sdk_s3::types::ChecksumMode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::helpers::{TestBlobs, s3_blobs_only, s3_client, spawn_app_with, text_bytes};

/// quillstore's part size (src/blob/s3/upload.rs).
const PART_SIZE: usize = 8 << 20;

fn crc32c(bytes: &[u8]) -> [u8; 4] {
    (crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, bytes) as u32).to_be_bytes()
}

/// The CRC32C S3 reports for `bytes` written in parts of [`PART_SIZE`]: the checksum itself
/// for one part, else the checksum of the parts' checksums followed by `-<parts>`.
fn stored_crc32c(bytes: &[u8]) -> String {
    if bytes.len() <= PART_SIZE {
        return STANDARD.encode(crc32c(bytes));
    }
    let parts: Vec<u8> = bytes.chunks(PART_SIZE).flat_map(crc32c).collect();
    format!(
        "{}-{}",
        STANDARD.encode(crc32c(&parts)),
        bytes.len().div_ceil(PART_SIZE)
    )
}

/// Uploads `bytes` through an app with `S3_CHECKSUM=mode` and returns the checksums the store
/// keeps for the object (CRC32C, SHA-256), after checking the bytes read back.
async fn upload_and_head(mode: &str, bytes: &[u8]) -> (Option<String>, Option<String>) {
    let mode = mode.to_owned();
    let app = spawn_app_with(move |raw| {
        raw.s3_checksum = Some(mode);
        raw.max_upload_size = Some("64MiB".into());
    })
    .await;
    let file = app.upload(bytes, "parts.bin", None).await;
    let id = file["id"].as_str().unwrap();
    let read = app.get(&format!("/api/files/{id}")).await;
    assert_eq!(read.bytes().await.unwrap(), bytes);
    let blobs = app.blobs();
    let key = blobs.key_of(&file).await;
    let TestBlobs::S3 { settings, prefix } = &blobs else {
        unreachable!("an S3 pass")
    };
    let head = s3_client(settings)
        .head_object()
        .bucket(&settings.bucket)
        .key(format!("{prefix}{key}"))
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    (
        head.checksum_crc32_c().map(str::to_owned),
        head.checksum_sha256().map(str::to_owned),
    )
}

#[tokio::test]
async fn writes_carry_a_crc32c_the_store_verified() {
    if !s3_blobs_only("writes_carry_a_crc32c_the_store_verified") {
        return;
    }
    // One PutObject, then a multipart upload of three parts (the last one short).
    for bytes in [
        text_bytes(100_000, 1),
        text_bytes(2 * PART_SIZE + 12_345, 2),
    ] {
        let (crc, sha) = upload_and_head("auto", &bytes).await;
        assert_eq!(crc.as_deref(), Some(stored_crc32c(&bytes).as_str()));
        assert_eq!(sha, None, "no SHA-256 is sent with a CRC32C");
    }
}

#[tokio::test]
async fn sha256_and_off_are_obeyed() {
    if !s3_blobs_only("sha256_and_off_are_obeyed") {
        return;
    }
    let bytes = text_bytes(100_000, 3);
    let (crc, sha) = upload_and_head("sha256", &bytes).await;
    assert_eq!(sha, Some(STANDARD.encode(Sha256::digest(&bytes))));
    assert_eq!(crc, None);
    let (crc, sha) = upload_and_head("off", &bytes).await;
    assert_eq!(
        (crc, sha),
        (None, None),
        "off: a signed payload, no checksum"
    );
}
