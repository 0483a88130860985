//! `POST /api/chats/import`: a raw body or a multipart `file` part, read within
//! `MAX_IMPORT_BYTES`; `?title=`, `?characterId=`, `?personaId=` checked like any field and
//! reference; a SillyTavern chat's speakers matched to the user's characters and persona by
//! name. Everything is checked before anything is stored; a failure after the chat was
//! created removes it.

use std::collections::{HashMap, HashSet};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::extract::{ApiQuery, CurrentUser};
use super::resource::{self, check_references, document_response};
use super::transfer::{self, Import};
use crate::chats::import::{ImportedPosition, ParsedImport};
use crate::chats::sillytavern::{Cast, SillyTavernChat};
use crate::error::{ApiError, Result};
use crate::http::AppState;
use crate::model::chat::Chat;
use crate::model::{Collection, Document, Reference, UserId};
use crate::store::{Filter, ListQuery, MessageChange, SortField};

/// The longest title, in characters (as for any chat).
const MAX_TITLE: usize = 500;
/// How many same-named documents a name lookup reads: more than one is ambiguous anyway.
const NAME_LOOKUP: usize = 2;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportParams {
    /// The chat's title (else one is derived from the file).
    title: Option<String>,
    /// The character who speaks the file's character lines.
    character_id: Option<Uuid>,
    /// The persona who speaks the file's user lines.
    persona_id: Option<Uuid>,
}

pub async fn import_chat(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(params): ApiQuery<ImportParams>,
    request: Request,
) -> Result<Response> {
    check_params(&state, &user, &params).await?;
    let bytes = read_body(request, state.config.max_import_bytes).await?;
    let parsed = match transfer::parse_import(&bytes)? {
        Import::Ours(parsed) => with_params(parsed, &params),
        Import::SillyTavern(chat) => {
            let cast = cast(&state, &user, &chat, &params).await?;
            chat.into_import(&cast)
        }
    };
    drop(bytes);
    // Once the chat exists the import runs to its end (or is undone) even if the request
    // goes away, so a timeout or a disconnect never leaves half a chat behind.
    let task = tokio::spawn(store_import(state.clone(), user.clone(), parsed));
    let chat = task
        .await
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("import task failed: {error}")))??;
    let chat = state.store.get(Collection::Chats, &user, chat.id).await?;
    Ok(document_response(
        StatusCode::CREATED,
        &chat,
        Some("/api/chats"),
    ))
}

async fn check_params(state: &AppState, user: &UserId, params: &ImportParams) -> Result<()> {
    if let Some(title) = &params.title {
        let length = title.trim().chars().count();
        if length == 0 || length > MAX_TITLE {
            return Err(ApiError::validation(
                "title",
                format!("must be 1 to {MAX_TITLE} characters, not blank"),
            ));
        }
    }
    let references: Vec<Reference> = [
        ("characterId", Collection::Characters, params.character_id),
        ("personaId", Collection::Personas, params.persona_id),
    ]
    .into_iter()
    .filter_map(|(field, collection, id)| {
        Some(Reference {
            field: field.to_owned(),
            collection,
            id: id?,
        })
    })
    .collect();
    check_references(state, user, references, &HashSet::new()).await
}

/// The body, whole (bounded by `limit`): raw, or the `file` part of a multipart form.
async fn read_body(request: Request, limit: usize) -> Result<Vec<u8>> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "an import may be at most {limit} bytes (MAX_IMPORT_BYTES)"
        ))
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| too_large())?;
        return Ok(bytes.to_vec());
    }
    let malformed = |error: multer::Error| match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large()
        }
        other => ApiError::bad_request(format!("malformed multipart body: {other}")),
    };
    let boundary = multer::parse_boundary(&content_type).map_err(malformed)?;
    let stream = Body::into_data_stream(request.into_body());
    let constraints = multer::Constraints::new()
        .allowed_fields(vec!["file"])
        .size_limit(
            multer::SizeLimit::new()
                .whole_stream(limit as u64 + 64 * 1024)
                .per_field(limit as u64),
        );
    let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut file = None;
    while let Some(mut field) = form.next_field().await.map_err(|error| match error {
        multer::Error::UnknownField { field_name } => ApiError::bad_request(format!(
            "unknown form part {:?}: an import form has one part, `file`",
            field_name.unwrap_or_default()
        )),
        other => malformed(other),
    })? {
        if file.is_some() {
            return Err(ApiError::bad_request("an import form has one `file` part"));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            bytes.extend_from_slice(&chunk);
        }
        file = Some(bytes);
    }
    file.ok_or_else(|| ApiError::bad_request("the form has no `file` part"))
}

/// Our own export with `?title=` and the named character and persona added as participants.
fn with_params(mut parsed: ParsedImport, params: &ImportParams) -> ParsedImport {
    if let Some(title) = &params.title {
        parsed
            .chat
            .insert("title".to_owned(), Value::String(title.clone()));
    }
    let participants = parsed
        .chat
        .entry("participants")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(participants) = participants {
        for (kind, key, id) in [
            ("character", "characterId", params.character_id),
            ("persona", "personaId", params.persona_id),
        ] {
            let Some(id) = id.map(|id| Value::String(id.to_string())) else {
                continue;
            };
            if !participants.iter().any(|p| p.get(key) == Some(&id)) {
                participants.push(serde_json::json!({"type": kind, key: id}));
            }
        }
    }
    parsed
}

/// Who speaks: what the request named, else the user's characters and persona whose names
/// are the file's (exactly one match each, ignoring case).
async fn cast(
    state: &AppState,
    user: &UserId,
    chat: &SillyTavernChat,
    params: &ImportParams,
) -> Result<Cast> {
    let mut characters_by_name = HashMap::new();
    for name in chat.character_names() {
        if let Some(id) = named(state, user, Collection::Characters, &name).await? {
            characters_by_name.insert(name.to_lowercase(), id);
        }
    }
    let persona = match (params.persona_id, chat.user_name()) {
        (Some(id), _) => Some(id),
        (None, Some(name)) => named(state, user, Collection::Personas, &name).await?,
        (None, None) => None,
    };
    Ok(Cast {
        title: params.title.clone(),
        character: params.character_id,
        persona,
        characters_by_name,
    })
}

/// The one document of `collection` whose `name` is `name` ignoring case, if exactly one is.
async fn named(
    state: &AppState,
    user: &UserId,
    collection: Collection,
    name: &str,
) -> Result<Option<Uuid>> {
    let wanted = name.trim().to_lowercase();
    let mut after = None;
    let mut found = Vec::new();
    loop {
        let page = state
            .store
            .list(&ListQuery {
                collection,
                user: user.clone(),
                filters: vec![Filter::TextContains {
                    fields: &["name"],
                    needle: wanted.clone(),
                }],
                sort: SortField::Name,
                descending: false,
                after,
                limit: 200,
                include_total: false,
            })
            .await?;
        found.extend(
            page.items
                .iter()
                .filter(|document| {
                    document
                        .body
                        .get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|candidate| candidate.trim().to_lowercase() == wanted)
                })
                .map(|document| document.id),
        );
        if found.len() >= NAME_LOOKUP || page.next.is_none() {
            break;
        }
        after = page.next;
    }
    Ok((found.len() == 1).then(|| found[0]))
}

async fn store_import(state: AppState, user: UserId, parsed: ParsedImport) -> Result<Document> {
    let chat = resource::insert_created_at::<Chat>(&state, &user, parsed.chat, parsed.created_at)
        .await
        .map_err(|error| transfer::at_line(1, error))?;
    if let Err(error) = store_messages(&state, &user, &chat, parsed.positions).await {
        if let Err(cleanup) = state
            .store
            .delete(Collection::Chats, &user, chat.id, None)
            .await
        {
            tracing::error!(chat_id = %chat.id, error = %cleanup, "cannot remove a half-imported chat");
        }
        return Err(error);
    }
    Ok(chat)
}

async fn store_messages(
    state: &AppState,
    user: &UserId,
    chat: &Document,
    positions: Vec<ImportedPosition>,
) -> Result<()> {
    for position in &positions {
        for member in &position.members {
            super::messages::check_message_references(state, user, &member.message)
                .await
                .map_err(|error| transfer::at_line(member.line, error))?;
        }
    }
    let changes: Vec<MessageChange> = positions
        .into_iter()
        .map(|position| MessageChange::Append {
            members: position.into_bodies(),
        })
        .collect();
    if !changes.is_empty() {
        state.store.commit_messages(user, chat.id, changes).await?;
    }
    Ok(())
}
