//! Where metadata lives: `DATA_DIR` (the embedded stores' directory), `DATA_BACKEND` (json,
//! mongodb or dual, with `DUAL_PRIMARY`) and, when MongoDB is used, its settings
//! ([`MongoConfig`]).

use std::path::PathBuf;

use super::{Config, MongoConfig, RawConfig};

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

impl DataBackend {
    fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
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
            "json" => Self::Json,
            "mongodb" => Self::Mongodb,
            "dual" => Self::Dual { primary },
            other => {
                check(Err(format!(
                    "DATA_BACKEND={other}: expected json, mongodb or dual"
                )));
                Self::Json
            }
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Mongodb => "mongodb",
            Self::Dual {
                primary: Primary::Json,
            } => "dual (reads from json)",
            Self::Dual {
                primary: Primary::Mongodb,
            } => "dual (reads from mongodb)",
        }
    }
}

/// The metadata settings, spread by [`Config::from_raw`] into flat fields of [`Config`].
pub(super) struct DataSettings {
    pub(super) data_dir: PathBuf,
    pub(super) backend: DataBackend,
    /// Parsed, and so checked, only when the backend uses MongoDB.
    pub(super) mongodb: Option<MongoConfig>,
}

impl DataSettings {
    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
        let backend = DataBackend::parse(raw, check);
        let mongodb = match backend {
            DataBackend::Json => None,
            _ => Some(MongoConfig::parse(raw, check)),
        };
        Self {
            data_dir: raw
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("./data")),
            backend,
            mongodb,
        }
    }
}

impl Config {
    /// The `DATA_DIR`, `DATA_BACKEND` and `MONGODB_*` lines of `check-config`.
    pub(super) fn describe_data(&self, lines: &mut Vec<(&'static str, String)>) {
        lines.push(("DATA_DIR", self.data_dir.display().to_string()));
        lines.push(("DATA_BACKEND", self.data_backend.label().to_owned()));
        if let Some(mongo) = &self.mongodb {
            mongo.describe(lines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::values::parse_with_problems;
    use super::*;

    #[test]
    fn json_is_the_default_and_needs_no_mongodb() {
        let (data, problems) =
            parse_with_problems(|check| DataSettings::parse(&RawConfig::default(), check));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(data.backend, DataBackend::Json);
        assert_eq!(data.data_dir, PathBuf::from("./data"));
        assert!(data.mongodb.is_none());
    }

    #[test]
    fn backend_and_dual_primary_are_named_when_invalid() {
        let raw = RawConfig {
            data_backend: Some("dual".into()),
            dual_primary: Some("json".into()),
            mongodb_uri: Some("mongodb://db:27017".into()),
            ..RawConfig::default()
        };
        let (data, problems) = parse_with_problems(|check| DataSettings::parse(&raw, check));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            data.backend,
            DataBackend::Dual {
                primary: Primary::Json
            }
        );
        assert!(data.mongodb.is_some());
        let raw = RawConfig {
            data_backend: Some("sqlite".into()),
            dual_primary: Some("both".into()),
            ..RawConfig::default()
        };
        let (_, problems) = parse_with_problems(|check| DataSettings::parse(&raw, check));
        assert_eq!(
            problems,
            [
                "DUAL_PRIMARY=both: expected mongodb or json",
                "DATA_BACKEND=sqlite: expected json, mongodb or dual",
            ]
        );
    }
}
