//! API keys: a provider credential the app's backend uses on the user's behalf. The `key`
//! itself is write-only: accepted on create and on change, stored only sealed
//! (`model::secrets`), never returned; responses show its last four characters (`hint`).
//! The plaintext leaves only through `POST /api/api-keys/{id}/reveal`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::common::Checks;
use super::secrets::{Keyring, Sealed, SecretError};
use super::{Collection, Removal, Resource, Timestamp, UserId};

/// The longest key accepted, in bytes.
const MAX_KEY_BYTES: usize = 8192;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({"label": "Primary OpenAI", "provider": "OPENAI", "key": "sk-..."})))]
pub struct ApiKey {
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 200, pattern = r"\S")]
    pub label: String,
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 100)]
    pub provider: String,
    /// The secret: required on create, accepted on change, never returned.
    #[serde(default, skip_serializing)]
    #[schema(write_only, max_length = 8192)]
    pub key: Option<String>,
    /// The key's last four characters.
    #[serde(default)]
    #[schema(read_only, required = true)]
    pub hint: String,
    /// Fingerprint of the master key the secret is sealed with.
    #[serde(default)]
    #[schema(read_only, required = true)]
    pub key_version: String,
    /// Set by each reveal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only, value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
    /// The sealed key (stored, never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub secret: Option<Sealed>,
}

impl ApiKey {
    /// The last four characters of a key (all of a shorter one is never shown: `…` then).
    fn hint_of(key: &str) -> String {
        let characters: Vec<char> = key.chars().collect();
        if characters.len() < 8 {
            return "…".to_owned();
        }
        characters[characters.len() - 4..].iter().collect()
    }
}

impl Resource for ApiKey {
    const COLLECTION: Collection = Collection::ApiKeys;
    const FIELDS: &'static [&'static str] = &["label", "provider", "key"];
    const SERVER_FIELDS: &'static [&'static str] = &["hint", "keyVersion", "lastUsedAt", "secret"];
    const HIDDEN_FIELDS: &'static [&'static str] = &["secret"];

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = Checks::default();
        checks.name("label", &mut self.label, 200);
        checks.name("provider", &mut self.provider, 100);
        match &self.key {
            None if self.secret.is_none() => checks.fail("key", "is required"),
            None => {}
            Some(key) if key.trim().is_empty() => checks.fail("key", "must not be empty"),
            Some(key) if key.len() > MAX_KEY_BYTES => {
                checks.fail("key", format!("must be at most {MAX_KEY_BYTES} bytes"))
            }
            Some(_) => {}
        }
        checks.0
    }

    fn removals_on_delete(id: Uuid) -> Vec<(Collection, Removal)> {
        [
            Collection::ConnectionProfiles,
            Collection::ImageProfiles,
            Collection::EmbeddingProfiles,
        ]
        .into_iter()
        .map(|collection| {
            (
                collection,
                Removal::Scalar {
                    field: "apiKeyId",
                    id,
                },
            )
        })
        .collect()
    }

    /// A new `key` replaces the sealed secret: sealed under the current master key, bound to
    /// this record and user; the plaintext is dropped here.
    fn seal(&mut self, keyring: &Keyring, user: &UserId, id: Uuid) -> Result<(), SecretError> {
        if let Some(key) = self.key.take() {
            let sealed = keyring.seal(&key, user, id)?;
            self.hint = Self::hint_of(&key);
            self.key_version = sealed.key_version.clone();
            self.secret = Some(sealed);
        }
        Ok(())
    }
}
