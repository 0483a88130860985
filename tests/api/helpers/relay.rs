//! A TCP relay in front of a server (the MongoDB under test), which a test can cut: every
//! open connection is dropped and new ones are refused, as when the server's host goes away.
//! What the app sees is a real network outage, through the real driver.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub struct Relay {
    /// `127.0.0.1:PORT`, where clients connect instead of the target.
    pub address: SocketAddr,
    target: String,
    accepting: Option<JoinHandle<()>>,
}

impl Relay {
    /// Relays every connection to `127.0.0.1:PORT` to `target` (`host:port`).
    pub async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a relay");
        let address = listener.local_addr().expect("the relay's address");
        Relay {
            address,
            accepting: Some(tokio::spawn(relay(listener, target.clone()))),
            target,
        }
    }

    /// Listens again on the same address after [`Relay::cut`]: the server is back.
    pub async fn resume(&mut self) {
        assert!(self.accepting.is_none(), "the relay was not cut");
        let listener = TcpListener::bind(self.address)
            .await
            .expect("bind the relay's address again");
        self.accepting = Some(tokio::spawn(relay(listener, self.target.clone())));
    }

    /// Drops every relayed connection and stops listening: connections are refused.
    pub async fn cut(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
            let _ = accepting.await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
        }
    }
}

/// `uri` (a `mongodb://` URI) with its hosts replaced by `address` and a direct connection,
/// or None for what one relay cannot stand in for (`mongodb+srv://`).
pub fn mongodb_uri_through(uri: &str, address: SocketAddr) -> Option<String> {
    let rest = uri.strip_prefix("mongodb://")?;
    let (credentials, rest) = match rest.rsplit_once('@') {
        Some((credentials, rest)) => (format!("{credentials}@"), rest),
        None => (String::new(), rest),
    };
    let path_at = rest.find(['/', '?']).unwrap_or(rest.len());
    let (path, query) = match rest[path_at..].split_once('?') {
        Some((path, query)) => (path.to_owned(), Some(query)),
        None => (rest[path_at..].to_owned(), None),
    };
    let mut options: Vec<&str> = query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .filter(|option| !option.is_empty() && !option.starts_with("directConnection="))
        .collect();
    options.push("directConnection=true");
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    Some(format!(
        "mongodb://{credentials}{address}{path}?{}",
        options.join("&")
    ))
}

/// The first `host:port` of a `mongodb://` URI.
pub fn first_mongodb_host(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mongodb://")?;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    let hosts = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let first = hosts.split(',').next()?;
    Some(if first.contains(':') {
        first.to_owned()
    } else {
        format!("{first}:27017")
    })
}

/// Accepts and relays connections until aborted.
async fn relay(listener: TcpListener, target: String) {
    // Owned by this task: cutting the relay (aborting it) drops every connection.
    let mut connections = JoinSet::new();
    while let Ok((mut client, _)) = listener.accept().await {
        let target = target.clone();
        connections.spawn(async move {
            if let Ok(mut server) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}
