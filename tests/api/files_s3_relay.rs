//! Streamed S3 downloads on quillstore's own connections (`S3_RELAY=auto`, the default with an
//! `http://` endpoint): the body goes from Garage's socket to the client's (splice(2) on
//! Linux) on kept-alive, pipelined and abandoned connections, with the right bytes every time,
//! and the connections to Garage are reused. `S3_RELAY=sdk` reads through the SDK instead.
//! With `S3_SOCKET` every request, the SDK's and the relay's, goes to a Garage listening on a
//! Unix socket. Each test runs the binary in its own process, as the counters in `/metrics` are
//! per process; S3 pass only.

use std::time::Duration;

use reqwest::StatusCode;

use crate::binary::{RunningBinary, spawn_binary_with};
use serde_json::json;

use crate::files_direct::{ask, complete, put_bytes};
use crate::helpers::garage::Garage;
use crate::helpers::raw_http::{Connection, RawResponse};
use crate::helpers::{Api, TestBlobs, s3_blobs_only, suite_s3, text_bytes};

const TOKEN: &str = "metrics-token-of-the-relay-tests";

/// Larger than the blob cache keeps (256 KiB by default), so every read streams from Garage.
const SIZES: [usize; 3] = [300 * 1024 + 7, 3 * 1024 * 1024, 5 * 1024 * 1024 + 1];

async fn binary(data_dir: &std::path::Path, relay: &str) -> (RunningBinary, Api) {
    binary_with(data_dir, relay, &[]).await
}

async fn binary_with(
    data_dir: &std::path::Path,
    relay: &str,
    extra: &[(&str, &str)],
) -> (RunningBinary, Api) {
    binary_on(data_dir, suite_s3(), relay, extra).await
}

async fn binary_on(
    data_dir: &std::path::Path,
    s3: crate::helpers::garage::S3Settings,
    relay: &str,
    extra: &[(&str, &str)],
) -> (RunningBinary, Api) {
    let blobs = TestBlobs::on_s3(s3);
    let relay = relay.to_owned();
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let binary = spawn_binary_with(data_dir, move |command| {
        command
            .envs(blobs.env_vars())
            .env("S3_RELAY", relay)
            .env("FILES_REDIRECT", "never")
            .env("METRICS_TOKEN", TOKEN)
            .envs(extra);
    })
    .await;
    let api = Api::at(binary.address.clone());
    (binary, api)
}

/// Uploads one text file per size; their paths and bytes.
async fn upload_all(api: &Api) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for (seed, size) in SIZES.into_iter().enumerate() {
        let bytes = text_bytes(size, 70 + seed as u64);
        let file = api.upload(&bytes, &format!("relay-{seed}.txt"), None).await;
        files.push((
            format!("/api/files/{}", file["id"].as_str().unwrap()),
            bytes,
        ));
    }
    files
}

/// The sum of every `/metrics` line of the counter `name` whose labels contain `label`.
async fn count(api: &Api, (name, label): (&str, &str)) -> f64 {
    let response = api.with_token(TOKEN).get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with(name) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

const PLAIN: (&str, &str) = ("quillstore_s3_streamed_gets_total", "path=\"plain\"");
const SDK: (&str, &str) = ("quillstore_s3_streamed_gets_total", "path=\"sdk\"");
const SPLICED: (&str, &str) = ("quillstore_relay_bodies_total", "how=\"splice\"");
const COPIED: (&str, &str) = ("quillstore_relay_bodies_total", "how=\"copy\"");

/// A 200 carrying exactly `bytes`.
fn assert_whole(response: &RawResponse, bytes: &[u8], what: &str) {
    assert_eq!(response.status, 200, "{what}: {}", response.head);
    assert!(response.body == bytes, "{what}: wrong bytes");
}

/// True on Linux, where bodies are spliced; elsewhere says loudly that the count is not checked.
fn splice_counted(test: &str) -> bool {
    let linux = cfg!(target_os = "linux");
    if !linux {
        crate::helpers::skip(
            test,
            "the splice(2) count: splice is Linux only (bodies are copied here)",
        );
    }
    linux
}

#[tokio::test]
async fn kept_alive_and_pipelined_downloads_stream_from_garage_with_the_right_bytes() {
    if !s3_blobs_only("kept_alive_and_pipelined_downloads_stream_from_garage_with_the_right_bytes")
    {
        return;
    }
    let data_dir = tempfile::tempdir().unwrap();
    let (_binary, api) = binary(data_dir.path(), "auto").await;
    let files = upload_all(&api).await;
    let mut connection = Connection::open(&api.address).await;
    let mut sent = 0;

    // Every size, twice, on one kept-alive connection.
    for _ in 0..2 {
        for (path, bytes) in &files {
            assert_whole(&connection.get(path).await, bytes, path);
            sent += 1;
        }
    }
    // Ranges: one inside the first chunk, one across the whole body but its ends.
    let (path, bytes) = &files[2];
    for (start, end) in [(10usize, 4000usize), (1, bytes.len() - 2)] {
        let response = connection
            .get_with(path, &format!("Range: bytes={start}-{end}\r\n"))
            .await;
        assert_eq!(response.status, 206, "{}", response.head);
        assert!(response.body == bytes[start..=end], "range {start}-{end}");
        sent += 1;
    }
    // Three requests sent at once: the answers come back in order, each whole.
    let mut pipelined = String::new();
    for (path, _) in &files {
        pipelined.push_str(&format!("GET {path} HTTP/1.1\r\nHost: quillstore\r\n\r\n"));
    }
    connection.send(pipelined.as_bytes()).await;
    for (path, bytes) in &files {
        let response = connection.response().await.expect("a pipelined response");
        assert_whole(&response, bytes, &format!("{path} (pipelined)"));
        sent += 1;
    }
    // The connection is still good for a small JSON request after them.
    assert_eq!(connection.get("/api/health/live").await.status, 200);

    assert_eq!(
        count(&api, PLAIN).await,
        f64::from(sent),
        "every read streamed"
    );
    assert_eq!(count(&api, SDK).await, 0.0);
    if splice_counted("kept_alive_and_pipelined_downloads_stream_from_garage_with_the_right_bytes")
    {
        assert_eq!(
            count(&api, SPLICED).await,
            f64::from(sent),
            "on Linux every body goes socket to socket"
        );
    }
    assert_eq!(count(&api, COPIED).await, 0.0);
}

#[tokio::test]
async fn a_client_that_leaves_mid_download_leaves_the_next_downloads_whole() {
    if !s3_blobs_only("a_client_that_leaves_mid_download_leaves_the_next_downloads_whole") {
        return;
    }
    let data_dir = tempfile::tempdir().unwrap();
    let (_binary, api) = binary(data_dir.path(), "auto").await;
    let files = upload_all(&api).await;
    let (path, bytes) = &files[2];

    // Several clients read the head and a little of the body, then go.
    for _ in 0..4 {
        let mut leaving = Connection::open(&api.address).await;
        leaving
            .send(format!("GET {path} HTTP/1.1\r\nHost: quillstore\r\n\r\n").as_bytes())
            .await;
        assert!(leaving.fill().await, "the download started");
        drop(leaving);
    }
    // The connection a leaving client held to Garage is not reused with half a body on it:
    // every download after them is whole, on new and kept-alive connections alike.
    let mut connection = Connection::open(&api.address).await;
    for _ in 0..3 {
        for (path, bytes) in &files {
            assert_whole(&connection.get(path).await, bytes, path);
            assert!(api.download_bytes(path.rsplit('/').next().unwrap()).await == *bytes);
        }
    }
    // A range after the others, then the whole body again.
    let response = connection
        .get_with(path, "Range: bytes=262144-262200\r\n")
        .await;
    assert_eq!(response.status, 206);
    assert!(response.body == bytes[262_144..=262_200]);
    assert_whole(&connection.get(path).await, bytes, "after the range");

    // The server is still up and answers at once.
    let live = tokio::time::timeout(Duration::from_secs(5), api.get("/api/health/live")).await;
    assert_eq!(live.expect("health in time").status(), StatusCode::OK);
}

#[tokio::test]
async fn an_empty_file_and_a_head_request_leave_the_next_download_spliced() {
    if !s3_blobs_only("an_empty_file_and_a_head_request_leave_the_next_download_spliced") {
        return;
    }
    let data_dir = tempfile::tempdir().unwrap();
    // No blob cache: the empty file is read from Garage every time.
    let (_binary, api) = binary_with(data_dir.path(), "auto", &[("BLOB_CACHE_BYTES", "0")]).await;
    let empty = api.upload(b"", "empty.txt", None).await;
    let empty = format!("/api/files/{}", empty["id"].as_str().unwrap());
    let bytes = text_bytes(SIZES[1], 90);
    let large = api.upload(&bytes, "large.txt", None).await;
    let large = format!("/api/files/{}", large["id"].as_str().unwrap());

    let mut connection = Connection::open(&api.address).await;
    for _ in 0..2 {
        let response = connection.get(&empty).await;
        assert_eq!(response.status, 200, "{}", response.head);
        assert!(response.body.is_empty());
        connection
            .send(format!("HEAD {large} HTTP/1.1\r\nHost: quillstore\r\n\r\n").as_bytes())
            .await;
        let head = connection.head_only().await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_whole(&connection.get(&large).await, &bytes, "after an empty body");
    }
    if splice_counted("an_empty_file_and_a_head_request_leave_the_next_download_spliced") {
        // Only the two large bodies were spliced: an empty body left waiting to be spliced
        // (hyper never writes it) would have had every later body on the connection copied.
        assert_eq!(count(&api, SPLICED).await, 2.0);
    }
}

#[tokio::test]
async fn with_s3_relay_sdk_downloads_go_through_the_sdk() {
    if !s3_blobs_only("with_s3_relay_sdk_downloads_go_through_the_sdk") {
        return;
    }
    let data_dir = tempfile::tempdir().unwrap();
    let (_binary, api) = binary(data_dir.path(), "sdk").await;
    let files = upload_all(&api).await;
    let mut connection = Connection::open(&api.address).await;
    for (path, bytes) in &files {
        assert_whole(&connection.get(path).await, bytes, path);
    }
    assert_eq!(count(&api, PLAIN).await, 0.0);
    assert_eq!(
        count(&api, SDK).await,
        0.0,
        "the SDK is the only path: not counted"
    );
    assert_eq!(count(&api, SPLICED).await, 0.0);
    assert_eq!(count(&api, COPIED).await, 0.0);
}

#[tokio::test]
async fn with_s3_socket_uploads_downloads_and_deletes_go_over_the_unix_socket() {
    let name = "with_s3_socket_uploads_downloads_and_deletes_go_over_the_unix_socket";
    if !s3_blobs_only(name) {
        return;
    }
    let mut garage = Garage::start_on_socket();
    let socket = garage.socket.clone().unwrap();
    let socket = socket.to_str().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    // S3_ENDPOINT is http://localhost (the host requests are signed for), which no TCP
    // connection could reach: everything below went over the socket.
    assert_eq!(garage.settings.endpoint, "http://localhost");
    let (_binary, api) = binary_on(
        data_dir.path(),
        garage.settings.clone(),
        "auto",
        &[("S3_SOCKET", socket), ("S3_TIMEOUT_MS", "2000")],
    )
    .await;
    let mut files = upload_all(&api).await;
    // Larger than a part (8 MiB): a multipart upload through the SDK.
    let bytes = text_bytes(9 * 1024 * 1024 + 3, 95);
    let large = api.upload(&bytes, "relay-large.txt", None).await;
    files.push((
        format!("/api/files/{}", large["id"].as_str().unwrap()),
        bytes,
    ));

    let mut connection = Connection::open(&api.address).await;
    let mut sent = 0;
    for (path, bytes) in &files {
        assert_whole(&connection.get(path).await, bytes, path);
        sent += 1;
    }
    let (path, bytes) = &files[3];
    let response = connection
        .get_with(path, "Range: bytes=8388600-8388700\r\n")
        .await;
    assert_eq!(response.status, 206, "{}", response.head);
    assert!(
        response.body == bytes[8_388_600..=8_388_700],
        "a range across parts"
    );
    sent += 1;
    assert_eq!(
        count(&api, PLAIN).await,
        f64::from(sent),
        "every read streamed"
    );
    if splice_counted(name) {
        assert_eq!(
            count(&api, SPLICED).await,
            f64::from(sent),
            "from the Unix socket to the client socket"
        );
    }

    // A delete removes the object (DeleteObject over the socket).
    let (path, _) = files.remove(0);
    assert_eq!(api.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(connection.get(&path).await.status, 404);

    // A direct upload: browsers cannot reach the socket, so the bytes go to quillstore's own
    // signed route, which streams them into the store.
    let bytes = text_bytes(200_000, 96);
    let answer = ask(
        &api,
        json!({"filename": "direct.txt", "mimeType": "text/plain", "size": bytes.len()}),
    )
    .await;
    let url = answer["url"].as_str().unwrap();
    assert!(url.starts_with("/api/files/uploads/"), "{answer}");
    assert_eq!(
        put_bytes(&api, &answer, &bytes).await.status(),
        StatusCode::NO_CONTENT
    );
    let completed = complete(&api, &answer).await;
    assert_eq!(completed.status(), StatusCode::CREATED);
    let direct = completed.json::<serde_json::Value>().await.unwrap();
    let direct = format!("/api/files/{}", direct["id"].as_str().unwrap());
    assert_whole(&connection.get(&direct).await, &bytes, "a direct upload");

    // A store that hangs: downloads and uploads end in a 503 once S3_TIMEOUT_MS (and, for
    // the SDK, its attempts) have passed, not never.
    garage.pause();
    let started = std::time::Instant::now();
    let (path, _) = &files[0];
    let hung = Connection::open(&api.address).await.get(path).await;
    assert_eq!(hung.status, 503, "{}", hung.head);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"while hung".to_vec()).file_name("hung.txt"),
    );
    let upload = api
        .request(reqwest::Method::POST, "/api/files")
        .multipart(form)
        .build()
        .unwrap();
    let upload = api.client.execute(upload).await.unwrap();
    assert_eq!(upload.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "both answered within the timeouts: {:?}",
        started.elapsed()
    );
    garage.unpause();

    // The store going away is a fast 503, and its coming back is noticed.
    garage.kill();
    let started = std::time::Instant::now();
    let (path, bytes) = &files[0];
    let down = Connection::open(&api.address).await.get(path).await;
    assert_eq!(down.status, 503, "{}", down.head);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered within the S3 timeout and its retries, not left hanging"
    );
    garage.resume();
    let mut back = Connection::open(&api.address).await;
    assert_whole(&back.get(path).await, bytes, "after the store came back");
}
