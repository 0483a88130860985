//! Routes for API keys: the shared document routes (the `key` is sealed on every write and
//! never shown) and `POST /api/api-keys/{id}/reveal`, the one way the plaintext leaves: for a
//! token carrying `SECRETS_REVEAL_SCOPE` (the app's own backend, never a browser), or under
//! `AUTH_MODE=none` only when `SECRETS_REVEAL_WITHOUT_AUTH=true`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extract::DocumentId;
use super::list::{FieldFilter, FieldKind, ListExtras, ListSpec};
use super::openapi::{Op, string};
use super::resource::{HttpResource, document_routes};
use super::routes::{Endpoint, Routes};
use crate::error::{ApiError, Result};
use crate::http::AppState;
use crate::model::api_key::ApiKey;
use crate::model::{Collection, Timestamp};
use crate::secrets::Sealed;
use crate::store::StoreError;

impl HttpResource for ApiKey {
    const LIST: ListSpec = ListSpec {
        text_fields: &["label"],
        tag: false,
        favorite: false,
        files: false,
        participants: false,
    };
    const LIST_EXTRAS: ListExtras = ListExtras {
        sorts: &[],
        fields: &[FieldFilter {
            name: "provider",
            kind: FieldKind::Text,
            description: "only keys of this provider (exact)",
        }],
    };
    const RELATED_OPERATIONS: &'static [&'static str] = &["revealApiKey"];
}

pub fn routes() -> Routes {
    document_routes::<ApiKey>().endpoint(
        "/api/api-keys/{id}/reveal",
        Endpoint::post(reveal_api_key, reveal_op()),
    )
}

fn reveal_op() -> Op {
    let body = utoipa::openapi::ObjectBuilder::new()
        .property("key", string())
        .required("key");
    Op::new("revealApiKey", "api-keys", "Read an API key's plaintext")
        .describe(
            "Needs a token whose `scope` (or `scp`) claim holds `SECRETS_REVEAL_SCOPE` (default \
             `secrets:reveal`): meant for the app's own backend, never the browser. Refused \
             under `AUTH_MODE=none` unless `SECRETS_REVEAL_WITHOUT_AUTH=true`. Sets \
             `lastUsedAt`. The answer is `Cache-Control: no-store`.",
        )
        .path_id("id", "the API key's id")
        .json(200, "the plaintext key", body)
        .errors(&[403, 409])
}

async fn reveal_api_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let authorization = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    // Who asks comes first: without credentials the answer is 401, whatever the path holds.
    let caller = state.auth.caller(authorization)?;
    let DocumentId(id) = DocumentId::parse(&id)?;
    state.throttle.check_user(&caller.user)?;
    let encryption = &state.config.encryption;
    let allowed = if caller.authenticated {
        caller.scopes.contains(&encryption.reveal_scope)
    } else {
        encryption.reveal_without_auth
    };
    if !allowed {
        return Err(ApiError::Forbidden(if caller.authenticated {
            format!(
                "revealing a key needs a token with the scope {}",
                encryption.reveal_scope
            )
        } else {
            "revealing keys is off under AUTH_MODE=none (SECRETS_REVEAL_WITHOUT_AUTH)".to_owned()
        }));
    }
    let user = caller.user;
    // Each reveal records itself in `lastUsedAt`; a concurrent change is re-read.
    let mut attempts = 0;
    let plaintext = loop {
        attempts += 1;
        let current = state.store.get(Collection::ApiKeys, &user, id).await?;
        let sealed: Sealed = current
            .body
            .get("secret")
            .cloned()
            .and_then(|secret| serde_json::from_value(secret).ok())
            .ok_or_else(|| anyhow::anyhow!("API key {id} has no sealed secret"))?;
        // A value that does not open (moved from another record, or sealed with a key this
        // instance lacks) is refused, never guessed at; the error names keys by fingerprint.
        let plaintext = state.keyring.open(&sealed, &user, id).map_err(|error| {
            tracing::error!(api_key = %id, error = %error, "a stored API key does not open");
            ApiError::conflict(format!("the stored key cannot be decrypted: {error}"))
        })?;
        let mut body = current.body.clone();
        body.insert(
            "lastUsedAt".to_owned(),
            Value::String(Timestamp::now().to_string()),
        );
        match state
            .store
            .replace(Collection::ApiKeys, &user, id, current.version, body)
            .await
        {
            Ok(_) => break plaintext,
            Err(StoreError::VersionMismatch) if attempts < 16 => continue,
            Err(error) => return Err(error.into()),
        }
    };
    Ok((
        [(CACHE_CONTROL, "no-store")],
        axum::Json(json!({ "key": plaintext })),
    )
        .into_response())
}
