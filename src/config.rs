//! Typed configuration. Every setting comes from an environment variable (the seed names) or
//! the matching CLI flag; [`Config::from_raw`] validates all of them at once and reports every
//! problem by variable name. Secrets live in [`Secret`], which never prints its value.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

mod files;
mod guard;
mod s3;
use self::files::parse_files;
pub use self::files::{DEFAULT_ALLOWED_MIME_TYPES, FilesConfig};
pub use self::guard::GuardConfig;
use self::guard::parse_guard;
pub use self::s3::{ChecksumMode, RedirectMode, S3Config, S3Mode};

/// Settings as given, before validation. Every field is optional; defaults are applied by
/// [`Config::from_raw`].
#[derive(Args, Debug, Clone, Default)]
pub struct RawConfig {
    /// Address to listen on; loopback by default.
    #[arg(long, env = "HOST")]
    pub host: Option<String>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT")]
    pub port: Option<String>,
    /// Where the embedded stores keep their data.
    #[arg(long, env = "DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Metadata backend: json (embedded).
    #[arg(long, env = "DATA_BACKEND")]
    pub data_backend: Option<String>,
    /// With DATA_BACKEND=dual: which backend reads come from (mongodb or json).
    #[arg(long, env = "DUAL_PRIMARY")]
    pub dual_primary: Option<String>,
    /// MongoDB connection string (mongodb:// or mongodb+srv://).
    #[arg(long, env = "MONGODB_URI", hide_env_values = true)]
    pub mongodb_uri: Option<String>,
    /// MongoDB database name.
    #[arg(long, env = "MONGODB_DATABASE")]
    pub mongodb_database: Option<String>,
    /// Most connections in the MongoDB pool.
    #[arg(long, env = "MONGODB_MAX_POOL_SIZE")]
    pub mongodb_max_pool_size: Option<String>,
    /// Connect and server-selection timeout for MongoDB, in milliseconds.
    #[arg(long, env = "MONGODB_CONNECTION_TIMEOUT_MS")]
    pub mongodb_connection_timeout_ms: Option<String>,
    /// Apply pending schema migrations at start (true or false).
    #[arg(long, env = "MONGODB_AUTO_MIGRATE")]
    pub mongodb_auto_migrate: Option<String>,
    /// none (single user `local`) or jwt.
    #[arg(long, env = "AUTH_MODE")]
    pub auth_mode: Option<String>,
    /// HS256 secret for AUTH_MODE=jwt.
    #[arg(long, env = "AUTH_JWT_SECRET", hide_env_values = true)]
    pub auth_jwt_secret: Option<String>,
    /// RS256/ES256 public key (PEM text or path to a PEM file) for AUTH_MODE=jwt.
    #[arg(long, env = "AUTH_JWT_PUBLIC_KEY")]
    pub auth_jwt_public_key: Option<String>,
    /// Required `iss` claim, when set.
    #[arg(long, env = "AUTH_JWT_ISSUER")]
    pub auth_jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[arg(long, env = "AUTH_JWT_AUDIENCE")]
    pub auth_jwt_audience: Option<String>,
    /// Comma-separated origins allowed by CORS, or `*`.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS")]
    pub cors_allowed_origins: Option<String>,
    /// Largest JSON request body (bytes, or with KiB/MiB suffix).
    #[arg(long, env = "MAX_JSON_BYTES")]
    pub max_json_bytes: Option<String>,
    /// Largest chat import (bytes, or with KiB/MiB suffix).
    #[arg(long, env = "MAX_IMPORT_BYTES")]
    pub max_import_bytes: Option<String>,
    /// Time limit of a JSON request, in seconds.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<String>,
    /// How long a shutdown waits for requests in flight, in seconds.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS")]
    pub shutdown_timeout_secs: Option<String>,
    /// text or json.
    #[arg(long, env = "LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Requests per minute per user (0 turns the limit off).
    #[arg(long, env = "RATE_LIMIT_USER_PER_MINUTE")]
    pub rate_limit_user_per_minute: Option<String>,
    /// Requests per minute per client address (0 turns the limit off).
    #[arg(long, env = "RATE_LIMIT_IP_PER_MINUTE")]
    pub rate_limit_ip_per_minute: Option<String>,
    /// Uploads in flight at once.
    #[arg(long, env = "MAX_CONCURRENT_UPLOADS")]
    pub max_concurrent_uploads: Option<String>,
    /// Seconds an upload may send nothing before it is answered 408.
    #[arg(long, env = "UPLOAD_IDLE_TIMEOUT_SECS")]
    pub upload_idle_timeout_secs: Option<String>,
    /// Bearer token that unlocks `/metrics` on the main port.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Separate address serving `/metrics` without a token (e.g. 127.0.0.1:9090).
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Largest file upload (bytes, or with KiB/MiB/GiB suffix); default 100MiB.
    #[arg(long, env = "MAX_UPLOAD_SIZE")]
    pub max_upload_size: Option<String>,
    /// Comma-separated MIME types accepted for uploads (`image/*` allowed).
    #[arg(long, env = "ALLOWED_MIME_TYPES")]
    pub allowed_mime_types: Option<String>,
    /// Key of the HMAC that signs file links; random per process when unset.
    #[arg(long, env = "FILES_SIGNING_SECRET", hide_env_values = true)]
    pub files_signing_secret: Option<String>,
    /// Files larger than this are redirected to the object store (S3 only); default 5MiB.
    #[arg(long, env = "FILES_REDIRECT_THRESHOLD")]
    pub files_redirect_threshold: Option<String>,
    /// auto (redirect files above FILES_REDIRECT_THRESHOLD), never or always; S3 only.
    #[arg(long, env = "FILES_REDIRECT")]
    pub files_redirect: Option<String>,
    /// Blob store: disabled (files under DATA_DIR, the default), external or embedded (S3).
    #[arg(long, env = "S3_MODE")]
    pub s3_mode: Option<String>,
    /// S3 endpoint URL for Garage, MinIO, R2...; unset for AWS S3.
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region (default us-east-1; Garage's s3_region, often `garage`).
    #[arg(long, env = "S3_REGION")]
    pub s3_region: Option<String>,
    /// S3 access key id; unset: the default AWS credential chain (IAM roles).
    #[arg(long, env = "S3_ACCESS_KEY")]
    pub s3_access_key: Option<String>,
    /// S3 secret access key.
    #[arg(long, env = "S3_SECRET_KEY", hide_env_values = true)]
    pub s3_secret_key: Option<String>,
    /// S3 bucket of the blobs.
    #[arg(long, env = "S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// Prefix of every object key (e.g. `quillstore/`).
    #[arg(long, env = "S3_PATH_PREFIX")]
    pub s3_path_prefix: Option<String>,
    /// Base URL that redirects point at instead of presigned URLs (CDN, public bucket).
    #[arg(long, env = "S3_PUBLIC_URL")]
    pub s3_public_url: Option<String>,
    /// Path-style bucket addressing (true by default when S3_ENDPOINT is set).
    #[arg(long, env = "S3_FORCE_PATH_STYLE")]
    pub s3_force_path_style: Option<String>,
    /// Lifetime of presigned URLs, in seconds (default 3600, at most 604800).
    #[arg(long, env = "S3_PRESIGN_EXPIRY")]
    pub s3_presign_expiry: Option<String>,
    /// Create the bucket at start when missing (always with S3_MODE=embedded).
    #[arg(long, env = "S3_CREATE_BUCKET")]
    pub s3_create_bucket: Option<String>,
    /// Connect timeout and bound of every S3 request without a file body, in ms (default 5000).
    #[arg(long, env = "S3_TIMEOUT_MS")]
    pub s3_timeout_ms: Option<String>,
    /// SHA-256 checksums on writes: auto (probed at start), sha256 or off.
    #[arg(long, env = "S3_CHECKSUM")]
    pub s3_checksum: Option<String>,
}

/// A value that must never reach a log or an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(********)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataBackend {
    Json,
    Mongodb,
    /// Writes go to both; reads come from `primary`.
    Dual {
        primary: Primary,
    },
}

/// Which backend a dual store reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primary {
    Json,
    Mongodb,
}

/// How to reach MongoDB.
#[derive(Debug, Clone)]
pub struct MongoConfig {
    pub uri: Secret,
    pub database: String,
    pub max_pool_size: u32,
    /// Bounds connecting and server selection (never the driver's 30 s default).
    pub timeout: Duration,
    pub auto_migrate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub enum JwtKey {
    /// HS256 with a shared secret.
    Secret(Secret),
    /// RS256 or ES256 with a public key in PEM.
    PublicKey { pem: String },
}

#[derive(Debug, Clone)]
pub enum AuthConfig {
    None,
    Jwt {
        key: JwtKey,
        issuer: Option<String>,
        audience: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers: same-origin use only.
    None,
    Any,
    List(Vec<String>),
}

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
    pub max_json_bytes: usize,
    pub max_import_bytes: usize,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
    pub files: FilesConfig,
    /// Set when `S3_MODE` is external or embedded; `None`: blobs under `DATA_DIR`.
    pub s3: Option<S3Config>,
    pub guard: GuardConfig,
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

        let host = raw.host.clone().unwrap_or_else(|| "127.0.0.1".to_owned());
        let port = parse_or(&raw.port, "PORT", 8080u16, &mut check);
        let data_backend = parse_backend(&raw, &mut check);
        let mongodb = match data_backend {
            DataBackend::Json => None,
            _ => Some(parse_mongo(&raw, &mut check)),
        };
        let auth = parse_auth(&raw, &host, &mut check);
        let cors_allowed_origins = parse_cors(raw.cors_allowed_origins.as_deref(), &mut check);
        let max_json_bytes = size_or(&raw.max_json_bytes, "MAX_JSON_BYTES", 1 << 20, &mut check);
        let max_import_bytes = size_or(
            &raw.max_import_bytes,
            "MAX_IMPORT_BYTES",
            50 << 20,
            &mut check,
        );
        let request_timeout = parse_or(
            &raw.request_timeout_secs,
            "REQUEST_TIMEOUT_SECS",
            30u64,
            &mut check,
        );
        let shutdown_timeout = parse_or(
            &raw.shutdown_timeout_secs,
            "SHUTDOWN_TIMEOUT_SECS",
            20u64,
            &mut check,
        );
        if request_timeout == 0 {
            check(Err("REQUEST_TIMEOUT_SECS must be at least 1".to_owned()));
        }
        let log_format = match raw.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                check(Err(format!("LOG_FORMAT={other}: expected text or json")));
                LogFormat::Text
            }
        };

        let files = parse_files(&raw, &mut check);
        let s3 = self::s3::parse_s3(&raw, &mut check);
        let guard = parse_guard(&raw, &mut check);

        if !problems.is_empty() {
            return Err(ConfigErrors(problems));
        }
        Ok(Self {
            host,
            port,
            data_dir: raw.data_dir.unwrap_or_else(|| PathBuf::from("./data")),
            data_backend,
            mongodb,
            auth,
            cors_allowed_origins,
            max_json_bytes,
            max_import_bytes,
            request_timeout: Duration::from_secs(request_timeout),
            shutdown_timeout: Duration::from_secs(shutdown_timeout),
            log_format,
            files,
            s3,
            guard,
        })
    }

    /// The effective configuration as `(variable, value)` pairs, secrets masked.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let mut lines = vec![
            ("HOST", self.host.clone()),
            ("PORT", self.port.to_string()),
            ("DATA_DIR", self.data_dir.display().to_string()),
        ];
        let backend = match self.data_backend {
            DataBackend::Json => "json".to_owned(),
            DataBackend::Mongodb => "mongodb".to_owned(),
            DataBackend::Dual {
                primary: Primary::Json,
            } => "dual (reads from json)".to_owned(),
            DataBackend::Dual {
                primary: Primary::Mongodb,
            } => "dual (reads from mongodb)".to_owned(),
        };
        lines.push(("DATA_BACKEND", backend));
        if let Some(mongo) = &self.mongodb {
            lines.push(("MONGODB_URI", mask_uri(mongo.uri.expose())));
            lines.push(("MONGODB_DATABASE", mongo.database.clone()));
            lines.push(("MONGODB_MAX_POOL_SIZE", mongo.max_pool_size.to_string()));
            lines.push((
                "MONGODB_CONNECTION_TIMEOUT_MS",
                mongo.timeout.as_millis().to_string(),
            ));
            lines.push(("MONGODB_AUTO_MIGRATE", mongo.auto_migrate.to_string()));
        }
        match &self.auth {
            AuthConfig::None => lines.push(("AUTH_MODE", "none".to_owned())),
            AuthConfig::Jwt {
                key,
                issuer,
                audience,
            } => {
                lines.push(("AUTH_MODE", "jwt".to_owned()));
                match key {
                    JwtKey::Secret(_) => {
                        lines.push(("AUTH_JWT_SECRET", "******** (HS256)".to_owned()))
                    }
                    JwtKey::PublicKey { .. } => lines.push((
                        "AUTH_JWT_PUBLIC_KEY",
                        "<PEM public key> (RS256/ES256)".to_owned(),
                    )),
                }
                lines.push((
                    "AUTH_JWT_ISSUER",
                    issuer.clone().unwrap_or_else(|| "(any)".to_owned()),
                ));
                lines.push((
                    "AUTH_JWT_AUDIENCE",
                    audience.clone().unwrap_or_else(|| "(any)".to_owned()),
                ));
            }
        }
        let cors = match &self.cors_allowed_origins {
            CorsOrigins::None => "(none: same origin only)".to_owned(),
            CorsOrigins::Any => "*".to_owned(),
            CorsOrigins::List(origins) => origins.join(","),
        };
        lines.push(("CORS_ALLOWED_ORIGINS", cors));
        lines.push(("MAX_JSON_BYTES", self.max_json_bytes.to_string()));
        lines.push((
            "REQUEST_TIMEOUT_SECS",
            self.request_timeout.as_secs().to_string(),
        ));
        lines.push((
            "SHUTDOWN_TIMEOUT_SECS",
            self.shutdown_timeout.as_secs().to_string(),
        ));
        let format = match self.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        lines.push(("LOG_FORMAT", format.to_owned()));
        let per_minute = |limit: u32| {
            if limit == 0 {
                "off".to_owned()
            } else {
                limit.to_string()
            }
        };
        lines.push((
            "RATE_LIMIT_USER_PER_MINUTE",
            per_minute(self.guard.user_per_minute),
        ));
        lines.push((
            "RATE_LIMIT_IP_PER_MINUTE",
            per_minute(self.guard.ip_per_minute),
        ));
        lines.push((
            "MAX_CONCURRENT_UPLOADS",
            self.guard.max_concurrent_uploads.to_string(),
        ));
        lines.push((
            "UPLOAD_IDLE_TIMEOUT_SECS",
            self.guard.upload_idle_timeout.as_secs().to_string(),
        ));
        let token = if self.guard.metrics_token.is_some() {
            "********"
        } else {
            "(unset: /metrics not on the main port)"
        };
        lines.push(("METRICS_TOKEN", token.to_owned()));
        let address = self
            .guard
            .metrics_addr
            .map_or_else(|| "(unset)".to_owned(), |address| address.to_string());
        lines.push(("METRICS_ADDR", address));
        lines.push(("MAX_UPLOAD_SIZE", self.files.max_upload_size.to_string()));
        lines.push((
            "ALLOWED_MIME_TYPES",
            self.files.allowed_mime_types.join(","),
        ));
        let signing = match &self.files.signing_secret {
            Some(_) => "********",
            None => "(unset: a random secret per process; signed links die on restart)",
        };
        lines.push(("FILES_SIGNING_SECRET", signing.to_owned()));
        lines.push((
            "FILES_REDIRECT_THRESHOLD",
            self.files.redirect_threshold.to_string(),
        ));
        let redirect = match self.files.redirect {
            RedirectMode::Auto => "auto",
            RedirectMode::Never => "never",
            RedirectMode::Always => "always",
        };
        lines.push(("FILES_REDIRECT", redirect.to_owned()));
        match &self.s3 {
            Some(s3) => s3.describe(&mut lines),
            None => lines.push(("S3_MODE", "disabled (blobs under DATA_DIR)".to_owned())),
        }
        lines
    }
}

fn parse_backend(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> DataBackend {
    let primary = match raw.dual_primary.as_deref().unwrap_or("mongodb") {
        "mongodb" => Primary::Mongodb,
        "json" => Primary::Json,
        other => {
            check(Err(format!(
                "DUAL_PRIMARY={other}: expected mongodb or json"
            )));
            Primary::Mongodb
        }
    };
    match raw.data_backend.as_deref().unwrap_or("json") {
        "json" => DataBackend::Json,
        "mongodb" => DataBackend::Mongodb,
        "dual" => DataBackend::Dual { primary },
        other => {
            check(Err(format!(
                "DATA_BACKEND={other}: expected json, mongodb or dual"
            )));
            DataBackend::Json
        }
    }
}

impl MongoConfig {
    /// The MongoDB settings of `raw` whatever `DATA_BACKEND` says (maintenance commands such
    /// as `quillstore migrate schema`).
    pub fn from_raw(raw: &RawConfig) -> Result<Self, ConfigErrors> {
        let mut problems = Vec::new();
        let settings = parse_mongo(raw, &mut |result: Result<(), String>| {
            if let Err(problem) = result {
                problems.push(problem.replace(" when DATA_BACKEND is mongodb or dual", ""));
            }
        });
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigErrors(problems))
        }
    }
}

fn parse_mongo(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> MongoConfig {
    let uri = raw
        .mongodb_uri
        .clone()
        .filter(|uri| !uri.trim().is_empty())
        .unwrap_or_default();
    if uri.is_empty() {
        check(Err(
            "MONGODB_URI is required when DATA_BACKEND is mongodb or dual".to_owned(),
        ));
    } else if !(uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://")) {
        check(Err(
            "MONGODB_URI must start with mongodb:// or mongodb+srv://".to_owned(),
        ));
    }
    let database = raw
        .mongodb_database
        .clone()
        .unwrap_or_else(|| "quillstore".to_owned());
    let valid_name = !database.is_empty()
        && database.len() <= 63
        && !database.contains(['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?']);
    if !valid_name {
        check(Err(format!(
            "MONGODB_DATABASE={database}: not a valid MongoDB database name"
        )));
    }
    let max_pool_size = parse_or(
        &raw.mongodb_max_pool_size,
        "MONGODB_MAX_POOL_SIZE",
        20u32,
        check,
    );
    let timeout_ms = parse_or(
        &raw.mongodb_connection_timeout_ms,
        "MONGODB_CONNECTION_TIMEOUT_MS",
        5000u64,
        check,
    );
    if max_pool_size == 0 {
        check(Err("MONGODB_MAX_POOL_SIZE must be at least 1".to_owned()));
    }
    if timeout_ms == 0 {
        check(Err(
            "MONGODB_CONNECTION_TIMEOUT_MS must be at least 1".to_owned()
        ));
    }
    let auto_migrate = match raw.mongodb_auto_migrate.as_deref().unwrap_or("true") {
        "true" | "1" | "yes" => true,
        "false" | "0" | "no" => false,
        other => {
            check(Err(format!(
                "MONGODB_AUTO_MIGRATE={other}: expected true or false"
            )));
            true
        }
    };
    MongoConfig {
        uri: Secret::new(uri),
        database,
        max_pool_size,
        timeout: Duration::from_millis(timeout_ms),
        auto_migrate,
    }
}

/// `true`/`false` and their usual spellings.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A connection string with its password replaced, for printing.
pub fn mask_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return "********".to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:********@{host}")
        }
        None => uri.to_owned(),
    }
}

fn size_or(
    raw: &Option<String>,
    name: &str,
    default: usize,
    check: &mut impl FnMut(Result<(), String>),
) -> usize {
    match raw {
        None => default,
        Some(text) => parse_size(text).unwrap_or_else(|| {
            check(Err(format!(
                "{name}={text}: expected a size such as 1048576, 512KiB or 2MiB"
            )));
            default
        }),
    }
}

fn parse_or<T: std::str::FromStr>(
    raw: &Option<String>,
    name: &str,
    default: T,
    check: &mut impl FnMut(Result<(), String>),
) -> T {
    match raw {
        None => default,
        Some(text) => text.trim().parse().unwrap_or_else(|_| {
            check(Err(format!(
                "{name}={text}: expected a non-negative whole number in range"
            )));
            default
        }),
    }
}

/// True for loopback addresses and `localhost`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

fn parse_auth(
    raw: &RawConfig,
    host: &str,
    check: &mut impl FnMut(Result<(), String>),
) -> AuthConfig {
    let non_empty = |value: &Option<String>| value.clone().filter(|text| !text.trim().is_empty());
    match raw.auth_mode.as_deref() {
        None | Some("none") => {
            if raw.auth_mode.is_none() && !is_loopback(host) {
                check(Err(format!(
                    "HOST={host} is not a loopback address and AUTH_MODE is not set: set \
                     AUTH_MODE=jwt, or AUTH_MODE=none explicitly to serve without authentication"
                )));
            }
            AuthConfig::None
        }
        Some("jwt") => {
            let secret = non_empty(&raw.auth_jwt_secret);
            let public_key = non_empty(&raw.auth_jwt_public_key);
            let key = match (secret, public_key) {
                (Some(secret), None) => JwtKey::Secret(Secret::new(secret)),
                (None, Some(key)) => match load_public_key(&key) {
                    Ok(pem) => JwtKey::PublicKey { pem },
                    Err(problem) => {
                        check(Err(format!("AUTH_JWT_PUBLIC_KEY: {problem}")));
                        JwtKey::PublicKey { pem: String::new() }
                    }
                },
                (Some(_), Some(_)) => {
                    check(Err(
                        "AUTH_JWT_SECRET and AUTH_JWT_PUBLIC_KEY are both set: set one".to_owned(),
                    ));
                    JwtKey::Secret(Secret::new(""))
                }
                (None, None) => {
                    check(Err(
                        "AUTH_MODE=jwt needs AUTH_JWT_SECRET (HS256) or AUTH_JWT_PUBLIC_KEY (RS256/ES256)".to_owned(),
                    ));
                    JwtKey::Secret(Secret::new(""))
                }
            };
            AuthConfig::Jwt {
                key,
                issuer: non_empty(&raw.auth_jwt_issuer),
                audience: non_empty(&raw.auth_jwt_audience),
            }
        }
        Some(other) => {
            check(Err(format!("AUTH_MODE={other}: expected none or jwt")));
            AuthConfig::None
        }
    }
}

/// Accepts PEM text or the path of a PEM file, and checks that it is an RSA or EC public key.
fn load_public_key(value: &str) -> Result<String, String> {
    let pem = if value.trim_start().starts_with("-----BEGIN") {
        value.to_owned()
    } else {
        std::fs::read_to_string(value).map_err(|error| format!("cannot read {value}: {error}"))?
    };
    let bytes = pem.as_bytes();
    if jsonwebtoken::DecodingKey::from_rsa_pem(bytes).is_ok()
        || jsonwebtoken::DecodingKey::from_ec_pem(bytes).is_ok()
    {
        Ok(pem)
    } else {
        Err("not an RSA or EC public key in PEM format".to_owned())
    }
}

fn parse_cors(raw: Option<&str>, check: &mut impl FnMut(Result<(), String>)) -> CorsOrigins {
    let Some(raw) = raw.map(str::trim).filter(|text| !text.is_empty()) else {
        return CorsOrigins::None;
    };
    if raw == "*" {
        return CorsOrigins::Any;
    }
    let mut origins = Vec::new();
    for origin in raw
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
    {
        let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin.ends_with('/')
            && origin.parse::<axum::http::HeaderValue>().is_ok();
        if valid {
            origins.push(origin.to_owned());
        } else {
            check(Err(format!(
                "CORS_ALLOWED_ORIGINS: {origin:?} is not an origin like https://app.example.com"
            )));
        }
    }
    CorsOrigins::List(origins)
}

/// Parses `1048576`, `512KiB`, `2MiB`, `1GiB`, `10MB` (decimal) into bytes.
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor).filter(|bytes| *bytes > 0)
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
    fn non_loopback_without_explicit_auth_is_refused() {
        let raw = RawConfig {
            host: Some("0.0.0.0".into()),
            ..RawConfig::default()
        };
        assert!(
            Config::from_raw(raw)
                .unwrap_err()
                .to_string()
                .contains("AUTH_MODE")
        );
        let explicit = RawConfig {
            host: Some("0.0.0.0".into()),
            auth_mode: Some("none".into()),
            ..RawConfig::default()
        };
        assert!(Config::from_raw(explicit).is_ok());
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

    #[test]
    fn mongodb_settings_are_checked_and_the_password_masked() {
        let raw = RawConfig {
            data_backend: Some("mongodb".into()),
            ..RawConfig::default()
        };
        assert!(
            Config::from_raw(raw)
                .unwrap_err()
                .to_string()
                .contains("MONGODB_URI")
        );
        let raw = RawConfig {
            data_backend: Some("dual".into()),
            mongodb_uri: Some(
                "mongodb+srv://app:s3cr3t-pass@cluster0.example.net/?retryWrites=true".into(),
            ),
            mongodb_connection_timeout_ms: Some("2000".into()),
            ..RawConfig::default()
        };
        let config = Config::from_raw(raw).unwrap();
        let printed = format!("{config:?} {:?}", config.describe());
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(
            printed.contains("app:********@cluster0.example.net"),
            "{printed}"
        );
        let mongo = config.mongodb.unwrap();
        assert_eq!(mongo.timeout, Duration::from_millis(2000));
        assert_eq!(
            config.data_backend,
            DataBackend::Dual {
                primary: Primary::Mongodb
            }
        );
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("2MiB"), Some(2 << 20));
        assert_eq!(parse_size("10MB"), Some(10_000_000));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("many"), None);
    }
}
