//! Connections that hold a descriptor without doing anything are closed, the number of open
//! connections is capped, and small responses on a kept-alive connection do not wait for the
//! client's delayed ACK. Driven over raw TCP, so each test knows exactly which connection it
//! is on.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

/// One HTTP/1.1 connection, spoken to by hand.
struct Connection {
    stream: TcpStream,
    buffered: Vec<u8>,
}

/// A response read off a [`Connection`].
struct RawResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Connection {
    async fn open(app: &TestApp) -> Self {
        let address = app.address.trim_start_matches("http://");
        let stream = TcpStream::connect(address).await.expect("connect");
        Self {
            stream,
            buffered: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    async fn get(&mut self, path: &str) -> RawResponse {
        self.get_with(path, "").await
    }

    /// A GET with extra header lines (each ending in `\r\n`).
    async fn get_with(&mut self, path: &str, headers: &str) -> RawResponse {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: quillstore\r\n{headers}\r\n").as_bytes())
            .await;
        self.response().await.expect("a response")
    }

    /// Reads one response with a `Content-Length` body; `None` when the server closed first.
    async fn response(&mut self) -> Option<RawResponse> {
        let head_end = loop {
            if let Some(at) = find(&self.buffered, b"\r\n\r\n") {
                break at + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buffered[..head_end]).into_owned();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while self.buffered.len() < head_end + length {
            if !self.fill().await {
                return None;
            }
        }
        let body = self.buffered[head_end..head_end + length].to_vec();
        self.buffered.drain(..head_end + length);
        Some(RawResponse { status, head, body })
    }

    /// Reads more bytes; false at end of stream (or a reset).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(read) => {
                self.buffered.extend_from_slice(&chunk[..read]);
                true
            }
        }
    }

    /// Waits up to `limit` for the server to close the connection; true when it did.
    async fn closed_within(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, async { while self.fill().await {} })
            .await
            .is_ok()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

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
    let mut connection = Connection::open(&app).await;
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
    let mut slow = Connection::open(&app).await;
    slow.send(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await;
    let mut silent = Connection::open(&app).await;
    let started = Instant::now();
    let mut normal = Connection::open(&app).await;
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
    let mut connection = Connection::open(&app).await;
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
        let mut connection = Connection::open(&app).await;
        assert_eq!(connection.get("/api/health/live").await.status, 200);
        open.push(connection);
    }
    let mut extra = Connection::open(&app).await;
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
        let mut connection = Connection::open(&app).await;
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
    let mut idle = Connection::open(&app).await;
    assert_eq!(idle.get("/api/health/live").await.status, 200);
    // A request in flight: an upload whose body is still arriving.
    let mut uploading = Connection::open(&app).await;
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
