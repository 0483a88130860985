//! Unit tests of the card mapping, the lorebook shapes and the PNG chunks.

use png::text_metadata::{EncodableTextChunk, ZTXtChunk};
use serde_json::{Map, Value, json};

use super::CardError;
use super::book;
use super::card::{ExportParts, import};
use super::png::{CCV3, CHARA, DEFAULT_IMAGE, read_card, strip_cards, with_cards};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn export(imported: &super::card::ImportedCard) -> Value {
    let parts = ExportParts {
        tag_names: imported.tag_names.clone(),
        lorebook: imported.lorebook.as_ref(),
    };
    super::card::export_v3(&imported.character, &parts)
}

/// Imports, exports as V3, imports and exports again: both exports must be the same card.
fn export_again(card: Value) -> (Value, Value) {
    let first = import(object(card)).expect("imports");
    let exported = export(&first);
    let second = import(object(exported.clone())).expect("the export imports");
    let again = export(&second);
    assert_eq!(exported, again, "a second export is the same card");
    assert_eq!(import(object(again.clone())).unwrap(), second);
    (exported, again)
}

#[test]
fn v1_cards_map_to_fields_and_keep_their_other_keys() {
    let card = json!({"name": "Aqua", "description": "A goddess", "personality": "loud",
        "first_mes": "Hi!", "mes_example": "<START>", "scenario": "Axel",
        "avatar": "none", "chat": "Aqua - 2023", "create_date": 1_673_000_000});
    let imported = import(object(card.clone())).unwrap();
    assert_eq!(imported.character["name"], "Aqua");
    assert_eq!(imported.character["firstMessage"], "Hi!");
    assert_eq!(imported.character["exampleDialogues"], "<START>");
    assert_eq!(
        imported.character["unknownCardKeys"]["card"],
        json!({"avatar": "none", "chat": "Aqua - 2023", "create_date": 1_673_000_000})
    );
    let (exported, _) = export_again(card);
    assert_eq!(exported["spec"], "chara_card_v3");
    assert_eq!(exported["spec_version"], "3.0");
    assert_eq!(exported["data"]["first_mes"], "Hi!");
    assert_eq!(
        exported["first_mes"], "Hi!",
        "V1 fields are mirrored at the top"
    );
    assert_eq!(
        exported["chat"], "Aqua - 2023",
        "unknown top-level keys come back"
    );
    assert_eq!(exported["data"]["alternate_greetings"], json!([]));
}

#[test]
fn v3_cards_keep_every_key_and_value_through_a_round_trip() {
    let book = json!({
        "name": "Book", "scan_depth": 3, "extensions": {"k": 1}, "x_book": "kept",
        "entries": [{"keys": ["a"], "content": "A", "extensions": {"position": 0},
                     "enabled": true, "insertion_order": 1.5, "id": 0,
                     "position": "before_char", "use_regex": true, "x_entry": null}]
    });
    let v3_fields = json!({
        "group_only_greetings": ["g"], "nickname": "Ames",
        "creator_notes_multilingual": {"fr": "bonjour"}, "source": ["https://x"],
        "creation_date": 1, "modification_date": 2,
        "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
    });
    let mut data = json!({
        "name": "Amy", "description": "d", "personality": "p", "scenario": "s",
        "first_mes": "f", "mes_example": "m", "creator_notes": "c", "system_prompt": "sp",
        "post_history_instructions": "phi", "alternate_greetings": ["a1", "a2"],
        "tags": ["Helper", " helper ", "AI", ""], "creator": "me", "character_version": "3",
        "extensions": {"depth_prompt": {"depth": 4}, "regex_scripts": [{"id": "r"}]},
        "x_custom": [1, 2],
    });
    for (key, value) in object(v3_fields) {
        data[key] = value;
    }
    data["character_book"] = book;
    let card = json!({
        "spec": "chara_card_v3", "spec_version": "3.0",
        "name": "Mirror", "fav": false, "x-top": {"kept": true},
        "data": data,
    });
    let imported = import(object(card.clone())).unwrap();
    assert_eq!(imported.tag_names, ["Helper", "AI"]);
    let character = &imported.character;
    assert_eq!(character["groupOnlyGreetings"], json!(["g"]));
    assert_eq!(
        character["creatorNotesMultilingual"],
        json!({"fr": "bonjour"})
    );
    assert_eq!(character["cardModificationDate"], 2);
    assert_eq!(
        character["unknownCardKeys"]["data"],
        json!({"x_custom": [1, 2]})
    );
    let lorebook = imported.lorebook.as_ref().unwrap();
    assert_eq!(lorebook["scanDepth"], 3);
    assert_eq!(lorebook["unknownKeys"], json!({"x_book": "kept"}));
    let entry = &lorebook["entries"][0];
    assert_eq!(entry["uid"], 0);
    assert_eq!(
        entry["unknownKeys"],
        json!({"insertion_order": 1.5, "x_entry": null}),
        "a known key with a value of another type is kept verbatim"
    );
    let (exported, _) = export_again(card.clone());
    assert_eq!(import(object(exported.clone())).unwrap(), imported);
    let mut expected = card;
    expected["data"]["tags"] = json!(["Helper", "AI"]);
    for key in [
        "description",
        "personality",
        "scenario",
        "first_mes",
        "mes_example",
    ] {
        expected[key] = expected["data"][key].clone();
    }
    expected["name"] = json!("Amy");
    assert_eq!(exported, expected, "the card comes back whole");
}

#[test]
fn cards_that_break_the_rules_are_refused() {
    let cases = [
        json!({"spec": "chara_card_v2", "data": "x"}),
        json!({"spec": "chara_card_v9", "data": {}}),
        json!({"spec": "chara_card_v3", "data": {"description": "no name"}}),
        json!({"spec": "chara_card_v3", "data": {"name": "x", "character_book": []}}),
        json!({"spec": "chara_card_v3", "data": {"name": "x", "character_book": {"entries": [1]}}}),
    ];
    for card in cases {
        assert!(
            matches!(import(object(card.clone())), Err(CardError::Invalid { .. })),
            "{card}"
        );
    }
    assert!(super::json_object(b"[1, 2]", "card").is_err());
    assert!(super::json_object(b"{", "card").is_err());
}

#[test]
fn world_info_files_round_trip() {
    let file = json!({"name": "Lore", "x": 1, "entries": {
        "5": {"uid": 5, "key": ["k"], "keysecondary": [], "comment": "c", "content": "C",
              "constant": false, "selective": true, "order": 100, "position": 0,
              "disable": true, "depth": 4, "caseSensitive": null}
    }});
    let lorebook = book::from_world_info(object(file.clone()), "fallback").unwrap();
    assert_eq!(lorebook["name"], "Lore");
    assert_eq!(lorebook["entries"][0]["enabled"], false);
    assert_eq!(lorebook["entries"][0]["insertionOrder"], 100);
    let exported = book::to_world_info(&lorebook);
    assert_eq!(exported, file);
    let unnamed = book::from_world_info(object(json!({"entries": {}})), "file name").unwrap();
    assert_eq!(unnamed["name"], "file name");
    assert!(book::from_world_info(object(json!({"entries": []})), "x").is_err());
}

#[test]
fn png_cards_are_written_before_iend_and_read_back_preferring_ccv3() {
    let image = DEFAULT_IMAGE.clone();
    let with = with_cards(&image, &[(CCV3, br#"{"v": 3}"#), (CHARA, br#"{"v": 2}"#)]).unwrap();
    assert_eq!(read_card(&with, 1 << 20).unwrap(), br#"{"v": 3}"#);
    assert!(
        with.ends_with(&image[image.len() - 12..]),
        "IEND stays last"
    );
    assert_eq!(
        strip_cards(&with).unwrap(),
        image,
        "stripping gives the image back"
    );
    let replaced = with_cards(&with, &[(CHARA, br#"{"v": 1}"#)]).unwrap();
    assert_eq!(read_card(&replaced, 1 << 20).unwrap(), br#"{"v": 1}"#);
    let mut decoder = png::Decoder::new(std::io::Cursor::new(replaced))
        .read_info()
        .expect("a real decoder opens it");
    let mut pixels = vec![0; decoder.output_buffer_size().unwrap()];
    decoder.next_frame(&mut pixels).expect("and decodes it");
    assert!(matches!(
        read_card(&image, 1 << 20),
        Err(CardError::Invalid { .. })
    ));
    assert!(matches!(
        read_card(b"GIF89a", 1 << 20),
        Err(CardError::UnknownFormat(_))
    ));
    assert!(
        read_card(&with[..with.len() - 20], 1 << 20).is_err(),
        "truncated"
    );
}

#[test]
fn compressed_card_chunks_inflate_only_up_to_the_limit() {
    let text = format!("{{\"pad\": \"{}\"}}", "x".repeat(4 << 20));
    let mut chunk = ZTXtChunk::new("chara", text.clone());
    chunk.compress_text().unwrap();
    let mut encoded = Vec::new();
    chunk.encode(&mut encoded).unwrap();
    let image = DEFAULT_IMAGE.clone();
    let mut bomb = image[..image.len() - 12].to_vec();
    bomb.extend_from_slice(&encoded);
    bomb.extend_from_slice(&image[image.len() - 12..]);
    assert!(bomb.len() < 100_000, "small on the wire: {}", bomb.len());
    assert!(matches!(
        read_card(&bomb, 1 << 20),
        Err(CardError::TooLarge(_))
    ));
    assert_eq!(read_card(&bomb, 8 << 20).unwrap(), text.as_bytes());
}
