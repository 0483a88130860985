//! The test harness: starts the application in-process on port 0 with its own `DATA_DIR`,
//! and offers a small HTTP client that knows the API's conventions.
//!
//! Every test builds its own app, so tests never share state. The backend under test is
//! chosen in one place, [`Backend::under_test`] for metadata and [`BlobBackend::under_test`]
//! for blobs (`QUILLSTORE_TEST_BLOBS=s3`: each app under its own `S3_PATH_PREFIX` in a real
//! Garage), so the same suite runs against every combination.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use quillstore::config::{Config, RawConfig};
use quillstore::{Application, ShutdownHandle};
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;

mod assertions;
mod blobs;
mod client;
mod files;
pub mod garage;
pub mod images;
pub mod migrate;

pub use assertions::{assert_detail_field, assert_error, header, item_ids, json_body, strings};
pub use blobs::{
    BlobBackend, TestBlobs, client as s3_client, fs_blobs_only, pin_fs_blobs, s3_blobs_only,
    suite_s3,
};
pub use client::Api;
pub use files::{
    PNG_2X3, blob_files, blob_files_under, file_form, file_part, sha256_hex, temp_files, text_bytes,
};

/// The master key (32 bytes, base64) every MongoDB test app is configured with:
/// `DATA_BACKEND=mongodb` requires one.
pub const TEST_MASTER_KEY: &str = "cXVpbGxzdG9yZS10ZXN0LW1hc3Rlci1rZXktMzJieXQ=";

/// The HS256 secret every JWT-mode test app is configured with.
pub const TEST_JWT_SECRET: &str = "quillstore-test-secret-at-least-32-bytes-long";

/// Metadata backends the suite can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Json,
    /// MongoDB at `MONGODB_TEST_URI`, each test in a database of its own.
    Mongodb,
}

impl Backend {
    /// The one place that picks the backend for the whole suite.
    pub fn under_test() -> Backend {
        match std::env::var("QUILLSTORE_TEST_BACKEND").as_deref() {
            Err(_) | Ok("json") => Backend::Json,
            Ok("mongodb") => Backend::Mongodb,
            Ok(other) => panic!("QUILLSTORE_TEST_BACKEND={other} is not supported by this suite"),
        }
    }

    /// The name `/api/health` reports for the metadata store.
    pub fn health_name(self) -> &'static str {
        match self {
            Backend::Json => "json",
            Backend::Mongodb => "mongodb",
        }
    }

    /// Environment variables selecting this backend for a run of the real binary on
    /// `data_dir`.
    pub fn env_vars(self, data_dir: &Path) -> Vec<(&'static str, String)> {
        match self {
            Backend::Json => vec![("DATA_BACKEND", "json".to_owned())],
            Backend::Mongodb => vec![
                ("DATA_BACKEND", "mongodb".to_owned()),
                ("MONGODB_URI", mongodb_test_uri()),
                ("MONGODB_DATABASE", database_for(data_dir)),
                ("ENCRYPTION_MASTER_KEY", TEST_MASTER_KEY.to_owned()),
            ],
        }
    }

    fn configure(self, raw: &mut RawConfig, data_dir: &Path) {
        match self {
            Backend::Json => raw.data_backend = Some("json".to_owned()),
            Backend::Mongodb => {
                raw.data_backend = Some("mongodb".to_owned());
                raw.mongodb_uri = Some(mongodb_test_uri());
                raw.mongodb_database = Some(database_for(data_dir));
                raw.encryption_master_key = Some(TEST_MASTER_KEY.to_owned());
            }
        }
    }
}

fn mongodb_test_uri() -> String {
    std::env::var("MONGODB_TEST_URI")
        .expect("QUILLSTORE_TEST_BACKEND=mongodb needs MONGODB_TEST_URI")
}

/// The database of whatever runs on `data_dir`: one per data directory (each test has its
/// own temp directory), so a restart on the same directory finds its data again.
fn database_for(data_dir: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    format!("quillstore_test_{}", hex::encode(&digest[..12]))
}

/// Says loudly that `test` is skipped and why: on stderr, and as a line appended to the file
/// `QUILLSTORE_TEST_SKIP_LOG` names. Cargo hides a passing test's output, so
/// `scripts/test.sh` lists those lines at the end and counts them as skipped, not passed.
pub fn skip(test: &str, why: &str) {
    let pass = format!(
        "{:?} metadata, {:?} blobs",
        Backend::under_test(),
        BlobBackend::under_test()
    );
    eprintln!("SKIPPED: {test} ({pass}): {why}");
    if let Ok(path) = std::env::var("QUILLSTORE_TEST_SKIP_LOG") {
        use std::io::Write;
        let line = format!("{test} ({pass}): {why}\n");
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(error) = written {
            panic!("cannot record the skip of {test} in {path}: {error}");
        }
    }
}

/// True (after saying so loudly, with `why`) when the MongoDB under test is the mongoeco
/// emulator (`scripts/test.sh` sets `QUILLSTORE_TEST_MONGODB_EMULATOR`) and the test is one of
/// the few that need more than the emulator gives.
pub fn on_mongodb_emulator(test: &str, why: &str) -> bool {
    let emulator = std::env::var("QUILLSTORE_TEST_MONGODB_EMULATOR").ok();
    let skipped = Backend::under_test() == Backend::Mongodb && emulator.is_some();
    if skipped {
        skip(
            test,
            &format!(
                "{why} on the {} emulator; it runs against json and a real MongoDB \
                 (MONGODB_TEST_URI)",
                emulator.unwrap_or_default()
            ),
        );
    }
    skipped
}

/// True when the suite runs on the json store. Tests that inspect the json store's files call
/// this and, on another backend, say loudly that they are skipped.
pub fn json_store_only(test: &str) -> bool {
    let backend = Backend::under_test();
    if backend != Backend::Json {
        skip(
            test,
            &format!("it inspects the json store's files; the backend under test is {backend:?}"),
        );
    }
    backend == Backend::Json
}

/// A configuration for a test app on a loopback port chosen by the OS.
pub fn base_config(data_dir: &Path) -> RawConfig {
    let mut raw = RawConfig {
        host: Some("127.0.0.1".to_owned()),
        port: Some("0".into()),
        data_dir: Some(data_dir.to_path_buf()),
        auth_mode: Some("none".to_owned()),
        // Load from the tests themselves would trip the limits; `throttle.rs` tests them.
        rate_limit_user_per_minute: Some("0".to_owned()),
        rate_limit_ip_per_minute: Some("0".to_owned()),
        ..RawConfig::default()
    };
    Backend::under_test().configure(&mut raw, data_dir);
    TestBlobs::for_suite(data_dir).configure(&mut raw);
    raw
}

/// Builds an application from a raw configuration (binds the listener).
pub async fn build_app(raw: RawConfig) -> anyhow::Result<Application> {
    let config = Config::from_raw(raw).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    Application::build(config).await
}

/// A running application plus a client pointed at it.
pub struct TestApp {
    pub api: Api,
    pub data_dir: PathBuf,
    pub shutdown: ShutdownHandle,
    pub join: Option<JoinHandle<anyhow::Result<()>>>,
    raw: RawConfig,
    _temp_dir: Option<TempDir>,
}

/// Starts an app with the default configuration and a fresh temp `DATA_DIR`.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Sends the service's error logs (a 500's cause, say) to the test's captured output, so a
/// failing test shows them; `RUST_LOG` widens it.
fn log_errors() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("quillstore=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Starts an app with a fresh temp `DATA_DIR` after letting `configure` adjust the config.
pub async fn spawn_app_with(configure: impl FnOnce(&mut RawConfig)) -> TestApp {
    let temp_dir = tempfile::tempdir().expect("create temp DATA_DIR");
    let mut app = spawn_app_in(temp_dir.path(), configure).await;
    app._temp_dir = Some(temp_dir);
    app
}

/// Starts an app on an existing `DATA_DIR` that the caller owns.
pub async fn spawn_app_in(data_dir: &Path, configure: impl FnOnce(&mut RawConfig)) -> TestApp {
    log_errors();
    let mut raw = base_config(data_dir);
    configure(&mut raw);
    let application = build_app(raw.clone()).await.expect("build the application");
    let shutdown = application.shutdown_handle();
    let api = Api::new(application.port());
    let join = tokio::spawn(application.run_until_stopped());
    TestApp {
        api,
        data_dir: data_dir.to_path_buf(),
        shutdown,
        join: Some(join),
        raw,
        _temp_dir: None,
    }
}

/// Starts an app in `AUTH_MODE=jwt` with [`TEST_JWT_SECRET`].
pub async fn spawn_jwt_app() -> TestApp {
    spawn_app_with(|raw| {
        raw.auth_mode = Some("jwt".to_owned());
        raw.auth_jwt_secret = Some(TEST_JWT_SECRET.to_owned());
    })
    .await
}

impl TestApp {
    /// Shuts the app down gracefully and waits until its stores are closed.
    pub async fn stop(&mut self) {
        self.shutdown.shutdown();
        if let Some(join) = self.join.take() {
            join.await
                .expect("the app task panicked")
                .expect("the app stopped with an error");
        }
    }

    /// Starts a new app with the same configuration and `DATA_DIR` (after [`TestApp::stop`]).
    pub async fn start(&mut self) {
        assert!(
            self.join.is_none(),
            "start() needs the previous app stopped"
        );
        let application = build_app(self.raw.clone())
            .await
            .expect("rebuild the application");
        self.shutdown = application.shutdown_handle();
        self.api = Api {
            token: self.api.token.clone(),
            ..Api::new(application.port())
        };
        self.join = Some(tokio::spawn(application.run_until_stopped()));
    }

    /// Stops the app and starts a fresh one on the same `DATA_DIR`.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// The configuration this app was built from (e.g. to try a second app on its dir).
    pub fn raw_config(&self) -> RawConfig {
        self.raw.clone()
    }

    /// The configuration the next [`TestApp::start`] uses.
    pub fn raw_config_mut(&mut self) -> &mut RawConfig {
        &mut self.raw
    }

    /// Where this app keeps its blobs (to look at them behind its back).
    pub fn blobs(&self) -> TestBlobs {
        TestBlobs::of(&self.raw)
    }

    /// The keys of every file blob this app stored, sorted.
    pub async fn blob_keys(&self) -> Vec<String> {
        self.blobs().keys().await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.join.is_some() {
            self.shutdown.shutdown();
        }
    }
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// An HS256 token for `user`, valid for an hour, signed with [`TEST_JWT_SECRET`].
pub fn token_for(user: &str) -> String {
    let claims =
        serde_json::json!({ "sub": user, "exp": jsonwebtoken::get_current_timestamp() + 3600 });
    sign_hs256(&claims, TEST_JWT_SECRET.as_bytes())
}

/// Signs arbitrary claims with HS256 and `secret`.
pub fn sign_hs256(claims: &Value, secret: &[u8]) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key).expect("sign the token")
}
