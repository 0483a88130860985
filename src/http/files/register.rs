//! The second half of an upload: the form is checked and the file recorded by
//! `files::registration` (which shares an identical blob the user already has). The new blob
//! is removed on every path that does not adopt it.

use std::collections::HashSet;

use axum::response::Response;
use serde_json::json;
use uuid::Uuid;

use super::form::FormFields;
use crate::accounts::quota::Reservation;
use crate::blob::PutOutcome;
use crate::error::{ApiError, Result};
use crate::files::registration::{PendingBlob, register_file};
use crate::http::AppState;
use crate::http::resource::{check_references, parse};
use crate::model::file::{File, FileCategory, StorageRef};
use crate::model::{Resource, UserId};

/// A blob written for this request and not yet owned by a record.
pub struct StoredBlob {
    pub outcome: PutOutcome,
    pub mime_type: String,
    pub dimensions: Option<(u32, u32)>,
    pub filename: String,
    pub pending: PendingBlob,
}

/// Checks the form, then records the file: pointing at an identical blob the user already
/// has (and dropping the new one), or at the new blob. The upload's room within the quotas
/// is given back once the record is stored, or the registration failed.
pub async fn register(
    state: &AppState,
    user: &UserId,
    file_id: Uuid,
    form: FormFields,
    (blob, room): (StoredBlob, Reservation),
) -> Result<Response> {
    let mut body = form.into_body(FileCategory::for_mime_type(&blob.mime_type).as_str());
    body.insert("originalFilename".to_owned(), json!(blob.filename));
    body.insert("mimeType".to_owned(), json!(blob.mime_type));
    body.insert("size".to_owned(), json!(blob.outcome.size));
    body.insert("sha256".to_owned(), json!(blob.outcome.sha256));
    if let Some((width, height)) = blob.dimensions {
        body.insert("width".to_owned(), json!(width));
        body.insert("height".to_owned(), json!(height));
    }
    let storage = StorageRef {
        backend: state.blobs.backend().to_owned(),
        key: blob.pending.key().to_string(),
    };
    body.insert("storage".to_owned(), json!(storage));
    let checked = async {
        let file: File = parse(body)?;
        check_references(state, user, file.references(), &HashSet::new()).await?;
        Ok::<_, ApiError>(file)
    };
    let file = match checked.await {
        Ok(file) => file,
        Err(error) => {
            blob.pending.remove().await;
            return Err(error);
        }
    };
    // From here on the upload runs to its end even if the client goes away: a record written
    // by a dropped request must not lose its blob to the cleanup of that request.
    let (state, user) = (state.clone(), user.clone());
    // The room travels with it: given back before the record is stored, it could be
    // counted neither as held nor as stored by a quota check.
    let document = tokio::spawn(async move {
        let registered = register_file(
            super::file_stores(&state),
            &user,
            file_id,
            file,
            blob.pending,
        )
        .await;
        drop(room);
        registered
    })
    .await
    .map_err(|error| anyhow::anyhow!("an upload task failed: {error}"))??;
    Ok(super::created_file(document))
}
