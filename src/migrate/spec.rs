//! Where a copy reads and writes, as named on the command line:
//!
//! - metadata: `json:DIR` (the json store in `DIR`, a `DATA_DIR`), `mongodb:URI` or
//!   `mongodb:URI#DATABASE` (without `#DATABASE`: the database in the URI's path, else
//!   `quillstore`), or plain
//!   `mongodb` for the configured `MONGODB_URI` / `MONGODB_DATABASE`;
//! - blobs: `fs:DIR` (the fs blob store of the `DATA_DIR` `DIR`, i.e. `DIR/blobs`) or plain
//!   `s3` for the bucket the `S3_*` settings name (`S3_MODE`, `S3_BUCKET`, `S3_PATH_PREFIX`...).
//!
//! A spec resolves to the same store types the service uses ([`MetadataStore`],
//! [`BlobStore`]), so a copy needs nothing per backend.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::blob::{BlobStore, FsBlobStore, S3BlobStore};
use crate::config::{MongoConfig, RawConfig, Secret, mask_uri};
use crate::store::{JsonStore, MetadataStore, MongoStore, mongo::schema};

/// The database named in a MongoDB URI's path, if any.
fn database_in_uri(uri: &str) -> Option<String> {
    mongodb::options::ConnectionString::parse(uri)
        .ok()
        .and_then(|parsed| parsed.default_database)
        .filter(|name| !name.is_empty())
}

/// The database a `mongodb:URI` spec without `#DATABASE` (nor one in the URI) names.
const DEFAULT_DATABASE: &str = "quillstore";

/// Which end of a copy a store is: a source must exist and is never changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Source,
    /// Created when missing; a MongoDB database gets its schema migrations.
    Destination,
    /// A dry run's destination: an empty directory is created when missing (so that it can be
    /// opened and locked), nothing else is written.
    Preview,
}

/// A metadata store named on the command line.
#[derive(Clone, PartialEq, Eq)]
pub enum MetadataSpec {
    Json(PathBuf),
    Mongodb {
        uri: Secret,
        database: String,
    },
    /// `mongodb`: whatever `MONGODB_URI` and `MONGODB_DATABASE` say.
    ConfiguredMongodb,
}

/// A blob store named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobSpec {
    /// A `DATA_DIR`; the blobs are in its `blobs/` directory, as the service keeps them.
    Fs(PathBuf),
    /// The bucket (and prefix) of the `S3_*` settings.
    ConfiguredS3,
}

impl MetadataSpec {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "mongodb" {
            return Ok(Self::ConfiguredMongodb);
        }
        match text.split_once(':') {
            Some(("json", dir)) if !dir.is_empty() => Ok(Self::Json(PathBuf::from(dir))),
            Some(("mongodb", rest)) if !rest.is_empty() => {
                let (uri, database) = match rest.rsplit_once('#') {
                    Some((uri, database)) => (uri, database.to_owned()),
                    // Like MONGODB_URI: a database in the URI's path is the one meant.
                    None => (
                        rest,
                        database_in_uri(rest).unwrap_or(DEFAULT_DATABASE.to_owned()),
                    ),
                };
                if !(uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://")) {
                    return Err("expected mongodb:mongodb://HOST[#DATABASE]".to_owned());
                }
                Ok(Self::Mongodb {
                    uri: Secret::new(uri),
                    database,
                })
            }
            _ => Err("expected json:DIR, mongodb:URI[#DATABASE] or mongodb".to_owned()),
        }
    }

    /// Opens the store. A json source must exist already; a MongoDB destination gets the
    /// pending schema migrations first (their names are returned).
    pub async fn open(
        &self,
        role: Role,
        config: &RawConfig,
    ) -> anyhow::Result<(MetadataStore, Vec<String>)> {
        match self {
            Self::Json(dir) => {
                if role == Role::Source {
                    require_dir(dir)?;
                }
                let store = JsonStore::open_reading_every_file(dir).await.with_context(|| {
                    format!("cannot open the json store in {} (a running quillstore on it must be stopped first)", dir.display())
                })?;
                Ok((MetadataStore::Json(store), Vec::new()))
            }
            Self::Mongodb { .. } | Self::ConfiguredMongodb => {
                let settings = self.mongo_settings(config)?;
                let store = MongoStore::connect(&settings).await?;
                let applied = match role {
                    Role::Destination => schema::apply(store.database())
                        .await
                        .with_context(|| format!("cannot prepare {self}"))?,
                    Role::Source | Role::Preview => Vec::new(),
                };
                Ok((MetadataStore::Mongo(store), applied))
            }
        }
    }

    /// Connection settings: the spec's URI and database with the configured pool size and
    /// timeout. Migrations are left to [`MetadataSpec::open`].
    fn mongo_settings(&self, config: &RawConfig) -> anyhow::Result<MongoConfig> {
        let mut raw = config.clone();
        if let Self::Mongodb { uri, database } = self {
            raw.mongodb_uri = Some(uri.expose().to_owned());
            raw.mongodb_database = Some(database.clone());
        }
        let settings = MongoConfig::from_raw(&raw)?;
        Ok(MongoConfig {
            auto_migrate: false,
            ..settings
        })
    }

    /// A key telling whether two specs name the same store.
    fn identity(&self, config: &RawConfig) -> String {
        match self {
            Self::Json(dir) => format!("dir:{}", canonical(dir).display()),
            _ => match self.mongo_settings(config) {
                Ok(settings) => format!("mongodb:{}#{}", settings.uri.expose(), settings.database),
                Err(_) => self.to_string(),
            },
        }
    }
}

impl fmt::Display for MetadataSpec {
    /// The spec with any password masked.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(dir) => write!(formatter, "json:{}", dir.display()),
            Self::Mongodb { uri, database } => {
                write!(formatter, "mongodb:{}#{database}", mask_uri(uri.expose()))
            }
            Self::ConfiguredMongodb => formatter.write_str("mongodb (MONGODB_URI)"),
        }
    }
}

impl fmt::Debug for MetadataSpec {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

impl BlobSpec {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some(("fs", dir)) if !dir.is_empty() => Ok(Self::Fs(PathBuf::from(dir))),
            _ if text == "s3" => Ok(Self::ConfiguredS3),
            _ => Err("expected fs:DIR or s3".to_owned()),
        }
    }

    pub async fn open(&self, role: Role, config: &RawConfig) -> anyhow::Result<BlobStore> {
        match self {
            Self::Fs(dir) => {
                let root = crate::layout::DataDir::new(dir).blobs();
                if role == Role::Source {
                    require_dir(dir)?;
                }
                let store = FsBlobStore::open(&root)
                    .await
                    .with_context(|| format!("cannot open the blob store {}", root.display()))?;
                Ok(BlobStore::Fs(store))
            }
            Self::ConfiguredS3 => {
                let settings = crate::config::S3Config::from_raw(config)?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "the s3 blob spec needs S3_MODE=external (with S3_BUCKET and the other \
                         S3_* settings)"
                    )
                })?;
                let store = S3BlobStore::open(&settings).await.with_context(|| {
                    format!("cannot open the blob store s3 (bucket {})", settings.bucket)
                })?;
                Ok(BlobStore::S3(store))
            }
        }
    }

    fn identity(&self) -> String {
        match self {
            Self::Fs(dir) => format!("dir:{}", canonical(dir).display()),
            Self::ConfiguredS3 => "s3".to_owned(),
        }
    }
}

impl fmt::Display for BlobSpec {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fs(dir) => write!(formatter, "fs:{}", dir.display()),
            Self::ConfiguredS3 => formatter.write_str("s3 (S3_BUCKET)"),
        }
    }
}

/// Refuses a copy whose two ends are one store.
pub fn check_distinct(
    metadata: Option<(&MetadataSpec, &MetadataSpec)>,
    blobs: Option<(&BlobSpec, &BlobSpec)>,
    config: &RawConfig,
) -> anyhow::Result<()> {
    if let Some((source, destination)) = metadata
        && source.identity(config) == destination.identity(config)
    {
        bail!("the metadata source and destination are the same store ({source})");
    }
    if let Some((source, destination)) = blobs
        && source.identity() == destination.identity()
    {
        bail!("the blob source and destination are the same store ({source})");
    }
    Ok(())
}

fn require_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!(
            "the source directory {} does not exist (a source is never created)",
            dir.display()
        );
    }
    Ok(())
}

fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_without_passwords() {
        let spec = MetadataSpec::parse("mongodb:mongodb://app:pw@db:27017/?tls=true#prod").unwrap();
        assert_eq!(
            spec.to_string(),
            "mongodb:mongodb://app:********@db:27017/?tls=true#prod"
        );
        assert_eq!(
            MetadataSpec::parse("mongodb:mongodb://db").unwrap(),
            MetadataSpec::Mongodb {
                uri: Secret::new("mongodb://db"),
                database: DEFAULT_DATABASE.to_owned()
            }
        );
        assert_eq!(
            MetadataSpec::parse("mongodb:mongodb://db/quilltap").unwrap(),
            MetadataSpec::Mongodb {
                uri: Secret::new("mongodb://db/quilltap"),
                database: "quilltap".to_owned()
            }
        );
        assert_eq!(
            MetadataSpec::parse("json:./data").unwrap(),
            MetadataSpec::Json(PathBuf::from("./data"))
        );
        assert_eq!(
            MetadataSpec::parse("mongodb").unwrap(),
            MetadataSpec::ConfiguredMongodb
        );
        for bad in ["json:", "json", "mongodb:http://x", "postgres:x", ""] {
            assert!(MetadataSpec::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            BlobSpec::parse("fs:/d").unwrap(),
            BlobSpec::Fs(PathBuf::from("/d"))
        );
        assert_eq!(BlobSpec::parse("s3").unwrap(), BlobSpec::ConfiguredS3);
        assert!(BlobSpec::parse("s3:bucket").is_err());
        assert!(BlobSpec::parse("fs:").is_err());
        assert!(BlobSpec::parse("ftp:x").is_err());
    }

    #[test]
    fn a_copy_onto_itself_is_refused() {
        let config = RawConfig::default();
        let here = MetadataSpec::parse("json:.").unwrap();
        let also_here = MetadataSpec::parse("json:./").unwrap();
        assert!(check_distinct(Some((&here, &also_here)), None, &config).is_err());
        let blobs = BlobSpec::parse("fs:.").unwrap();
        assert!(check_distinct(None, Some((&blobs, &blobs)), &config).is_err());
        let elsewhere = MetadataSpec::parse("json:./elsewhere").unwrap();
        assert!(check_distinct(Some((&here, &elsewhere)), None, &config).is_ok());
    }
}
