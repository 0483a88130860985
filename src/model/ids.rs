//! Identifiers: document ids (UUIDv7) and user ids (validated before they reach a path, a key
//! or a query).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// A new document id: UUIDv7, so ids sort roughly by creation time.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// Parses a document id from a path segment or a reference field.
pub fn parse_id(text: &str) -> Option<Uuid> {
    Uuid::try_parse(text).ok()
}

/// The id of the user a request acts for. Only ids that are safe inside file paths, object
/// keys and queries can be constructed: 1–128 characters of `A-Z a-z 0-9 . _ - @ | :`, not
/// starting with `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(text: &str) -> Result<Self, InvalidUserId> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._-@|:".contains(c);
        if text.is_empty()
            || text.len() > Self::MAX_LEN
            || text.starts_with('.')
            || !text.chars().all(allowed)
        {
            return Err(InvalidUserId);
        }
        Ok(Self(text.to_owned()))
    }

    /// The single user of `AUTH_MODE=none`.
    pub fn local() -> Self {
        Self("local".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl utoipa::PartialSchema for UserId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .min_length(Some(1))
            .max_length(Some(Self::MAX_LEN))
            .pattern(Some("^[A-Za-z0-9_@|:-][A-Za-z0-9._@|:-]*$"))
            .description(Some("the user the document belongs to (the token's `sub`)"))
            .into()
    }
}

impl utoipa::ToSchema for UserId {}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("user ids are 1-128 characters of A-Z a-z 0-9 . _ - @ | : and do not start with '.'")]
pub struct InvalidUserId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_that_could_escape_a_path_are_rejected() {
        for bad in [
            "",
            "..",
            "../etc",
            "a/b",
            "a\\b",
            ".hidden",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        for good in ["local", "auth0|abc123", "user@example.com", "a-b_c.d:e"] {
            assert_eq!(UserId::parse(good).unwrap().as_str(), good);
        }
    }
}
