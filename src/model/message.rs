//! Messages: one record per message of a chat, ordered by `seq`. A swipe group is a set of
//! alternative messages at one position (one `seq`), told apart by `swipeIndex`; exactly one
//! member is active (`swipeActive`), and that choice is stored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::{Collection, Reference, Resource};

/// Fields of a message only the server sets.
pub const MESSAGE_SERVER_FIELDS: &[&str] =
    &["chatId", "seq", "swipeGroupId", "swipeIndex", "swipeActive"];

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MessageType {
    #[default]
    Message,
    ContextSummary,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// The client-owned fields of a message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(examples(json!({"role": "assistant", "content": "Course plotted.", "tokenCount": 4})))]
pub struct Message {
    #[serde(default, rename = "type")]
    pub kind: MessageType,
    pub role: Role,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub attachments: Vec<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_count: Option<u64>,
    /// Opaque, kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_response: Option<Value>,
    /// Who spoke, as the source named them (SillyTavern's `name`), kept verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker_name: Option<String>,
    /// The chat participant who wrote it (an id from the chat's `participants`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<Uuid>,
    /// The model's reasoning ("thinking") that came with the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// What a SillyTavern line held beyond the fields above (`extra`, `is_name`,
    /// `force_avatar`, the original `send_date`, `swipe_info` entries, ...), kept verbatim so
    /// the chat exports back to SillyTavern field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub silly_tavern_data: Option<Map<String, Value>>,
    /// This swipe's entry of a SillyTavern line's `swipe_info`, kept verbatim (any JSON value:
    /// SillyTavern writes objects, but the entry is kept whatever it holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silly_tavern_swipe_info: Option<Value>,
}

/// The longest `speakerName`, in characters.
const MAX_SPEAKER_NAME: usize = 1000;

impl Resource for Message {
    const COLLECTION: Collection = Collection::Messages;
    const FIELDS: &'static [&'static str] = &[
        "type",
        "role",
        "content",
        "attachments",
        "tokenCount",
        "rawResponse",
        "speakerName",
        "participantId",
        "reasoning",
        "sillyTavernData",
        "sillyTavernSwipeInfo",
    ];
    const SERVER_FIELDS: &'static [&'static str] = MESSAGE_SERVER_FIELDS;

    fn validate(&mut self) -> Vec<FieldError> {
        let mut checks = super::common::Checks::default();
        checks.no_duplicates("attachments", &self.attachments);
        if let Some(name) = &self.speaker_name
            && name.chars().count() > MAX_SPEAKER_NAME
        {
            checks.fail(
                "speakerName",
                format!("must be at most {MAX_SPEAKER_NAME} characters"),
            );
        }
        checks.0
    }

    fn references(&self) -> Vec<Reference> {
        self.attachments
            .iter()
            .enumerate()
            .map(|(index, id)| Reference {
                field: format!("attachments[{index}]"),
                collection: Collection::Files,
                id: *id,
            })
            .collect()
    }
}

/// Where a stored message sits in its chat, read from its server-owned fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub seq: u64,
    pub swipe_index: u64,
    pub swipe_group: Option<Uuid>,
    /// True for plain messages and for the active member of a swipe group.
    pub visible: bool,
}

impl Placement {
    pub fn of(body: &Map<String, Value>) -> Self {
        let swipe_group = body
            .get("swipeGroupId")
            .and_then(Value::as_str)
            .and_then(|text| Uuid::try_parse(text).ok());
        Self {
            seq: body.get("seq").and_then(Value::as_u64).unwrap_or_default(),
            swipe_index: body
                .get("swipeIndex")
                .and_then(Value::as_u64)
                .unwrap_or_default(),
            swipe_group,
            visible: swipe_group.is_none()
                || body
                    .get("swipeActive")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
        }
    }
}
