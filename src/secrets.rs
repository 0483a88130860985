//! Secrets at rest: the AES-256-GCM sealing of API keys lives with the domain types
//! (`model::secrets`); this module adds what runs over the stores, `quillstore secrets rotate`.

pub use crate::model::secrets::{
    KEY_BYTES, Keyring, Sealed, SecretError, decode_key, fingerprint, generate_key,
};

pub mod rotate;
