//! Extractors that own validation and rejection mapping, so bad input never reaches a store
//! and every rejection uses the error envelope.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::http::AppState;
use crate::model::{UserId, ids};

/// The user the request acts for.
pub struct CurrentUser(pub UserId);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let user = state.auth.authenticate(header)?;
        state.throttle.check_user(&user)?;
        tracing::Span::current().record("user_id", user.as_str());
        Ok(Self(user))
    }
}

/// A JSON object body. Checks the content type, the size limit, the syntax and that the
/// top level is an object.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !(essence == "application/json"
            || essence.starts_with("application/") && essence.ends_with("+json"))
        {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected a JSON body (Content-Type: application/json), got {:?}",
                content_type
            )));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|error| ApiError::bad_request(format!("malformed JSON: {error}")))?;
        match value {
            Value::Object(map) => Ok(Self(map)),
            _ => Err(ApiError::bad_request("the body must be a JSON object")),
        }
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(
            "the request body is larger than the limit (see GET /api/limits)".to_owned(),
        )
    } else {
        ApiError::bad_request(format!("cannot read the request body: {rejection}"))
    }
}

/// The document id of a `/{collection}/{id}` route; anything but a UUID is a 400.
pub struct DocumentId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for DocumentId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("malformed path"))?;
        Self::parse(&text)
    }
}

impl DocumentId {
    /// The id in a path segment; anything but a UUID is a 400. For handlers that must
    /// authenticate before they look at the path (a 401 comes before a 400).
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        ids::parse_id(text)
            .map(Self)
            .ok_or_else(|| ApiError::bad_request(format!("{text:?} is not a valid id")))
    }
}

/// `If-Match`: the version a write expects, when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    None,
    Any,
    Version(u64),
}

impl Precondition {
    /// The version a write must find, if the client named one.
    pub fn version(self) -> Option<u64> {
        match self {
            Self::Version(version) => Some(version),
            Self::None | Self::Any => None,
        }
    }
}

pub struct IfMatch(pub Precondition);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IF_MATCH) else {
            return Ok(Self(Precondition::None));
        };
        let malformed = || ApiError::bad_request("If-Match must be an ETag such as \"3\" or *");
        let text = value.to_str().map_err(|_| malformed())?.trim();
        if text == "*" {
            return Ok(Self(Precondition::Any));
        }
        let tag = text.strip_prefix("W/").unwrap_or(text);
        let version = tag
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .and_then(|inner| inner.parse::<u64>().ok())
            .ok_or_else(malformed)?;
        Ok(Self(Precondition::Version(version)))
    }
}

/// `If-Match` on a URL whose ETag is not a version but a content hash (`/api/files/{id}`):
/// `*` or a list of entity tags, compared strongly (a weak tag never matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagPrecondition {
    None,
    Any,
    Tags(Vec<String>),
}

impl TagPrecondition {
    /// Whether a resource whose ETag is `"current"` (given without quotes) may be written.
    pub fn admits(&self, current: &str) -> bool {
        match self {
            Self::None | Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| tag == current),
        }
    }
}

pub struct IfMatchTag(pub TagPrecondition);

impl<S: Send + Sync> FromRequestParts<S> for IfMatchTag {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IF_MATCH) else {
            return Ok(Self(TagPrecondition::None));
        };
        let malformed = || {
            ApiError::bad_request(
                "If-Match must be * or the ETag a GET of this URL returned, quoted (\"<sha256>\")",
            )
        };
        let text = value.to_str().map_err(|_| malformed())?.trim();
        if text == "*" {
            return Ok(Self(TagPrecondition::Any));
        }
        let tags = text
            .split(',')
            .map(str::trim)
            .filter(|tag| !tag.starts_with("W/"))
            .map(|tag| {
                tag.strip_prefix('"')
                    .and_then(|rest| rest.strip_suffix('"'))
                    .filter(|inner| !inner.contains('"'))
                    .map(str::to_owned)
                    .ok_or_else(malformed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(TagPrecondition::Tags(tags)))
    }
}

/// Query parameters deserialized into `T`; a bad or unknown parameter is a 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| {
                ApiError::bad_request(format!("bad query: {}", rejection.body_text()))
            })
    }
}

/// The chat and message ids of a `/chats/{id}/messages/{messageId}` route.
pub struct MessagePath {
    pub chat_id: Uuid,
    pub message_id: Uuid,
}

impl<S: Send + Sync> FromRequestParts<S> for MessagePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path((chat, message)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("malformed path"))?;
        let parse = |text: &str| {
            ids::parse_id(text)
                .ok_or_else(|| ApiError::bad_request(format!("{text:?} is not a valid id")))
        };
        Ok(Self {
            chat_id: parse(&chat)?,
            message_id: parse(&message)?,
        })
    }
}
