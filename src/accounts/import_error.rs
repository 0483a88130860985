//! Why an account import was refused or failed, and the status each reason gets.

use uuid::Uuid;

use super::verify::Invalid;
use crate::blob::BlobError;
use crate::error::{ApiError, FieldError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the archive is refused: {0}")]
    Invalid(#[from] Invalid),
    #[error("the archive is larger than {0} bytes (MAX_ACCOUNT_IMPORT_BYTES)")]
    TooLarge(u64),
    #[error("this account already imported archive {0}")]
    AlreadyImported(Uuid),
    #[error(
        "the archive has tags this account already has (names are unique): {0}; rename or delete them first"
    )]
    TagClash(String),
    #[error("cannot read the request body: {0}")]
    Body(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Quota(#[from] super::quota::QuotaError),
    #[error("spooling the archive failed: {0}")]
    Spool(#[from] std::io::Error),
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Invalid(invalid) => {
                ApiError::Validation(vec![FieldError::new("archive", invalid.0)])
            }
            ImportError::TooLarge(_) => ApiError::PayloadTooLarge(error.to_string()),
            ImportError::AlreadyImported(_) | ImportError::TagClash(_) => ApiError::Conflict {
                message: error.to_string(),
                details: Vec::new(),
            },
            ImportError::Body(message) => ApiError::bad_request(message),
            ImportError::Store(error) => error.into(),
            ImportError::Blob(error) => error.into(),
            ImportError::Quota(error) => error.into(),
            ImportError::Spool(error) => ApiError::Internal(error.into()),
        }
    }
}
