//! Routes for a chat's messages: append, page by `seq`, read, merge-patch, delete, and swipes.
//! The swipe rules (one active member per group, stored) are computed here from the group's
//! current members and committed as one atomic batch with version checks, so they hold on
//! every backend and under concurrent writers.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::extract::{
    ApiQuery, CurrentUser, DocumentId, IfMatch, JsonObject, MessagePath, Precondition,
};
use super::list::MAX_LIMIT;
use super::openapi::messages as docs;
use super::resource::{check_fields, check_references, document_response, parse, to_body};
use super::routes::{Endpoint, Routes};
use crate::AppState;
use crate::error::{ApiError, FieldError, Result};
use crate::model::message::{MESSAGE_SERVER_FIELDS, Message, Placement, Role};
use crate::model::{Document, Resource, SERVER_OWNED_FIELDS, UserId, ids};
use crate::store::{MessageChange, MessageQuery, StoreError};

/// How often a write re-reads messages that concurrent writers changed.
const ATTEMPTS: usize = 32;

pub fn routes() -> Routes {
    Routes::new()
        .endpoint(
            "/api/chats/{id}/messages",
            Endpoint::get(list_messages, docs::list())
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PageParams {
    after: Option<u64>,
    before: Option<u64>,
    latest: Option<bool>,
    limit: Option<usize>,
    include_swipes: Option<bool>,
}

async fn list_messages(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(chat_id): DocumentId,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<axum::Json<Value>> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1-{MAX_LIMIT}"
        )));
    }
    let latest = params.latest.unwrap_or(false);
    if latest && (params.after.is_some() || params.before.is_some()) {
        return Err(ApiError::bad_request(
            "latest cannot be combined with after or before",
        ));
    }
    let query = MessageQuery {
        user,
        chat_id,
        after: params.after,
        before: params.before,
        latest,
        limit,
        include_swipes: params.include_swipes.unwrap_or(false),
    };
    let page = state.store.page_messages(&query).await?;
    Ok(axum::Json(
        json!({"items": page.items, "hasMore": page.has_more}),
    ))
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

/// Splits a stored message into its client-owned fields and its server-owned swipe fields.
fn split(message: &Document) -> (Map<String, Value>, Map<String, Value>) {
    let (mut client, mut server) = (Map::new(), Map::new());
    for (key, value) in &message.body {
        if MESSAGE_SERVER_FIELDS.contains(&key.as_str()) {
            server.insert(key.clone(), value.clone());
        } else {
            client.insert(key.clone(), value.clone());
        }
    }
    (client, server)
}

/// The message's body with its swipe fields set to `fields`.
fn with_swipe(message: &Document, fields: &[(&str, Value)]) -> Map<String, Value> {
    let mut body = message.body.clone();
    for (key, value) in fields {
        body.insert((*key).to_owned(), value.clone());
    }
    body
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
    for _ in 0..ATTEMPTS {
        let current = state
            .store
            .get_message(&user, path.chat_id, path.message_id)
            .await?;
        check_precondition(precondition, &current)?;
        let (client, server) = split(&current);
        let mut merged = Value::Object(client.clone());
        json_patch::merge(&mut merged, &patch);
        let Value::Object(merged) = merged else {
            return Err(ApiError::bad_request("a merge patch must be an object"));
        };
        let message: Message = parse(merged)?;
        let known: HashSet<Uuid> = parse::<Message>(client)
            .map(|previous| {
                previous
                    .references()
                    .into_iter()
                    .map(|reference| reference.id)
                    .collect()
            })
            .unwrap_or_default();
        check_references(&state, &user, message.references(), &known).await?;
        let mut body = to_body(&message)?;
        body.extend(server);
        let change = MessageChange::Replace {
            id: current.id,
            expected_version: current.version,
            body,
        };
        match state
            .store
            .commit_messages(&user, path.chat_id, vec![change])
            .await
        {
            Ok(written) => return Ok(document_response(StatusCode::OK, &single(written)?, None)),
            Err(StoreError::VersionMismatch) if precondition.version().is_none() => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(busy())
}

fn check_precondition(precondition: Precondition, current: &Document) -> Result<()> {
    if precondition
        .version()
        .is_some_and(|expected| expected != current.version)
    {
        return Err(ApiError::PreconditionFailed);
    }
    Ok(())
}

fn busy() -> ApiError {
    ApiError::Conflict {
        message: "the messages are changing too fast; retry".to_owned(),
        details: None,
    }
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

/// Commits a batch a swipe rule computed; `None` when a concurrent writer got there first and
/// the rule must be computed again from fresh reads.
async fn try_commit(
    state: &AppState,
    user: &UserId,
    chat_id: Uuid,
    changes: Vec<MessageChange>,
) -> Result<Option<Vec<Document>>> {
    match state.store.commit_messages(user, chat_id, changes).await {
        Err(StoreError::VersionMismatch) => Ok(None),
        other => Ok(Some(other?)),
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
    for _ in 0..ATTEMPTS {
        let changes = plan_delete(&state, &user, &path, precondition, whole_group).await?;
        if try_commit(&state, &user, path.chat_id, changes)
            .await?
            .is_some()
        {
            return Ok(StatusCode::NO_CONTENT);
        }
    }
    Err(busy())
}

async fn plan_delete(
    state: &AppState,
    user: &UserId,
    path: &MessagePath,
    precondition: Precondition,
    whole_group: bool,
) -> Result<Vec<MessageChange>> {
    let target = state
        .store
        .get_message(user, path.chat_id, path.message_id)
        .await?;
    check_precondition(precondition, &target)?;
    let placement = Placement::of(&target.body);
    if placement.swipe_group.is_none() {
        return Ok(vec![MessageChange::Delete {
            id: target.id,
            expected_version: target.version,
        }]);
    }
    let members = members_at(state, user, path.chat_id, placement.seq).await?;
    if whole_group {
        return Ok(members
            .iter()
            .map(|member| MessageChange::Delete {
                id: member.id,
                expected_version: member.version,
            })
            .collect());
    }
    let mut changes = vec![MessageChange::Delete {
        id: target.id,
        expected_version: target.version,
    }];
    if placement.visible {
        let rest: Vec<&Document> = members
            .iter()
            .filter(|member| member.id != target.id)
            .collect();
        let heir = rest
            .iter()
            .rev()
            .find(|member| Placement::of(&member.body).swipe_index < placement.swipe_index)
            .or_else(|| rest.first());
        if let Some(heir) = heir {
            let body = with_swipe(heir, &[("swipeActive", Value::Bool(true))]);
            changes.push(MessageChange::Replace {
                id: heir.id,
                expected_version: heir.version,
                body,
            });
        }
    }
    Ok(changes)
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
    for _ in 0..ATTEMPTS {
        let changes = plan_swipe(&state, &user, &path, &new_body).await?;
        if let Some(written) = try_commit(&state, &user, path.chat_id, changes).await? {
            let swipe = single(written)?;
            return Ok(document_response(
                StatusCode::CREATED,
                &swipe,
                Some(&location(path.chat_id)),
            ));
        }
    }
    Err(busy())
}

async fn plan_swipe(
    state: &AppState,
    user: &UserId,
    path: &MessagePath,
    new_body: &Map<String, Value>,
) -> Result<Vec<MessageChange>> {
    let target = state
        .store
        .get_message(user, path.chat_id, path.message_id)
        .await?;
    if target.body.get("role").and_then(Value::as_str) != Some("assistant") {
        return Err(ApiError::validation(
            "messageId",
            "only assistant messages can have swipes",
        ));
    }
    let placement = Placement::of(&target.body);
    let members = members_at(state, user, path.chat_id, placement.seq).await?;
    let group = placement
        .swipe_group
        .unwrap_or_else(ids::new_id)
        .to_string();
    let next_index = members
        .iter()
        .map(|member| Placement::of(&member.body).swipe_index)
        .max()
        .map_or(1, |max| max + 1);
    let mut changes = Vec::new();
    for member in &members {
        let was_grouped = Placement::of(&member.body).swipe_group.is_some();
        if member.body.get("swipeActive") == Some(&Value::Bool(true)) || !was_grouped {
            let mut fields = vec![
                ("swipeActive", Value::Bool(false)),
                ("swipeGroupId", Value::String(group.clone())),
            ];
            if !was_grouped {
                fields.push(("swipeIndex", Value::from(0u64)));
            }
            let body = with_swipe(member, &fields);
            changes.push(MessageChange::Replace {
                id: member.id,
                expected_version: member.version,
                body,
            });
        }
    }
    let mut swipe = new_body.clone();
    swipe.insert("swipeGroupId".to_owned(), Value::String(group));
    swipe.insert("swipeIndex".to_owned(), Value::from(next_index));
    swipe.insert("swipeActive".to_owned(), Value::Bool(true));
    changes.push(MessageChange::Insert {
        seq: placement.seq,
        body: swipe,
    });
    Ok(changes)
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
    let unexpected: Vec<FieldError> = body
        .keys()
        .filter(|key| *key != "swipeIndex")
        .map(|key| {
            let server = SERVER_OWNED_FIELDS.contains(&key.as_str())
                || MESSAGE_SERVER_FIELDS.contains(&key.as_str());
            let problem = if server {
                "is set by the server"
            } else {
                "is not a field of this request (only swipeIndex)"
            };
            FieldError::new(key, problem)
        })
        .collect();
    if !unexpected.is_empty() {
        return Err(ApiError::bad_fields(
            "the body has fields a client may not set",
            unexpected,
        ));
    }
    let choice: SelectSwipe = serde_json::from_value(Value::Object(body))
        .map_err(|error| ApiError::validation("swipeIndex", error.to_string()))?;
    for _ in 0..ATTEMPTS {
        let (chosen_id, changes) = plan_selection(&state, &user, &path, choice.swipe_index).await?;
        if try_commit(&state, &user, path.chat_id, changes)
            .await?
            .is_some()
        {
            let chosen = state
                .store
                .get_message(&user, path.chat_id, chosen_id)
                .await?;
            return Ok(document_response(StatusCode::OK, &chosen, None));
        }
    }
    Err(busy())
}

async fn plan_selection(
    state: &AppState,
    user: &UserId,
    path: &MessagePath,
    swipe_index: u64,
) -> Result<(Uuid, Vec<MessageChange>)> {
    let target = state
        .store
        .get_message(user, path.chat_id, path.message_id)
        .await?;
    let placement = Placement::of(&target.body);
    if placement.swipe_group.is_none() {
        return Err(ApiError::validation(
            "messageId",
            "this message has no swipes",
        ));
    }
    let members = members_at(state, user, path.chat_id, placement.seq).await?;
    let chosen = members
        .iter()
        .find(|member| Placement::of(&member.body).swipe_index == swipe_index)
        .ok_or_else(|| {
            ApiError::validation("swipeIndex", "no member of the group has this index")
        })?;
    let mut changes = Vec::new();
    for member in &members {
        let active = member.id == chosen.id;
        if Placement::of(&member.body).visible != active {
            let body = with_swipe(member, &[("swipeActive", Value::Bool(active))]);
            changes.push(MessageChange::Replace {
                id: member.id,
                expected_version: member.version,
                body,
            });
        }
    }
    Ok((chosen.id, changes))
}
