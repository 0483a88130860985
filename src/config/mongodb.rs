//! MongoDB settings (`MONGODB_*`): checked when `DATA_BACKEND` is mongodb or dual, and on
//! their own for maintenance commands through [`MongoConfig::from_raw`].

use std::time::Duration;

use super::values::{mask_uri, parse_or};
use super::{ConfigErrors, RawConfig, Secret};

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

impl MongoConfig {
    /// The MongoDB settings of `raw` whatever `DATA_BACKEND` says (maintenance commands such
    /// as `quillstore migrate schema`).
    pub fn from_raw(raw: &RawConfig) -> Result<Self, ConfigErrors> {
        let mut problems = Vec::new();
        let settings = Self::parse(raw, &mut |result: Result<(), String>| {
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

    pub(super) fn parse(raw: &RawConfig, check: &mut impl FnMut(Result<(), String>)) -> Self {
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
        let database = choose_database(raw.mongodb_database.clone(), &uri, check);
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
        // Stricter than `parse_bool` (no `on`/`off`, case-sensitive): kept as it always was.
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
        Self {
            uri: Secret::new(uri),
            database,
            max_pool_size,
            timeout: Duration::from_millis(timeout_ms),
            auto_migrate,
        }
    }

    /// The `MONGODB_*` lines of `check-config`, the password masked.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        lines.push(("MONGODB_URI", mask_uri(self.uri.expose())));
        lines.push(("MONGODB_DATABASE", self.database.clone()));
        lines.push(("MONGODB_MAX_POOL_SIZE", self.max_pool_size.to_string()));
        lines.push((
            "MONGODB_CONNECTION_TIMEOUT_MS",
            self.timeout.as_millis().to_string(),
        ));
        lines.push(("MONGODB_AUTO_MIGRATE", self.auto_migrate.to_string()));
    }
}

/// The database: `MONGODB_DATABASE`, else the one named in `MONGODB_URI`'s path (the seeds'
/// `mongodb://host/quilltap` form), else `quillstore`. Both set and different is a problem:
/// one of them would be silently ignored and the data would look missing.
fn choose_database(
    configured: Option<String>,
    uri: &str,
    check: &mut impl FnMut(Result<(), String>),
) -> String {
    let in_uri = mongodb::options::ConnectionString::parse(uri)
        .ok()
        .and_then(|parsed| parsed.default_database)
        .filter(|name| !name.is_empty());
    match (configured, in_uri) {
        (Some(configured), Some(in_uri)) if configured != in_uri => {
            check(Err(format!(
                "MONGODB_DATABASE={configured} and the database in MONGODB_URI ({in_uri}) \
                 differ: set only one of them, or the same name in both"
            )));
            configured
        }
        (Some(configured), _) => configured,
        (None, Some(in_uri)) => in_uri,
        (None, None) => "quillstore".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, DataBackend, Primary};
    use super::*;

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
    fn on_its_own_a_missing_uri_does_not_mention_data_backend() {
        let errors = MongoConfig::from_raw(&RawConfig {
            mongodb_database: Some("a.b".into()),
            mongodb_auto_migrate: Some("on".into()),
            ..RawConfig::default()
        })
        .unwrap_err();
        assert_eq!(
            errors.0,
            [
                "MONGODB_URI is required",
                "MONGODB_DATABASE=a.b: not a valid MongoDB database name",
                "MONGODB_AUTO_MIGRATE=on: expected true or false",
            ]
        );
        let settings = MongoConfig::from_raw(&RawConfig {
            mongodb_uri: Some("mongodb://db:27017".into()),
            mongodb_auto_migrate: Some("no".into()),
            ..RawConfig::default()
        })
        .unwrap();
        assert_eq!(settings.database, "quillstore");
        assert_eq!(settings.max_pool_size, 20);
        assert!(!settings.auto_migrate);
    }

    fn database_of(uri: &str, configured: Option<&str>) -> (String, Vec<String>) {
        let mut problems = Vec::new();
        let database = choose_database(configured.map(str::to_owned), uri, &mut |result| {
            if let Err(problem) = result {
                problems.push(problem);
            }
        });
        (database, problems)
    }

    #[test]
    fn the_database_in_the_uri_is_used_when_mongodb_database_is_unset() {
        let (database, problems) = database_of("mongodb://mongo:27017/quilltap", None);
        assert_eq!(database, "quilltap");
        assert!(problems.is_empty());
        let (database, _) = database_of("mongodb://mongo:27017/?authSource=admin", None);
        assert_eq!(database, "quillstore");
        let (database, problems) = database_of("mongodb://mongo:27017/quilltap", Some("quilltap"));
        assert_eq!(database, "quilltap");
        assert!(problems.is_empty());
    }

    #[test]
    fn two_different_databases_are_a_problem_naming_both() {
        let (_, problems) = database_of("mongodb://mongo:27017/quilltap", Some("quillstore"));
        assert_eq!(
            problems,
            [
                "MONGODB_DATABASE=quillstore and the database in MONGODB_URI (quilltap) differ: \
              set only one of them, or the same name in both"
            ]
        );
    }
}
