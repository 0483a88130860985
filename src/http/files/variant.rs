//! `GET /api/files/{id}?w=..&h=..&fit=..&format=..`: an image file served as a variant. The
//! variant is found in (or made into) the blob store by `crate::images`, then served exactly
//! like a file (ETag, 304, Range, the store's redirect rules) as a file record describing the
//! variant: its type, size, key, and a name derived from the original's. `X-Variant-Cache`
//! says whether this request found it (`hit`) or made it (`miss`). A variant this process
//! has found or made before is served straight from what it remembers (`Variants::known`),
//! after the same file record check as any download, so it costs what a plain GET costs.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::serve::{MissingBlob, insert, none_match, serve_at};
use crate::blob::BlobKey;
use crate::error::{ApiError, Result};
use crate::http::AppState;
use crate::images::{Original, VariantBlob, VariantSpec, variants};
use crate::model::UserId;
use crate::model::file::{File, StorageRef};

/// The response header that tells a found variant from one made for the request.
pub const VARIANT_CACHE_HEADER: &str = "x-variant-cache";
/// The same, as a header name made once (at compile time, not per response).
const VARIANT_CACHE: HeaderName = HeaderName::from_static(VARIANT_CACHE_HEADER);

/// What a variant download was asked with: the request's headers, and the `Cache-Control`
/// its answer carries (longer through a signed link).
pub(super) struct VariantRequest<'a> {
    pub headers: &'a HeaderMap,
    pub cache_control: &'a str,
}

pub(super) async fn serve_variant(
    state: &AppState,
    method: &Method,
    request: VariantRequest<'_>,
    user: UserId,
    file: File,
    spec: VariantSpec,
) -> Result<Response> {
    // A variant found or made before is known with its identity; another one's identity is
    // computed here. A client that holds this variant needs neither the store nor a decoder.
    let known = (state.variants).known(&user, &file.sha256, &file.mime_type, &spec);
    let identity: std::borrow::Cow<'_, str> = match &known {
        Some(known) => std::borrow::Cow::Borrowed(&known.identity),
        None => std::borrow::Cow::Owned(variants::identity(&file.sha256, &spec)),
    };
    if none_match(request.headers, &identity) {
        let mut headers = HeaderMap::new();
        insert(&mut headers, header::ETAG, &format!("\"{identity}\""));
        insert(&mut headers, header::CACHE_CONTROL, request.cache_control);
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    // A known variant is served like a plain file: no store lookup, no task. Only when it
    // is streamed: a stream notices a blob deleted behind this process's back (by
    // `quillstore gc`, or by another instance sharing the store), a redirect would not.
    let files = &state.config.files;
    let streamed = |known: &VariantBlob| {
        (state.blobs).streams(known.size, files.redirect, files.redirect_threshold)
    };
    if let Some(known) = known.filter(streamed) {
        match serve_blob(state, method, &request, &file, &spec, &known).await {
            Err(ApiError::Internal(error)) if error.is::<MissingBlob>() => {
                // Deleted behind this process's back: look in the store below.
                state.variants.forget(&known.key);
            }
            served => return served,
        }
    }
    let original = Original {
        user,
        sha256: file.sha256.clone(),
        mime_type: file.mime_type.clone(),
        key: BlobKey::parse(&file.storage.key).map_err(anyhow::Error::from)?,
    };
    // Made to its end even if this client goes away: others may be waiting for it.
    let (task_state, backend) = (state.clone(), file.storage.backend.clone());
    let variant = tokio::spawn(async move {
        let (variants, blobs) = (&task_state.variants, &task_state.blobs);
        // New variants go to the current store; the original may still be on the fallback.
        let source = blobs.holding(&backend);
        variants
            .variant(blobs.current(), source, &original, &spec)
            .await
    })
    .await
    .map_err(|error| ApiError::Internal(anyhow::anyhow!("a variant task failed: {error}")))??;
    serve_blob(state, method, &request, &file, &spec, &variant).await
}

/// Serves `variant` of `file` as a file record describing it.
async fn serve_blob(
    state: &AppState,
    method: &Method,
    request: &VariantRequest<'_>,
    file: &File,
    spec: &VariantSpec,
    variant: &VariantBlob,
) -> Result<Response> {
    // Only what serving reads: the original's description, tags and links are not copied.
    let described = File {
        category: file.category,
        source: file.source,
        description: None,
        tags: Vec::new(),
        linked_to: Vec::new(),
        original_filename: variant_filename(&file.original_filename, spec),
        mime_type: variant.mime_type.to_owned(),
        size: variant.size,
        sha256: variant.identity.to_string(),
        width: None,
        height: None,
        storage: StorageRef {
            backend: state.blobs.backend().to_owned(),
            key: variant.key.to_string(),
        },
    };
    let mut response = serve_at(
        state,
        method,
        request.headers,
        &described,
        &variant.key,
        request.cache_control,
    )
    .await?;
    response.headers_mut().insert(
        VARIANT_CACHE,
        HeaderValue::from_static(variant.outcome.as_str()),
    );
    Ok(response)
}

/// `avatar.png` as a 256 x 256 WebP is `avatar-256x256.webp`; one side only: `avatar-256w.webp`.
fn variant_filename(original: &str, spec: &VariantSpec) -> String {
    use std::fmt::Write;
    let stem = original.rsplit_once('.').map_or(original, |(stem, _)| stem);
    let mut name = String::with_capacity(stem.len() + 24);
    name.push_str(stem);
    let _ = match (spec.width, spec.height) {
        (Some(width), Some(height)) => write!(name, "-{width}x{height}"),
        (Some(width), None) => write!(name, "-{width}w"),
        (None, Some(height)) => write!(name, "-{height}h"),
        (None, None) => write!(name, "-original"),
    };
    name.push('.');
    name.push_str(spec.format.extension());
    name
}
