//! A storm of over-limit uploads against the real binary: 20 concurrent 32 MiB uploads (streamed
//! from a generator, no `Content-Length`) with `MAX_UPLOAD_SIZE=1MiB` and
//! `MAX_CONCURRENT_UPLOADS=4` are each refused (413 or 429), the process's peak resident memory
//! stays bounded, nothing is stored, and no upload slot is lost.

use std::time::{Duration, Instant};

use futures::Stream;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::binary::spawn_binary_with;
use crate::helpers::{Api, blob_files, temp_files, text_bytes};

const UPLOADS: usize = 20;
const UPLOAD_BYTES: usize = 32 << 20;
const CHUNK_BYTES: usize = 64 << 10;
/// Generous: the service should need a few MiB per upload in flight, not the uploads' size.
const PEAK_BOUND_MIB: u64 = 200;

/// `total` bytes as a stream of copies of one chunk: the test never holds an upload whole.
fn chunk_stream(
    chunk: Vec<u8>,
    total: usize,
) -> impl Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    let count = total.div_ceil(chunk.len());
    futures::stream::iter((0..count).map(move |_| Ok(chunk.clone())))
}

/// A peak or current memory figure of `pid` from `/proc/<pid>/status`, in KiB.
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

enum Outcome {
    /// A refusal with the envelope: (status, error code).
    Refused(StatusCode, String),
    /// The connection closed while the test was still sending (after an early refusal).
    Reset(String),
}

async fn oversized_upload(api: &Api, seed: u64) -> Outcome {
    let chunk = text_bytes(CHUNK_BYTES, seed);
    let body = reqwest::Body::wrap_stream(chunk_stream(chunk, UPLOAD_BYTES));
    let part = Part::stream(body).file_name(format!("big-{seed}.txt"));
    let request = api
        .request(Method::POST, "/api/files")
        .multipart(Form::new().part("file", part));
    match api.try_send(request).await {
        Ok(response) => {
            let status = response.status();
            let text = match response.text().await {
                Ok(text) => text,
                Err(error) => return Outcome::Reset(format!("{status}, body cut: {error}")),
            };
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{status} without the envelope: {text}"));
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            Outcome::Refused(status, code)
        }
        Err(error) => Outcome::Reset(format!("{error:?}")),
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_storm_of_oversized_uploads_keeps_memory_bounded_and_stores_nothing() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = spawn_binary_with(data_dir.path(), |command| {
        command
            .env("MAX_UPLOAD_SIZE", "1MiB")
            .env("MAX_CONCURRENT_UPLOADS", "4");
    })
    .await;
    let pid = server.child.id();
    let api = Api::at(server.address.clone());
    let baseline = memory_kib(pid, "VmHWM:");

    let started = Instant::now();
    let outcomes =
        futures::future::join_all((0..UPLOADS as u64).map(|seed| oversized_upload(&api, seed)))
            .await;
    let elapsed = started.elapsed();
    let peak = memory_kib(pid, "VmHWM:");
    let (mut too_large, mut busy, mut resets) = (0, 0, Vec::new());
    for outcome in outcomes {
        match outcome {
            Outcome::Refused(StatusCode::PAYLOAD_TOO_LARGE, code) => {
                assert_eq!(code, "payload_too_large");
                too_large += 1;
            }
            Outcome::Refused(StatusCode::TOO_MANY_REQUESTS, code) => {
                assert_eq!(code, "rate_limited");
                busy += 1;
            }
            Outcome::Refused(status, code) => panic!("an oversized upload got {status} {code}"),
            Outcome::Reset(error) => resets.push(error),
        }
    }
    println!(
        "{UPLOADS} uploads of {} MiB in {elapsed:?}: {too_large}x413, {busy}x429, {} resets; \
         VmHWM {} MiB before, {} MiB after (bound {PEAK_BOUND_MIB} MiB)",
        UPLOAD_BYTES >> 20,
        resets.len(),
        baseline / 1024,
        peak / 1024,
    );
    assert!(
        too_large + busy > UPLOADS / 2,
        "most refusals must arrive with the envelope; resets: {resets:?}"
    );
    assert!(too_large >= 1, "some uploads got a slot and hit the limit");
    assert!(
        peak < PEAK_BOUND_MIB * 1024,
        "peak RSS {} MiB exceeds {PEAK_BOUND_MIB} MiB",
        peak / 1024
    );

    // Nothing stored: no record, no blob, no temp file (cleanups may still be running).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(blob_files(data_dir.path()).is_empty() && temp_files(data_dir.path()).is_empty())
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        blob_files(data_dir.path()),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        temp_files(data_dir.path()),
        Vec::<std::path::PathBuf>::new()
    );
    let files = api.list("/api/files?includeTotal=true").await;
    assert_eq!(files["total"], 0, "{files}");

    // Every slot came back: uploads one after another all succeed, then leave nothing.
    for seed in 0..6 {
        let file = api.upload(&text_bytes(1000, seed), "small.txt", None).await;
        let path = format!("/api/files/{}", file["id"].as_str().unwrap());
        assert_eq!(api.delete(&path).await.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(
        blob_files(data_dir.path()),
        Vec::<std::path::PathBuf>::new()
    );
}
