//! One HTTP/1.1 connection spoken to by hand, for tests that must know exactly which
//! connection a request is on (kept-alive reuse, pipelining, a client that leaves early).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 connection, spoken to by hand.
pub struct Connection {
    stream: TcpStream,
    buffered: Vec<u8>,
}

/// A response read off a [`Connection`].
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Connection {
    /// Connects to `address` (`http://HOST:PORT` or `HOST:PORT`).
    pub async fn open(address: &str) -> Self {
        let address = address.trim_start_matches("http://");
        let stream = TcpStream::connect(address).await.expect("connect");
        Self {
            stream,
            buffered: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    pub async fn get(&mut self, path: &str) -> RawResponse {
        self.get_with(path, "").await
    }

    /// A GET with extra header lines (each ending in `\r\n`).
    pub async fn get_with(&mut self, path: &str, headers: &str) -> RawResponse {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: quillstore\r\n{headers}\r\n").as_bytes())
            .await;
        self.response().await.expect("a response")
    }

    /// Reads one response with a `Content-Length` body; `None` when the server closed first.
    pub async fn response(&mut self) -> Option<RawResponse> {
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

    /// Reads the head of a response that has no body (to a HEAD request), up to its blank line.
    pub async fn head_only(&mut self) -> String {
        let end = loop {
            if let Some(at) = find(&self.buffered, b"\r\n\r\n") {
                break at + 4;
            }
            assert!(self.fill().await, "the connection closed before a head");
        };
        let head = String::from_utf8_lossy(&self.buffered[..end]).into_owned();
        self.buffered.drain(..end);
        head
    }

    /// Reads more bytes; false at end of stream (or a reset).
    pub async fn fill(&mut self) -> bool {
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
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
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
