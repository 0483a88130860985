//! The document routes every collection shares (create, get, list, merge-patch, delete),
//! written once and generic over the [`Resource`] type. A resource module only states what its
//! list accepts and adds routes of its own.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::extract::{ApiQuery, CurrentUser, DocumentId, IfMatch, JsonObject, Precondition};
pub use super::list::HttpResource;
use super::list::{ListParams, ListSpec};
use super::openapi::resource::{document_ops, document_schemas};
use super::routes::{Endpoint, Routes};
use crate::error::{ApiError, FieldError, Result};
use crate::http::AppState;
use crate::model::{Document, Reference, Resource, SERVER_OWNED_FIELDS, Timestamp, UserId, ids};
use crate::store::retry::{Attempt, retry_on_conflict};
use crate::store::{ListQuery, StoreResult};

/// The five document routes of one collection, with their operations and schemas.
pub fn document_routes<R: HttpResource>() -> Routes {
    let collection = format!("/api/{}", R::COLLECTION.name());
    let ops = document_ops::<R>();
    Routes::new()
        .endpoint(
            &collection,
            Endpoint::get(list_documents::<R>, ops.list)
                .and(Endpoint::post(create_document::<R>, ops.create)),
        )
        .endpoint(
            &format!("{collection}/{{id}}"),
            Endpoint::get(get_document::<R>, ops.get)
                .and(Endpoint::patch(update_document::<R>, ops.update))
                .and(Endpoint::delete(delete_document::<R>, ops.delete)),
        )
        .schemas(document_schemas::<R>())
}

async fn list_documents<R: HttpResource>(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<axum::Json<Value>> {
    list::<R>(&state, &user, params, &R::LIST).await
}

async fn create_document<R: HttpResource>(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonObject(body): JsonObject,
) -> Result<Response> {
    create::<R>(&state, &user, body).await
}

async fn get_document<R: HttpResource>(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
) -> Result<Response> {
    read::<R>(&state, &user, id).await
}

async fn update_document<R: HttpResource>(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    IfMatch(precondition): IfMatch,
    JsonObject(patch): JsonObject,
) -> Result<Response> {
    update::<R>(&state, &user, id, precondition, patch).await
}

async fn delete_document<R: HttpResource>(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    DocumentId(id): DocumentId,
    IfMatch(precondition): IfMatch,
) -> Result<Response> {
    let cleared = delete_counting::<R>(&state, &user, id, precondition).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(REFERENCES_CLEARED, HeaderValue::from(cleared))],
    )
        .into_response())
}

/// The header of a delete's answer that says how many other documents it changed (ids of the
/// deleted document removed from them, or documents it owned deleted).
pub const REFERENCES_CLEARED: &str = "x-references-cleared";

/// A stored document as a client may see it: without the resource's hidden fields.
pub fn visible<R: Resource>(mut document: Document) -> Document {
    for field in R::HIDDEN_FIELDS {
        document.body.remove(*field);
    }
    document
}

/// How often an update without `If-Match` re-reads a document that concurrent writers changed.
const UPDATE_ATTEMPTS: usize = 32;

/// A document with its `ETag`, and `Location` when it was just created.
pub fn document_response(status: StatusCode, document: &Document, path: Option<&str>) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(etag) = HeaderValue::from_str(&version_etag(document.version)) {
        headers.insert(header::ETAG, etag);
    }
    if let Some(location) =
        path.and_then(|path| HeaderValue::from_str(&format!("{path}/{}", document.id)).ok())
    {
        headers.insert(header::LOCATION, location);
    }
    (status, headers, axum::Json(document)).into_response()
}

/// The ETag of a document's JSON representation: its version, quoted.
pub fn version_etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// A 412 that lost a race after its check (the store found another version) gets the
/// current ETag from a fresh read, so every 412 tells the client what to send next.
pub(super) async fn with_current_etag(
    state: &AppState,
    collection: crate::model::Collection,
    user: &UserId,
    id: Uuid,
    error: ApiError,
) -> ApiError {
    if !matches!(error, ApiError::PreconditionFailed { current_etag: None }) {
        return error;
    }
    match state.store.get(collection, user, id).await {
        Ok(current) => ApiError::precondition_failed(version_etag(current.version)),
        Err(_) => error,
    }
}

/// Rejects fields the client may not send: server-owned ones and ones the resource lacks,
/// each named with its own reason, under a headline that says which kinds the body has.
pub(super) fn check_fields<R: Resource>(body: &Map<String, Value>) -> Result<()> {
    refuse_fields(
        body.keys(),
        R::SERVER_FIELDS,
        |key| R::FIELDS.contains(&key),
        "is not a field of this resource",
    )
}

/// Whether `key` is set by the server: a field every document has, or one of `extra`.
pub(super) fn is_server_owned(key: &str, extra: &[&str]) -> bool {
    SERVER_OWNED_FIELDS.contains(&key) || extra.contains(&key)
}

/// The one check behind every body: keys the server sets (the common ones and
/// `server_fields`) and keys `allowed` refuses are a 400 naming each with its reason.
pub(super) fn refuse_fields<'a>(
    keys: impl Iterator<Item = &'a String>,
    server_fields: &[&str],
    allowed: impl Fn(&str) -> bool,
    unknown_reason: &str,
) -> Result<()> {
    let (mut server_owned, mut unknown) = (false, false);
    let problems: Vec<FieldError> = keys
        .filter_map(|key| {
            if is_server_owned(key, server_fields) {
                server_owned = true;
                Some(FieldError::new(key, "is set by the server"))
            } else if !allowed(key) {
                unknown = true;
                Some(FieldError::new(key, unknown_reason))
            } else {
                None
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_fields(
            field_headline(server_owned, unknown),
            problems,
        ))
    }
}

/// The headline of a 400 for fields a client may not send.
fn field_headline(server_owned: bool, unknown: bool) -> &'static str {
    match (server_owned, unknown) {
        (true, true) => "the body has unknown fields and fields only the server sets",
        (true, false) => "the body has fields only the server sets",
        _ => "the body has unknown fields",
    }
}

/// Reads a body into the resource type and applies its rules.
pub(super) fn parse<R: Resource>(body: Map<String, Value>) -> Result<R> {
    let mut resource: R =
        serde_path_to_error::deserialize(Value::Object(body)).map_err(|error| {
            let message = error.inner().to_string();
            let mut field = error.path().to_string();
            // serde reports a missing field at its parent; name the field itself.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            if let Some(missing) = missing {
                field = if field == "." {
                    missing.to_owned()
                } else {
                    format!("{field}.{missing}")
                };
            }
            if message.starts_with("unknown field") {
                ApiError::bad_fields(
                    field_headline(false, true),
                    vec![FieldError::new(field, message)],
                )
            } else {
                ApiError::Validation(vec![FieldError::new(field, message)])
            }
        })?;
    let problems = resource.validate();
    if problems.is_empty() {
        Ok(resource)
    } else {
        Err(ApiError::Validation(problems))
    }
}

pub(super) fn to_body<R: Resource>(resource: &R) -> Result<Map<String, Value>> {
    match serde_json::to_value(resource).map_err(anyhow::Error::from)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::Internal(anyhow::anyhow!(
            "a resource serialized to a non-object"
        ))),
    }
}

/// Checks that every reference names a document of the same user (422 otherwise). References
/// a document already held (`known`) are not re-checked, so a reference left dangling by a
/// concurrent delete does not block unrelated edits.
pub(super) async fn check_references(
    state: &AppState,
    user: &UserId,
    references: Vec<Reference>,
    known: &HashSet<Uuid>,
) -> Result<()> {
    let mut missing = Vec::new();
    let fresh: Vec<&Reference> = references
        .iter()
        .filter(|reference| !known.contains(&reference.id))
        .collect();
    let mut collections: Vec<_> = fresh.iter().map(|reference| reference.collection).collect();
    collections.sort();
    collections.dedup();
    for collection in collections {
        let wanted: Vec<Uuid> = fresh
            .iter()
            .filter(|r| r.collection == collection)
            .map(|r| r.id)
            .collect();
        let existing = state.store.existing_ids(collection, user, &wanted).await?;
        for reference in fresh
            .iter()
            .filter(|r| r.collection == collection && !existing.contains(&r.id))
        {
            missing.push(FieldError::new(
                &reference.field,
                format!(
                    "no {} with id {}",
                    collection.name().trim_end_matches('s'),
                    reference.id
                ),
            ));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(missing))
    }
}

pub async fn create<R: Resource>(
    state: &AppState,
    user: &UserId,
    body: Map<String, Value>,
) -> Result<Response> {
    let stored = visible::<R>(insert::<R>(state, user, body).await?);
    let path = format!("/api/{}", R::COLLECTION.name());
    Ok(document_response(StatusCode::CREATED, &stored, Some(&path)))
}

/// Checks a new document's fields, rules and references, then stores it.
pub async fn insert<R: Resource>(
    state: &AppState,
    user: &UserId,
    body: Map<String, Value>,
) -> Result<Document> {
    insert_as::<R>(state, user, ids::new_id(), body, None).await
}

/// [`insert`] under an id chosen beforehand (an import links files to it before it exists).
pub async fn insert_with_id<R: Resource>(
    state: &AppState,
    user: &UserId,
    id: Uuid,
    body: Map<String, Value>,
) -> Result<Document> {
    insert_as::<R>(state, user, id, body, None).await
}

/// [`insert`], for a document first created elsewhere at `created_at` (an imported chat);
/// `None` means now.
pub async fn insert_created_at<R: Resource>(
    state: &AppState,
    user: &UserId,
    body: Map<String, Value>,
    created_at: Option<Timestamp>,
) -> Result<Document> {
    insert_as::<R>(state, user, ids::new_id(), body, created_at).await
}

async fn insert_as<R: Resource>(
    state: &AppState,
    user: &UserId,
    id: Uuid,
    body: Map<String, Value>,
    created_at: Option<Timestamp>,
) -> Result<Document> {
    check_fields::<R>(&body)?;
    let mut resource: R = parse(body)?;
    check_references(state, user, resource.references(), &HashSet::new()).await?;
    check_vector_dimension(state, user, &resource, None).await?;
    resource
        .seal(&state.keyring, user, id)
        .map_err(anyhow::Error::from)?;
    let now = Timestamp::now();
    let mut document = Document::new(id, user.clone(), now, to_body(&resource)?);
    if let Some(created) = created_at {
        document.created_at = created.min(now);
    }
    let stored = state.store.insert(R::COLLECTION, document).await?;
    clear_exclusive_flag::<R>(state, &stored).await?;
    Ok(stored)
}

/// When the document holds the resource's exclusive flag (`isDefault`), clears it on the
/// user's other documents.
async fn clear_exclusive_flag<R: Resource>(state: &AppState, document: &Document) -> Result<()> {
    if let Some(flag) = R::EXCLUSIVE_FLAG
        && document.body.get(flag) == Some(&Value::Bool(true))
    {
        state
            .store
            .clear_flag_except(R::COLLECTION, &document.user_id, flag, document.id)
            .await?;
    }
    Ok(())
}

/// A vector must have the dimension of the user's other vectors of the same model (422). An
/// update that keeps its vector's model and dimension is not checked again.
async fn check_vector_dimension<R: Resource>(
    state: &AppState,
    user: &UserId,
    resource: &R,
    previous: Option<&R>,
) -> Result<()> {
    let Some((model, dimension)) = resource.vector_shape() else {
        return Ok(());
    };
    if previous.and_then(Resource::vector_shape) == Some((model, dimension)) {
        return Ok(());
    }
    match state.store.vector_dimension(user, model).await? {
        Some(stored) if stored != dimension => Err(ApiError::Validation(vec![FieldError::new(
            "embedding.vector",
            format!(
                "has {dimension} dimensions; this user's vectors of model {model} have {stored}"
            ),
        )])),
        _ => Ok(()),
    }
}

pub async fn read<R: Resource>(state: &AppState, user: &UserId, id: Uuid) -> Result<Response> {
    let document = visible::<R>(state.store.get(R::COLLECTION, user, id).await?);
    Ok(document_response(StatusCode::OK, &document, None))
}

/// Applies a JSON merge patch. Without `If-Match`, a concurrent change makes it re-read and
/// re-apply, so no update is lost; with `If-Match`, a moved version is a 412.
pub async fn update<R: Resource>(
    state: &AppState,
    user: &UserId,
    id: Uuid,
    precondition: Precondition,
    patch: Map<String, Value>,
) -> Result<Response> {
    check_fields::<R>(&patch)?;
    let patch = Value::Object(patch);
    let updated = retry_on_conflict(UPDATE_ATTEMPTS, || {
        update_attempt::<R>(state, user, id, precondition, &patch)
    })
    .await
    .map_err(|error| {
        error.or_colliding(|| ApiError::conflict("the document is changing too fast; retry"))
    });
    let document = match updated {
        Ok(document) => document,
        Err(error) => return Err(with_current_etag(state, R::COLLECTION, user, id, error).await),
    };
    clear_exclusive_flag::<R>(state, &document).await?;
    let document = visible::<R>(document);
    Ok(document_response(StatusCode::OK, &document, None))
}

/// One read-merge-write of a document.
async fn update_attempt<R: Resource>(
    state: &AppState,
    user: &UserId,
    id: Uuid,
    precondition: Precondition,
    patch: &Value,
) -> Result<Attempt<Document>> {
    let current = state.store.get(R::COLLECTION, user, id).await?;
    check_precondition(precondition, &current)?;
    let mut resource: R = merge(state, user, current.body.clone(), patch).await?;
    let previous: Option<R> = serde_json::from_value(Value::Object(current.body.clone())).ok();
    check_vector_dimension(state, user, &resource, previous.as_ref()).await?;
    resource
        .seal(&state.keyring, user, id)
        .map_err(anyhow::Error::from)?;
    let written = state
        .store
        .replace(
            R::COLLECTION,
            user,
            id,
            current.version,
            to_body(&resource)?,
        )
        .await;
    Ok(retry_unless_pinned(precondition, written)?)
}

/// Applies a JSON merge patch to the client-owned fields of a stored document and checks the
/// result like a new one, except references the document already held.
pub(super) async fn merge<R: Resource>(
    state: &AppState,
    user: &UserId,
    current: Map<String, Value>,
    patch: &Value,
) -> Result<R> {
    let mut merged = Value::Object(current.clone());
    json_patch::merge(&mut merged, patch);
    let Value::Object(merged) = merged else {
        return Err(ApiError::bad_request("a merge patch must be an object"));
    };
    let resource: R = parse(merged)?;
    let previous: Option<R> = serde_json::from_value(Value::Object(current)).ok();
    let known: HashSet<Uuid> = previous
        .map(|p| p.references().into_iter().map(|r| r.id).collect())
        .unwrap_or_default();
    check_references(state, user, resource.references(), &known).await?;
    Ok(resource)
}

/// 412 when the client's `If-Match` names another version than the stored one.
pub(super) fn check_precondition(precondition: Precondition, current: &Document) -> Result<()> {
    if precondition
        .version()
        .is_some_and(|expected| expected != current.version)
    {
        return Err(ApiError::precondition_failed(version_etag(current.version)));
    }
    Ok(())
}

/// A write's result as a retry attempt: a version mismatch is read again and re-applied, unless
/// the client pinned the version with `If-Match`; then it stays a mismatch (a 412).
pub(super) fn retry_unless_pinned<T>(
    precondition: Precondition,
    written: StoreResult<T>,
) -> StoreResult<Attempt<T>> {
    match precondition.version() {
        Some(_) => written.map(Attempt::Done),
        None => Attempt::of_write(written),
    }
}

/// Deletes a document, first removing its id from the documents that name it.
pub async fn delete<R: Resource>(
    state: &AppState,
    user: &UserId,
    id: Uuid,
    precondition: Precondition,
) -> Result<StatusCode> {
    delete_counting::<R>(state, user, id, precondition).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// [`delete`], returning how many other documents it changed or deleted.
pub async fn delete_counting<R: Resource>(
    state: &AppState,
    user: &UserId,
    id: Uuid,
    precondition: Precondition,
) -> Result<u64> {
    let current = state.store.get(R::COLLECTION, user, id).await?;
    check_precondition(precondition, &current)?;
    let mut cleared = 0;
    for (collection, removal) in R::removals_on_delete(id) {
        cleared += state
            .store
            .remove_references(collection, user, &removal)
            .await?;
    }
    let deleted = state
        .store
        .delete(R::COLLECTION, user, id, precondition.version())
        .await;
    if let Err(error) = deleted {
        return Err(with_current_etag(state, R::COLLECTION, user, id, error.into()).await);
    }
    Ok(cleared)
}

pub async fn list<R: HttpResource>(
    state: &AppState,
    user: &UserId,
    params: ListParams,
    spec: &ListSpec,
) -> Result<axum::Json<Value>> {
    let request = params.validate(spec, &R::LIST_EXTRAS)?;
    let query = ListQuery {
        collection: R::COLLECTION,
        user: user.clone(),
        filters: request.filters.clone(),
        sort: request.sort,
        descending: request.descending,
        after: request.after.clone(),
        limit: request.limit,
        include_total: request.include_total,
    };
    let mut page = state.store.list(&query).await?;
    page.items = page.items.into_iter().map(visible::<R>).collect();
    Ok(axum::Json(request.page_body(page)))
}
