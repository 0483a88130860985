//! Routes for memories: the shared document routes (filters by character, chat, tag, text and
//! source; sorts by importance, creation and last access) and `POST /api/memories/search`,
//! the exact cosine top-k over one character's memories.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{CurrentUser, JsonObject};
use super::list::{FieldFilter, FieldKind, ListExtras, ListSpec};
use super::openapi::{Op, reference};
use super::resource::{HttpResource, document_routes, visible};
use super::routes::{Endpoint, Routes};
use crate::error::{ApiError, FieldError, Result};
use crate::http::AppState;
use crate::model::common::Checks;
use crate::model::memory::{Memory, check_vector};
use crate::model::{Collection, Document};
use crate::store::vectors::VectorQuery;

/// Results a search returns at most.
const MAX_RESULTS: usize = 200;
const DEFAULT_RESULTS: usize = 10;

impl HttpResource for Memory {
    const LIST: ListSpec = ListSpec {
        text_fields: &["content", "summary"],
        tag: true,
        favorite: false,
        files: false,
        participants: false,
    };
    const LIST_EXTRAS: ListExtras = ListExtras {
        sorts: &["importance", "createdAt", "lastAccessedAt"],
        fields: &[
            FieldFilter {
                name: "characterId",
                kind: FieldKind::Id,
                description: "only memories of this character",
            },
            FieldFilter {
                name: "chatId",
                kind: FieldKind::Id,
                description: "only memories of this chat",
            },
            FieldFilter {
                name: "source",
                kind: FieldKind::OneOf(&["auto", "manual"]),
                description: "only memories from this source",
            },
        ],
    };
    const RELATED_OPERATIONS: &'static [&'static str] = &[];
}

pub fn routes() -> Routes {
    document_routes::<Memory>()
        .endpoint(
            "/api/memories/search",
            Endpoint::post(search_memories, search_op()),
        )
        .schemas(super::openapi::with_dependencies::<SearchRequest>())
        .schemas(super::openapi::with_dependencies::<SearchResult>())
}

/// A search: the query vector, the character whose memories are searched and the model the
/// vectors must come from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({
    "characterId": "0192f0c4-5d0e-7cc1-a3b2-9a1f1e0b7c11",
    "model": "text-embedding-3-small",
    "vector": [0.11, -0.02, 0.49],
    "limit": 5,
    "minScore": 0.3
})))]
struct SearchRequest {
    character_id: Uuid,
    #[schema(min_length = 1, max_length = 200)]
    model: String,
    #[schema(min_items = 1, max_items = 4096)]
    vector: Vec<f64>,
    /// How many memories to return, best first (default 10, at most 200).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    /// Leave out memories scoring below this cosine similarity (-1 to 1).
    #[serde(default)]
    #[schema(minimum = -1.0, maximum = 1.0)]
    min_score: Option<f64>,
}

/// One found memory and its cosine similarity to the query.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SearchHit {
    #[schema(value_type = Object)]
    memory: Document,
    score: f32,
}

#[derive(Serialize, ToSchema)]
struct SearchResult {
    items: Vec<SearchHit>,
}

fn search_op() -> Op {
    Op::new(
        "searchMemories",
        "memories",
        "The memories nearest to a vector (exact cosine)",
    )
    .describe(
        "Scores every memory of the character whose embedding has the given model (exact, not \
         approximate) and returns the best `limit`, best first. Only the caller's memories of \
         that character are read.",
    )
    .json_body(reference("SearchRequest"), true)
    .json(
        200,
        "the best matches, best first",
        reference("SearchResult"),
    )
    .errors(&[400, 404, 422])
}

async fn search_memories(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonObject(body): JsonObject,
) -> Result<axum::Json<Value>> {
    let request: SearchRequest =
        serde_path_to_error::deserialize(Value::Object(body)).map_err(|error| {
            ApiError::validation(error.path().to_string(), error.inner().to_string())
        })?;
    let mut checks = Checks::default();
    check_vector(&mut checks, "vector", &request.vector);
    let limit = request.limit.unwrap_or(DEFAULT_RESULTS);
    if !(1..=MAX_RESULTS).contains(&limit) {
        checks.fail("limit", format!("must be 1-{MAX_RESULTS}"));
    }
    if request
        .min_score
        .is_some_and(|score| !(-1.0..=1.0).contains(&score))
    {
        checks.fail("minScore", "must be between -1 and 1");
    }
    if !checks.0.is_empty() {
        return Err(ApiError::Validation(checks.0));
    }
    let existing = state
        .store
        .existing_ids(Collection::Characters, &user, &[request.character_id])
        .await?;
    if existing.is_empty() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "characterId",
            format!("no character with id {}", request.character_id),
        )]));
    }
    if let Some(stored) = state.store.vector_dimension(&user, &request.model).await?
        && stored != request.vector.len()
    {
        return Err(ApiError::validation(
            "vector",
            format!(
                "has {} dimensions; the stored vectors of model {} have {stored}",
                request.vector.len(),
                request.model
            ),
        ));
    }
    let query = VectorQuery {
        user,
        character_id: request.character_id,
        model: request.model,
        vector: request.vector.iter().map(|value| *value as f32).collect(),
        limit,
        min_score: request.min_score.map(|score| score as f32),
    };
    let items: Vec<SearchHit> = state
        .store
        .nearest(&query)
        .await?
        .into_iter()
        .map(|found| SearchHit {
            memory: visible::<Memory>(found.document),
            score: found.score,
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "items": items })))
}
