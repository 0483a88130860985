//! `GET /api/chats/{id}/messages`: a chat's messages a page at a time, with cursors like
//! every collection list (`{items, nextCursor, prevCursor}`). The `seq`-based parameters
//! (`after`, `before`, `latest`) stay as conveniences for the first page; the cursors carry on
//! from there in either direction:
//!
//! - `nextCursor` continues the walk in its direction (newer after `after` or from the start,
//!   older after `before` or `latest`); `null` when nothing more lies that way now.
//! - `prevCursor` walks the other way from this page's other edge (from a `latest` page: the
//!   messages written since, so a client polls with it); `null` on an empty page or a page
//!   that starts at the beginning of the chat.

use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::extract::{ApiQuery, CurrentUser, DocumentId};
use super::list::MAX_LIMIT;
use super::transfer::seq_of;
use crate::error::{ApiError, Result};
use crate::http::AppState;
use crate::store::MessageQuery;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PageParams {
    after: Option<u64>,
    before: Option<u64>,
    latest: Option<bool>,
    cursor: Option<String>,
    limit: Option<usize>,
    include_swipes: Option<bool>,
}

/// Which way a page walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Direction {
    /// Positions after `seq`, oldest first.
    #[serde(rename = "a")]
    Newer,
    /// Positions before `seq`, the nearest ones.
    #[serde(rename = "b")]
    Older,
}

/// What a message cursor holds: a direction and the position it starts from (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "d")]
    direction: Direction,
    #[serde(rename = "s")]
    seq: u64,
}

impl Cursor {
    fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&self).unwrap_or_default())
    }

    fn decode(text: &str) -> Result<Self> {
        URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "cursor is not a message cursor (use the nextCursor or prevCursor given)",
                )
            })
    }
}

/// The page a request asks for: `after`/`before`/`latest` or a cursor, never both.
struct Walk {
    after: Option<u64>,
    before: Option<u64>,
    latest: bool,
    direction: Direction,
}

impl PageParams {
    fn walk(&self) -> Result<Walk> {
        let latest = self.latest.unwrap_or(false);
        if let Some(text) = &self.cursor {
            if latest || self.after.is_some() || self.before.is_some() {
                return Err(ApiError::bad_request(
                    "cursor cannot be combined with after, before or latest",
                ));
            }
            let cursor = Cursor::decode(text)?;
            let (after, before) = match cursor.direction {
                Direction::Newer => (Some(cursor.seq), None),
                Direction::Older => (None, Some(cursor.seq)),
            };
            return Ok(Walk {
                after,
                before,
                latest: false,
                direction: cursor.direction,
            });
        }
        if latest && (self.after.is_some() || self.before.is_some()) {
            return Err(ApiError::bad_request(
                "latest cannot be combined with after or before",
            ));
        }
        let direction = if latest || (self.before.is_some() && self.after.is_none()) {
            Direction::Older
        } else {
            Direction::Newer
        };
        Ok(Walk {
            after: self.after,
            before: self.before,
            latest,
            direction,
        })
    }
}

pub(super) async fn list_messages(
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
    let walk = params.walk()?;
    let query = MessageQuery {
        user,
        chat_id,
        after: walk.after,
        before: walk.before,
        latest: walk.latest,
        limit,
        include_swipes: params.include_swipes.unwrap_or(false),
    };
    let page = state.store.page_messages(&query).await?;
    let first = page.items.first().map(seq_of);
    let last = page.items.last().map(seq_of);
    let cursor = |direction, seq: Option<u64>| seq.map(|seq| Cursor { direction, seq }.encode());
    let (next, previous) = match walk.direction {
        Direction::Newer => (
            cursor(Direction::Newer, last.filter(|_| page.has_more)),
            // A walk from the start of the chat has nothing older.
            cursor(Direction::Older, first.filter(|_| walk.after.is_some())),
        ),
        Direction::Older => (
            cursor(Direction::Older, first.filter(|_| page.has_more)),
            cursor(Direction::Newer, last),
        ),
    };
    Ok(axum::Json(json!({
        "items": page.items,
        "nextCursor": next,
        "prevCursor": previous,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_strangers() {
        let cursor = Cursor {
            direction: Direction::Older,
            seq: 42,
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("not-a-cursor").is_err());
        let collection_cursor = URL_SAFE_NO_PAD.encode(br#"{"s":"-updatedAt","k":1,"i":"x"}"#);
        assert!(Cursor::decode(&collection_cursor).is_err());
    }
}
