//! `GET /api/chats/{id}/export`: the chat as JSON Lines, streamed a batch of messages at a
//! time. `?format=quillstore` (the default) is our own format, which imports back losslessly;
//! `?format=sillytavern` is a file SillyTavern loads (see `chats::sillytavern::write`).

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::extract::{ApiQuery, CurrentUser, DocumentId};
use super::transfer::{self, EXPORT_FORMAT};
use crate::chats::StoredMessage;
use crate::chats::sillytavern::{UNUSED_NAME, write};
use crate::error::Result;
use crate::http::AppState;
use crate::model::chat::{Chat, ParticipantType};
use crate::model::{Collection, Document, UserId};
use crate::store::MessageQuery;

/// Message positions read per store call while an export streams.
const EXPORT_BATCH: usize = 200;

#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Quillstore,
    Sillytavern,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportParams {
    #[serde(default)]
    format: ExportFormat,
}

/// Streams the chat: a header line, then its messages in `seq` order (every swipe its own
/// line in our format; one line per position, swipes inside, in SillyTavern's).
pub async fn export_chat(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(chat_id): DocumentId,
    ApiQuery(params): ApiQuery<ExportParams>,
) -> Result<Response> {
    let chat = state.store.get(Collection::Chats, &user, chat_id).await?;
    let names = match params.format {
        ExportFormat::Quillstore => None,
        ExportFormat::Sillytavern => Some(names(&state, &user, &chat).await?),
    };
    let header_line = match &names {
        None => Some(transfer::export_header(&chat)),
        Some(names) => write::header(&chat, names).map(|header| line(&Value::Object(header))),
    };
    let pages = stream::unfold(Some(0u64), move |after| {
        let state = state.clone();
        let user = user.clone();
        let names = names.clone();
        async move {
            let after = after?;
            let query = MessageQuery {
                user,
                chat_id,
                after: Some(after),
                before: None,
                latest: false,
                limit: EXPORT_BATCH,
                include_swipes: true,
            };
            match state.store.page_messages(&query).await {
                Ok(page) => {
                    let next = page.has_more.then(|| page.items.last().map(transfer::seq_of)).flatten();
                    let lines: Vec<std::io::Result<Bytes>> = match &names {
                        None => page.items.iter().map(|message| Ok(transfer::export_line(message))).collect(),
                        Some(names) => positions(&page.items)
                            .map(|members| Ok(line(&Value::Object(write::line(members, names)))))
                            .collect(),
                    };
                    Some((stream::iter(lines), next))
                }
                Err(error) => {
                    tracing::error!(%chat_id, error = %error, "export stopped: cannot read messages");
                    let failure: Vec<std::io::Result<Bytes>> = vec![Err(std::io::Error::other("export failed"))];
                    Some((stream::iter(failure), None))
                }
            }
        }
    })
    .flatten();
    let body = stream::iter(header_line.map(Ok::<_, std::io::Error>)).chain(pages);
    let disposition = format!("attachment; filename=\"chat-{chat_id}.jsonl\"");
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(EXPORT_FORMAT),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The members of each position of a page (a page never splits a position).
fn positions(items: &[Document]) -> impl Iterator<Item = &[Document]> {
    items.chunk_by(|first, second| first.seq() == second.seq())
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The names SillyTavern lines are written with: each participant's character or persona
/// name; the user's is the persona's (else "User"), the character's the only character's
/// (else "unused", as SillyTavern writes for groups).
async fn names(state: &AppState, user: &UserId, chat: &Document) -> Result<write::Names> {
    let participants = serde_json::from_value::<Chat>(Value::Object(chat.body.clone()))
        .map(|chat| chat.participants)
        .unwrap_or_default();
    let mut by_participant = HashMap::new();
    let (mut characters, mut personas) = (Vec::new(), Vec::new());
    for participant in participants {
        let (collection, id, list) = match participant.kind {
            ParticipantType::Character => (
                Collection::Characters,
                participant.character_id,
                &mut characters,
            ),
            ParticipantType::Persona => {
                (Collection::Personas, participant.persona_id, &mut personas)
            }
        };
        let Some(id) = id else { continue };
        let Some(name) = name_of(state, user, collection, id).await? else {
            continue;
        };
        if let Some(participant_id) = participant.id {
            by_participant.insert(participant_id, name.clone());
        }
        list.push(name);
    }
    Ok(write::Names {
        user: personas
            .first()
            .cloned()
            .unwrap_or_else(|| "User".to_owned()),
        character: match characters.as_slice() {
            [one] => one.clone(),
            _ => UNUSED_NAME.to_owned(),
        },
        participants: by_participant,
    })
}

/// A character's or persona's name; `None` when it is gone.
async fn name_of(
    state: &AppState,
    user: &UserId,
    collection: Collection,
    id: Uuid,
) -> Result<Option<String>> {
    match state.store.get(collection, user, id).await {
        Ok(document) => Ok(document
            .body
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)),
        Err(crate::store::StoreError::NotFound) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
