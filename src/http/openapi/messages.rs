//! The operations and schemas of a chat's message routes (`messages.rs`).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema};

use super::{Op, array, boolean, document_schema, integer, reference, uuid, with_dependencies};
use crate::http::list::MAX_LIMIT;
use crate::model::message::Message;

const TAG: &str = "messages";

fn read_only(builder: ObjectBuilder) -> RefOr<Schema> {
    builder.read_only(true).into()
}

/// The schemas the message operations refer to.
pub fn schemas(select_swipe: Vec<(String, RefOr<Schema>)>) -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = with_dependencies::<Message>();
    schemas.retain(|(name, _)| name != "Message");
    let server_fields = vec![
        ("chatId", read_only(uuid())),
        (
            "seq",
            read_only(integer(1, None).description(Some("the position in the chat, never reused"))),
        ),
        (
            "swipeGroupId",
            read_only(uuid().description(Some("members of a swipe group only"))),
        ),
        ("swipeIndex", read_only(integer(0, None))),
        ("swipeActive", read_only(boolean())),
    ];
    let message = document_schema::<Message>(server_fields, &["chatId", "seq"]);
    let swipe = match message.clone() {
        Schema::Object(mut object) => {
            object.required.retain(|field| field != "role");
            object.description = Some(
                "A swipe: a message whose `role` defaults to (and must be) `assistant`".to_owned(),
            );
            Schema::Object(object)
        }
        other => other,
    };
    let cursor = |description: &str| {
        super::string()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                utoipa::openapi::Type::String,
                utoipa::openapi::Type::Null,
            ]))
            .description(Some(description.to_owned()))
    };
    let page = ObjectBuilder::new()
        .property("items", array(reference("Message")))
        .property(
            "nextCursor",
            cursor(
                "continues the walk in its direction (`cursor=`): newer after `after` or from \
                 the start, older after `before` or `latest`; null when nothing more lies \
                 that way now",
            ),
        )
        .property(
            "prevCursor",
            cursor(
                "walks the other way from this page's other edge (from a `latest` page: the \
                 messages written since); null on an empty page or at the start of the chat",
            ),
        )
        .required("items")
        .required("nextCursor")
        .required("prevCursor")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    schemas.push(("Message".to_owned(), message.into()));
    schemas.push(("Swipe".to_owned(), swipe.into()));
    schemas.push(("MessagePage".to_owned(), page.into()));
    schemas.push((
        "MessagePatch".to_owned(),
        super::patch_schema::<Message>().into(),
    ));
    schemas.extend(select_swipe);
    schemas
}

fn chat(op: Op) -> Op {
    op.path_id("id", "the chat's id")
}

fn message(op: Op) -> Op {
    chat(op).path_id("message_id", "the message's id")
}

pub fn list() -> Op {
    chat(Op::new(
        "listMessages",
        TAG,
        "Page through a chat's messages",
    ))
    .describe(
        "Pages like every list, with cursors (`{items, nextCursor, prevCursor}`), in both \
         directions; `after`, `before` and `latest` are conveniences for the first page \
         (forward with `after=<seq>`, backward with `before=<seq>` or `latest`). A swipe \
         group is one position.",
    )
    .query(
        "limit",
        integer(1, Some(MAX_LIMIT as u64)),
        "positions per page, default 50",
    )
    .query(
        "after",
        integer(0, None),
        "only positions with `seq` > after",
    )
    .query(
        "before",
        integer(0, None),
        "only positions with `seq` < before",
    )
    .query(
        "latest",
        boolean(),
        "the last `limit` positions (not with after/before)",
    )
    .query(
        "cursor",
        super::string(),
        "a `nextCursor` or `prevCursor` of an earlier page (opaque; not with after, before \
         or latest)",
    )
    .query(
        "includeSwipes",
        boolean(),
        "every member of each swipe group",
    )
    .json(
        200,
        "a page, in (`seq`, `swipeIndex`) order",
        reference("MessagePage"),
    )
}

/// Operations on one message: linked from each response that returns a new one.
const ON_MESSAGE: &[(&str, &[(&str, &str)])] = &[
    ("getMessage", NEW_MESSAGE),
    ("updateMessage", NEW_MESSAGE),
    ("deleteMessage", NEW_MESSAGE),
    ("addSwipe", NEW_MESSAGE),
    ("selectSwipe", NEW_MESSAGE),
];
const NEW_MESSAGE: &[(&str, &str)] = &[
    ("id", "$request.path.id"),
    ("message_id", "$response.body#/id"),
];

pub fn append() -> Op {
    chat(Op::new("appendMessage", TAG, "Append a message"))
        .json_body(reference("Message"), true)
        .document(201, "the message, with the next `seq`", "Message")
        .links(201, ON_MESSAGE)
        .errors(&[409])
}

pub fn get() -> Op {
    message(Op::new("getMessage", TAG, "Read a message")).document(200, "the message", "Message")
}

pub fn update() -> Op {
    message(Op::new(
        "updateMessage",
        TAG,
        "Change a message (JSON merge patch)",
    ))
    .if_match()
    .merge_patch_body("MessagePatch")
    .document(200, "the changed message", "Message")
    .errors(&[409])
}

pub fn delete() -> Op {
    message(Op::new("deleteMessage", TAG, "Delete a message"))
        .if_match()
        .query("group", boolean(), "delete the message's whole swipe group")
        .empty(204, "deleted")
        .errors(&[409])
}

pub fn add_swipe() -> Op {
    message(Op::new(
        "addSwipe",
        TAG,
        "Add a swipe to an assistant message",
    ))
    .json_body(reference("Swipe"), true)
    .document(201, "the new member, now the active one", "Message")
    .links(201, ON_MESSAGE)
    .errors(&[409])
}

pub fn select_swipe() -> Op {
    message(Op::new(
        "selectSwipe",
        TAG,
        "Make a member of a swipe group the active one",
    ))
    .json_body(reference("SelectSwipe"), true)
    .document(200, "the chosen member", "Message")
    .errors(&[409])
}
