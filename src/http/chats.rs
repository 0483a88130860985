//! Routes for chats: the shared document routes, plus export and import as JSON Lines.

use super::list::ListSpec;
use super::openapi::{Op, string};
use super::resource::{HttpResource, document_routes};
use super::routes::{Endpoint, Routes};
use super::transfer::EXPORT_FORMAT;
use crate::model::chat::Chat;

impl HttpResource for Chat {
    const LIST: ListSpec = ListSpec {
        text_fields: &["title"],
        tag: true,
        favorite: false,
        participants: true,
        files: false,
    };
    const RELATED_OPERATIONS: &'static [&'static str] =
        &["appendMessage", "listMessages", "exportChat"];
}

pub fn routes() -> Routes {
    document_routes::<Chat>()
        .endpoint(
            "/api/chats/{id}/export",
            Endpoint::get(super::chat_export::export_chat, export_op()),
        )
        .endpoint(
            "/api/chats/import",
            Endpoint::post(super::chat_import::import_chat, import_op()),
        )
}

fn export_op() -> Op {
    let lines = utoipa::openapi::ResponseBuilder::new()
        .description(
            "JSON Lines, streamed. `quillstore`: a header `{\"type\": \"quillstore-chat\", \
             \"version\": 1, \"chat\": {...}}`, then every message (swipes included) in \
             (`seq`, `swipeIndex`) order. `sillytavern`: a SillyTavern header line (none for a \
             chat imported from a file without one), then one line per position with `name`, \
             `is_user`, `is_system`, `send_date`, `mes`, `extra`, and `swipes`, `swipe_id`, \
             `swipe_info` for a swipe group",
        )
        .content(EXPORT_FORMAT, utoipa::openapi::Content::new(Some(string())))
        .header(
            "Content-Disposition",
            utoipa::openapi::header::HeaderBuilder::new()
                .schema(Some(string()))
                .description(Some("`attachment; filename=\"chat-<id>.jsonl\"`"))
                .build(),
        );
    let format = string().enum_values(Some(["quillstore", "sillytavern"]));
    Op::new("exportChat", "chats", "Export a chat as JSON Lines")
        .path_id("id", "the chat's id")
        .query(
            "format",
            format,
            "`quillstore` (default: imports back losslessly) or `sillytavern` (a chat file \
             SillyTavern loads; an imported chat gives back its own lines)",
        )
        .response(200, lines)
}

/// A small export: the header line, then one message per line.
const IMPORT_EXAMPLE: &str = concat!(
    r#"{"type": "quillstore-chat", "version": 1, "chat": {"title": "First contact"}}"#,
    "\n",
    r#"{"seq": 1, "role": "user", "content": "Hello?"}"#,
    "\n",
    r#"{"seq": 2, "role": "assistant", "content": "Course plotted."}"#,
    "\n",
);

fn import_op() -> Op {
    let lines = || {
        utoipa::openapi::ContentBuilder::new()
            .schema(Some(string()))
            .example(Some(IMPORT_EXAMPLE.into()))
            .build()
    };
    let body = utoipa::openapi::request_body::RequestBodyBuilder::new()
        .description(Some(
            "JSON Lines (any content type, a leading UTF-8 BOM skipped), or a multipart form \
             whose one `file` part holds them: a quillstore export, or a SillyTavern / TavernAI \
             chat file (with or without a header line)",
        ))
        .required(Some(utoipa::openapi::Required::True))
        .content(EXPORT_FORMAT, lines())
        .content("text/plain", lines())
        .content(
            "multipart/form-data",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new()
                        .property(
                            "file",
                            string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                                utoipa::openapi::KnownFormat::Binary,
                            ))),
                        )
                        .required("file"),
                ))
                .build(),
        )
        .build();
    Op::new("importChat", "chats", "Import a chat from JSON Lines")
        .describe(
            "All or nothing. A bad line is a 422 whose `details[].field` starts with `line N`. \
             A SillyTavern chat keeps every field of every line (mapped, or verbatim in \
             `sillyTavernData` / `sillyTavernSwipeInfo` / `sillyTavernMetadata`); `send_date` \
             becomes the message's `createdAt`. Its speakers become participants: the \
             character and persona named here, else the user's characters and persona whose \
             names match (one participant per character in a group chat).",
        )
        .query(
            "title",
            string(),
            "the new chat's title (else derived from the file)",
        )
        .query(
            "characterId",
            super::openapi::uuid(),
            "the character who speaks the character lines (a 422 when there is no such character)",
        )
        .query(
            "personaId",
            super::openapi::uuid(),
            "the persona who speaks the user lines (a 422 when there is no such persona)",
        )
        .body(body)
        .document(201, "the new chat", "Chat")
        .errors(&[400, 413, 422])
}
