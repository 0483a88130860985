//! Streamed downloads from a plain `http://` endpoint (`S3_RELAY=auto`: a Garage or MinIO next
//! to quillstore) on quillstore's own connections: a presigned GET written by hand, its head
//! read with httparse, and the body left on the socket as an [`Upstream`], which the server can
//! pass to the client socket without copying it (`crate::relay`). Through the SDK, the same
//! bytes go through its HTTP client and are copied in and out of quillstore; on two cores that
//! was a quarter of the speed Garage serves them at (docs/benchmarks.md).
//!
//! Only a whole answer of the expected kind is used: 200 (206 for a range) with a
//! `Content-Length`. Anything else (an error status, a chunked body, a head that does not
//! parse) is left to the SDK, which asks again and explains the error as it always has, so
//! errors cost one more request and nothing else changes. Connecting and the head are bounded
//! by `S3_TIMEOUT_MS`; a store that cannot be reached is `Unavailable` (503).
//!
//! With `S3_SOCKET` the connections go to that Unix socket instead of the endpoint's address
//! (the bytes then skip the TCP stack between the store and quillstore).
//!
//! Connections are kept for the next download once a body has been read to its end (at most
//! [`MAX_IDLE`]); an idle one the store has closed meanwhile is noticed at its next use and
//! replaced. Presigned URLs are kept per key for half their life, so a key fetched again is not
//! signed again.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_s3::Client;
use axum::http::Uri;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::errors::classify;
use super::presign::{presigning, window};
use crate::blob::{BlobError, BlobResult};
use crate::config::{RelayMode, S3Config};
use crate::relay::{Socket, Upstream};

/// Idle connections kept for the next download.
const MAX_IDLE: usize = 32;
/// An idle connection older than this is closed instead of reused (stores close theirs after
/// a while too; Garage after its keep-alive timeout).
const IDLE_FOR: Duration = Duration::from_secs(30);
/// A response head longer than this is left to the SDK.
const MAX_HEAD: usize = 16 * 1024;
/// Presigned URLs kept (all are forgotten when full: they are cheap to sign again).
const MAX_URLS: usize = 4096;
/// Life of a presigned URL; it is reused for the first half (see `presign::window`).
const URL_EXPIRY: Duration = Duration::from_secs(900);

/// Downloads over plain HTTP for one store.
pub(super) struct PlainGet {
    /// The endpoint's `host:port` as its URLs are signed for (the `Host` header).
    host: String,
    /// Where connections go.
    address: Address,
    /// Idle connections, each with when it became idle (the newest last).
    idle: Arc<Mutex<Vec<(Socket, Instant)>>>,
    /// Path and query of a presigned GET per object key, with the window it was signed in.
    urls: Mutex<HashMap<String, (SystemTime, Arc<str>)>>,
    timeout: Duration,
}

/// Where a store is reached.
enum Address {
    /// `host:port`, the port made explicit.
    Tcp(String),
    /// `S3_SOCKET`.
    #[cfg(unix)]
    Unix(std::path::PathBuf),
}

impl Address {
    async fn connect(&self) -> std::io::Result<Socket> {
        match self {
            Self::Tcp(address) => {
                let socket = TcpStream::connect(address).await?;
                socket.set_nodelay(true)?;
                Ok(socket.into())
            }
            #[cfg(unix)]
            Self::Unix(path) => Ok(super::unix::connect(path).await?.into()),
        }
    }
}

/// A response head, and the body bytes read with it.
struct Head {
    status: u16,
    length: Option<u64>,
    chunked: bool,
    keep_alive: bool,
    body: bytes::Bytes,
}

/// Why an exchange failed.
enum Failure {
    /// Closed or reset before any byte of an answer: an idle connection the store let go.
    Closed,
    /// An answer that is not HTTP/1 as expected.
    Unusable,
    Io(std::io::Error),
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted => Self::Closed,
            _ => Self::Io(error),
        }
    }
}

impl PlainGet {
    /// Whether `config` downloads over plain HTTP: `S3_RELAY=auto`, an `http://` endpoint and
    /// path-style URLs (the host is then the endpoint's for every bucket); at `S3_SOCKET` when
    /// set.
    pub(super) fn for_config(config: &S3Config) -> Option<Self> {
        if config.relay != RelayMode::Auto || !config.force_path_style {
            return None;
        }
        let uri: Uri = config.endpoint.as_deref()?.parse().ok()?;
        if uri.scheme_str() != Some("http") {
            return None;
        }
        let authority = uri.authority()?;
        let address = match &config.socket {
            #[cfg(unix)]
            Some(path) => Address::Unix(path.clone()),
            #[cfg(not(unix))]
            Some(_) => return None,
            None => Address::Tcp(format!(
                "{}:{}",
                authority.host(),
                authority.port_u16().unwrap_or(80)
            )),
        };
        Some(Self {
            host: authority.as_str().to_owned(),
            address,
            idle: Arc::default(),
            urls: Mutex::default(),
            timeout: config.timeout,
        })
    }

    /// The object at `key` (or its `range`), its body still on the connection; `None`: ask
    /// through the SDK instead.
    pub(super) async fn get(
        &self,
        client: &Client,
        bucket: &str,
        key: String,
        range: Option<&RangeInclusive<u64>>,
    ) -> BlobResult<Option<Upstream>> {
        let Some(path) = self.url(client, bucket, key).await? else {
            return Ok(None);
        };
        let mut request = format!("GET {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        if let Some(range) = range {
            let _ = write!(
                request,
                "range: bytes={}-{}\r\n",
                range.start(),
                range.end()
            );
        }
        request.push_str("\r\n");
        let exchange = tokio::time::timeout(self.timeout, self.exchange(request.as_bytes()));
        let (socket, head) = match exchange.await {
            Ok(Ok(Some(answer))) => answer,
            Ok(Ok(None)) => return Ok(None),
            Ok(Err(error)) => {
                return Err(BlobError::Unavailable(format!("GetObject: {error}")));
            }
            Err(_) => {
                return Err(BlobError::Unavailable(format!(
                    "GetObject: no answer within {} ms",
                    self.timeout.as_millis()
                )));
            }
        };
        let expected = if range.is_some() { 206 } else { 200 };
        let length = head
            .length
            .filter(|_| head.status == expected && !head.chunked);
        let Some(remaining) = length.and_then(|length| length.checked_sub(head.body.len() as u64))
        else {
            // Dropped: the connection closes with whatever body it had.
            return Ok(None);
        };
        let give_back = head.keep_alive.then(|| {
            let idle = Arc::downgrade(&self.idle);
            Box::new(move |socket: Socket| {
                if let Some(idle) = idle.upgrade() {
                    let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
                    if idle.len() < MAX_IDLE {
                        idle.push((socket, Instant::now()));
                    }
                }
            }) as crate::relay::GiveBack
        });
        Ok(Some(Upstream::new(socket, head.body, remaining, give_back)))
    }

    /// Sends `request` on an idle connection (a new one when none is left) and reads the head
    /// of the answer; `None`: an answer to leave to the SDK.
    async fn exchange(&self, request: &[u8]) -> std::io::Result<Option<(Socket, Head)>> {
        loop {
            let idle = {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                // The oldest first: drop those idle too long.
                let now = Instant::now();
                idle.retain(|(_, since)| now.duration_since(*since) < IDLE_FOR);
                idle.pop().map(|(socket, _)| socket)
            };
            let reused = idle.is_some();
            let mut socket = match idle {
                Some(socket) => socket,
                None => self.address.connect().await?,
            };
            match answer(&mut socket, request).await {
                Ok(head) => return Ok(Some((socket, head))),
                Err(Failure::Closed) if reused => continue,
                Err(Failure::Closed) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "the store closed the connection without an answer",
                    ));
                }
                Err(Failure::Unusable) => return Ok(None),
                Err(Failure::Io(error)) => return Err(error),
            }
        }
    }

    /// Path and query of a presigned GET of `key`, signed for the current window.
    async fn url(
        &self,
        client: &Client,
        bucket: &str,
        key: String,
    ) -> BlobResult<Option<Arc<str>>> {
        let start = window(URL_EXPIRY, SystemTime::now());
        let known = self
            .urls()
            .get(&key)
            .filter(|(at, _)| *at == start)
            .map(|(_, path)| path.clone());
        if let Some(path) = known {
            return Ok(Some(path));
        }
        let presigned = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .presigned(presigning(start, URL_EXPIRY)?)
            .await
            .map_err(classify("GetObject (presign)"))?;
        let Ok(uri) = presigned.uri().parse::<Uri>() else {
            return Ok(None);
        };
        let (Some(authority), Some(path)) = (uri.authority(), uri.path_and_query()) else {
            return Ok(None);
        };
        if authority.as_str() != self.host {
            return Ok(None);
        }
        let path: Arc<str> = Arc::from(path.as_str());
        let mut urls = self.urls();
        if urls.len() >= MAX_URLS {
            urls.clear();
        }
        urls.insert(key, (start, path.clone()));
        Ok(Some(path))
    }

    fn urls(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SystemTime, Arc<str>)>> {
        self.urls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes `request` and reads the head of the answer.
async fn answer(socket: &mut Socket, request: &[u8]) -> Result<Head, Failure> {
    socket.write_all(request).await?;
    let mut buffer = BytesMut::with_capacity(8 * 1024);
    loop {
        if socket.read_buf(&mut buffer).await? == 0 {
            return Err(if buffer.is_empty() {
                Failure::Closed
            } else {
                Failure::Unusable
            });
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&buffer) {
            Ok(httparse::Status::Complete(head_length)) => {
                let mut head = Head {
                    status: response.code.unwrap_or_default(),
                    length: None,
                    chunked: false,
                    keep_alive: response.version == Some(1),
                    body: bytes::Bytes::new(),
                };
                let mut closes = false;
                for header in response.headers.iter() {
                    let value = std::str::from_utf8(header.value).unwrap_or_default().trim();
                    if header.name.eq_ignore_ascii_case("content-length") {
                        head.length = value.parse().ok();
                    } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                        head.chunked = true;
                    } else if header.name.eq_ignore_ascii_case("connection") {
                        // A list (`keep-alive, close`), possibly over several headers: a
                        // `close` anywhere wins.
                        for token in value.split(',').map(str::trim) {
                            if token.eq_ignore_ascii_case("close") {
                                closes = true;
                            } else if token.eq_ignore_ascii_case("keep-alive") {
                                head.keep_alive = true;
                            }
                        }
                    }
                }
                head.keep_alive &= !closes;
                head.body = buffer.split_off(head_length).freeze();
                return Ok(head);
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => {}
            _ => return Err(Failure::Unusable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server on loopback that answers each connection's first request with `answers[i]`
    /// (the i-th connection), then keeps it open.
    async fn server(answers: Vec<&'static [u8]>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            for answer in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(answer).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                });
            }
        });
        address
    }

    async fn head_of(answer: &'static [u8]) -> Result<Head, Failure> {
        let address = server(vec![answer]).await;
        let mut socket = TcpStream::connect(address).await.unwrap().into();
        super::answer(&mut socket, b"GET / HTTP/1.1\r\n\r\n").await
    }

    #[tokio::test]
    async fn a_head_gives_status_length_and_the_body_bytes_read_with_it() {
        let Ok(head) =
            head_of(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\n\r\nhel").await
        else {
            panic!("a head");
        };
        assert_eq!((head.status, head.length), (206, Some(5)));
        assert!(head.keep_alive && !head.chunked);
        assert_eq!(&head.body[..], b"hel");

        let Ok(head) =
            head_of(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").await
        else {
            panic!("a head");
        };
        assert!(!head.keep_alive, "the store closes after this one");
        let Ok(head) = head_of(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
        )
        .await
        else {
            panic!("a head");
        };
        assert!(!head.keep_alive, "a close in a list of tokens");
        let Ok(head) =
            head_of(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
                .await
        else {
            panic!("a head");
        };
        assert!(head.keep_alive, "HTTP/1.0 asked to keep it");
        let Ok(head) = head_of(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").await else {
            panic!("a head");
        };
        assert!(!head.keep_alive, "HTTP/1.0 closes unless told otherwise");
        let Ok(head) = head_of(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").await
        else {
            panic!("a head");
        };
        assert!(head.chunked && head.length.is_none());
    }

    #[tokio::test]
    async fn an_answer_that_is_not_http_is_unusable() {
        assert!(matches!(
            head_of(b"SSH-2.0-OpenSSH\r\n\r\n").await,
            Err(Failure::Unusable)
        ));
    }

    fn plain_get(address: &str) -> PlainGet {
        PlainGet {
            host: address.to_owned(),
            address: Address::Tcp(address.to_owned()),
            idle: Arc::default(),
            urls: Mutex::default(),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn an_idle_connection_the_store_closed_is_replaced_once() {
        let address = server(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]).await;
        let plain = plain_get(&address);
        // An idle connection whose far end has gone: its next use finds it closed.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stale = TcpStream::connect(listener.local_addr().unwrap());
        let (stale, far) = tokio::join!(stale, listener.accept());
        drop(far.unwrap());
        plain
            .idle
            .lock()
            .unwrap()
            .push((stale.unwrap().into(), Instant::now()));

        let (_, head) = plain
            .exchange(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .unwrap()
            .expect("answered on a new connection");
        assert_eq!((head.status, &head.body[..]), (200, &b"ok"[..]));
        assert!(plain.idle.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_new_connection_closed_without_an_answer_is_an_error_not_a_retry() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let accepted = tokio::spawn(async move {
            for _ in 0..2 {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                drop(socket);
            }
        });
        let plain = plain_get(&address);
        let error = plain
            .exchange(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .err()
            .expect("no answer");
        assert!(
            matches!(
                error.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{error}"
        );
        accepted.abort();
    }
}
