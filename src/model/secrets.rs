//! Secrets stored for users (API keys), encrypted at rest with AES-256-GCM.
//!
//! Every write draws a fresh 96-bit nonce; the associated data names the record's user and id,
//! so a ciphertext copied into another record (or another user's) fails authentication instead
//! of decrypting there. A sealed value records which master key sealed it (`keyVersion`, a
//! fingerprint of the key, not the key): the current `ENCRYPTION_MASTER_KEY` seals, and it or
//! one of `ENCRYPTION_PREVIOUS_KEYS` opens, so keys can rotate (`quillstore secrets rotate`).
//! Plaintext never appears in an error, a log line or a `Debug` output.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::UserId;

/// Bytes of a master key.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The value was sealed with a key that is neither the master key nor a previous one.
    #[error(
        "sealed with key {0}, which is neither ENCRYPTION_MASTER_KEY nor one of \
         ENCRYPTION_PREVIOUS_KEYS"
    )]
    UnknownKey(String),
    /// The key is known but authentication failed: tampered, or moved from another record.
    #[error("does not decrypt with key {0}: the value was altered or belongs to another record")]
    Undecryptable(String),
    #[error("the stored secret is malformed: {0}")]
    Malformed(&'static str),
    #[error("no randomness for a nonce")]
    Randomness,
}

/// One master key and its fingerprint.
#[derive(Clone)]
struct MasterKey {
    version: String,
    cipher: Aes256Gcm,
}

impl MasterKey {
    fn new(bytes: &[u8; KEY_BYTES]) -> Self {
        Self {
            version: fingerprint(bytes),
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }
}

/// The first 8 bytes of the key's SHA-256, in hex: names a key without revealing it.
pub fn fingerprint(key: &[u8]) -> String {
    let digest = Sha256::digest([b"quillstore-key-id:".as_slice(), key].concat());
    hex::encode(&digest[..8])
}

/// Decodes a master key: 32 bytes in base64, or as the 64 hex digits of a key file the
/// service generated into `DATA_DIR` (so a store moving to MongoDB can keep its key).
/// `None` for anything else.
pub fn decode_key(text: &str) -> Option<[u8; KEY_BYTES]> {
    let text = text.trim();
    let bytes = if text.len() == 2 * KEY_BYTES {
        hex::decode(text).ok()?
    } else {
        STANDARD.decode(text).ok()?
    };
    bytes.try_into().ok()
}

/// A new random master key, base64-encoded (what `ENCRYPTION_MASTER_KEY` holds).
pub fn generate_key() -> anyhow::Result<String> {
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    Ok(STANDARD.encode(bytes))
}

/// The stored form of a secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sealed {
    /// Base64 ciphertext with its 16-byte tag.
    pub ciphertext: String,
    /// Base64 96-bit nonce.
    pub nonce: String,
    /// Fingerprint of the master key that sealed it.
    pub key_version: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Sealed(key {})", self.key_version)
    }
}

/// The master keys: the current one seals, any of them opens.
#[derive(Clone)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "Keyring(current {}, {} previous)",
            self.current.version,
            self.previous.len()
        )
    }
}

impl Keyring {
    pub fn new(current: &[u8; KEY_BYTES], previous: &[[u8; KEY_BYTES]]) -> Self {
        Self {
            current: MasterKey::new(current),
            previous: previous.iter().map(MasterKey::new).collect(),
        }
    }

    /// The fingerprint of the key new values are sealed with.
    pub fn current_version(&self) -> &str {
        &self.current.version
    }

    fn key(&self, version: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.version == version)
    }

    /// Encrypts `plaintext` for the record `id` of `user` under the current key.
    pub fn seal(&self, plaintext: &str, user: &UserId, id: Uuid) -> Result<Sealed, SecretError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|_| SecretError::Randomness)?;
        let aad = associated_data(user, id);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Malformed("encryption failed"))?;
        Ok(Sealed {
            ciphertext: STANDARD.encode(ciphertext),
            nonce: STANDARD.encode(nonce),
            key_version: self.current.version.clone(),
        })
    }

    /// Decrypts a value sealed for the record `id` of `user`.
    pub fn open(&self, sealed: &Sealed, user: &UserId, id: Uuid) -> Result<String, SecretError> {
        let key = self
            .key(&sealed.key_version)
            .ok_or_else(|| SecretError::UnknownKey(sealed.key_version.clone()))?;
        let nonce: [u8; NONCE_BYTES] = STANDARD
            .decode(&sealed.nonce)
            .ok()
            .and_then(|nonce| nonce.try_into().ok())
            .ok_or(SecretError::Malformed("nonce"))?;
        let ciphertext = STANDARD
            .decode(&sealed.ciphertext)
            .map_err(|_| SecretError::Malformed("ciphertext"))?;
        let aad = associated_data(user, id);
        let plaintext = key
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Undecryptable(key.version.clone()))?;
        String::from_utf8(plaintext).map_err(|_| SecretError::Malformed("plaintext is not UTF-8"))
    }

    /// Whether a value is sealed with a key other than the current one.
    pub fn needs_rotation(&self, sealed: &Sealed) -> bool {
        sealed.key_version != self.current.version
    }
}

/// What binds a ciphertext to its record: the user and the record id.
fn associated_data(user: &UserId, id: Uuid) -> Vec<u8> {
    format!("quillstore:api-key:{}:{id}", user.as_str()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_own_record_and_user() {
        let keyring = Keyring::new(&[7; KEY_BYTES], &[]);
        let id = Uuid::now_v7();
        let sealed = keyring.seal("sk-secret-1234", &user("alice"), id).unwrap();
        assert!(!sealed.ciphertext.contains("secret"));
        assert_eq!(
            keyring.open(&sealed, &user("alice"), id).unwrap(),
            "sk-secret-1234"
        );
        let moved = keyring.open(&sealed, &user("alice"), Uuid::now_v7());
        assert!(matches!(moved, Err(SecretError::Undecryptable(_))));
        let stolen = keyring.open(&sealed, &user("bob"), id);
        assert!(matches!(stolen, Err(SecretError::Undecryptable(_))));
    }

    #[test]
    fn every_seal_draws_a_fresh_nonce() {
        let keyring = Keyring::new(&[7; KEY_BYTES], &[]);
        let id = Uuid::now_v7();
        let first = keyring.seal("same", &user("alice"), id).unwrap();
        let second = keyring.seal("same", &user("alice"), id).unwrap();
        assert_ne!(first.nonce, second.nonce);
        assert_ne!(first.ciphertext, second.ciphertext);
    }

    #[test]
    fn previous_keys_open_and_unknown_keys_are_named_errors() {
        let old = Keyring::new(&[1; KEY_BYTES], &[]);
        let id = Uuid::now_v7();
        let sealed = old.seal("sk-old", &user("alice"), id).unwrap();
        let rotated = Keyring::new(&[2; KEY_BYTES], &[[1; KEY_BYTES]]);
        assert!(rotated.needs_rotation(&sealed));
        assert_eq!(rotated.open(&sealed, &user("alice"), id).unwrap(), "sk-old");
        let forgotten = Keyring::new(&[2; KEY_BYTES], &[]);
        let error = forgotten.open(&sealed, &user("alice"), id).unwrap_err();
        assert!(matches!(error, SecretError::UnknownKey(_)));
        assert!(!error.to_string().contains("sk-old"));
    }
}
