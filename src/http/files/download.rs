//! `GET`/`HEAD /api/files/{id}`: the bytes of a file, streamed with `Content-Length`, for the
//! owner (auth header) or for anyone holding a signed link to that one file. `ETag` is the
//! SHA-256 (`If-None-Match` → 304), a single `Range` gets a 206, an unsatisfiable one a 416.
//! Passive types are shown inline; everything else is a sandboxed attachment
//! (`files::serving`). The blob store decides whether the bytes are streamed or the client is
//! sent a 302 to them (a presigned GET whose response headers follow the same rules, or
//! `S3_PUBLIC_URL`). With `w`, `h`, `fit` or `format` in the query an image file is served
//! as a variant (`variant.rs`), through the same path.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::Deserialize;

use crate::error::{ApiError, Result};
use crate::files::links::{self, LinkPurpose};
use crate::files::serving::CACHE_CONTROL;
use crate::files::signing::{SignedQuery, unix_now};
use crate::http::AppState;
use crate::images::{VariantQuery, VariantSpec};
use crate::model::file::File;
use crate::model::{Collection, ids};

use super::query::DownloadQuery;
use super::serve::serve;

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
            // Boxed: making a variant is a large future that a plain download should not carry.
            Box::pin(super::variant::serve_variant(
                &state, &method, request, user, file, spec,
            ))
            .await
        }
    }
}
