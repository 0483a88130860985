//! Routes for a chat's messages: append, page by `seq`, read, merge-patch, delete, and swipes.
//! The swipe rules (one active member per group, stored) live in [`crate::chats::swipes`]; the
//! handlers read the group's current members, ask a rule for the changes and commit them as one
//! atomic batch with version checks, reading again when a concurrent writer got there first, so
//! the rules hold on every backend and under concurrent writers.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::extract::{
    ApiQuery, CurrentUser, DocumentId, IfMatch, JsonObject, MessagePath, Precondition,
};
use super::openapi::messages as docs;
use super::resource::{
    check_fields, check_precondition, check_references, document_response, merge, parse,
    retry_unless_pinned, to_body,
};
use super::routes::{Endpoint, Routes};
use crate::chats::{StoredMessage, SwipeError, swipes};
use crate::error::{ApiError, Result};
use crate::http::AppState;
use crate::model::message::{MESSAGE_SERVER_FIELDS, Message, Role};
use crate::model::{Document, Resource, UserId, ids};
use crate::store::retry::{Attempt, retry_on_conflict};
use crate::store::{MessageChange, MessageQuery, StoreError};

/// How often a write re-reads messages that concurrent writers changed.
const ATTEMPTS: usize = 32;

pub fn routes() -> Routes {
    Routes::new()
        .endpoint(
            "/api/chats/{id}/messages",
            Endpoint::get(super::message_page::list_messages, docs::list())
                .and(Endpoint::post(append_message, docs::append())),
        )
        .endpoint(
            "/api/chats/{id}/messages/{message_id}",
            Endpoint::get(get_message, docs::get())
                .and(Endpoint::patch(update_message, docs::update()))
                .and(Endpoint::delete(delete_message, docs::delete())),
        )
        .endpoint(
            "/api/chats/{id}/messages/{message_id}/swipes",
            Endpoint::post(add_swipe, docs::add_swipe()),
        )
        .endpoint(
            "/api/chats/{id}/messages/{message_id}/swipes/active",
            Endpoint::put(select_swipe, docs::select_swipe()),
        )
        .schemas(docs::schemas(super::openapi::with_dependencies::<
            SelectSwipe,
        >()))
}

fn location(chat_id: Uuid) -> String {
    format!("/api/chats/{chat_id}/messages")
}

/// Checks the references a message makes (attachments name the user's files).
pub async fn check_message_references(
    state: &AppState,
    user: &UserId,
    message: &Message,
) -> Result<()> {
    check_references(state, user, message.references(), &HashSet::new()).await
}

fn parse_message(body: Map<String, Value>) -> Result<Message> {
    check_fields::<Message>(&body)?;
    parse::<Message>(body)
}

async fn append_message(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(chat_id): DocumentId,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    let message = parse_message(body)?;
    check_message_references(&state, &user, &message).await?;
    let change = MessageChange::Append {
        members: vec![to_body(&message)?],
    };
    let stored = single(
        state
            .store
            .commit_messages(&user, chat_id, vec![change])
            .await?,
    )?;
    Ok(document_response(
        StatusCode::CREATED,
        &stored,
        Some(&location(chat_id)),
    ))
}

fn single(mut written: Vec<Document>) -> Result<Document> {
    written
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a commit returned no message")))
}

async fn get_message(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: MessagePath,
) -> Result<Response> {
    let message = state
        .store
        .get_message(&user, path.chat_id, path.message_id)
        .await?;
    Ok(document_response(StatusCode::OK, &message, None))
}

async fn update_message(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: MessagePath,
    IfMatch(precondition): IfMatch,
    JsonObject(patch): JsonObject,
) -> Result<Response> {
    check_fields::<Message>(&patch)?;
    let patch = Value::Object(patch);
    let written = retry_on_conflict(ATTEMPTS, || {
        update_attempt(&state, &user, &path, precondition, &patch)
    })
    .await
    .map_err(|error| error.or_colliding(busy))?;
    Ok(document_response(StatusCode::OK, &single(written)?, None))
}

/// One read-merge-write of a message's client-owned fields; its swipe fields stay as read.
async fn update_attempt(
    state: &AppState,
    user: &UserId,
    path: &MessagePath,
    precondition: Precondition,
    patch: &Value,
) -> Result<Attempt<Vec<Document>>> {
    let current = state
        .store
        .get_message(user, path.chat_id, path.message_id)
        .await?;
    check_precondition(precondition, &current)?;
    let (client, server) = current.split_server_fields();
    let message: Message = merge(state, user, client, patch).await?;
    let mut body = to_body(&message)?;
    body.extend(server);
    let change = MessageChange::Replace {
        id: current.id,
        expected_version: current.version,
        body,
    };
    let written = state
        .store
        .commit_messages(user, path.chat_id, vec![change])
        .await;
    Ok(retry_unless_pinned(precondition, written)?)
}

fn busy() -> ApiError {
    ApiError::conflict("the messages are changing too fast; retry")
}

/// The members of the swipe group at `seq`, in `swipeIndex` order (one message if none).
async fn members_at(
    state: &AppState,
    user: &UserId,
    chat_id: Uuid,
    seq: u64,
) -> Result<Vec<Document>> {
    let query = MessageQuery {
        user: user.clone(),
        chat_id,
        after: Some(seq.saturating_sub(1)),
        before: Some(seq + 1),
        latest: false,
        limit: 1,
        include_swipes: true,
    };
    Ok(state.store.page_messages(&query).await?.items)
}

/// The members of `target`'s swipe group; none (and no read) when it has no group.
async fn group_members(
    state: &AppState,
    user: &UserId,
    chat_id: Uuid,
    target: &Document,
) -> Result<Vec<Document>> {
    match target.swipe() {
        Some(_) => members_at(state, user, chat_id, target.seq()).await,
        None => Ok(Vec::new()),
    }
}

/// Commits a batch a swipe rule computed; a conflict when a concurrent writer got there first
/// and the rule must be computed again from fresh reads.
async fn commit(
    state: &AppState,
    user: &UserId,
    chat_id: Uuid,
    changes: Vec<MessageChange>,
) -> Result<Attempt<Vec<Document>>> {
    match state.store.commit_messages(user, chat_id, changes).await {
        // A message the plan named is gone: a concurrent delete. Every plan starts by reading
        // the path's message again, so a real absence is answered 404 by that read.
        Err(StoreError::NotFound) => Ok(Attempt::Conflict),
        written => Ok(Attempt::of_write(written)?),
    }
}

/// A refused swipe request is a validation problem of the field that asked for it.
impl From<SwipeError> for ApiError {
    fn from(error: SwipeError) -> Self {
        let field = match error {
            SwipeError::NotAssistant | SwipeError::NoSwipes => "messageId",
            SwipeError::NoSuchIndex => "swipeIndex",
        };
        ApiError::validation(field, error.to_string())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeleteParams {
    group: Option<bool>,
}

/// Deletes a message; `?group=true` deletes its whole swipe group. Deleting the active member
/// of a group makes the nearest remaining member (lower index first) active.
async fn delete_message(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: MessagePath,
    IfMatch(precondition): IfMatch,
    ApiQuery(params): ApiQuery<DeleteParams>,
) -> Result<StatusCode> {
    let whole_group = params.group.unwrap_or(false);
    retry_on_conflict(ATTEMPTS, || async {
        let target = state
            .store
            .get_message(&user, path.chat_id, path.message_id)
            .await?;
        // A conflict on another member is retried; one on the target fails this check.
        check_precondition(precondition, &target)?;
        let members = group_members(&state, &user, path.chat_id, &target).await?;
        let changes = swipes::plan_delete(&target, &members, whole_group);
        commit(&state, &user, path.chat_id, changes).await
    })
    .await
    .map_err(|error| error.or_colliding(busy))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a member to an assistant message's swipe group (creating the group on the first
/// swipe) and makes it the active one.
async fn add_swipe(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: MessagePath,
    JsonObject(mut body): JsonObject,
) -> Result<Response> {
    body.entry("role")
        .or_insert_with(|| Value::String("assistant".to_owned()));
    let message = parse_message(body)?;
    if message.role != Role::Assistant {
        return Err(ApiError::validation(
            "role",
            "swipes are alternative assistant messages",
        ));
    }
    check_message_references(&state, &user, &message).await?;
    let new_body = to_body(&message)?;
    let written = retry_on_conflict(ATTEMPTS, || async {
        let target = state
            .store
            .get_message(&user, path.chat_id, path.message_id)
            .await?;
        let members = members_at(&state, &user, path.chat_id, target.seq()).await?;
        // Plan from one read: the target as the members' read found it (a swipe landing
        // between the two reads may have put it in a group meanwhile).
        let Some(target) = members.iter().find(|member| member.id == target.id) else {
            return Ok(Attempt::Conflict);
        };
        let changes = swipes::plan_swipe(target, &members, new_body.clone(), ids::new_id())?;
        commit(&state, &user, path.chat_id, changes).await
    })
    .await
    .map_err(|error| error.or_colliding(busy))?;
    Ok(document_response(
        StatusCode::CREATED,
        &single(written)?,
        Some(&location(path.chat_id)),
    ))
}

/// The body of `PUT .../swipes/active`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SelectSwipe {
    swipe_index: u64,
}

/// Makes the member with `swipeIndex` the active one of the group `messageId` belongs to.
async fn select_swipe(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    path: MessagePath,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    // Like every body: a field the client may not set is a 400, not a validation problem.
    super::resource::refuse_fields(
        body.keys().filter(|key| *key != "swipeIndex"),
        MESSAGE_SERVER_FIELDS,
        |_| false,
        "is not a field of this request (only swipeIndex)",
    )?;
    let choice: SelectSwipe = serde_json::from_value(Value::Object(body))
        .map_err(|error| ApiError::validation("swipeIndex", error.to_string()))?;
    let chosen_id = retry_on_conflict(ATTEMPTS, || async {
        let target = state
            .store
            .get_message(&user, path.chat_id, path.message_id)
            .await?;
        let members = group_members(&state, &user, path.chat_id, &target).await?;
        let selection = swipes::plan_selection(&target, &members, choice.swipe_index)?;
        let written = commit(&state, &user, path.chat_id, selection.changes).await?;
        Ok(written.map(|_| selection.chosen))
    })
    .await
    .map_err(|error| error.or_colliding(busy))?;
    let chosen = state
        .store
        .get_message(&user, path.chat_id, chosen_id)
        .await?;
    Ok(document_response(StatusCode::OK, &chosen, None))
}
