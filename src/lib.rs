//! quillstore: a standalone HTTP storage service for AI character-chat applications.
//!
//! [`Application::build`] is the one construction path: the binary and the tests both use it
//! to open the stores, bind the listener and get a server that runs until shut down.

pub mod accounts;
pub mod auth;
pub mod blob;
pub mod cards;
pub mod chats;
pub mod check;
pub mod config;
pub mod error;
pub mod files;
pub mod generated;
pub mod health;
pub mod http;
pub mod images;
pub mod layout;
pub mod metrics;
pub mod migrate;
pub mod model;
pub mod relay;
pub mod secrets;
pub mod store;
pub mod stores;
pub mod telemetry;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::files::FileLocks;
use crate::files::signing::UrlSigner;
pub use crate::http::{AppState, Services};
pub use crate::stores::open_stores;

/// The signer of file links: `FILES_SIGNING_SECRET`, or else a key generated once into
/// `DATA_DIR` so links survive restarts. With MongoDB, instances do not share a `DATA_DIR`:
/// they must share the setting instead, which startup says when it is missing.
fn url_signer(config: &Config) -> anyhow::Result<UrlSigner> {
    if let Some(secret) = &config.files.signing_secret {
        return UrlSigner::new(Some(secret));
    }
    let path = layout::DataDir::new(&config.data_dir).signing_secret();
    let generated = generated::load_or_create(&path);
    match config.data_backend {
        config::DataBackend::Json => UrlSigner::new(Some(
            &generated
                .context("FILES_SIGNING_SECRET is unset and no key could be kept in DATA_DIR")?,
        )),
        config::DataBackend::Mongodb | config::DataBackend::Dual { .. } => {
            tracing::warn!(
                "FILES_SIGNING_SECRET is not set: instances sharing this MongoDB must share one \
                 FILES_SIGNING_SECRET, or links signed by one are refused by the others"
            );
            match generated {
                Ok(secret) => UrlSigner::new(Some(&secret)),
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "cannot keep a signing key in DATA_DIR");
                    UrlSigner::new(None)
                }
            }
        }
    }
}

/// The master keys of stored secrets: `ENCRYPTION_MASTER_KEY` and `ENCRYPTION_PREVIOUS_KEYS`,
/// or else (embedded default) a key generated once into `DATA_DIR`. Config validation already
/// refused an unset key with MongoDB and any key that is not 32 bytes of base64.
pub fn keyring(config: &Config) -> anyhow::Result<secrets::Keyring> {
    let decode = |secret: &config::Secret, name: &str| {
        secrets::decode_key(secret.expose())
            .with_context(|| format!("{name} must be 32 bytes in base64"))
    };
    let previous = config
        .encryption
        .previous_keys
        .iter()
        .map(|secret| decode(secret, "ENCRYPTION_PREVIOUS_KEYS"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let current = match &config.encryption.master_key {
        Some(secret) => decode(secret, "ENCRYPTION_MASTER_KEY")?,
        None => {
            let path = layout::DataDir::new(&config.data_dir).encryption_key();
            let generated = generated::load_or_create(&path).with_context(
                || "ENCRYPTION_MASTER_KEY is unset and no key could be kept in DATA_DIR",
            )?;
            tracing::warn!(
                path = %path.display(),
                "ENCRYPTION_MASTER_KEY is not set: stored API keys are encrypted with a key \
                 generated into DATA_DIR; back it up with the data (losing it loses every \
                 stored key), or set ENCRYPTION_MASTER_KEY"
            );
            secrets::decode_key(generated.expose())
                .with_context(|| format!("{} is not a 32-byte hex key", path.display()))?
        }
    };
    Ok(secrets::Keyring::new(&current, &previous))
}

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    /// `METRICS_ADDR`, when set: `/metrics` without a token, off the public port.
    metrics_listener: Option<TcpListener>,
    address: SocketAddr,
    state: AppState,
    shutdown: ShutdownHandle,
}

/// Asks a running [`Application`] to shut down gracefully.
#[derive(Clone)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Application {
    /// Opens the stores and binds the listener (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let auth = Authenticator::new(&config.auth).context("invalid auth configuration")?;
        let (store, blobs) = open_stores(&config).await?;
        let signer = url_signer(&config)?;
        let keyring = keyring(&config)?;
        let listener = TcpListener::bind((config.host.as_str(), config.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
        let address = listener.local_addr()?;
        let metrics_listener = match config.guard.metrics_addr {
            Some(metrics_address) => Some(
                TcpListener::bind(metrics_address)
                    .await
                    .with_context(|| format!("cannot listen on METRICS_ADDR {metrics_address}"))?,
            ),
            None => None,
        };
        metrics::install();
        let throttle = Arc::new(http::throttle::Throttle::new(&config.guard));
        let variants = Arc::new(images::Variants::new(&config.images));
        let (sender, _) = watch::channel(false);
        let config_accounts = config.accounts;
        // Deletions a stop interrupted are finished before anything is served.
        let account_stores = accounts::AccountStores {
            metadata: store.clone(),
            blobs: blobs.clone(),
        };
        accounts::deletion::resume_all(&account_stores)
            .await
            .context("cannot finish an interrupted account deletion")?;
        // Archives a stop left spooled mid-import (this process owns DATA_DIR now).
        accounts::import::clear_spooled(&layout::DataDir::new(&config.data_dir).imports());
        Ok(Self {
            listener,
            metrics_listener,
            address,
            state: AppState::new(Services {
                config: Arc::new(config),
                store,
                auth: Arc::new(auth),
                blobs,
                signer: Arc::new(signer),
                file_locks: Arc::new(FileLocks::default()),
                upload_locks: Arc::new(FileLocks::default()),
                throttle,
                variants,
                keyring: Arc::new(keyring),
                quotas: Arc::new(accounts::quota::Quotas::new(&config_accounts)),
            }),
            shutdown: ShutdownHandle(sender),
        })
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves until SIGINT, SIGTERM or the shutdown handle fires, then drains requests in
    /// flight for at most `SHUTDOWN_TIMEOUT_SECS`. Returns once the stores are closed.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let drain_deadline = self.state.config.shutdown_timeout;
        let connections = self.state.config.connections;
        // BLOBS_FALLBACK_MOVE: the blobs move while the service serves; stopped with it.
        let mover = self.state.config.blobs_fallback_move.then(|| {
            let (store, blobs) = (self.state.store.clone(), self.state.blobs.clone());
            tokio::spawn(async move { migrate::relocate::move_in_service(&store, &blobs).await })
        });
        let store = self.state.store.clone();
        let router = http::build_router(self.state);
        if let Some(listener) = self.metrics_listener {
            let mut stop = self.shutdown.0.subscribe();
            let metrics_server = axum::serve(listener, http::metrics_router())
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                });
            tokio::spawn(async move {
                if let Err(error) = metrics_server.await {
                    tracing::error!(error = %error, "the metrics listener failed");
                }
            });
        }
        let mut stop = self.shutdown.0.subscribe();
        let shutdown = self.shutdown.clone();
        let stop_signal = async move {
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => {}
                _ = os_signal() => {}
            }
            // Tell every listener (the metrics one too) that the process is stopping.
            shutdown.shutdown();
            tracing::info!("shutting down");
        };
        let (stopping_sender, mut stopping) = watch::channel(false);
        let limits = http::server::ConnectionLimits {
            header_read_timeout: connections.header_read_timeout,
            keepalive_idle: connections.keepalive_idle,
            send_timeout: connections.send_timeout,
            max_connections: connections.max_connections,
        };
        let server = http::server::serve(self.listener, router, limits, async move {
            stop_signal.await;
            let _ = stopping_sender.send(true);
        });
        let deadline = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(drain_deadline).await;
        };
        tokio::select! {
            () = server => {}
            () = deadline => tracing::warn!("requests still running at the shutdown deadline were cut off"),
        }
        if let Some(mover) = mover {
            // Its stores must be closed when this returns (a restart takes the same DATA_DIR).
            mover.abort();
            let _ = mover.await;
        }
        // Background work on the stores ends before they are let go of (a dual store's repair).
        store.close().await;
        Ok(())
    }
}

async fn os_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
