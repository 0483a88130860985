//! Typed configuration. Every setting comes from an environment variable (the seed names) or
//! the matching CLI flag; [`Config::from_raw`] validates all of them at once and reports every
//! problem by variable name. Secrets live in [`Secret`], which never prints its value.
//!
//! Each concern has its own module that parses, checks and describes its settings: `server`
//! (listen address, request limits), `backend` and `mongodb` (metadata), `auth`, `cors`,
//! `public_url`, `logging`, `guard` (rate limits, `/metrics`), `files`, `images` (variants),
//! `accounts` (quotas) and `s3`. Shared value parsers are
//! in `values`. This file only assembles them, in the order problems and `check-config`
//! lines have always been listed.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

mod accounts;
mod auth;
mod backend;
mod blob_cache;
mod blobs_fallback;
mod connections;
mod cors;
mod encryption;
mod files;
mod guard;
mod images;
mod logging;
mod mongodb;
mod public_url;
mod raw;
mod s3;
mod secret;
mod server;
mod values;

pub use self::accounts::AccountsConfig;
pub use self::auth::{AuthConfig, JwtKey};
use self::backend::DataSettings;
pub use self::backend::{DataBackend, Primary};
pub use self::blob_cache::BlobCacheConfig;
pub use self::blobs_fallback::BlobsFallback;
pub use self::connections::ConnectionsConfig;
pub use self::cors::CorsOrigins;
pub use self::encryption::{DEFAULT_REVEAL_SCOPE, EncryptionConfig};
pub use self::files::{DEFAULT_ALLOWED_MIME_TYPES, FilesConfig, RedirectMode};
pub use self::guard::GuardConfig;
pub use self::images::{ImageConfig, MAX_VARIANT_SIDE};
pub use self::logging::LogFormat;
pub use self::mongodb::MongoConfig;
pub use self::public_url::PublicBaseUrl;
pub use self::raw::RawConfig;
pub use self::s3::{ChecksumMode, RelayMode, S3Config, S3Mode};
pub use self::secret::Secret;
use self::server::{Listen, RequestLimits};
pub use self::values::{is_loopback, mask_uri, parse_size};

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub data_backend: DataBackend,
    /// Set when the backend uses MongoDB.
    pub mongodb: Option<MongoConfig>,
    pub auth: AuthConfig,
    pub cors_allowed_origins: CorsOrigins,
    /// `PUBLIC_BASE_URL`: where returned URLs point (relative paths when unset).
    pub public_base_url: PublicBaseUrl,
    pub max_json_bytes: usize,
    pub max_import_bytes: usize,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
    pub files: FilesConfig,
    pub blob_cache: BlobCacheConfig,
    /// Set when `S3_MODE` is external or embedded; `None`: blobs under `DATA_DIR`.
    pub s3: Option<S3Config>,
    /// `BLOBS_FALLBACK`: the store blobs move away from, while they move.
    pub blobs_fallback: Option<BlobsFallback>,
    /// `BLOBS_FALLBACK_MOVE`: the service moves the fallback's blobs itself.
    pub blobs_fallback_move: bool,
    pub guard: GuardConfig,
    pub connections: ConnectionsConfig,
    pub images: ImageConfig,
    pub encryption: EncryptionConfig,
    /// Quotas and the account archive limit.
    pub accounts: AccountsConfig,
}

/// Every problem found in a configuration, each naming its variable.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(formatter, "invalid configuration:")?;
        for problem in &self.0 {
            writeln!(formatter, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    pub fn from_raw(raw: RawConfig) -> Result<Self, ConfigErrors> {
        let mut problems = Vec::new();
        let mut check = |result: Result<(), String>| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        };

        // The order of these calls is the order problems are listed in.
        let listen = Listen::parse(&raw, &mut check);
        let data = DataSettings::parse(&raw, &mut check);
        let auth = AuthConfig::parse(&raw, &listen.host, &mut check);
        let cors_allowed_origins = CorsOrigins::parse(&raw, &mut check);
        let public_base_url = PublicBaseUrl::parse(&raw, &mut check);
        let limits = RequestLimits::parse(&raw, &mut check);
        let log_format = LogFormat::parse(&raw, &mut check);
        let files = FilesConfig::parse(&raw, &mut check);
        let s3 = S3Config::parse(&raw, &mut check);
        let blobs_fallback = BlobsFallback::parse(
            &raw,
            &data.data_dir,
            raw.s3_mode
                .as_deref()
                .is_some_and(|mode| !matches!(mode.trim(), "" | "disabled")),
            &mut check,
        );
        let blobs_fallback_move =
            BlobsFallback::parse_move(&raw, blobs_fallback.as_ref(), &mut check);
        let guard = GuardConfig::parse(&raw, &mut check);
        let connections = ConnectionsConfig::parse(&raw, &mut check);
        let images = ImageConfig::parse(&raw, &mut check);
        let blob_cache = BlobCacheConfig::parse(&raw, &mut check);
        let encryption = EncryptionConfig::parse(&raw, &data.backend, &mut check);
        let accounts = AccountsConfig::parse(&raw, &mut check);

        if !problems.is_empty() {
            return Err(ConfigErrors(problems));
        }
        Ok(Self {
            host: listen.host,
            port: listen.port,
            data_dir: data.data_dir,
            data_backend: data.backend,
            mongodb: data.mongodb,
            auth,
            cors_allowed_origins,
            public_base_url,
            max_json_bytes: limits.max_json_bytes,
            max_import_bytes: limits.max_import_bytes,
            request_timeout: limits.request_timeout,
            shutdown_timeout: limits.shutdown_timeout,
            log_format,
            files,
            blob_cache,
            s3,
            blobs_fallback,
            blobs_fallback_move,
            guard,
            connections,
            images,
            encryption,
            accounts,
        })
    }

    /// The effective configuration as `(variable, value)` pairs, secrets masked.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        // The order `check-config` has always printed, which is not the parse order: the
        // guard lines come before the file lines here, after the S3 problems there.
        let mut lines = Vec::new();
        self.describe_listen(&mut lines);
        self.describe_data(&mut lines);
        self.auth.describe(&mut lines);
        self.cors_allowed_origins.describe(&mut lines);
        self.public_base_url.describe(&mut lines);
        self.describe_request_limits(&mut lines);
        self.log_format.describe(&mut lines);
        self.guard.describe(&mut lines);
        self.connections.describe(&mut lines);
        self.encryption.describe(&mut lines);
        self.files.describe(&mut lines);
        self.images.describe(&mut lines);
        self.blob_cache.describe(&mut lines);
        self.accounts.describe(&mut lines);
        match &self.s3 {
            Some(s3) => s3.describe(&mut lines),
            None => lines.push(("S3_MODE", "disabled (blobs under DATA_DIR)".to_owned())),
        }
        BlobsFallback::describe(
            self.blobs_fallback.as_ref(),
            self.blobs_fallback_move,
            &mut lines,
        );
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed_by_variable() {
        let raw = RawConfig {
            port: Some("eighty".into()),
            auth_mode: Some("magic".into()),
            max_json_bytes: Some("lots".into()),
            log_format: Some("xml".into()),
            max_upload_size: Some("huge".into()),
            allowed_mime_types: Some("image".into()),
            files_signing_secret: Some("short".into()),
            files_redirect_threshold: Some("-1".into()),
            ..RawConfig::default()
        };
        let errors = Config::from_raw(raw).unwrap_err().to_string();
        for name in [
            "PORT=",
            "AUTH_MODE=",
            "MAX_JSON_BYTES=",
            "LOG_FORMAT=",
            "MAX_UPLOAD_SIZE=",
            "ALLOWED_MIME_TYPES",
            "FILES_SIGNING_SECRET",
            "FILES_REDIRECT_THRESHOLD=",
        ] {
            assert!(errors.contains(name), "{name} missing from {errors}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let raw = RawConfig {
            auth_mode: Some("jwt".into()),
            auth_jwt_secret: Some("hunter2-hunter2-hunter2".into()),
            files_signing_secret: Some("swordfish-swordfish-swordfish-swordfish".into()),
            ..RawConfig::default()
        };
        let config = Config::from_raw(raw).unwrap();
        let printed = format!("{config:?} {:?}", config.describe());
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("swordfish"), "{printed}");
    }
}
