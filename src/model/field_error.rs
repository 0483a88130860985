//! One problem with one field of a request: what validation in `model` reports and what the
//! API lists in `details` of a 400 or 422. It lives here, below the error envelope, so the
//! domain types need nothing from the HTTP side.

use serde::Serialize;

/// One problem with one field of a request, listed in `details` of a 400 or 422.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
