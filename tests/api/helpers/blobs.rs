//! The blob backend under test (`QUILLSTORE_TEST_BLOBS=fs|s3`), and a look at what a test app
//! stored there: files under `DATA_DIR/blobs`, or objects under the app's own `S3_PATH_PREFIX`
//! in a real Garage (`QUILLSTORE_TEST_S3_*`, else one Garage started for this test binary).

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use quillstore::config::RawConfig;

use super::files::{blob_files, blob_files_under, temp_files};
use super::garage::{self, S3Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobBackend {
    Fs,
    S3,
}

impl BlobBackend {
    /// The one place that picks the blob backend for the whole suite.
    pub fn under_test() -> BlobBackend {
        match std::env::var("QUILLSTORE_TEST_BLOBS").as_deref() {
            Err(_) | Ok("fs") => BlobBackend::Fs,
            Ok("s3") => BlobBackend::S3,
            Ok(other) => panic!("QUILLSTORE_TEST_BLOBS={other}: expected fs or s3"),
        }
    }

    /// The name in `storage.backend` and in `/api/health`.
    pub fn name(self) -> &'static str {
        match self {
            BlobBackend::Fs => "fs",
            BlobBackend::S3 => "s3",
        }
    }
}

/// Pins an app to the fs blob store whatever the suite runs on (for tests whose subject is
/// the data directory itself, such as `quillstore migrate` between `fs:` directories).
pub fn pin_fs_blobs(raw: &mut RawConfig) {
    raw.s3_mode = None;
    raw.s3_endpoint = None;
    raw.s3_region = None;
    raw.s3_bucket = None;
    raw.s3_access_key = None;
    raw.s3_secret_key = None;
    raw.s3_path_prefix = None;
}

/// True when blobs are on fs. Tests that inspect the fs store's files call this and, on S3,
/// say loudly that they are skipped.
pub fn fs_blobs_only(test: &str) -> bool {
    let fs = BlobBackend::under_test() == BlobBackend::Fs;
    if !fs {
        super::skip(
            test,
            "it inspects the fs blob store; the blobs under test are on S3",
        );
    }
    fs
}

/// True when blobs are on S3; otherwise says loudly that the test runs in the S3 pass only.
pub fn s3_blobs_only(test: &str) -> bool {
    let s3 = BlobBackend::under_test() == BlobBackend::S3;
    if !s3 {
        super::skip(
            test,
            "it needs the S3 blob store; it runs in the S3 pass \
             (QUILLSTORE_TEST_BLOBS=s3, scripts/test.sh)",
        );
    }
    s3
}

/// The Garage the suite uses: from `QUILLSTORE_TEST_S3_*`, else one started for this binary.
pub fn suite_s3() -> S3Settings {
    match std::env::var("QUILLSTORE_TEST_S3_ENDPOINT") {
        Ok(endpoint) => {
            let var = |name: &str| {
                std::env::var(format!("QUILLSTORE_TEST_S3_{name}"))
                    .unwrap_or_else(|_| panic!("QUILLSTORE_TEST_S3_{name} is not set"))
            };
            S3Settings {
                endpoint,
                region: var("REGION"),
                bucket: var("BUCKET"),
                access_key: var("ACCESS_KEY"),
                secret_key: var("SECRET_KEY"),
            }
        }
        Err(_) => garage::shared(),
    }
}

/// Where one test app keeps its blobs.
#[derive(Debug, Clone)]
pub enum TestBlobs {
    Fs {
        data_dir: PathBuf,
    },
    S3 {
        settings: S3Settings,
        prefix: String,
    },
}

impl TestBlobs {
    /// Blobs for an app on `data_dir`: on S3, under a prefix no other test uses.
    pub fn for_suite(data_dir: &Path) -> TestBlobs {
        match BlobBackend::under_test() {
            BlobBackend::Fs => TestBlobs::Fs {
                data_dir: data_dir.to_path_buf(),
            },
            BlobBackend::S3 => TestBlobs::on_s3(suite_s3()),
        }
    }

    /// The blobs an app built from `raw` uses.
    pub fn of(raw: &RawConfig) -> TestBlobs {
        let field = |value: &Option<String>| value.clone().unwrap_or_default();
        match raw.s3_mode.as_deref() {
            None | Some("disabled") => TestBlobs::Fs {
                data_dir: raw.data_dir.clone().expect("a test app has a DATA_DIR"),
            },
            Some(_) => TestBlobs::S3 {
                settings: S3Settings {
                    endpoint: field(&raw.s3_endpoint),
                    region: field(&raw.s3_region),
                    bucket: field(&raw.s3_bucket),
                    access_key: field(&raw.s3_access_key),
                    secret_key: field(&raw.s3_secret_key),
                },
                prefix: field(&raw.s3_path_prefix),
            },
        }
    }

    pub fn on_s3(settings: S3Settings) -> TestBlobs {
        TestBlobs::S3 {
            settings,
            prefix: format!("t-{}/", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Points `raw` at these blobs.
    pub fn configure(&self, raw: &mut RawConfig) {
        for (name, value) in self.env_vars() {
            let field = match name {
                "S3_MODE" => &mut raw.s3_mode,
                "S3_ENDPOINT" => &mut raw.s3_endpoint,
                "S3_REGION" => &mut raw.s3_region,
                "S3_BUCKET" => &mut raw.s3_bucket,
                "S3_ACCESS_KEY" => &mut raw.s3_access_key,
                "S3_SECRET_KEY" => &mut raw.s3_secret_key,
                "S3_PATH_PREFIX" => &mut raw.s3_path_prefix,
                other => panic!("unexpected variable {other}"),
            };
            *field = Some(value);
        }
    }

    /// The same settings as environment variables, for runs of the real binary.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        match self {
            TestBlobs::Fs { .. } => Vec::new(),
            TestBlobs::S3 { settings, prefix } => vec![
                ("S3_MODE", "external".to_owned()),
                ("S3_ENDPOINT", settings.endpoint.clone()),
                ("S3_REGION", settings.region.clone()),
                ("S3_BUCKET", settings.bucket.clone()),
                ("S3_ACCESS_KEY", settings.access_key.clone()),
                ("S3_SECRET_KEY", settings.secret_key.clone()),
                ("S3_PATH_PREFIX", prefix.clone()),
            ],
        }
    }

    /// The keys of every stored file blob (`users/...`), sorted.
    pub async fn keys(&self) -> Vec<String> {
        match self {
            TestBlobs::Fs { data_dir } => {
                let root = data_dir.join("blobs");
                blob_files(data_dir)
                    .iter()
                    .map(|path| {
                        path.strip_prefix(&root)
                            .unwrap()
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect()
            }
            TestBlobs::S3 { settings, prefix } => {
                let mut keys = list_keys(settings, &format!("{prefix}users/")).await;
                for key in &mut keys {
                    *key = key[prefix.len()..].to_owned();
                }
                keys
            }
        }
    }

    /// The key of the blob the upload of `file` (its JSON) wrote: the one whose name starts
    /// with the file's id. The API never shows it (`storage` stays in the record).
    pub async fn key_of(&self, file: &serde_json::Value) -> String {
        let id = file["id"].as_str().expect("a file's id");
        let keys = self.keys().await;
        let name_start = format!("{id}_");
        keys.iter()
            .find(|key| {
                key.rsplit('/')
                    .next()
                    .is_some_and(|name| name.starts_with(&name_start))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no blob of file {id} among {keys:?}"))
    }

    /// The keys of every stored blob under `top` (e.g. `variants/`), sorted.
    pub async fn keys_under(&self, top: &str) -> Vec<String> {
        match self {
            TestBlobs::Fs { data_dir } => {
                let mut keys: Vec<String> = blob_files_under(data_dir, top.trim_end_matches('/'))
                    .iter()
                    .map(|path| {
                        let relative = path.strip_prefix(data_dir.join("blobs")).unwrap();
                        relative.to_string_lossy().into_owned()
                    })
                    .collect();
                keys.sort();
                keys
            }
            TestBlobs::S3 { settings, prefix } => {
                let mut keys = list_keys(settings, &format!("{prefix}{top}")).await;
                for key in &mut keys {
                    *key = key[prefix.len()..].to_owned();
                }
                keys.sort();
                keys
            }
        }
    }

    /// Writes in progress: fs temp files, or S3 multipart uploads not completed or aborted.
    pub async fn pending_writes(&self) -> usize {
        match self {
            TestBlobs::Fs { data_dir } => temp_files(data_dir).len(),
            TestBlobs::S3 { settings, prefix } => {
                let output = client(settings)
                    .list_multipart_uploads()
                    .bucket(&settings.bucket)
                    .prefix(prefix)
                    .send()
                    .await
                    .expect("ListMultipartUploads");
                output.uploads().len()
            }
        }
    }

    /// Stores `bytes` at `key` behind the app's back.
    pub async fn put_raw(&self, key: &str, bytes: &[u8]) {
        match self {
            TestBlobs::Fs { data_dir } => {
                let path = data_dir.join("blobs").join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            TestBlobs::S3 { settings, prefix } => {
                client(settings)
                    .put_object()
                    .bucket(&settings.bucket)
                    .key(format!("{prefix}{key}"))
                    .body(bytes.to_vec().into())
                    .send()
                    .await
                    .expect("PutObject");
            }
        }
    }

    /// Removes the blob at `key` behind the app's back.
    pub async fn remove_raw(&self, key: &str) {
        match self {
            TestBlobs::Fs { data_dir } => {
                std::fs::remove_file(data_dir.join("blobs").join(key)).unwrap();
            }
            TestBlobs::S3 { settings, prefix } => {
                client(settings)
                    .delete_object()
                    .bucket(&settings.bucket)
                    .key(format!("{prefix}{key}"))
                    .send()
                    .await
                    .expect("DeleteObject");
            }
        }
    }
}

/// An S3 client for looking at what the app stored.
pub fn client(settings: &S3Settings) -> Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .endpoint_url(&settings.endpoint)
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .credentials_provider(Credentials::new(
            &settings.access_key,
            &settings.secret_key,
            None,
            None,
            "tests",
        ))
        .build();
    Client::from_conf(config)
}

/// Every object key under `prefix` (full keys), sorted.
pub async fn list_keys(settings: &S3Settings, prefix: &str) -> Vec<String> {
    let mut pages = client(settings)
        .list_objects_v2()
        .bucket(&settings.bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.expect("ListObjectsV2");
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|object| object.key().map(str::to_owned)),
        );
    }
    keys.sort();
    keys
}
