//! The OpenAPI operations of the card and world-info routes.

use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{Content, ResponseBuilder};

use crate::http::openapi::{Op, any, one_of, string};

fn binary() -> utoipa::openapi::ObjectBuilder {
    string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
        utoipa::openapi::KnownFormat::Binary,
    )))
}

/// A body that is a file: raw, or the `file` part of a form.
fn file_body(description: &str, raw_types: &[&str]) -> utoipa::openapi::request_body::RequestBody {
    let mut body = RequestBodyBuilder::new()
        .description(Some(description))
        .required(Some(utoipa::openapi::Required::True));
    for raw in raw_types {
        body = body.content(*raw, Content::new(Some(binary())));
    }
    let form = utoipa::openapi::ObjectBuilder::new()
        .property("file", binary())
        .required("file");
    body.content("multipart/form-data", Content::new(Some(form)))
        .build()
}

/// A download with a `Content-Disposition` attachment name.
fn download(description: &str, types: &[&str]) -> ResponseBuilder {
    let mut response = ResponseBuilder::new().description(description).header(
        "Content-Disposition",
        utoipa::openapi::header::HeaderBuilder::new()
            .schema(Some(string()))
            .description(Some(
                "`attachment` with the name as a safe ASCII fallback and `filename*`",
            ))
            .build(),
    );
    for kind in types {
        // A JSON download is a JSON document (the card or book), the others are bytes.
        let schema = if kind.ends_with("json") {
            any()
        } else {
            binary()
        };
        response = response.content(*kind, Content::new(Some(schema)));
    }
    response
}

pub fn import_character() -> Op {
    Op::new("importCharacter", "characters", "Import a character card")
        .describe(
            "A card as the raw body or the `file` part of a form: PNG/APNG with a `ccv3` or \
             `chara` text chunk (tEXt, zTXt or iTXt; `ccv3` preferred), CCv1/V2/V3 JSON, or \
             CharX (a zip with `card.json` and assets). Creates the character, its lorebook \
             (`lorebookId`), its avatar as a file (`defaultImageId`: the PNG without its card \
             chunks, or CharX's main icon), its other `embeded://` assets as files linked to \
             it (`assets[].fileId`), and its tags by name (the user's existing tags reused). \
             `http(s)://` assets stay references and are never fetched. Unknown card keys are \
             kept in `extensions` and `unknownCardKeys`. All or nothing. Over \
             `MAX_IMPORT_BYTES` (compressed chunks and archives: inflated) is a 413; not a \
             card format a 415; a card that breaks the spec (not an object, a zip path \
             leaving the archive, an asset missing from it) a 422.",
        )
        .body(file_body(
            "the card file",
            &["image/png", "application/json", "application/zip"],
        ))
        .document(201, "the new character", "Character")
        .errors(&[400, 413, 415, 422])
}

pub fn export_character() -> Op {
    Op::new(
        "exportCharacter",
        "characters",
        "Export a character as a card",
    )
    .path_id("id", "the character's id")
    .query(
        "format",
        one_of(&["json", "png", "charx"]),
        "`json` (default): a V3 card with the V1 fields mirrored at the top level; `png`: \
             the avatar (a plain image without one) with a `ccv3` (V3) and a `chara` (V2) \
             chunk, the image bytes untouched; `charx`: `card.json` and the asset files",
    )
    .response(
        200,
        download(
            "the card",
            &["application/json", "image/png", "application/zip"],
        ),
    )
    .errors(&[404])
}

pub fn import_lorebook() -> Op {
    Op::new("importLorebook", "lorebooks", "Import a lorebook")
        .describe(
            "A SillyTavern world-info file (`{\"entries\": {\"<uid>\": {...}}}`) or a card's \
             `character_book` (`{\"entries\": [...]}`), raw or as the `file` part of a form. \
             Keys without a field are kept in `unknownKeys`.",
        )
        .body(file_body("the lorebook JSON", &["application/json"]))
        .document(201, "the new lorebook", "Lorebook")
        .errors(&[400, 413, 422])
}

pub fn export_lorebook() -> Op {
    Op::new("exportLorebook", "lorebooks", "Export a lorebook")
        .path_id("id", "the lorebook's id")
        .query(
            "format",
            one_of(&["sillytavern", "character_book"]),
            "`sillytavern` (default): a world-info file; `character_book`: a card's book",
        )
        .response(200, download("the lorebook", &["application/json"]))
        .errors(&[404])
}
