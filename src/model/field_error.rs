//! One problem with one field of a request: what validation in `model` reports and what the
//! API lists in `details` of every error envelope. It lives here, below the error envelope, so
//! the domain types need nothing from the HTTP side.

use serde::Serialize;
use uuid::Uuid;

/// One problem with one field of a request, one entry of `details` in the error envelope
/// (`details` is always an array of these, empty when the error names no field).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[schema(value_type = String, format = Uuid, required = false)]
    /// The document that already holds a unique value (a 409 on a taken tag name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<Uuid>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            existing_id: None,
        }
    }

    /// The same problem, naming the document that already holds the value.
    pub fn with_existing_id(mut self, id: Uuid) -> Self {
        self.existing_id = Some(id);
        self
    }
}
