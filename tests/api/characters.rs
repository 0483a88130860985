//! `/api/characters`: CRUD, merge-patch semantics, validation, references, opaque data.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{PNG_2X3, assert_detail_field, assert_error, json_body, spawn_app, strings};

/// Asserts an RFC 3339 UTC timestamp with milliseconds, e.g. `2026-11-23T10:19:00.123Z`.
fn assert_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is a string: {value}"));
    assert!(
        OffsetDateTime::parse(text, &Rfc3339).is_ok(),
        "RFC 3339: {text}"
    );
    let (_, fraction) = text
        .split_once('.')
        .unwrap_or_else(|| panic!("milliseconds: {text}"));
    assert_eq!(fraction.len(), 4, "three fraction digits then Z: {text}");
    assert!(fraction.ends_with('Z'), "UTC: {text}");
}

#[tokio::test]
async fn character_crud_round_trip() {
    let app = spawn_app().await;
    let avatar = app.upload(PNG_2X3, "ada.png", Some("image/png")).await;
    let body = json!({
        "name": "Ada Lovelace",
        "title": "Countess",
        "description": "Mathematician",
        "personality": "curious",
        "scenario": "London, 1843",
        "firstMessage": "Hello!",
        "exampleDialogues": "<START>",
        "systemPrompt": "Stay in character.",
        "isFavorite": true,
        "avatarOverrides": [{"chatId": uuid::Uuid::now_v7(), "fileId": avatar["id"]}],
    });
    let created = app.create("characters", body.clone()).await;
    for (field, value) in body.as_object().unwrap() {
        assert_eq!(&created[field], value, "field {field} is stored as sent");
    }
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(id).unwrap().get_version_num(),
        7,
        "ids are UUIDv7"
    );
    assert_timestamp(&created["createdAt"]);
    assert_timestamp(&created["updatedAt"]);
    assert_eq!(app.read("characters", id).await, created);

    let path = format!("/api/characters/{id}");
    let response = app
        .patch(&path, &json!({"title": null, "isFavorite": false}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let patched = json_body(response).await;
    assert!(
        patched.get("title").is_none_or(Value::is_null),
        "null removes: {patched}"
    );
    assert_eq!(patched["isFavorite"], false);
    assert_eq!(patched["description"], "Mathematician");
    assert_eq!(patched["version"], 2);
    assert_eq!(app.read("characters", id).await, patched);

    // `application/json` is accepted for merge patches too.
    let request = app
        .request(reqwest::Method::PATCH, &path)
        .json(&json!({"title": "Analyst"}));
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await["version"], 3);

    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    let response = app.patch(&path, &json!({"title": "ghost"})).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.list("/api/characters").await["items"], json!([]));
}

#[tokio::test]
async fn merge_patch_merges_objects_and_replaces_arrays() {
    let app = spawn_app().await;
    let tags: Vec<String> = futures::future::join_all(
        ["a", "b", "c"].map(|name| app.create("tags", json!({"name": name}))),
    )
    .await
    .iter()
    .map(|tag| tag["id"].as_str().unwrap().to_owned())
    .collect();
    let created = app
        .create(
            "characters",
            json!({
                "name": "Merge",
                "tags": [tags[0], tags[1]],
                "sillyTavernData": {"data": {"keep": 1, "change": 1, "drop": 1}, "list": [1, 2, 3]},
            }),
        )
        .await;
    let path = format!("/api/characters/{}", created["id"].as_str().unwrap());
    let patch = json!({
        "tags": [tags[2]],
        "sillyTavernData": {"data": {"change": 2, "drop": null, "new": true}, "list": [9]},
    });
    let patched = json_body(app.patch(&path, &patch).await).await;
    assert_eq!(
        strings(&patched["tags"]),
        [tags[2].clone()],
        "arrays are replaced"
    );
    assert_eq!(
        patched["sillyTavernData"],
        json!({"data": {"keep": 1, "change": 2, "new": true}, "list": [9]}),
        "objects merge, null removes a member"
    );
}

#[tokio::test]
async fn character_fields_are_validated() {
    let app = spawn_app().await;
    let persona = app.create("personas", json!({"name": "P"})).await;
    let persona_id = persona["id"].as_str().unwrap();
    let cases = [
        (json!({}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "n".repeat(201)}), "name"),
        (json!({"name": "ok", "isFavorite": "yes"}), "isFavorite"),
        (json!({"name": "ok", "description": 5}), "description"),
        (
            json!({"name": "ok", "defaultImageId": "not-a-uuid"}),
            "defaultImageId",
        ),
        (json!({"name": "ok", "tags": "one"}), "tags"),
        (
            json!({"name": "ok", "avatarOverrides": [{"chatId": "x", "fileId": "y"}]}),
            "avatarOverrides",
        ),
        (
            json!({"name": "ok", "physicalDescriptions": [{"shortPrompt": "tall"}]}),
            "physicalDescriptions",
        ),
        (
            json!({"name": "ok", "sillyTavernData": [1, 2]}),
            "sillyTavernData",
        ),
        (
            json!({"name": "ok", "personaLinks": [{"personaId": persona_id, "isDefault": "no"}]}),
            "personaLinks",
        ),
    ];
    for (body, field) in cases {
        let response = app.post("/api/characters", &body).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&error, field);
    }
    let longest = app
        .create("characters", json!({"name": "n".repeat(200)}))
        .await;
    let path = format!("/api/characters/{}", longest["id"].as_str().unwrap());
    let error = assert_error(
        app.patch(&path, &json!({"name": null})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&error, "name");
    let listed = app.list("/api/characters").await;
    assert_eq!(
        listed["items"],
        json!([longest]),
        "no invalid document was stored"
    );
}

#[tokio::test]
async fn physical_descriptions_get_server_ids() {
    let app = spawn_app().await;
    let given = uuid::Uuid::now_v7().to_string();
    let character = app
        .create(
            "characters",
            json!({"name": "x", "physicalDescriptions": [
                {"name": "default", "shortPrompt": "tall"},
                {"id": given, "name": "armor", "fullDescription": "plate"},
            ]}),
        )
        .await;
    let descriptions = character["physicalDescriptions"].as_array().unwrap();
    assert_eq!(descriptions.len(), 2);
    let assigned = descriptions[0]["id"]
        .as_str()
        .expect("a missing id is assigned");
    assert!(uuid::Uuid::parse_str(assigned).is_ok(), "{assigned}");
    assert_eq!(descriptions[0]["shortPrompt"], "tall");
    assert_eq!(descriptions[1]["id"], given.as_str());
    assert_eq!(descriptions[1]["fullDescription"], "plate");
}

/// A SillyTavern card fragment with the kinds of values cards really hold.
pub fn sample_silly_tavern_data() -> Value {
    json!({
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Zoë «Ω» 🐉",
            "alternate_greetings": ["こんにちは", "Привет", "", "line\nbreak \"quoted\" \\ back"],
            "extensions": {"depth_prompt": {"depth": 4, "prompt": null}, "fav": false, "talkativeness": 0.5},
            "character_book": {"entries": [{"keys": ["a", "b"], "id": 12345678901234_i64, "weights": [-1, 2.25]}]},
            "empty_object": {},
            "nested": [[[]], [{"deep": {"deeper": ["x"]}}]],
        },
    })
}

#[tokio::test]
async fn silly_tavern_data_is_kept_verbatim() {
    let mut app = spawn_app().await;
    let data = sample_silly_tavern_data();
    let created = app
        .create(
            "characters",
            json!({"name": "Zoë", "sillyTavernData": data}),
        )
        .await;
    assert_eq!(created["sillyTavernData"], data);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(app.read("characters", &id).await["sillyTavernData"], data);
    app.restart().await;
    assert_eq!(
        app.read("characters", &id).await["sillyTavernData"],
        data,
        "after a restart"
    );
}

/// Every field of a V2/V3 character card has a place in a character, under its camelCase
/// name, and `extensions` and unknown card keys come back exactly as sent.
#[tokio::test]
async fn character_holds_every_card_field() {
    let app = spawn_app().await;
    let body = json!({
        "name": "Seraphina",
        "alternateGreetings": ["Hi again.", "Welcome back."],
        "groupOnlyGreetings": ["Hello, everyone."],
        "creatorNotes": "Best with a slow burn.",
        "creatorNotesMultilingual": {"en": "Notes", "fr": "Notes en français"},
        "postHistoryInstructions": "Stay gentle.",
        "creator": "someone",
        "characterVersion": "1.2",
        "nickname": "Sera",
        "source": ["https://example.com/cards/seraphina"],
        "cardCreationDate": 1_700_000_000,
        "cardModificationDate": 1_700_000_500,
        "extensions": {"talkativeness": "0.5", "depth_prompt": {"depth": 4, "prompt": "x"},
                       "weird key": [1, {"nested": null}]},
        "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        "unknownCardKeys": {"card": {"chat": "Seraphina - 2023"}, "data": {"x_custom": 7}},
    });
    let created = app.create("characters", body.clone()).await;
    for (field, value) in body.as_object().unwrap() {
        assert_eq!(&created[field], value, "field {field} is stored as sent");
    }
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.read("characters", id).await, created);
    let wrong = json!({"name": "x", "creatorNotesMultilingual": {"en": 3}});
    let error = assert_error(
        app.post("/api/characters", &wrong).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&error, "creatorNotesMultilingual");
}
