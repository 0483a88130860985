//! Serving a file record's blob: `ETag` and `If-None-Match`, a single `Range`, the headers
//! that present it (`files::serving`), and the store's choice between streaming the bytes and
//! a redirect to them. Used by plain downloads (`download.rs`) and image variants
//! (`variant.rs`) alike.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_range_header::{EndPosition, RangeUnsatisfiableError, StartPosition};

use crate::blob::{BlobBody, BlobError, BlobKey, Delivery};
use crate::error::{ApiError, Result};
use crate::files::serving::{self, CACHE_CONTROL, Presentation};
use crate::http::AppState;
use crate::model::file::File;

/// The part of the bytes a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    All,
    Part { start: u64, end: u64 },
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
    // Room for every header below, so none of them grows the map.
    let mut headers = HeaderMap::with_capacity(16);
    headers.insert(header::CACHE_CONTROL, cache_control_value(cache_control));
    if none_match(request, &file.sha256) {
        insert_owned(&mut headers, header::ETAG, etag);
        return Ok(respond(StatusCode::NOT_MODIFIED, headers, Body::empty()));
    }
    let wanted = wanted_range(request, &etag, file.size)?;
    insert_owned(&mut headers, header::ETAG, etag);
    let presentation = Presentation::of(file);
    insert_owned(
        &mut headers,
        header::CONTENT_TYPE,
        presentation.content_type,
    );
    insert_owned(
        &mut headers,
        header::CONTENT_DISPOSITION,
        presentation.content_disposition,
    );
    if presentation.sandboxed {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        );
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let (status, range, length) = match wanted {
        Wanted::All => (StatusCode::OK, None, file.size),
        Wanted::Part { start, end } => {
            let content_range = format!("bytes {start}-{end}/{}", file.size);
            insert_owned(&mut headers, header::CONTENT_RANGE, content_range);
            (
                StatusCode::PARTIAL_CONTENT,
                Some(start..=end),
                end - start + 1,
            )
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if method == Method::HEAD {
        return Ok(respond(status, headers, Body::empty()));
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
    // Bytes already in memory go out as one body the server can write with the headers. The
    // server frames such a body by its own length, so only when it is the promised length (a
    // blob changed behind the record is streamed, and cut short or found short as before).
    // A body still on the store's connection is offered to the server, which may pass it to
    // the client socket without reading it (`crate::relay`); otherwise it is read and copied.
    let (body, offered) = match read.body {
        BlobBody::Whole(Some(bytes)) if bytes.len() as u64 == length => (Body::from(bytes), None),
        BlobBody::Upstream(upstream) => {
            let (offered, body) = crate::relay::offer(upstream);
            (Body::from_stream(body), Some(offered))
        }
        body => (Body::from_stream(body), None),
    };
    let mut response = respond(status, headers, body);
    if let Some(offered) = offered {
        response.extensions_mut().insert(offered);
    }
    Ok(response)
}

/// A response from its parts, the headers moved in whole rather than copied one by one.
fn respond(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The `Cache-Control` value; the usual one is a constant.
fn cache_control_value(cache_control: &str) -> HeaderValue {
    if cache_control == CACHE_CONTROL {
        HeaderValue::from_static(CACHE_CONTROL)
    } else {
        HeaderValue::from_str(cache_control).unwrap_or(HeaderValue::from_static(CACHE_CONTROL))
    }
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

/// [`insert`] of a value made for it: its bytes become the header's without a copy.
fn insert_owned(headers: &mut HeaderMap, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
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
