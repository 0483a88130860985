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
    /// The quota a write would pass (`bytes` or `files`; a 413 `quota_exceeded`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub quota: Option<String>,
    /// That quota's limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub limit: Option<u64>,
    /// What the user holds of it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub usage: Option<u64>,
    /// What the refused write asked for, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub requested: Option<u64>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            existing_id: None,
            quota: None,
            limit: None,
            usage: None,
            requested: None,
        }
    }

    /// The same problem, naming the document that already holds the value.
    pub fn with_existing_id(mut self, id: Uuid) -> Self {
        self.existing_id = Some(id);
        self
    }

    /// The same problem, stating the quota it passes: its limit, the usage and the request.
    pub fn with_quota(
        mut self,
        quota: &str,
        limit: u64,
        usage: u64,
        requested: Option<u64>,
    ) -> Self {
        self.quota = Some(quota.to_owned());
        self.limit = Some(limit);
        self.usage = Some(usage);
        self.requested = requested;
        self
    }
}
