//! What every handler gets: cheap handles to the stores and services, built once at startup.

use std::sync::Arc;

use super::throttle::Throttle;
use crate::auth::Authenticator;
use crate::blob::BlobStores;
use crate::config::Config;
use crate::files::FileLocks;
use crate::files::signing::UrlSigner;
use crate::images::Variants;
use crate::store::MetadataStore;

/// What every handler gets: one shared [`Services`], built once. A clone is one reference
/// count (axum clones the state for every extractor and middleware that takes it, so a
/// struct of a dozen handles cost a dozen atomic increments and decrements per request).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The stores and services behind [`AppState`].
pub struct Services {
    pub config: Arc<Config>,
    pub store: MetadataStore,
    pub auth: Arc<Authenticator>,
    /// The current blob store (by `Deref`) and the fallback blobs move away from.
    pub blobs: BlobStores,
    pub signer: Arc<UrlSigner>,
    pub file_locks: Arc<FileLocks>,
    /// Serializes completions of one direct upload (separate from `file_locks`, which a
    /// completion takes in turn).
    pub upload_locks: Arc<FileLocks>,
    pub throttle: Arc<Throttle>,
    /// Master keys of stored secrets (API keys).
    pub keyring: Arc<crate::secrets::Keyring>,
    /// Finds and makes image variants (bounded, one run per missing variant).
    pub variants: Arc<Variants>,
    /// Per-user quotas and the room uploads in flight hold.
    pub quotas: Arc<crate::accounts::quota::Quotas>,
}
