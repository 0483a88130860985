//! Card JSON ⇄ character. Import reads CCv1 (the fields at the top level), V2
//! (`chara_card_v2`) and V3 (`chara_card_v3`); export writes V3 with the V1 fields mirrored
//! at the top level, and V2 (for the PNG `chara` chunk) without the V3-only fields.
//!
//! What a character keeps of a card: the mapped fields, `extensions` verbatim, and in
//! `unknownCardKeys` every other key, of the top level (`card`) and of `data` (`data`). Tags
//! come out as names (the caller resolves them to tag ids); `character_book` comes out as a
//! lorebook body (the caller stores it and sets `lorebookId`).

use serde_json::{Map, Value, json};

use super::CardError;
use super::book;
use super::fields::{Field, Kind, finish, optional, put_fields, required, take_fields};

pub const SPEC_V2: &str = "chara_card_v2";
pub const SPEC_V3: &str = "chara_card_v3";

/// The V1 fields: the whole of a V1 card, mirrored at the top level of V2/V3 exports.
const V1: &[Field] = &[
    required("name", "name", Kind::Text),
    required("description", "description", Kind::Text),
    required("personality", "personality", Kind::Text),
    required("scenario", "scenario", Kind::Text),
    required("first_mes", "firstMessage", Kind::Text),
    required("mes_example", "exampleDialogues", Kind::Text),
];

/// The V2 fields of `data` beyond V1 (tags and `character_book` are mapped apart).
const V2: &[Field] = &[
    required("creator_notes", "creatorNotes", Kind::Text),
    required("system_prompt", "systemPrompt", Kind::Text),
    required(
        "post_history_instructions",
        "postHistoryInstructions",
        Kind::Text,
    ),
    required("alternate_greetings", "alternateGreetings", Kind::TextList),
    required("creator", "creator", Kind::Text),
    required("character_version", "characterVersion", Kind::Text),
    required("extensions", "extensions", Kind::Object),
];

/// The fields V3 adds (assets are mapped apart).
const V3: &[Field] = &[
    required("group_only_greetings", "groupOnlyGreetings", Kind::TextList),
    optional("nickname", "nickname", Kind::Text),
    optional(
        "creator_notes_multilingual",
        "creatorNotesMultilingual",
        Kind::TextMap,
    ),
    optional("source", "source", Kind::TextList),
    optional("creation_date", "cardCreationDate", Kind::Integer),
    optional("modification_date", "cardModificationDate", Kind::Integer),
];

/// A card read into our shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedCard {
    /// The character's body (camelCase), without `tags` and `lorebookId`.
    pub character: Map<String, Value>,
    /// The card's tags, by name, in order, without repeats.
    pub tag_names: Vec<String>,
    /// The card's `character_book` as a lorebook body.
    pub lorebook: Option<Map<String, Value>>,
}

/// Reads a card of any version.
pub fn import(mut card: Map<String, Value>) -> Result<ImportedCard, CardError> {
    let spec = card.get("spec").and_then(Value::as_str).map(str::to_owned);
    let mut data = match spec.as_deref() {
        Some(SPEC_V2 | SPEC_V3) => {
            card.remove("spec");
            card.remove("spec_version");
            let data = match card.remove("data") {
                Some(Value::Object(data)) => data,
                _ => return Err(CardError::invalid("data", "must be an object")),
            };
            // The top-level V1 fields of a V2/V3 card only mirror `data`; export rebuilds them.
            for field in V1 {
                card.remove(field.source);
            }
            data
        }
        Some(other) => {
            return Err(CardError::invalid(
                "spec",
                format!("unknown card spec {other:?} (expected {SPEC_V2} or {SPEC_V3})"),
            ));
        }
        None => {
            let mut data = Map::new();
            for field in V1 {
                if let Some(value) = card.remove(field.source) {
                    data.insert(field.source.to_owned(), value);
                }
            }
            data
        }
    };
    let mut character = Map::new();
    for table in [V1, V2, V3] {
        take_fields(table, &mut data, &mut character);
    }
    if !character.contains_key("name") {
        return Err(CardError::invalid(
            "data.name",
            "a card needs a name (a string)",
        ));
    }
    let tag_names = take_tag_names(&mut data);
    if let Some(assets) = take_assets(&mut data) {
        character.insert("assets".to_owned(), Value::Array(assets));
    }
    let lorebook = match data.remove("character_book") {
        Some(Value::Object(book)) => {
            let name = character["name"].as_str().unwrap_or_default();
            Some(book::from_character_book(book, name)?)
        }
        Some(Value::Null) | None => None,
        Some(_) => {
            return Err(CardError::invalid(
                "data.character_book",
                "must be an object",
            ));
        }
    };
    if !card.is_empty() || !data.is_empty() {
        character.insert(
            "unknownCardKeys".to_owned(),
            json!({"card": card, "data": data}),
        );
    }
    Ok(ImportedCard {
        character,
        tag_names,
        lorebook,
    })
}

/// The card's tags when they are a list of strings (trimmed, blank and repeated ones
/// dropped, ignoring case); otherwise the value stays as an unknown key.
fn take_tag_names(data: &mut Map<String, Value>) -> Vec<String> {
    if !data
        .get("tags")
        .is_some_and(|tags| Kind::TextList.accepts(tags))
    {
        return Vec::new();
    }
    let mut names: Vec<String> = Vec::new();
    for tag in data
        .remove("tags")
        .and_then(|tags| serde_json::from_value::<Vec<String>>(tags).ok())
        .unwrap_or_default()
    {
        let tag = tag.trim();
        if !tag.is_empty() && !names.iter().any(|name| name.eq_ignore_ascii_case(tag)) {
            names.push(tag.to_owned());
        }
    }
    names
}

/// V3 assets when every one is an object with string `type`, `uri`, `name` and `ext`.
fn take_assets(data: &mut Map<String, Value>) -> Option<Vec<Value>> {
    let wellformed = data.get("assets")?.as_array()?.iter().all(|asset| {
        asset.as_object().is_some_and(|asset| {
            asset.len() == 4
                && ["type", "uri", "name", "ext"]
                    .iter()
                    .all(|key| asset.get(*key).is_some_and(Value::is_string))
        })
    });
    if !wellformed {
        return None;
    }
    match data.remove("assets") {
        Some(Value::Array(assets)) => Some(assets),
        _ => None,
    }
}

/// What an export needs besides the character: its tags by name and its lorebook.
pub struct ExportParts<'a> {
    pub tag_names: Vec<String>,
    pub lorebook: Option<&'a Map<String, Value>>,
}

/// The character as a V3 card, with the V1 fields mirrored at the top level.
pub fn export_v3(character: &Map<String, Value>, parts: &ExportParts<'_>) -> Value {
    let mut data = Map::new();
    put_fields(V1, character, &mut data);
    data.insert("tags".to_owned(), json!(parts.tag_names));
    put_fields(V2, character, &mut data);
    put_fields(V3, character, &mut data);
    if let Some(book) = parts.lorebook {
        data.insert("character_book".to_owned(), book::to_character_book(book));
    }
    if let Some(Value::Array(assets)) = character.get("assets") {
        let assets: Vec<Value> = assets.iter().map(card_asset).collect();
        data.insert("assets".to_owned(), Value::Array(assets));
    }
    wrap(SPEC_V3, "3.0", data, character, &[V1, V2, V3])
}

/// The character as a V2 card: the V3-only fields left out.
pub fn export_v2(character: &Map<String, Value>, parts: &ExportParts<'_>) -> Value {
    let mut data = Map::new();
    put_fields(V1, character, &mut data);
    data.insert("tags".to_owned(), json!(parts.tag_names));
    put_fields(V2, character, &mut data);
    if let Some(book) = parts.lorebook {
        data.insert("character_book".to_owned(), book::to_character_book(book));
    }
    // Keys kept from the card that V2 lacks are V3's (or a V3 card's own unknown keys).
    wrap(SPEC_V2, "2.0", data, character, &[V1, V2])
}

fn wrap(
    spec: &str,
    version: &str,
    mut data: Map<String, Value>,
    character: &Map<String, Value>,
    tables: &[&[Field]],
) -> Value {
    let kept = character.get("unknownCardKeys");
    let kept_data = kept
        .and_then(|kept| kept.get("data"))
        .and_then(Value::as_object);
    let kept_card = kept
        .and_then(|kept| kept.get("card"))
        .and_then(Value::as_object);
    finish(&[], kept_data, &mut data);
    for table in tables {
        finish(table, None, &mut data);
    }
    let mut card = Map::new();
    card.insert("spec".to_owned(), json!(spec));
    card.insert("spec_version".to_owned(), json!(version));
    for field in V1 {
        if let Some(value) = data.get(field.source) {
            card.insert(field.source.to_owned(), value.clone());
        }
    }
    card.insert("data".to_owned(), Value::Object(data));
    finish(&[], kept_card, &mut card);
    Value::Object(card)
}

/// A character's asset as the card spec has it (without our `fileId`).
fn card_asset(asset: &Value) -> Value {
    json!({
        "type": asset["type"],
        "uri": asset["uri"],
        "name": asset["name"],
        "ext": asset["ext"],
    })
}
