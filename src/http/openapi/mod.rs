//! The OpenAPI 3.1 document of the service (`GET /api/openapi.json`), built from the route
//! table (`routes.rs`): every registered route contributes its operation and the schemas it
//! refers to, and this module adds what all of them share (error responses, security schemes).

pub mod files;
pub mod messages;
mod operation;
pub mod resource;
mod schemas;
mod uploads;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, LicenseBuilder, OpenApi, OpenApiBuilder, Paths,
};

pub use self::operation::{Access, Op, json_response};
pub use self::schemas::{
    any, array, boolean, document_schema, inline_read_only, integer, one_of, page_schema,
    patch_schema, reference, string, uuid, with_dependencies,
};
use super::routes::RouteTable;

/// The error statuses, the name of their reusable response and what they mean. Every one has
/// the error envelope as its body.
pub(crate) const ERROR_RESPONSES: &[(u16, &str, &str)] = &[
    (
        400,
        "BadRequest",
        "`bad_request`: malformed JSON or multipart, unknown or server-owned fields, bad query \
         parameters, a malformed id or `If-Match`",
    ),
    (
        401,
        "Unauthorized",
        "`unauthorized`: no, malformed, badly signed or expired bearer token, or a bad signed link",
    ),
    (
        403,
        "Forbidden",
        "`forbidden`: the token lacks the scope the operation needs (`SECRETS_REVEAL_SCOPE`)",
    ),
    (
        404,
        "NotFound",
        "`not_found`: no such document of the caller (other users' documents included)",
    ),
    (
        408,
        "RequestTimeout",
        "`request_timeout`: the body stalled (an upload for `UPLOAD_IDLE_TIMEOUT_SECS`, a JSON body for `REQUEST_TIMEOUT_SECS`); nothing of it \
         was kept",
    ),
    (
        409,
        "Conflict",
        "`conflict`: a unique name taken (`details[0].existingId` names the holder), or \
         concurrent writers kept colliding (retry)",
    ),
    (
        412,
        "PreconditionFailed",
        "`precondition_failed`: `If-Match` names a state the resource has left. `ETag` carries \
         the current one: re-read (GET), re-apply the change, and send that ETag in `If-Match`",
    ),
    (
        413,
        "PayloadTooLarge",
        "`payload_too_large`: the body is over its limit (`GET /api/limits`); \
         `quota_exceeded`: the write would pass the caller's quota (`QUOTA_BYTES_PER_USER`, \
         `QUOTA_FILES_PER_USER`), nothing was stored, and `details[0]` states `quota`, \
         `limit`, `usage` and `requested`",
    ),
    (
        415,
        "UnsupportedMediaType",
        "`unsupported_media_type`: the body is not of the expected type",
    ),
    (
        416,
        "RangeNotSatisfiable",
        "`range_not_satisfiable`: the `Range` lies outside the file",
    ),
    (
        422,
        "ValidationFailed",
        "`validation_failed`: values break the rules or name documents the caller does not \
         have; `details` lists `{field, message}`",
    ),
    (
        429,
        "RateLimited",
        "`rate_limited`: too many requests; retry after `Retry-After` seconds",
    ),
    (
        500,
        "Internal",
        "`internal`: a bug; the body never carries internal error text",
    ),
    (
        503,
        "Unavailable",
        "`unavailable`: a store is unreachable or the request took too long; retry after \
         `Retry-After` seconds",
    ),
];

/// Response headers some error statuses carry.
fn error_headers(status: u16) -> Vec<(&'static str, &'static str)> {
    match status {
        401 => vec![("WWW-Authenticate", "`Bearer`")],
        412 => vec![("ETag", "the current ETag of the resource")],
        416 => vec![("Content-Range", "`bytes */<size>`")],
        429 | 503 => vec![("Retry-After", "seconds to wait")],
        _ => Vec::new(),
    }
}

/// The document describing every route of `table`.
pub fn document(table: &RouteTable) -> OpenApi {
    let mut paths = Paths::new();
    for entry in &table.entries {
        paths.add_path_operation(
            &entry.path,
            vec![entry.method.clone()],
            entry.operation.clone(),
        );
    }
    let mut components = ComponentsBuilder::new()
        .schemas_from_iter(schemas::common())
        .schemas_from_iter(table.schemas.clone())
        .security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "`AUTH_MODE=jwt`: a JWT whose `sub` is the user id (HS256, RS256 or \
                         ES256 as configured). `AUTH_MODE=none` ignores it: every request is \
                         user `local`.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "signedLink",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "signature",
                "a link from `POST /api/files/{id}/url` (with its `user` and `expires`)",
            ))),
        )
        .security_scheme(
            "metricsToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`METRICS_TOKEN`"))
                    .build(),
            ),
        );
    for (status, name, description) in ERROR_RESPONSES {
        let mut response = json_response(description, reference("ErrorEnvelope"));
        for (header, meaning) in error_headers(*status) {
            response = response.header(
                header,
                HeaderBuilder::new()
                    .schema(Some(string()))
                    .description(Some(meaning))
                    .build(),
            );
        }
        components = components.response(*name, response.build());
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("quillstore")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Storage for AI character-chat applications: characters, personas, tags, \
                     chats with their messages, and files. The prose contract is docs/api.md; \
                     every error has the body `{\"error\": {\"code\", \"message\", \"details\"}}` \
                     where `details` is always an array of `FieldError` (empty when no field \
                     is at fault).",
                ))
                .license(Some(LicenseBuilder::new().name("MIT").build())),
        )
        .paths(paths)
        .components(Some(components.build()))
        .tags(Some(TAGS.iter().map(|(name, description)| {
            TagBuilder::new()
                .name(*name)
                .description(Some(*description))
                .build()
        })))
        .build()
}

const TAGS: &[(&str, &str)] = &[
    ("characters", "The AI side of a chat"),
    ("personas", "The user's own roles in a chat"),
    (
        "lorebooks",
        "World info: books of entries inserted into prompts by key",
    ),
    ("tags", "Labels; names unique per user, ignoring case"),
    (
        "chats",
        "Conversations, with export and import as JSON Lines",
    ),
    ("messages", "A chat's messages, paged by `seq`, with swipes"),
    ("files", "Uploads, downloads, metadata and signed links"),
    ("service", "Health, limits, metrics and this documentation"),
];
