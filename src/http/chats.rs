//! Routes for chats: the shared document routes, plus export and import as JSON Lines.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};

use super::extract::{CurrentUser, DocumentId};
use super::list::ListSpec;
use super::openapi::{Op, string};
use super::resource::{self, HttpResource, document_response, document_routes};
use super::routes::{Endpoint, Routes};
use super::transfer::{self, EXPORT_FORMAT};
use crate::error::{ApiError, Result};
use crate::http::AppState;
use crate::model::chat::Chat;
use crate::model::{Collection, Document, UserId};
use crate::store::{MessageChange, MessageQuery};

/// Messages read per store call while an export streams.
const EXPORT_BATCH: usize = 200;

impl HttpResource for Chat {
    const LIST: ListSpec = ListSpec {
        text_fields: &["title"],
        tag: true,
        favorite: false,
        participants: true,
        files: false,
    };
    const RELATED_OPERATIONS: &'static [&'static str] =
        &["appendMessage", "listMessages", "exportChat"];
}

pub fn routes() -> Routes {
    document_routes::<Chat>()
        .endpoint(
            "/api/chats/{id}/export",
            Endpoint::get(export_chat, export_op()),
        )
        .endpoint(
            "/api/chats/import",
            Endpoint::post(import_chat, import_op()),
        )
}

fn export_op() -> Op {
    let lines = utoipa::openapi::ResponseBuilder::new()
        .description(
            "JSON Lines, streamed: a header `{\"type\": \"quillstore-chat\", \"version\": 1, \
             \"chat\": {...}}`, then every message (swipes included) in (`seq`, `swipeIndex`) order",
        )
        .content(
            EXPORT_FORMAT,
            utoipa::openapi::Content::new(Some(string())),
        )
        .header(
            "Content-Disposition",
            utoipa::openapi::header::HeaderBuilder::new()
                .schema(Some(string()))
                .description(Some("`attachment; filename=\"chat-<id>.jsonl\"`"))
                .build(),
        );
    Op::new("exportChat", "chats", "Export a chat as JSON Lines")
        .path_id("id", "the chat's id")
        .response(200, lines)
}

/// A small export: the header line, then one message per line.
const IMPORT_EXAMPLE: &str = concat!(
    r#"{"type": "quillstore-chat", "version": 1, "chat": {"title": "First contact"}}"#,
    "\n",
    r#"{"seq": 1, "role": "user", "content": "Hello?"}"#,
    "\n",
    r#"{"seq": 2, "role": "assistant", "content": "Course plotted."}"#,
    "\n",
);

fn import_op() -> Op {
    let lines = || {
        utoipa::openapi::ContentBuilder::new()
            .schema(Some(string()))
            .example(Some(IMPORT_EXAMPLE.into()))
            .build()
    };
    let body = utoipa::openapi::request_body::RequestBodyBuilder::new()
        .description(Some(
            "JSON Lines (any content type): a quillstore export, or a SillyTavern chat file",
        ))
        .required(Some(utoipa::openapi::Required::True))
        .content(EXPORT_FORMAT, lines())
        .content("text/plain", lines())
        .build();
    Op::new("importChat", "chats", "Import a chat from JSON Lines")
        .describe(
            "All or nothing. A bad line is a 422 whose `details[].field` starts with `line N`.",
        )
        .body(body)
        .document(201, "the new chat", "Chat")
        .errors(&[400, 413, 422])
}

/// Streams the chat as JSON Lines: a header with the chat, then every message (swipes
/// included) in `seq` order, read from the store a batch at a time.
async fn export_chat(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(chat_id): DocumentId,
) -> Result<Response> {
    let chat = state.store.get(Collection::Chats, &user, chat_id).await?;
    let header_line = transfer::export_header(&chat);
    let pages = stream::unfold(Some(0u64), move |after| {
        let state = state.clone();
        let user = user.clone();
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
                    let lines: Vec<std::io::Result<Bytes>> =
                        page.items.iter().map(|message| Ok(transfer::export_line(message))).collect();
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
    let body = stream::once(async move { Ok::<_, std::io::Error>(header_line) }).chain(pages);
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

/// Creates a new chat from our export format or a SillyTavern chat file. Everything is
/// checked before anything is stored; a failure after the chat was created removes it.
async fn import_chat(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    request: Request,
) -> Result<Response> {
    let limit = state.config.max_import_bytes;
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| {
            ApiError::PayloadTooLarge(format!(
                "an import may be at most {limit} bytes (MAX_IMPORT_BYTES)"
            ))
        })?;
    let parsed = transfer::parse_import(&bytes)?;
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

async fn store_import(
    state: AppState,
    user: UserId,
    parsed: transfer::ParsedImport,
) -> Result<Document> {
    let chat = resource::insert::<Chat>(&state, &user, parsed.chat)
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
    positions: Vec<transfer::ImportedPosition>,
) -> Result<()> {
    for position in &positions {
        for (index, message) in position.members.iter().enumerate() {
            super::messages::check_message_references(state, user, message)
                .await
                .map_err(|error| transfer::at_line(position.lines[index], error))?;
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
