//! Connections that hold a descriptor without doing anything are closed, the number of open
//! connections is capped, and small responses on a kept-alive connection do not wait for the
//! client's delayed ACK. Driven over raw TCP, so each test knows exactly which connection it
//! is on.

use std::time::{Duration, Instant};

use crate::helpers::raw_http::Connection;
use crate::helpers::{TestApp, spawn_app_with};
use reqwest::StatusCode;
use serde_json::Value;

const METRICS_TOKEN: &str = "connections-test-token";

async fn app_with_limits(header: &str, idle: &str, max: &str) -> TestApp {
    let (header, idle, max) = (header.to_owned(), idle.to_owned(), max.to_owned());
    spawn_app_with(move |raw| {
        raw.header_read_timeout_secs = Some(header);
        raw.keepalive_idle_secs = Some(idle);
        raw.max_connections = Some(max);
        raw.metrics_token = Some(METRICS_TOKEN.to_owned());
    })
    .await
}

#[tokio::test]
async fn small_downloads_on_one_kept_alive_connection_do_not_wait_for_delayed_acks() {
    let app = app_with_limits("10", "60", "100").await;
    let file = app
        .upload(&[b'q'; 1024], "small.txt", Some("text/plain"))
        .await;
    let path = format!("/api/files/{}", file["id"].as_str().unwrap());
    let mut connection = Connection::open(&app.address).await;
    assert_eq!(connection.get(&path).await.status, 200);
    let started = Instant::now();
    for _ in 0..20 {
        let response = connection.get(&path).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.body.len(), 1024);
    }
    let elapsed = started.elapsed();
    // A delayed ACK costs ~40 ms per response when headers and body leave in two writes with
    // Nagle on: 20 responses would take ~800 ms. Half of that is a wide margin.
    assert!(
        elapsed < Duration::from_millis(400),
        "20 small downloads on one connection took {elapsed:?}"
    );
}

#[tokio::test]
async fn slow_headers_are_cut_off_while_a_normal_client_is_served() {
    let app = app_with_limits("1", "60", "100").await;
    let mut slow = Connection::open(&app.address).await;
    slow.send(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await;
    let mut silent = Connection::open(&app.address).await;
    let started = Instant::now();
    let mut normal = Connection::open(&app.address).await;
    while started.elapsed() < Duration::from_millis(1500) {
        assert_eq!(normal.get("/api/health/live").await.status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        slow.closed_within(Duration::from_secs(5)).await,
        "a connection whose headers never completed is still open"
    );
    assert!(
        silent.closed_within(Duration::from_secs(5)).await,
        "a connection that never sent a request is still open"
    );
    assert_eq!(normal.get("/api/health/live").await.status, 200);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_limit() {
    let app = app_with_limits("10", "1", "100").await;
    let mut connection = Connection::open(&app.address).await;
    assert_eq!(connection.get("/api/health/live").await.status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Within the limit the connection is reused.
    assert_eq!(connection.get("/api/health/live").await.status, 200);
    assert!(
        connection.closed_within(Duration::from_secs(5)).await,
        "an idle kept-alive connection is still open"
    );
}

#[tokio::test]
async fn past_max_connections_new_ones_get_a_503_and_the_cap_recovers() {
    let app = app_with_limits("10", "60", "3").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut connection = Connection::open(&app.address).await;
        assert_eq!(connection.get("/api/health/live").await.status, 200);
        open.push(connection);
    }
    let mut extra = Connection::open(&app.address).await;
    let refused = extra.get("/api/health").await;
    assert_eq!(refused.status, 503, "{}", refused.head);
    assert!(refused.head.to_ascii_lowercase().contains("retry-after: 1"));
    let body: Value = serde_json::from_slice(&refused.body).expect("an error envelope");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(extra.closed_within(Duration::from_secs(5)).await);

    // The open connections keep working, health included.
    for connection in &mut open {
        assert_eq!(connection.get("/api/health").await.status, 200);
    }
    let metrics = open[0]
        .get_with(
            "/metrics",
            &format!("Authorization: Bearer {METRICS_TOKEN}\r\n"),
        )
        .await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        text.contains("quillstore_http_open_connections"),
        "/metrics ({}) has no open-connection gauge",
        metrics.status
    );

    // A closed slot is free again.
    drop(open.pop());
    let started = Instant::now();
    loop {
        let mut connection = Connection::open(&app.address).await;
        let status = connection.get("/api/health/live").await.status;
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a freed slot was not reused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn shutdown_closes_idle_connections_at_once_and_drains_requests_in_flight() {
    let mut app = app_with_limits("10", "60", "100").await;
    let mut idle = Connection::open(&app.address).await;
    assert_eq!(idle.get("/api/health/live").await.status, 200);
    // A request in flight: an upload whose body is still arriving.
    let mut uploading = Connection::open(&app.address).await;
    let boundary = "quillstoreboundary";
    let part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    );
    uploading
        .send(
            format!(
                "POST /api/files HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; \
                 boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
                part.len()
            )
            .as_bytes(),
        )
        .await;
    uploading.send(&part.as_bytes()[..10]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    app.shutdown.shutdown();
    assert!(
        idle.closed_within(Duration::from_secs(2)).await,
        "an idle connection was not closed at shutdown"
    );
    uploading.send(&part.as_bytes()[10..]).await;
    let response = uploading.response().await.expect("the upload is answered");
    assert_eq!(
        StatusCode::from_u16(response.status).unwrap(),
        StatusCode::CREATED,
        "{}",
        response.head
    );
    app.stop().await;
}

/// A client that asks for a download and then reads none of it would hold its connection for
/// good (a request in flight is never cut as idle); past `SEND_TIMEOUT_SECS` without a byte
/// taken, the connection is closed. A client that pauses for less than that is served to the
/// end.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_client_that_stops_reading_a_download_loses_its_connection_a_slow_reader_does_not() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app_with(|raw| {
        raw.send_timeout_secs = Some("3".to_owned());
        raw.metrics_token = Some(METRICS_TOKEN.to_owned());
        // Bytes from quillstore itself on every blob store (spliced from S3 on the S3 pass).
        raw.files_redirect = Some("never".to_owned());
        raw.max_upload_size = Some("16MiB".to_owned());
        raw.allowed_mime_types = Some("application/octet-stream".to_owned());
    })
    .await;
    // More than the kernel buffers on both sides usually hold (here a send buffer grows to
    // 4 MiB at most); where they hold it all, the kernel still gives up on the client.
    let bytes: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
    let file = app
        .upload(&bytes, "big.bin", Some("application/octet-stream"))
        .await;
    let request = format!(
        "GET /api/files/{} HTTP/1.1\r\nHost: quillstore\r\n\r\n",
        file["id"].as_str().unwrap()
    );
    let address: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    // A client with a small receive buffer that never reads.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&address.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut stalled = tokio::net::TcpStream::from_std(socket.into()).unwrap();
    stalled.write_all(request.as_bytes()).await.unwrap();
    let stalled_since = Instant::now();

    // Meanwhile a client that stops reading three times, each time for a third of the limit,
    // gets every byte.
    let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
    slow.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    let mut paused = 0;
    loop {
        if received.len() >= (paused + 1) * (2 << 20) && paused < 3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            paused += 1;
        }
        let read = slow
            .read(&mut chunk)
            .await
            .expect("a reader that pauses is not cut");
        received.extend_from_slice(&chunk[..read]);
        let head_end = received.windows(4).position(|w| w == b"\r\n\r\n");
        if read == 0 || head_end.is_some_and(|end| received.len() - end - 4 >= bytes.len()) {
            break;
        }
    }
    drop(slow);
    assert_eq!(paused, 3);
    let head_end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    assert!(
        received.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&received[..head_end])
    );
    assert!(
        received[head_end..] == bytes[..],
        "the reader that paused got {} bytes of {}",
        received.len() - head_end,
        bytes.len()
    );

    // More than twice the limit (the kernel gives up about when it passes, its window probes
    // clamped to it): the server has let the connection go, so what it had not sent never
    // comes. Without the limit the server keeps the connection and the rest arrives.
    tokio::time::sleep(Duration::from_secs(7).saturating_sub(stalled_since.elapsed())).await;
    let mut taken = 0;
    let reading = async {
        loop {
            match stalled.read(&mut chunk).await {
                Ok(0) => break "closed".to_owned(),
                Ok(read) => taken += read,
                Err(error) => break error.to_string(),
            }
        }
    };
    let ending = tokio::time::timeout(Duration::from_secs(10), reading)
        .await
        .unwrap_or_else(|_| "still open after 10 s".to_owned());
    assert!(
        taken < bytes.len(),
        "a client that read nothing for 7 s still got the whole body ({taken} bytes, then {ending})"
    );
    // Counted by why it closed (the counter is process-wide; only a send timeout moves it).
    let mut metrics = Connection::open(&app.address).await;
    let text = metrics
        .get_with(
            "/metrics",
            &format!("Authorization: Bearer {METRICS_TOKEN}\r\n"),
        )
        .await
        .body;
    let text = String::from_utf8_lossy(&text);
    let closed = text
        .lines()
        .find(|line| {
            line.starts_with("quillstore_http_connections_closed_total")
                && line.contains("reason=\"send_timeout\"")
        })
        .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(
        closed.is_some_and(|count| count >= 1.0),
        "no send_timeout close in /metrics:\n{text}"
    );
}
