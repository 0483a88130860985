//! SDK errors translated to [`BlobError`]: a missing object or bucket is `NotFound`; timeouts,
//! connection failures, throttling and 5xx answers are `Unavailable` (503 for clients); the
//! rest (denied access, bad requests) is internal.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};

use crate::blob::BlobError;

/// A mapper for `map_err` that names the operation in the error.
pub(super) fn classify<E>(
    operation: &'static str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> BlobError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |error| {
        let detail = || format!("{operation}: {}", DisplayErrorContext(&error));
        match &error {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => BlobError::Unavailable(detail()),
            SdkError::ServiceError(context) => match context.raw().status().as_u16() {
                404 => BlobError::NotFound,
                429 | 500..=599 => BlobError::Unavailable(detail()),
                _ => BlobError::Internal(anyhow::anyhow!(detail())),
            },
            _ => BlobError::Internal(anyhow::anyhow!(detail())),
        }
    }
}
