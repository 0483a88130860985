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

/// What every handler gets: cheap handles, built once.
#[derive(Clone)]
pub struct AppState {
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
}
