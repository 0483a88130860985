//! The settings surface: every environment variable and its CLI flag, as given, before any
//! check. [`super::Config::from_raw`] turns this into the validated configuration.

use std::path::PathBuf;

use clap::Args;

#[cfg(doc)]
use super::Config;

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
    /// Base URL clients reach the API on; returned URLs become absolute on it.
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
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
    /// Seconds a request's headers may take to arrive before the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<String>,
    /// Seconds a kept-alive connection may stay idle before it is closed.
    #[arg(long, env = "KEEPALIVE_IDLE_SECS")]
    pub keepalive_idle_secs: Option<String>,
    /// Seconds a response may wait for the client to take any of its bytes before the
    /// connection is closed (TCP_USER_TIMEOUT, Linux).
    #[arg(long, env = "SEND_TIMEOUT_SECS")]
    pub send_timeout_secs: Option<String>,
    /// Client connections open at once (default: derived from the descriptor limit).
    #[arg(long, env = "MAX_CONNECTIONS")]
    pub max_connections: Option<String>,
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
    /// Key of the HMAC that signs file links; generated once into DATA_DIR when unset.
    #[arg(long, env = "FILES_SIGNING_SECRET", hide_env_values = true)]
    pub files_signing_secret: Option<String>,
    /// Files larger than this are redirected to the object store (S3 only); default 5MiB.
    #[arg(long, env = "FILES_REDIRECT_THRESHOLD")]
    pub files_redirect_threshold: Option<String>,
    /// auto (redirect files above FILES_REDIRECT_THRESHOLD), never or always; S3 only.
    #[arg(long, env = "FILES_REDIRECT")]
    pub files_redirect: Option<String>,
    /// Comma-separated widths/heights image variants may have (each at most 2048).
    #[arg(long, env = "IMAGE_VARIANT_SIZES")]
    pub image_variant_sizes: Option<String>,
    /// Images decoded at once for variants (default: the number of CPUs).
    #[arg(long, env = "IMAGE_MAX_CONCURRENT")]
    pub image_max_concurrent: Option<String>,
    /// Largest image (in pixels) a variant is made from; default 50000000.
    #[arg(long, env = "IMAGE_MAX_PIXELS")]
    pub image_max_pixels: Option<String>,
    /// Bytes of small file blobs kept in memory (KiB/MiB/GiB suffix); default 64MiB, 0: off.
    #[arg(long, env = "BLOB_CACHE_BYTES")]
    pub blob_cache_bytes: Option<String>,
    /// The largest blob the cache keeps; default 256KiB.
    #[arg(long, env = "BLOB_CACHE_MAX_OBJECT_BYTES")]
    pub blob_cache_max_object_bytes: Option<String>,
    /// The most bytes of files one user may store (unset or 0: no quota).
    #[arg(long, env = "QUOTA_BYTES_PER_USER")]
    pub quota_bytes_per_user: Option<String>,
    /// The most files one user may store (unset or 0: no quota).
    #[arg(long, env = "QUOTA_FILES_PER_USER")]
    pub quota_files_per_user: Option<String>,
    /// The largest account archive an import accepts; default 10GiB.
    #[arg(long, env = "MAX_ACCOUNT_IMPORT_BYTES")]
    pub max_account_import_bytes: Option<String>,
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
    /// Master key of stored secrets (32 bytes, base64); generated into DATA_DIR when unset
    /// (required with DATA_BACKEND=mongodb).
    #[arg(long, env = "ENCRYPTION_MASTER_KEY", hide_env_values = true)]
    pub encryption_master_key: Option<String>,
    /// Earlier master keys (comma-separated base64), still accepted for decryption.
    #[arg(long, env = "ENCRYPTION_PREVIOUS_KEYS", hide_env_values = true)]
    pub encryption_previous_keys: Option<String>,
    /// JWT scope needed to reveal a stored API key (default secrets:reveal).
    #[arg(long, env = "SECRETS_REVEAL_SCOPE")]
    pub secrets_reveal_scope: Option<String>,
    /// Let AUTH_MODE=none reveal stored API keys (true or false; default false).
    #[arg(long, env = "SECRETS_REVEAL_WITHOUT_AUTH")]
    pub secrets_reveal_without_auth: Option<String>,
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
    /// How streamed downloads are fetched: auto (a plain http:// endpoint on quillstore's own
    /// connections, passed to the client with splice(2) on Linux) or sdk (the AWS SDK).
    #[arg(long, env = "S3_RELAY")]
    pub s3_relay: Option<String>,
    /// A Unix socket every S3 request goes to instead of S3_ENDPOINT's host and port (a
    /// Garage on the same machine with `api_bind_addr` set to a socket path); S3_ENDPOINT
    /// (default http://localhost) still names the host requests are signed for.
    #[arg(long, env = "S3_SOCKET")]
    pub s3_socket: Option<String>,
    /// Endpoint URL that presigned URLs (download redirects, direct uploads) are signed for,
    /// when browsers reach the object store at another address than quillstore does.
    #[arg(long, env = "S3_PRESIGN_ENDPOINT")]
    pub s3_presign_endpoint: Option<String>,
    /// The blob store files move away from while `migrate copy --from-fallback` runs: `fs`
    /// (DATA_DIR's blobs), `fs:DIR` (the blobs of the DATA_DIR DIR) or `s3` (the S3_*
    /// settings, with S3_MODE=disabled). Records naming it are served from it.
    #[arg(long, env = "BLOBS_FALLBACK")]
    pub blobs_fallback: Option<String>,
    /// With BLOBS_FALLBACK: the service moves those blobs itself, in the background, from
    /// its start (true or false; default false). The way for the json store, which no second
    /// process may open while the service runs.
    #[arg(long, env = "BLOBS_FALLBACK_MOVE")]
    pub blobs_fallback_move: Option<String>,
}
