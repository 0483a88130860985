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
mod backend;
mod blobs;
mod client;
mod files;
pub mod garage;
pub mod images;
pub mod migrate;
pub mod raw_http;
pub mod relay;

pub use assertions::{assert_detail_field, assert_error, header, item_ids, json_body, strings};
pub use backend::{Backend, TEST_MASTER_KEY, database_for, mongodb_test_uri};
pub use blobs::{
    BlobBackend, TestBlobs, client as s3_client, fs_blobs_only, pin_fs_blobs, s3_blobs_only,
    suite_s3,
};
pub use client::Api;
pub use files::{
    PNG_2X3, blob_files, blob_files_under, file_form, file_part, sha256_hex, temp_files, text_bytes,
};

/// The HS256 secret every JWT-mode test app is configured with.
pub const TEST_JWT_SECRET: &str = "quillstore-test-secret-at-least-32-bytes-long";

/// `storage.backend` of every file record, by id, read behind the service's back from the
/// metadata store on `data_dir` (the API never shows where the bytes lie): the json store's
/// `DATA_DIR/files/*.json`, or MongoDB's `files` collection (the primary's, in dual mode).
pub async fn stored_file_backends(data_dir: &Path) -> std::collections::BTreeMap<String, String> {
    let backend_of = |record: &Value| {
        let id = record["id"].as_str()?.to_owned();
        Some((id, record["storage"]["backend"].as_str()?.to_owned()))
    };
    match Backend::under_test().primary() {
        Backend::Json => std::fs::read_dir(data_dir.join("files"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "json"))
            .filter_map(|entry| std::fs::read(entry.path()).ok())
            .filter_map(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .filter_map(|record| backend_of(&record))
            .collect(),
        _ => {
            use futures::TryStreamExt;
            let client = mongodb::Client::with_uri_str(mongodb_test_uri())
                .await
                .expect("connect to MONGODB_TEST_URI");
            let files = client
                .database(&database_for(data_dir))
                .collection::<mongodb::bson::Document>("files");
            let records: Vec<mongodb::bson::Document> = files
                .find(mongodb::bson::doc! {})
                .await
                .expect("read the files collection")
                .try_collect()
                .await
                .expect("read the files collection");
            records
                .into_iter()
                .filter_map(|record| serde_json::to_value(record).ok())
                .filter_map(|record| backend_of(&record))
                .collect()
        }
    }
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

/// True when a MongoDB under test is the mongoeco emulator, which runs every command on one
/// Python thread: load tests scale their volume down there (never their concurrency).
pub fn mongodb_is_emulated() -> bool {
    Backend::under_test().uses_mongodb()
        && std::env::var_os("QUILLSTORE_TEST_MONGODB_EMULATOR").is_some()
}

/// True (after saying so loudly, with `why`) when the MongoDB under test is the mongoeco
/// emulator (`scripts/test.sh` sets `QUILLSTORE_TEST_MONGODB_EMULATOR`) and the test is one of
/// the few that need more than the emulator gives.
pub fn on_mongodb_emulator(test: &str, why: &str) -> bool {
    let emulator = std::env::var("QUILLSTORE_TEST_MONGODB_EMULATOR").ok();
    let skipped = Backend::under_test().uses_mongodb() && emulator.is_some();
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

/// True when the json store is the one reads come from (json, or dual with json primary).
/// Tests that inspect or damage the json store's files and read the result back through the
/// API call this and, on another backend, say loudly that they are skipped.
pub fn json_store_only(test: &str) -> bool {
    let backend = Backend::under_test();
    let applies = backend.primary() == Backend::Json;
    if !applies {
        let why = match backend.secondary() {
            Some(_) => format!(
                "it inspects the json store's files and reads them back through the API; \
                 under {backend:?} json is the secondary and reads come from MongoDB"
            ),
            None => {
                format!("it inspects the json store's files; the backend under test is {backend:?}")
            }
        };
        skip(test, &why);
    }
    applies
}

/// True when the json store is open in `DATA_DIR` (json, or dual either way round). Tests
/// about the json store's own files or lock, not read back through the API, call this.
pub fn json_store_in_use(test: &str) -> bool {
    let backend = Backend::under_test();
    if !backend.uses_json() {
        skip(
            test,
            &format!("it inspects the json store's files; the backend under test is {backend:?}"),
        );
    }
    backend.uses_json()
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
