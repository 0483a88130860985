//! Signed links on the HTTP side: who the caller of a route open to them is, the
//! `POST /api/files/{id}/url` route, and the ready `signedUrl` lists and metadata carry on
//! request. The rules (signatures, stable expiries, cache lifetimes) are in `crate::files`.

use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{ApiError, Result};
use crate::files::links::{self, LinkPurpose};
use crate::files::signing::{SignedQuery, unix_now};
use crate::http::AppState;
use crate::http::extract::{CurrentUser, DocumentId, JsonObject};
use crate::images::variants::SOURCE_TYPES;
use crate::images::{VariantQuery, VariantSpec};
use crate::model::{Collection, UserId};

/// The caller of a route open to signed links of `purpose`: the link's user, or without
/// link parameters the bearer token's.
pub(super) fn link_or_bearer(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    purpose: LinkPurpose<'_>,
    id: Option<Uuid>,
    signed: &SignedQuery,
) -> Result<UserId> {
    links::caller(&state.signer, purpose, id, signed, unix_now(), || {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        state.auth.authenticate(authorization)
    })
}

/// `{url, expiresAt}` as a client gets it: the URL absolute on `PUBLIC_BASE_URL` when set.
fn link_body(state: &AppState, link: &links::FileLink) -> Value {
    json!({
        "url": state.config.public_base_url.absolute(&link.url),
        "expiresAt": link.expires_at,
    })
}

/// The ready links a list or the metadata carries on request (`signedUrls=true`): to each
/// file's content, or with variant parameters (`w`, `h`, `fit`, `format`) to that variant of
/// each image file (files of other types still get a link to their content).
pub(super) struct ReadyLinks {
    /// The canonical query of the variant asked for.
    variant: Option<String>,
    now: u64,
}

impl ReadyLinks {
    /// The links a query asks for: none without `signedUrls=true` (variant parameters then
    /// are a 400); a variant that is not allowed is a 400 like on a download.
    pub(super) fn asked(
        state: &AppState,
        signed_urls: bool,
        variant: &VariantQuery,
    ) -> Result<Option<Self>> {
        if !signed_urls {
            if !variant.is_empty() {
                return Err(ApiError::bad_request(
                    "w, h, fit and format choose the variant of signedUrl: they need \
                     signedUrls=true",
                ));
            }
            return Ok(None);
        }
        let spec = VariantSpec::parse(variant, &state.config.images.variant_sizes)?;
        Ok(Some(Self {
            variant: spec.as_ref().map(VariantSpec::canonical_query),
            now: unix_now(),
        }))
    }

    /// Adds `signedUrl` (a default-lifetime link, stable within its window) to the file JSON
    /// `item` of file `id`.
    pub(super) fn add(
        &self,
        state: &AppState,
        user: &UserId,
        id: Uuid,
        item: &mut serde_json::Map<String, Value>,
    ) -> Result<()> {
        let mime_type = item.get("mimeType").and_then(Value::as_str);
        let has_variants = mime_type.is_some_and(|mime| SOURCE_TYPES.contains(&mime));
        let variant = self.variant.as_deref().filter(|_| has_variants);
        let link = links::file_link(&state.signer, id, user, variant, None, self.now)?;
        item.insert("signedUrl".to_owned(), link_body(state, &link));
        Ok(())
    }
}

/// The optional body of `POST /api/files/{id}/url`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UrlRequest {
    /// Seconds the link lives, default 900.
    #[schema(minimum = 1, maximum = 3600)]
    expires_in: Option<u64>,
    /// A link to this variant of an image file instead of the file itself; the signature
    /// covers it, so the link opens no other size.
    variant: Option<VariantRequest>,
}

/// The variant a signed link serves: the query parameters of a variant download.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VariantRequest {
    /// Width in pixels, one of `IMAGE_VARIANT_SIZES`.
    w: Option<u32>,
    /// Height in pixels, one of `IMAGE_VARIANT_SIZES`.
    h: Option<u32>,
    /// `cover` (default) or `contain`.
    fit: Option<String>,
    /// `webp` (default), `jpeg` or `png`.
    format: Option<String>,
}

impl VariantRequest {
    fn query(&self) -> VariantQuery {
        VariantQuery {
            w: self.w.map(|width| width.to_string()),
            h: self.h.map(|height| height.to_string()),
            fit: self.fit.clone(),
            format: self.format.clone(),
        }
    }
}

/// `{url, expiresAt}`: a link that serves this one file without an auth header.
pub(super) async fn create_url(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    request: Request,
) -> Result<axum::Json<Value>> {
    // A POST without a body (and so without a Content-Type) asks for the defaults.
    let request = if request.headers().contains_key(header::CONTENT_TYPE) {
        let JsonObject(object) = JsonObject::from_request(request, &state).await?;
        serde_path_to_error::deserialize(Value::Object(object)).map_err(|error| {
            let field = error.path().to_string();
            let problem = error.into_inner().to_string();
            if problem.starts_with("unknown field") {
                ApiError::bad_request(format!("bad body: {problem}"))
            } else if field.starts_with("variant") {
                ApiError::validation(
                    field,
                    "a variant is an object of w and h (whole numbers of pixels), fit and format",
                )
            } else {
                ApiError::validation("expiresIn", "must be a whole number of seconds")
            }
        })?
    } else {
        UrlRequest {
            expires_in: None,
            variant: None,
        }
    };
    let sizes = &state.config.images.variant_sizes;
    let spec = match &request.variant {
        Some(variant) => VariantSpec::parse(&variant.query(), sizes)?,
        None => None,
    };
    let canonical = spec.as_ref().map(VariantSpec::canonical_query);
    let link = links::file_link(
        &state.signer,
        id,
        &user,
        canonical.as_deref(),
        request.expires_in,
        unix_now(),
    )?;
    let document = state.store.get(Collection::Files, &user, id).await?;
    let mime_type = document.body.get("mimeType").and_then(Value::as_str);
    if spec.is_some() && !mime_type.is_some_and(|mime| SOURCE_TYPES.contains(&mime)) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "variants are made from {} files; this file is {}",
            SOURCE_TYPES.join(", "),
            mime_type.unwrap_or("of no known type")
        )));
    }
    Ok(axum::Json(link_body(&state, &link)))
}
