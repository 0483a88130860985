//! The metadata backend under test (`QUILLSTORE_TEST_BACKEND`): json, mongodb, or
//! `DATA_BACKEND=dual` over both (`dual-json-mongodb`: json primary and MongoDB secondary;
//! `dual-mongodb-json`: the reverse). MongoDB is at `MONGODB_TEST_URI`, each data directory
//! with a database of its own.

use std::path::Path;

use quillstore::config::RawConfig;

/// The master key (32 bytes, base64) every MongoDB test app is configured with:
/// `DATA_BACKEND=mongodb` (and dual) requires one.
pub const TEST_MASTER_KEY: &str = "cXVpbGxzdG9yZS10ZXN0LW1hc3Rlci1rZXktMzJieXQ=";

/// Metadata backends the suite can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Json,
    /// MongoDB at `MONGODB_TEST_URI`, each test in a database of its own.
    Mongodb,
    /// `DATA_BACKEND=dual DUAL_PRIMARY=json`: reads from json, every write mirrored to MongoDB.
    DualJsonMongodb,
    /// `DATA_BACKEND=dual DUAL_PRIMARY=mongodb`: reads from MongoDB, writes mirrored to json.
    DualMongodbJson,
}

impl Backend {
    /// The one place that picks the backend for the whole suite.
    pub fn under_test() -> Backend {
        match std::env::var("QUILLSTORE_TEST_BACKEND").as_deref() {
            Err(_) | Ok("json") => Backend::Json,
            Ok("mongodb") => Backend::Mongodb,
            Ok("dual-json-mongodb") => Backend::DualJsonMongodb,
            Ok("dual-mongodb-json") => Backend::DualMongodbJson,
            Ok(other) => panic!(
                "QUILLSTORE_TEST_BACKEND={other}: expected json, mongodb, dual-json-mongodb or \
                 dual-mongodb-json"
            ),
        }
    }

    /// The single store reads come from (and so whose behaviour the API shows): the backend
    /// itself, or a dual store's primary.
    pub fn primary(self) -> Backend {
        match self {
            Backend::Json | Backend::DualJsonMongodb => Backend::Json,
            Backend::Mongodb | Backend::DualMongodbJson => Backend::Mongodb,
        }
    }

    /// A dual store's secondary (the store every write is mirrored to).
    pub fn secondary(self) -> Option<Backend> {
        match self {
            Backend::Json | Backend::Mongodb => None,
            Backend::DualJsonMongodb => Some(Backend::Mongodb),
            Backend::DualMongodbJson => Some(Backend::Json),
        }
    }

    /// True when the json store is open in `DATA_DIR` (as the store, primary or secondary).
    pub fn uses_json(self) -> bool {
        self != Backend::Mongodb
    }

    /// True when MongoDB is in use (as the store, primary or secondary).
    pub fn uses_mongodb(self) -> bool {
        self != Backend::Json
    }

    /// The name `/api/health` reports for the metadata store.
    pub fn health_name(self) -> &'static str {
        match self {
            Backend::Json => "json",
            Backend::Mongodb => "mongodb",
            Backend::DualJsonMongodb => "dual (json primary)",
            Backend::DualMongodbJson => "dual (mongodb primary)",
        }
    }

    /// Environment variables selecting this backend for a run of the real binary on
    /// `data_dir`.
    pub fn env_vars(self, data_dir: &Path) -> Vec<(&'static str, String)> {
        let mut vars = vec![("DATA_BACKEND", self.data_backend().to_owned())];
        if let Some(primary) = self.dual_primary() {
            vars.push(("DUAL_PRIMARY", primary.to_owned()));
        }
        if self.uses_mongodb() {
            vars.extend([
                ("MONGODB_URI", mongodb_test_uri()),
                ("MONGODB_DATABASE", database_for(data_dir)),
                ("ENCRYPTION_MASTER_KEY", TEST_MASTER_KEY.to_owned()),
            ]);
        }
        vars
    }

    pub(super) fn configure(self, raw: &mut RawConfig, data_dir: &Path) {
        raw.data_backend = Some(self.data_backend().to_owned());
        raw.dual_primary = self.dual_primary().map(str::to_owned);
        if self.uses_mongodb() {
            raw.mongodb_uri = Some(mongodb_test_uri());
            raw.mongodb_database = Some(database_for(data_dir));
            raw.encryption_master_key = Some(TEST_MASTER_KEY.to_owned());
        }
    }

    fn data_backend(self) -> &'static str {
        match self {
            Backend::Json => "json",
            Backend::Mongodb => "mongodb",
            Backend::DualJsonMongodb | Backend::DualMongodbJson => "dual",
        }
    }

    fn dual_primary(self) -> Option<&'static str> {
        self.secondary().map(|_| self.primary().data_backend())
    }
}

pub fn mongodb_test_uri() -> String {
    std::env::var("MONGODB_TEST_URI")
        .expect("a QUILLSTORE_TEST_BACKEND with MongoDB needs MONGODB_TEST_URI")
}

/// The database of whatever runs on `data_dir`: one per data directory (each test has its
/// own temp directory), so a restart on the same directory finds its data again.
pub fn database_for(data_dir: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    format!("quillstore_test_{}", hex::encode(&digest[..12]))
}
