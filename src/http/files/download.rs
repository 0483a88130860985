//! `GET`/`HEAD /api/files/{id}`: the bytes of a file, streamed with `Content-Length`, for the
//! owner (auth header) or for anyone holding a signed link to that one file. `ETag` is the
//! SHA-256 (`If-None-Match` → 304), a single `Range` gets a 206, an unsatisfiable one a 416.
//! Passive types are shown inline; everything else is a sandboxed attachment
//! (`files::serving`). The blob store decides whether the bytes are streamed or the client is
//! sent a 302 to them (a presigned GET whose response headers follow the same rules, or
//! `S3_PUBLIC_URL`). With `w`, `h`, `fit` or `format` in the query an image file is served
//! as a variant (`variant.rs`), through the same path.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_range_header::{EndPosition, RangeUnsatisfiableError, StartPosition};
use serde::Deserialize;

use crate::blob::{BlobError, BlobKey, Delivery};
use crate::error::{ApiError, Result};
use crate::files::links::{self, LinkPurpose};
use crate::files::serving::{self, CACHE_CONTROL, Presentation};
use crate::files::signing::{SignedQuery, unix_now};
use crate::http::AppState;
use crate::images::{VariantQuery, VariantSpec};
use crate::model::file::File;
use crate::model::{Collection, ids};

use super::query::DownloadQuery;

/// The part of the bytes a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    All,
    Part { start: u64, end: u64 },
}

pub async fn get_file(
    State(state): State<AppState>,
    method: Method,
    path: std::result::Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    // Credentials first: a caller without them learns nothing but 401 about this route.
    let query = DownloadQuery::parse(raw.as_deref());
    let id = path.ok().and_then(|Path(text)| ids::parse_id(&text));
    let (signed, variant) = match &query {
        Ok(query) => (&query.signed, &query.variant),
        Err(_) => (&SignedQuery::default(), &VariantQuery::default()),
    };
    let spec = VariantSpec::parse(variant, &state.config.images.variant_sizes);
    // A variant link signs the variant's canonical query; a spec that does not parse is
    // checked as a link to the original (and refused below once the caller is known). Only
    // a signed request needs it.
    let canonical = spec
        .as_ref()
        .ok()
        .and_then(Option::as_ref)
        .filter(|_| !signed.is_empty())
        .map(VariantSpec::canonical_query);
    let purpose = match &canonical {
        Some(canonical) => LinkPurpose::Variant(canonical),
        None => LinkPurpose::Download,
    };
    let now = unix_now();
    let user = super::link::link_or_bearer(&state, &headers, purpose, id, signed)?;
    // Through a signed link the browser may keep the answer for the rest of the link's life.
    let cache_control = match signed.expires.as_deref().map(str::parse::<u64>) {
        Some(Ok(expires)) => links::link_cache_control(expires, now),
        _ => CACHE_CONTROL.to_owned(),
    };
    let id = id.ok_or_else(|| ApiError::bad_request("the path does not name a valid file id"))?;
    match query {
        Err(problem) => return Err(ApiError::bad_request(format!("bad query: {problem}"))),
        Ok(query) if !query.unknown.is_empty() => {
            return Err(ApiError::bad_request(format!(
                "unknown query parameters: {:?} (a download takes only user, expires and \
                 signature, and a variant w, h, fit and format)",
                query.unknown
            )));
        }
        Ok(_) => {}
    }
    let spec = spec?;
    let document = state.store.get_shared(Collection::Files, &user, id).await?;
    let file = File::deserialize(&document.body)
        .map_err(|error| anyhow::anyhow!("file record {id} does not parse: {error}"))?;
    match spec {
        None => serve(&state, &method, &headers, &file, &cache_control).await,
        Some(spec) => {
            let request = super::variant::VariantRequest {
                headers: &headers,
                cache_control: &cache_control,
            };
            super::variant::serve_variant(&state, &method, request, user, file, spec).await
        }
    }
}

/// Serves the blob of `file` (a file record, or a variant presented as one), cached by the
/// browser as `cache_control` says.
pub(super) async fn serve(
    state: &AppState,
    method: &Method,
    request: &HeaderMap,
    file: &File,
    cache_control: &str,
) -> Result<Response> {
    let key = BlobKey::parse(&file.storage.key).map_err(anyhow::Error::from)?;
    serve_at(state, method, request, file, &key, cache_control).await
}

/// [`serve`] with the record's blob key already known (a variant's, made from its parts).
pub(super) async fn serve_at(
    state: &AppState,
    method: &Method,
    request: &HeaderMap,
    file: &File,
    key: &BlobKey,
    cache_control: &str,
) -> Result<Response> {
    let etag = format!("\"{}\"", file.sha256);
    let mut headers = HeaderMap::new();
    insert(&mut headers, header::ETAG, &etag);
    insert(&mut headers, header::CACHE_CONTROL, cache_control);
    if none_match(request, &file.sha256) {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    let wanted = wanted_range(request, &etag, file.size)?;
    let presentation = Presentation::of(file);
    insert(
        &mut headers,
        header::CONTENT_TYPE,
        &presentation.content_type,
    );
    insert(
        &mut headers,
        header::CONTENT_DISPOSITION,
        &presentation.content_disposition,
    );
    if presentation.sandboxed {
        insert(&mut headers, header::CONTENT_SECURITY_POLICY, "sandbox");
    }
    insert(&mut headers, header::ACCEPT_RANGES, "bytes");
    let (status, range, length) = match wanted {
        Wanted::All => (StatusCode::OK, None, file.size),
        Wanted::Part { start, end } => {
            let content_range = format!("bytes {start}-{end}/{}", file.size);
            insert(&mut headers, header::CONTENT_RANGE, &content_range);
            (
                StatusCode::PARTIAL_CONTENT,
                Some(start..=end),
                end - start + 1,
            )
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if method == Method::HEAD {
        return Ok((status, headers).into_response());
    }
    // The store the record names: the current one, or the fallback while blobs move.
    let blobs = state.blobs.holding(&file.storage.backend);
    if let Delivery::Redirect { url, valid_for } =
        serving::delivery(blobs, &state.config.files, key, file).await?
    {
        let mut headers = HeaderMap::new();
        insert(&mut headers, header::LOCATION, &url);
        let cache = redirect_cache_control(cache_control, valid_for);
        insert(&mut headers, header::CACHE_CONTROL, &cache);
        return Ok((StatusCode::FOUND, headers).into_response());
    }
    let read = match blobs.get(key, range).await {
        Ok(read) => read,
        Err(BlobError::NotFound) => {
            return Err(ApiError::Internal(anyhow::Error::new(MissingBlob(
                key.clone(),
            ))));
        }
        Err(error) => return Err(error.into()),
    };
    Ok((status, headers, Body::from_stream(read.body)).into_response())
}

/// `Cache-Control` of a redirect to the bytes. Through a signed link (whose answers have a
/// `max-age`) the browser may keep the redirect as long as both the link and the target URL
/// last, so a re-rendered `<img>` needs no request at all; otherwise it is not stored (the
/// target URL expires sooner than the bytes).
fn redirect_cache_control(served: &str, target_valid_for: Option<std::time::Duration>) -> String {
    let link_left = served
        .split(',')
        .find_map(|part| part.trim().strip_prefix("max-age="))
        .and_then(|seconds| seconds.parse::<u64>().ok());
    match (link_left, target_valid_for) {
        (Some(link), Some(target)) => format!("private, max-age={}", link.min(target.as_secs())),
        (Some(link), None) => format!("private, max-age={link}"),
        (None, _) => "private, no-store".to_owned(),
    }
}

/// The blob a file record (or a known variant) names is not in the store.
#[derive(Debug, thiserror::Error)]
#[error("the blob {0} of a file record is missing (see `quillstore gc`)")]
pub(super) struct MissingBlob(BlobKey);

pub(super) fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// True when `If-None-Match` names this content (weak comparison, `*` included).
pub(super) fn none_match(request: &HeaderMap, sha256: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| {
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag == "*" || tag.trim_matches('"') == sha256
        })
}

/// The range to serve. A missing, malformed or multi-range `Range`, or one whose `If-Range`
/// names other content, gets everything; a single range outside the file gets a 416.
fn wanted_range(request: &HeaderMap, etag: &str, size: u64) -> Result<Wanted> {
    let Some(range) = request
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(Wanted::All);
    };
    if let Some(if_range) = request.get(header::IF_RANGE)
        && if_range.as_bytes() != etag.as_bytes()
    {
        return Ok(Wanted::All);
    }
    let unsatisfiable = ApiError::RangeNotSatisfiable { size };
    let parsed = match http_range_header::parse_range_header(range) {
        Ok(parsed) => parsed,
        Err(RangeUnsatisfiableError::ZeroSuffix) => return Err(unsatisfiable),
        Err(_) => return Ok(Wanted::All),
    };
    let [only] = parsed.ranges.as_slice() else {
        return Ok(Wanted::All);
    };
    if size == 0 {
        return Err(unsatisfiable);
    }
    let last = size - 1;
    let (start, end) = match (only.start, only.end) {
        (StartPosition::FromLast(count), _) => (size.saturating_sub(count), last),
        (StartPosition::Index(start), EndPosition::LastByte) => (start, last),
        (StartPosition::Index(start), EndPosition::Index(end)) => (start, end.min(last)),
    };
    if start > last || start > end {
        return Err(unsatisfiable);
    }
    Ok(Wanted::Part { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Wanted> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        wanted_range(&headers, "\"x\"", size)
    }

    #[test]
    fn redirects_are_cached_only_through_links_and_no_longer_than_both_last() {
        let hour = Some(std::time::Duration::from_secs(3600));
        let link = "private, max-age=600, immutable";
        assert_eq!(redirect_cache_control(link, hour), "private, max-age=600");
        let short = Some(std::time::Duration::from_secs(60));
        assert_eq!(redirect_cache_control(link, short), "private, max-age=60");
        assert_eq!(redirect_cache_control(link, None), "private, max-age=600");
        assert_eq!(
            redirect_cache_control("private, immutable", hour),
            "private, no-store"
        );
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        let part = |start, end| Wanted::Part { start, end };
        assert_eq!(range("bytes=0-0", 10).unwrap(), part(0, 0));
        assert_eq!(range("bytes=-3", 10).unwrap(), part(7, 9));
        assert_eq!(range("bytes=-30", 10).unwrap(), part(0, 9));
        assert_eq!(range("bytes=4-", 10).unwrap(), part(4, 9));
        assert_eq!(range("bytes=4-100", 10).unwrap(), part(4, 9));
        assert!(range("bytes=10-", 10).is_err());
        assert!(range("bytes=10-20", 10).is_err());
        assert!(range("bytes=5-3", 10).is_err());
        assert!(range("bytes=-0", 10).is_err());
        assert!(range("bytes=0-0", 0).is_err());
        assert_eq!(range("bytes=0-1,4-5", 10).unwrap(), Wanted::All);
        assert_eq!(range("pages=1", 10).unwrap(), Wanted::All);
    }
}
