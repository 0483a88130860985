//! Our own chat export format as JSON Lines: a header `{"type": "quillstore-chat",
//! "version": 1, "chat": {...}}`, then one stored message per line in (`seq`, `swipeIndex`)
//! order, swipe members included. Written by `GET /api/chats/{id}/export` and by account
//! archives; read back by `POST /api/chats/import` (`http/transfer.rs`).

use bytes::Bytes;
use serde_json::{Value, json};

use crate::model::Document;

pub const EXPORT_FORMAT: &str = "application/x-ndjson";
pub const FORMAT_NAME: &str = "quillstore-chat";
pub const FORMAT_VERSION: u64 = 1;

pub fn export_header(chat: &Document) -> Bytes {
    line(&json!({"type": FORMAT_NAME, "version": FORMAT_VERSION, "chat": chat}))
}

pub fn export_line(message: &Document) -> Bytes {
    line(&json!(message))
}

/// One JSON value and a newline.
pub fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

pub fn seq_of(message: &Document) -> u64 {
    message
        .body
        .get("seq")
        .and_then(Value::as_u64)
        .unwrap_or_default()
}
