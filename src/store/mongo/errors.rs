//! MongoDB driver errors translated into store errors: duplicate keys are conflicts, an
//! unreachable or slow server is "unavailable" (503 with Retry-After), the rest internal.

use mongodb::error::{Error, ErrorKind, WriteFailure};

use crate::store::StoreError;

/// The server's code for a unique-index violation.
pub const DUPLICATE_KEY: i32 = 11000;
/// The server's code for a write that collided with a concurrent transaction.
pub const WRITE_CONFLICT: i32 = 112;

/// The error code of a write or command error, if any.
pub fn code_of(error: &Error) -> Option<i32> {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) => Some(write.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => Some(concern.code),
        ErrorKind::Command(command) => Some(command.code),
        ErrorKind::InsertMany(insert) => insert
            .write_errors
            .as_ref()
            .and_then(|errors| errors.first())
            .map(|first| first.code),
        _ => None,
    }
}

pub fn is_duplicate_key(error: &Error) -> bool {
    code_of(error) == Some(DUPLICATE_KEY)
}

/// True when the server or the network failed, rather than the request.
pub fn is_unavailable(error: &Error) -> bool {
    matches!(
        error.kind.as_ref(),
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
            | ErrorKind::Shutdown
    ) || error.contains_label("RetryableWriteError")
        || matches!(
            code_of(error),
            Some(6 | 7 | 89 | 91 | 189 | 262 | 9001 | 10107 | 11600 | 11602 | 13435 | 13436 | 50)
        )
}

impl From<Error> for StoreError {
    fn from(error: Error) -> Self {
        if is_unavailable(&error) {
            StoreError::Unavailable(format!("mongodb: {error}"))
        } else {
            StoreError::Internal(anyhow::Error::new(error).context("mongodb operation failed"))
        }
    }
}

#[cfg(test)]
mod tests {
    use mongodb::Client;
    use mongodb::bson::doc;
    use mongodb::error::ErrorKind;

    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_maps_to_unavailable() {
        // Nothing listens on port 1: server selection gives up after 200 ms.
        let client = Client::with_uri_str(
            "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200&connectTimeoutMS=200",
        )
        .await
        .expect("a client is built lazily");
        let error = client
            .database("x")
            .run_command(doc! { "ping": 1 })
            .await
            .unwrap_err();
        assert!(
            matches!(error.kind.as_ref(), ErrorKind::ServerSelection { .. }),
            "{error}"
        );
        assert!(matches!(
            StoreError::from(error),
            StoreError::Unavailable(_)
        ));
    }

    #[tokio::test]
    async fn a_bad_request_is_internal_and_not_a_duplicate() {
        let error = Client::with_uri_str("postgres://not-mongodb")
            .await
            .unwrap_err();
        assert!(!is_duplicate_key(&error));
        assert!(matches!(StoreError::from(error), StoreError::Internal(_)));
    }

    #[test]
    fn duplicate_key_write_errors_are_recognised() {
        let write: mongodb::error::WriteError = serde_json::from_value(serde_json::json!({
            "code": 11000, "codeName": "DuplicateKey", "errmsg": "E11000 duplicate key error"
        }))
        .expect("a write error from its wire form");
        let duplicate = Error::from(ErrorKind::Write(WriteFailure::WriteError(write)));
        assert!(is_duplicate_key(&duplicate));
        assert!(!is_unavailable(&duplicate));
    }
}
