//! Schema migrations for MongoDB: the versioned files of `migrations/` (built into the binary),
//! applied in order and recorded in `_migrations` with a SHA-256 checksum. Running them again
//! changes nothing; a file that changed after it was applied is an error.

use anyhow::{Context, bail};
use futures_util::TryStreamExt;
use mongodb::bson::{self, Document as BsonDocument, doc};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Every migration file, in order. New files are appended here.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial.json",
        include_str!("../../../migrations/0001_initial.json"),
    ),
    (
        "0002_data_model.json",
        include_str!("../../../migrations/0002_data_model.json"),
    ),
    (
        "0003_lorebooks.json",
        include_str!("../../../migrations/0003_lorebooks.json"),
    ),
];

const RECORDS: &str = "_migrations";
/// The server's code for "collection already exists".
const NAMESPACE_EXISTS: i32 = 48;

#[derive(Debug, Deserialize)]
struct Migration {
    #[allow(dead_code)]
    description: String,
    collections: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct CollectionSpec {
    #[serde(default)]
    indexes: Vec<IndexSpec>,
    validator: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct IndexSpec {
    name: String,
    keys: serde_json::Map<String, Value>,
    #[serde(default)]
    unique: bool,
}

/// A migration as found in the binary: its name, its content and its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub name: String,
    pub content: String,
    pub checksum: String,
}

pub fn checksum(content: &str) -> String {
    Sha256::digest(content.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub fn files() -> Vec<MigrationFile> {
    MIGRATIONS
        .iter()
        .map(|(name, content)| MigrationFile {
            name: (*name).to_owned(),
            content: (*content).to_owned(),
            checksum: checksum(content),
        })
        .collect()
}

/// Which migrations still need to run, given what `_migrations` records as applied
/// (name → checksum). Fails when an applied file changed or is no longer known.
pub fn pending<'a>(
    files: &'a [MigrationFile],
    applied: &[(String, String)],
) -> anyhow::Result<Vec<&'a MigrationFile>> {
    for (name, recorded) in applied {
        match files.iter().find(|file| &file.name == name) {
            Some(file) if &file.checksum != recorded => bail!(
                "migration {name} changed after it was applied (checksum {recorded} recorded, \
                 {} now); add a new migration file instead of editing an applied one",
                file.checksum
            ),
            Some(_) => {}
            None => bail!("the database records migration {name}, which this build does not know"),
        }
    }
    Ok(files
        .iter()
        .filter(|file| !applied.iter().any(|(name, _)| name == &file.name))
        .collect())
}

/// Applies every pending migration; returns the names applied.
pub async fn apply(database: &Database) -> anyhow::Result<Vec<String>> {
    let records = database.collection::<BsonDocument>(RECORDS);
    let mut cursor = records
        .find(doc! {})
        .await
        .context("cannot read _migrations")?;
    let mut applied = Vec::new();
    while let Some(record) = cursor.try_next().await? {
        let name = record.get_str("_id").unwrap_or_default().to_owned();
        let recorded = record.get_str("checksum").unwrap_or_default().to_owned();
        applied.push((name, recorded));
    }
    let files = files();
    let mut done = Vec::new();
    for file in pending(&files, &applied)? {
        run(database, file)
            .await
            .with_context(|| format!("migration {} failed", file.name))?;
        let record = doc! { "_id": &file.name, "checksum": &file.checksum, "appliedAt": bson::DateTime::now() };
        records.insert_one(record).await?;
        tracing::info!(migration = %file.name, "applied a schema migration");
        done.push(file.name.clone());
    }
    Ok(done)
}

/// An index's key document: directions as 32-bit integers (what the shell and the drivers
/// send), special index types (`"text"`, `"2dsphere"`) as strings.
fn index_keys(keys: &serde_json::Map<String, Value>) -> anyhow::Result<BsonDocument> {
    keys.iter()
        .map(|(field, direction)| {
            let direction = match direction {
                Value::Number(number) => number
                    .as_i64()
                    .and_then(|value| i32::try_from(value).ok())
                    .map(bson::Bson::Int32),
                Value::String(kind) => Some(bson::Bson::String(kind.clone())),
                _ => None,
            };
            direction
                .map(|direction| (field.clone(), direction))
                .with_context(|| format!("index key {field}: expected 1, -1 or an index type"))
        })
        .collect()
}

async fn run(database: &Database, file: &MigrationFile) -> anyhow::Result<()> {
    let migration: Migration =
        serde_json::from_str(&file.content).context("not a migration file")?;
    for (name, spec) in migration.collections {
        let spec: CollectionSpec =
            serde_json::from_value(spec).with_context(|| format!("collection {name}"))?;
        if let Err(error) = database.create_collection(&name).await
            && super::errors::code_of(&error) != Some(NAMESPACE_EXISTS)
        {
            return Err(error.into());
        }
        if let Some(validator) = &spec.validator {
            let validator: BsonDocument = bson::to_document(validator)?;
            database
                .run_command(doc! { "collMod": &name, "validator": validator, "validationLevel": "moderate" })
                .await?;
        }
        let indexes: Vec<IndexModel> = spec
            .indexes
            .iter()
            .map(|index| {
                let keys = index_keys(&index.keys)?;
                let options = IndexOptions::builder()
                    .name(index.name.clone())
                    .unique(index.unique)
                    .build();
                Ok(IndexModel::builder().keys(keys).options(options).build())
            })
            .collect::<anyhow::Result<_>>()?;
        if !indexes.is_empty() {
            database
                .collection::<BsonDocument>(&name)
                .create_indexes(indexes)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_parses() {
        for file in files() {
            let migration: Migration = serde_json::from_str(&file.content).expect(&file.name);
            for (name, spec) in migration.collections {
                let spec: CollectionSpec = serde_json::from_value(spec).expect(&name);
                assert!(
                    spec.indexes.iter().all(|index| !index.keys.is_empty()),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn applied_files_are_skipped_and_changed_ones_refused() {
        let files = files();
        let all = pending(&files, &[]).unwrap();
        assert_eq!(all.len(), files.len());
        let applied = vec![(files[0].name.clone(), files[0].checksum.clone())];
        assert!(
            pending(&files, &applied)
                .unwrap()
                .iter()
                .all(|file| file.name != files[0].name)
        );
        let tampered = vec![(files[0].name.clone(), checksum("something else"))];
        let error = pending(&files, &tampered).unwrap_err().to_string();
        assert!(error.contains("changed after it was applied"), "{error}");
        let unknown = vec![("9999_future.json".to_owned(), checksum("x"))];
        assert!(pending(&files, &unknown).is_err());
    }

    #[test]
    fn the_initial_migration_declares_the_unique_indexes() {
        let initial: Value = serde_json::from_str(MIGRATIONS[0].1).unwrap();
        let unique = |collection: &str, name: &str| {
            initial["collections"][collection]["indexes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|index| index["name"] == name && index["unique"] == true)
        };
        assert!(unique("characters", "user_id"));
        assert!(unique("tags", "user_name_lower"));
        assert!(unique("messages", "chat_position"));
    }
}
