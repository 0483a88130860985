//! Character cards and lorebooks as other apps exchange them, as pure functions that unit
//! tests reach without a server:
//!
//! - `card`: card JSON (CCv1, V2, V3) ⇄ a character body, its tag names and its lorebook;
//! - `book`: a card's `character_book` and SillyTavern world-info files ⇄ a lorebook body;
//! - `png`: the card text chunks of a PNG (read, strip, insert; the image is never re-encoded);
//! - `png_splice`: the same insertion over a stream, for exports that never hold the image;
//! - `charx`: CharX archives (a zip with `card.json` and assets), bounded;
//! - `fields`: the field tables both directions share.
//!
//! Every key of an imported object that no field holds is kept verbatim and comes back on
//! export. Nothing here fetches a remote URI: `http(s)://` assets stay references.

pub mod book;
pub mod card;
pub mod charx;
pub mod fields;
pub mod png;
pub mod png_splice;

#[cfg(test)]
mod tests;

use crate::error::{ApiError, FieldError};

/// Why an import cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// Not a format we read (415).
    #[error("{0}")]
    UnknownFormat(String),
    /// A format we read, with contents that break its rules (422).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Inflates or unpacks past a limit (413).
    #[error("{0}")]
    TooLarge(String),
}

impl CardError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<CardError> for ApiError {
    fn from(error: CardError) -> Self {
        match error {
            CardError::UnknownFormat(message) => ApiError::UnsupportedMediaType(message),
            CardError::Invalid { field, message } => {
                ApiError::Validation(vec![FieldError::new(field, message)])
            }
            CardError::TooLarge(message) => ApiError::PayloadTooLarge(message),
        }
    }
}

/// Parses JSON that must be an object.
pub fn json_object(
    bytes: &[u8],
    what: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, CardError> {
    match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err(CardError::invalid(what, "must be a JSON object")),
        Err(error) => Err(CardError::invalid(what, format!("malformed JSON: {error}"))),
    }
}
