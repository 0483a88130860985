//! A chat back into SillyTavern's lines. An imported line starts from what the import kept
//! verbatim (`sillyTavernData`, `sillyTavernSwipeInfo`, `sillyTavernMetadata`); each mapped
//! field is written over it only where the stored original no longer says the same thing (a
//! `send_date` naming another instant, flags meaning another role, another reasoning), so an
//! unchanged chat gives back its own lines. A chat made in quillstore gets every field
//! SillyTavern writes: `name`, `is_user`, `is_system`, `send_date` (ISO 8601), `mes`, `extra`,
//! and `swipes`, `swipe_id`, `swipe_info` for a swipe group.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dates;
use super::read::{mapped_extra, role_of};
use crate::chats::StoredMessage;
use crate::model::message::Role;
use crate::model::{Document, Timestamp};

/// The names messages without a `speakerName` are written with.
#[derive(Debug, Clone)]
pub struct Names {
    pub user: String,
    /// The chat's character (the first one), or SillyTavern's "unused" for a group.
    pub character: String,
    /// The name of each participant (its character's or persona's).
    pub participants: HashMap<Uuid, String>,
}

/// The name SillyTavern shows on system messages.
const SYSTEM_NAME: &str = "System";

/// The header line; `None` for a chat imported from a file without one (kept so).
pub fn header(chat: &Document, names: &Names) -> Option<Map<String, Value>> {
    match chat.body.get("sillyTavernMetadata") {
        Some(Value::Object(kept)) if kept.is_empty() => None,
        Some(Value::Object(kept)) => Some(kept.clone()),
        _ => {
            let fresh = json!({
                "user_name": names.user,
                "character_name": names.character,
                "create_date": chat.created_at.to_string(),
                "chat_metadata": {},
            });
            fresh.as_object().cloned()
        }
    }
}

/// One line for the members of one position (a message, or a swipe group in `swipeIndex`
/// order). `members` is never empty.
pub fn line(members: &[Document], names: &Names) -> Map<String, Value> {
    let active_index = members.iter().position(|m| m.is_shown()).unwrap_or(0);
    let active = &members[active_index];
    let holder = members.iter().find(|member| data(member).is_some());
    let imported = holder.is_some();
    let mut out = holder.and_then(data).cloned().unwrap_or_default();
    let role = active.role().unwrap_or(Role::Assistant);

    match text(active, "speakerName") {
        Some(name) => put(&mut out, "name", Value::String(name.to_owned())),
        None if !imported => put(
            &mut out,
            "name",
            Value::String(default_name(active, role, names)),
        ),
        None => {}
    }
    if !imported || role_of(&out) != role {
        put(&mut out, "is_user", Value::Bool(role == Role::User));
        put(&mut out, "is_system", Value::Bool(role == Role::System));
    }
    let send_date = date_over(out.get("send_date"), active.created_at, imported);
    if let Some(send_date) = send_date {
        put(&mut out, "send_date", send_date);
    }
    put(
        &mut out,
        "mes",
        Value::String(text(active, "content").unwrap_or_default().to_owned()),
    );
    if let Some(extra) = extra_over(out.get("extra"), active, imported) {
        put(&mut out, "extra", extra);
    }
    if active.swipe().is_some() {
        let texts = members
            .iter()
            .map(|member| Value::String(text(member, "content").unwrap_or_default().to_owned()))
            .collect();
        put(&mut out, "swipes", Value::Array(texts));
        put(&mut out, "swipe_id", Value::from(active_index));
        let any_info = members
            .iter()
            .any(|member| member.body.contains_key("sillyTavernSwipeInfo"));
        if any_info || !imported {
            let info = members
                .iter()
                .map(|member| swipe_info(member, holder.is_some_and(|h| h.id == member.id)))
                .collect();
            put(&mut out, "swipe_info", Value::Array(info));
        }
    }
    out
}

/// One `swipe_info` entry: the kept one (verbatim for the member that holds the line's own
/// fields, whose date and extras the line itself carries), else a fresh one.
fn swipe_info(member: &Document, holds_line: bool) -> Value {
    match member.body.get("sillyTavernSwipeInfo") {
        Some(kept) if holds_line => kept.clone(),
        Some(Value::Object(kept)) => {
            let mut entry = kept.clone();
            if let Some(date) = date_over(entry.get("send_date"), member.created_at, true) {
                put(&mut entry, "send_date", date);
            }
            if let Some(extra) = extra_over(entry.get("extra"), member, true) {
                put(&mut entry, "extra", extra);
            }
            Value::Object(entry)
        }
        Some(kept) => kept.clone(),
        None => json!({
            "send_date": member.created_at.to_string(),
            "extra": extra_over(None, member, false).unwrap_or_else(|| json!({})),
        }),
    }
}

/// The `send_date` to write: the kept one while it names `created_at` (or no instant at all,
/// so it never stood for one), else `created_at` in ISO 8601. Nothing for an imported line
/// that had none.
fn date_over(kept: Option<&Value>, created_at: Timestamp, imported: bool) -> Option<Value> {
    match kept {
        Some(value) => match dates::parse(value) {
            Some(instant) if instant != created_at => Some(Value::String(created_at.to_string())),
            _ => None,
        },
        None if imported => None,
        None => Some(Value::String(created_at.to_string())),
    }
}

/// The `extra` to write over `kept`: its `reasoning` and `token_count` made to say what the
/// message says; `None` when nothing changes or an imported line had no `extra` to add to.
fn extra_over(kept: Option<&Value>, message: &Document, imported: bool) -> Option<Value> {
    let reasoning = text(message, "reasoning");
    let tokens = message.body.get("tokenCount").and_then(Value::as_u64);
    let mut extra = match kept {
        Some(Value::Object(kept)) => kept.clone(),
        Some(_) => return None,
        None => Map::new(),
    };
    let (kept_reasoning, kept_tokens) = mapped_extra(kept);
    match reasoning {
        Some(reasoning) if kept_reasoning.as_deref() != Some(reasoning) => {
            extra.insert("reasoning".to_owned(), Value::String(reasoning.to_owned()));
        }
        None if kept_reasoning.is_some() => {
            extra.remove("reasoning");
        }
        _ => {}
    }
    match tokens {
        Some(tokens) if kept_tokens != Some(tokens) => {
            extra.insert("token_count".to_owned(), Value::from(tokens));
        }
        None if kept_tokens.is_some() => {
            extra.remove("token_count");
        }
        _ => {}
    }
    let unchanged = kept.and_then(Value::as_object) == Some(&extra);
    let nothing_to_add = kept.is_none() && imported && extra.is_empty();
    (!unchanged && !nothing_to_add).then_some(Value::Object(extra))
}

fn default_name(message: &Document, role: Role, names: &Names) -> String {
    let participant = message
        .body
        .get("participantId")
        .and_then(Value::as_str)
        .and_then(|id| Uuid::try_parse(id).ok())
        .and_then(|id| names.participants.get(&id));
    match (role, participant) {
        (_, Some(name)) => name.clone(),
        (Role::User, None) => names.user.clone(),
        (Role::System | Role::Tool, None) => SYSTEM_NAME.to_owned(),
        (Role::Assistant, None) => names.character.clone(),
    }
}

fn data(message: &Document) -> Option<&Map<String, Value>> {
    message
        .body
        .get("sillyTavernData")
        .and_then(Value::as_object)
}

fn text<'a>(message: &'a Document, key: &str) -> Option<&'a str> {
    message.body.get(key).and_then(Value::as_str)
}

/// Sets `key`, keeping its place when the line already had it.
fn put(line: &mut Map<String, Value>, key: &str, value: Value) {
    line.insert(key.to_owned(), value);
}
