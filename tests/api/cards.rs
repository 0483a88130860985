//! Character cards: `POST /api/characters/import` and `GET /api/characters/{id}/export` over
//! the real cards of `../shared/data/real/cards/` (read in place, never copied), in JSON, PNG
//! and CharX, and the lorebooks that cards carry.

use std::io::{Cursor, Read};
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, header, json_body, skip, spawn_app};

/// The real cards, or `None` (said loudly) when the shared data is not there.
pub fn real_cards(test: &str) -> Option<Vec<PathBuf>> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real/cards");
    let Ok(entries) = std::fs::read_dir(&directory) else {
        skip(test, &format!("no real cards at {}", directory.display()));
        return None;
    };
    let mut cards: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
    cards.sort();
    Some(cards)
}

pub async fn import(app: &TestApp, bytes: Vec<u8>) -> reqwest::Response {
    app.send(
        app.request(Method::POST, "/api/characters/import")
            .body(bytes),
    )
    .await
}

pub async fn import_ok(app: &TestApp, bytes: Vec<u8>) -> Value {
    let response = import(app, bytes).await;
    let status = response.status();
    let body = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "import failed: {body}");
    body
}

pub async fn export(app: &TestApp, id: &str, format: &str) -> Vec<u8> {
    let response = app
        .get(&format!("/api/characters/{id}/export?format={format}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "export as {format}");
    let disposition = header(response.headers(), "content-disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"")
            && disposition.contains(&format!(".{format}")),
        "{disposition}"
    );
    response.bytes().await.unwrap().to_vec()
}

/// Decodes a PNG with the `png` crate's full decoder (every pixel) and returns its card
/// chunks by keyword.
pub fn decode_png(bytes: &[u8]) -> (Value, Value) {
    let mut reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .expect("the exported PNG opens");
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut pixels).expect("its pixels decode");
    reader.finish().expect("it ends well");
    let text = |keyword: &str| {
        let chunk = reader
            .info()
            .uncompressed_latin1_text
            .iter()
            .find(|chunk| chunk.keyword == keyword)
            .unwrap_or_else(|| panic!("a {keyword} chunk"));
        use base64::Engine;
        let json = base64::engine::general_purpose::STANDARD
            .decode(&chunk.text)
            .unwrap();
        serde_json::from_slice::<Value>(&json).unwrap()
    };
    (text("ccv3"), text("chara"))
}

/// The card JSON of an export in any format.
pub fn card_of(format: &str, bytes: &[u8]) -> Value {
    match format {
        "json" => serde_json::from_slice(bytes).unwrap(),
        "png" => {
            let (v3, v2) = decode_png(bytes);
            assert_eq!(v3["spec"], "chara_card_v3");
            assert_eq!(v2["spec"], "chara_card_v2");
            assert_eq!(v2["data"]["name"], v3["data"]["name"]);
            v3
        }
        _ => {
            let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
            let mut card = String::new();
            archive
                .by_name("card.json")
                .unwrap()
                .read_to_string(&mut card)
                .unwrap();
            serde_json::from_str(&card).unwrap()
        }
    }
}

#[tokio::test]
async fn every_real_card_imports_and_round_trips_in_every_format() {
    let Some(cards) = real_cards("every_real_card_imports_and_round_trips_in_every_format") else {
        return;
    };
    let app = spawn_app().await;
    for path in &cards {
        let bytes = std::fs::read(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        let character = import_ok(&app, bytes.clone()).await;
        let id = character["id"].as_str().unwrap();
        if name.ends_with(".png") {
            let avatar = character["defaultImageId"]
                .as_str()
                .expect("the PNG is the avatar");
            let stored = app.download_bytes(avatar).await;
            assert!(
                stored.len() < bytes.len(),
                "{name}: stored without its card chunks"
            );
            decode_png_pixels(&stored);
        }
        for format in ["json", "png", "charx"] {
            let first = export(&app, id, format).await;
            let first_card = card_of(format, &first);
            let again = import_ok(&app, first).await;
            let second_card = card_of(
                format,
                &export(&app, again["id"].as_str().unwrap(), format).await,
            );
            assert_eq!(
                first_card, second_card,
                "{name} as {format}: export → import → export"
            );
        }
        let exported = card_of("json", &export(&app, id, "json").await);
        let source = source_card(&bytes);
        let source_data = if source.get("data").is_some() {
            &source["data"]
        } else {
            &source
        };
        for key in [
            "name",
            "description",
            "first_mes",
            "mes_example",
            "extensions",
            "alternate_greetings",
            "group_only_greetings",
            "creator_notes",
            "post_history_instructions",
        ] {
            if let Some(value) = source_data.get(key) {
                assert_eq!(&exported["data"][key], value, "{name}: data.{key} survives");
            }
        }
        for (key, value) in source.as_object().unwrap() {
            if !["spec", "spec_version", "data"].contains(&key.as_str())
                && source.get("data").is_some()
            {
                assert!(
                    exported.get(key).is_some(),
                    "{name}: top-level {key} survives"
                );
                if ![
                    "name",
                    "description",
                    "personality",
                    "scenario",
                    "first_mes",
                    "mes_example",
                ]
                .contains(&key.as_str())
                {
                    assert_eq!(
                        &exported[key], value,
                        "{name}: top-level {key} survives verbatim"
                    );
                }
            }
        }
        if let Some(book) = source_data.get("character_book") {
            let entries = exported["data"]["character_book"]["entries"]
                .as_array()
                .unwrap();
            assert_eq!(
                entries.len(),
                book["entries"].as_array().unwrap().len(),
                "{name}: every entry"
            );
            assert_eq!(
                &exported["data"]["character_book"]["entries"], &book["entries"],
                "{name}: entries verbatim"
            );
            assert!(
                character["lorebookId"].is_string(),
                "{name}: the book is a lorebook"
            );
        }
        if let Some(tags) = source_data.get("tags").and_then(Value::as_array) {
            assert_eq!(
                character["tags"].as_array().unwrap().len(),
                tags.len(),
                "{name}: tags"
            );
        }
    }
}

fn decode_png_pixels(bytes: &[u8]) {
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut pixels).unwrap();
}

/// The card JSON of a source file (its `ccv3` chunk, else `chara`).
fn source_card(bytes: &[u8]) -> Value {
    if !bytes.starts_with(b"\x89PNG") {
        return serde_json::from_slice(bytes).unwrap();
    }
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut pixels).unwrap();
    reader.finish().unwrap();
    let texts = &reader.info().uncompressed_latin1_text;
    let chunk = texts
        .iter()
        .find(|chunk| chunk.keyword == "ccv3")
        .or_else(|| texts.iter().find(|chunk| chunk.keyword == "chara"))
        .unwrap();
    use base64::Engine;
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&chunk.text)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn imports_reuse_the_users_tags_and_take_a_multipart_file() {
    let app = spawn_app().await;
    let existing = app.create("tags", json!({"name": "Fantasy"})).await;
    let card = json!({"spec": "chara_card_v2", "spec_version": "2.0",
        "data": {"name": "Elf", "tags": ["fantasy", "Elves"], "extensions": {}}});
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(serde_json::to_vec(&card).unwrap()).file_name("elf.json"),
    );
    let response = app
        .send(
            app.request(Method::POST, "/api/characters/import")
                .multipart(form),
        )
        .await;
    let character = json_body(response).await;
    let tags = character["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 2, "{character}");
    assert_eq!(
        tags[0], existing["id"],
        "an existing tag is reused, ignoring case"
    );
    let listed = app.list("/api/tags").await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        2,
        "one tag created"
    );
    let again = import_ok(&app, serde_json::to_vec(&card).unwrap()).await;
    assert_eq!(
        again["tags"], character["tags"],
        "a second import creates no tags"
    );
}

#[tokio::test]
async fn remote_assets_stay_references() {
    let app = spawn_app().await;
    let card = json!({"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "R",
        "assets": [{"type": "background", "uri": "https://example.invalid/bg.png", "name": "bg", "ext": "png"}]}});
    let character = import_ok(&app, serde_json::to_vec(&card).unwrap()).await;
    assert_eq!(
        character["assets"][0]["uri"],
        "https://example.invalid/bg.png"
    );
    assert!(character["assets"][0].get("fileId").is_none());
    assert_eq!(
        app.list("/api/files").await["items"],
        json!([]),
        "nothing fetched"
    );
}

#[tokio::test]
async fn charx_assets_become_files_linked_to_the_character() {
    let app = spawn_app().await;
    let icon = crate::helpers::PNG_2X3.to_vec();
    let card = json!({"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "Zed",
    "assets": [
        {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main", "ext": "png"},
        {"type": "emotion", "uri": "embeded://assets/emotion/happy.png", "name": "happy", "ext": "png"},
        {"type": "icon", "uri": "ccdefault:", "name": "other", "ext": "png"}
    ]}});
    let archive = zip_of(&[
        ("card.json", serde_json::to_vec(&card).unwrap()),
        ("assets/icon/images/main.png", icon.clone()),
        ("assets/emotion/happy.png", icon.clone()),
    ]);
    let character = import_ok(&app, archive).await;
    let main = character["assets"][0]["fileId"].as_str().unwrap();
    assert_eq!(
        character["defaultImageId"], main,
        "the main icon is the avatar"
    );
    let happy = character["assets"][1]["fileId"].as_str().unwrap();
    assert_eq!(app.download_bytes(happy).await, icon);
    let metadata = json_body(app.get(&format!("/api/files/{happy}/metadata")).await).await;
    assert_eq!(
        metadata["linkedTo"],
        json!([{"kind": "character", "id": character["id"]}])
    );
    assert_eq!(metadata["source"], "imported");
    let exported = export(&app, character["id"].as_str().unwrap(), "charx").await;
    let mut zip = zip::ZipArchive::new(Cursor::new(exported)).unwrap();
    let mut bytes = Vec::new();
    zip.by_name("assets/emotion/happy.png")
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(bytes, icon, "the archive carries the asset");
}

/// A zip of `(path, bytes)` entries, deflated.
pub fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes) in entries {
        writer
            .start_file(*path, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[tokio::test]
async fn world_info_files_import_and_export_unchanged() {
    let app = spawn_app().await;
    let file = json!({"entries": {
        "0": {"uid": 0, "key": ["castle"], "keysecondary": ["gate"], "comment": "Castle",
              "content": "A grey castle.", "constant": false, "selective": true, "order": 100,
              "position": 0, "disable": false, "depth": 4, "probability": 100,
              "caseSensitive": null, "group": ""},
        "3": {"uid": 3, "key": ["moat"], "keysecondary": [], "comment": "", "content": "Deep.",
              "constant": true, "selective": false, "order": 50, "position": 1, "disable": true}
    }});
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(serde_json::to_vec(&file).unwrap())
            .file_name("Castle lore.json"),
    );
    let response = app
        .send(
            app.request(Method::POST, "/api/lorebooks/import")
                .multipart(form),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let lorebook = json_body(response).await;
    assert_eq!(lorebook["name"], "Castle lore", "named after the file");
    assert_eq!(lorebook["entries"][1]["enabled"], false);
    assert_eq!(lorebook["entries"][0]["secondaryKeys"], json!(["gate"]));
    let id = lorebook["id"].as_str().unwrap();
    let exported: Value = json_body(app.get(&format!("/api/lorebooks/{id}/export")).await).await;
    let mut expected = file.clone();
    expected["name"] = json!("Castle lore");
    assert_eq!(exported, expected);
    let book: Value = json_body(
        app.get(&format!("/api/lorebooks/{id}/export?format=character_book"))
            .await,
    )
    .await;
    assert_eq!(book["entries"][0]["keys"], json!(["castle"]));
    assert_eq!(book["entries"][1]["enabled"], false);
    let error = assert_error(
        app.send(
            app.request(Method::POST, "/api/lorebooks/import")
                .body("[1]"),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(error["error"]["details"][0]["field"].is_string());
}

#[tokio::test]
async fn deleting_a_lorebook_unlinks_it_from_its_character() {
    let app = spawn_app().await;
    let card = json!({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "B",
        "character_book": {"entries": [{"keys": ["k"], "content": "c", "extensions": {},
                                         "enabled": true, "insertion_order": 0}]}}});
    let character = import_ok(&app, serde_json::to_vec(&card).unwrap()).await;
    let lorebook = character["lorebookId"].as_str().unwrap();
    assert_eq!(
        app.read("lorebooks", lorebook).await["name"],
        "B",
        "named after the character"
    );
    assert_eq!(
        app.delete(&format!("/api/lorebooks/{lorebook}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let character = app
        .read("characters", character["id"].as_str().unwrap())
        .await;
    assert!(character.get("lorebookId").is_none(), "{character}");
}
