//! Encryption of stored secrets (API keys): the master key `ENCRYPTION_MASTER_KEY` (32 random
//! bytes, base64), earlier keys still accepted for decryption `ENCRYPTION_PREVIOUS_KEYS`
//! (comma-separated), and who may read a secret back: a JWT carrying the scope
//! `SECRETS_REVEAL_SCOPE`, or anyone under `AUTH_MODE=none` only when
//! `SECRETS_REVEAL_WITHOUT_AUTH=true`.
//!
//! With the embedded default, an unset master key is generated once into `DATA_DIR`
//! (`crate::generated`); with `DATA_BACKEND=mongodb` instances share no directory, so the
//! key is required.

use super::backend::DataBackend;
use super::values::parse_bool;
use super::{RawConfig, Secret};
use crate::model::secrets::{KEY_BYTES, decode_key, fingerprint};

/// The scope a token needs for `POST /api/api-keys/{id}/reveal` unless configured otherwise.
pub const DEFAULT_REVEAL_SCOPE: &str = "secrets:reveal";

#[derive(Debug, Clone)]
pub struct EncryptionConfig {
    /// Base64 of the 32-byte master key; `None`: generated into `DATA_DIR`.
    pub master_key: Option<Secret>,
    /// Base64 of older master keys, still accepted for decryption.
    pub previous_keys: Vec<Secret>,
    pub reveal_scope: String,
    /// Whether `AUTH_MODE=none` may reveal secrets (off by default).
    pub reveal_without_auth: bool,
}

impl EncryptionConfig {
    pub(super) fn parse(
        raw: &RawConfig,
        backend: &DataBackend,
        check: &mut impl FnMut(Result<(), String>),
    ) -> Self {
        let master_key = match raw.encryption_master_key.as_deref().map(str::trim) {
            None | Some("") => {
                if matches!(backend, DataBackend::Mongodb) {
                    check(Err(format!(
                        "ENCRYPTION_MASTER_KEY is required with DATA_BACKEND=mongodb: {KEY_BYTES} \
                         random bytes, base64 (e.g. `openssl rand -base64 32`), the same on every \
                         instance"
                    )));
                }
                None
            }
            Some(text) => {
                if decode_key(text).is_none() {
                    check(Err(format!(
                        "ENCRYPTION_MASTER_KEY must be {KEY_BYTES} bytes in base64"
                    )));
                }
                Some(Secret::new(text))
            }
        };
        let previous_keys = raw
            .encryption_previous_keys
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .enumerate()
            .filter_map(|(index, text)| {
                if decode_key(text).is_none() {
                    check(Err(format!(
                        "ENCRYPTION_PREVIOUS_KEYS entry {} must be {KEY_BYTES} bytes in base64",
                        index + 1
                    )));
                    return None;
                }
                Some(Secret::new(text))
            })
            .collect();
        let reveal_scope = match raw.secrets_reveal_scope.as_deref().map(str::trim) {
            None => DEFAULT_REVEAL_SCOPE.to_owned(),
            Some(scope) if scope.is_empty() || scope.contains(char::is_whitespace) => {
                check(Err(
                    "SECRETS_REVEAL_SCOPE must be one scope name without spaces".to_owned(),
                ));
                DEFAULT_REVEAL_SCOPE.to_owned()
            }
            Some(scope) => scope.to_owned(),
        };
        let reveal_without_auth = match raw.secrets_reveal_without_auth.as_deref() {
            None => false,
            Some(text) => parse_bool(text).unwrap_or_else(|| {
                check(Err(format!(
                    "SECRETS_REVEAL_WITHOUT_AUTH={text}: expected true or false"
                )));
                false
            }),
        };
        Self {
            master_key,
            previous_keys,
            reveal_scope,
            reveal_without_auth,
        }
    }

    /// The lines `check-config` prints: keys by fingerprint only.
    pub(super) fn describe(&self, lines: &mut Vec<(&'static str, String)>) {
        let named = |secret: &Secret| {
            decode_key(secret.expose()).map_or_else(String::new, |key| {
                format!("******** (key {})", fingerprint(&key))
            })
        };
        let master = self.master_key.as_ref().map_or_else(
            || {
                "(unset: a key generated once into DATA_DIR/secrets/encryption-master.key)"
                    .to_owned()
            },
            named,
        );
        lines.push(("ENCRYPTION_MASTER_KEY", master));
        let previous: Vec<String> = self.previous_keys.iter().map(named).collect();
        lines.push(("ENCRYPTION_PREVIOUS_KEYS", previous.join(", ")));
        lines.push(("SECRETS_REVEAL_SCOPE", self.reveal_scope.clone()));
        lines.push((
            "SECRETS_REVEAL_WITHOUT_AUTH",
            self.reveal_without_auth.to_string(),
        ));
    }
}
