//! SillyTavern chats through the API: every real file and generated shapes come back from
//! `?format=sillytavern` line for line (JSON-equal); dates, speakers and participants are
//! mapped; BOMs, multipart forms and header-less group files import; bad requests are refused
//! and leave nothing behind.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Api, assert_error, json_body, skip, spawn_app};

async fn import(api: &Api, query: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    api.send(
        api.request(Method::POST, &format!("/api/chats/import{query}"))
            .header("content-type", "application/x-ndjson")
            .body(body),
    )
    .await
}

async fn imported(api: &Api, query: &str, body: impl Into<reqwest::Body>) -> Value {
    let response = import(api, query, body).await;
    let status = response.status();
    let chat = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    chat
}

async fn export_sillytavern(api: &Api, chat_id: &str) -> Vec<Value> {
    let response = api
        .get(&format!("/api/chats/{chat_id}/export?format=sillytavern"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

fn file(lines: &[Value]) -> String {
    lines
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

async fn assert_round_trip(api: &Api, name: &str, text: &str) -> Value {
    let original: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let chat = imported(api, "", text.to_owned()).await;
    let back = export_sillytavern(api, chat["id"].as_str().unwrap()).await;
    assert_eq!(back.len(), original.len(), "{name}: as many lines");
    for (number, (written, line)) in back.iter().zip(&original).enumerate() {
        assert_eq!(written, line, "{name}, line {}", number + 1);
    }
    chat
}

#[tokio::test]
async fn every_real_sillytavern_chat_comes_back_line_for_line() {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real/chats");
    if !directory.is_dir() {
        skip(
            "every_real_sillytavern_chat_comes_back_line_for_line",
            "../shared/data/real/chats is absent",
        );
        return;
    }
    let app = spawn_app().await;
    let mut files = 0;
    for entry in std::fs::read_dir(&directory).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_round_trip(&app, &path.display().to_string(), &text).await;
        files += 1;
    }
    assert!(files >= 7, "all real chats were read ({files})");

    let megumin =
        std::fs::read_to_string(directory.join("st_2023-04_Megumin_1673323621108.jsonl")).unwrap();
    let chat = imported(&app, "", megumin).await;
    assert_eq!(chat["title"], "Chat with Megumin");
    assert_eq!(
        chat["createdAt"], "2023-01-24T11:31:40.991Z",
        "the header's create_date"
    );
    assert_eq!(
        chat["lastMessageAt"], "2023-04-21T20:03:13.567Z",
        "the last send_date"
    );
    let page = app
        .list(&format!(
            "/api/chats/{}/messages",
            chat["id"].as_str().unwrap()
        ))
        .await;
    let first = &page["items"][0];
    assert_eq!(first["createdAt"], "2023-04-21T20:02:47.124Z");
    assert_eq!(first["speakerName"], "Megumin");
    assert_eq!(first["sillyTavernData"]["is_name"], true);
}

/// Shapes current and older SillyTavern writes that the real files lack.
fn generated() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        (
            "swipes on both sides, reasoning, images, system lines",
            vec![
                json!({"user_name": "Sam", "character_name": "Aria", "create_date": "2025-3-4@05h00m00s", "chat_metadata": {"integrity": "abc", "variables": {"x": 1}}}),
                json!({"name": "Sam", "is_user": true, "is_system": false, "send_date": "March 4, 2025 5:01am", "mes": "Look", "extra": {"image": "data:image/png;base64,iVBORw0KGgo=", "inline_image": true, "title": "a cat"}, "force_avatar": "User Avatars/sam.png"}),
                json!({"name": "Sam", "is_user": true, "mes": "take two", "send_date": 1_741_064_500_000_i64, "swipes": ["take one", "take two"], "swipe_id": 1, "swipe_info": [{"send_date": 1_741_064_400_000_i64, "extra": {}}, {"send_date": 1_741_064_500_000_i64, "extra": {}}]}),
                json!({"name": "Aria", "is_user": false, "is_system": false, "send_date": "2025-03-04T05:06:07.089Z", "mes": "B", "extra": {"api": "openai", "model": "gpt-4o", "reasoning": "think B", "token_count": 12},
                       "swipe_id": 1, "swipes": ["A", "B"], "gen_started": "2025-03-04T05:06:00.000Z", "gen_finished": "2025-03-04T05:06:07.089Z",
                       "swipe_info": [{"send_date": "2025-03-04T05:05:00.000Z", "gen_started": null, "gen_finished": null, "extra": {"reasoning": "think A", "token_count": 10}},
                                      {"send_date": "2025-03-04T05:06:07.089Z", "extra": {"api": "openai", "model": "gpt-4o", "reasoning": "think B", "token_count": 12}}]}),
                json!({"name": "System", "is_user": false, "is_system": true, "send_date": "2025-03-04T05:07:00.000Z", "mes": "The scene shifts.", "extra": {"type": "narrator", "isSmallSys": true}}),
            ],
        ),
        (
            "group chat from SillyTavern 1.12: no header",
            vec![
                json!({"name": "Aqua", "is_user": false, "is_name": true, "send_date": "2023-4-21 @20h 02m 47s 124ms", "mes": "Hi from Aqua", "extra": {}, "force_avatar": "characters/Aqua.png", "original_avatar": "Aqua.png"}),
                json!({"name": "You", "is_user": true, "is_name": true, "send_date": "2023-4-21 @20h 03m 00s 000ms", "mes": "Hello both", "extra": {}}),
                json!({"name": "Darkness", "is_user": false, "is_name": true, "send_date": "2023-4-21 @20h 03m 10s 500ms", "mes": "And Darkness", "extra": {}, "original_avatar": "Darkness.png"}),
            ],
        ),
        (
            "group chat from SillyTavern 1.13 on: the header names nobody",
            vec![
                json!({"user_name": "unused", "character_name": "unused", "chat_metadata": {"tainted": true}}),
                json!({"name": "Aqua", "is_user": false, "send_date": "2025-01-01T00:00:00.000Z", "mes": "Hi", "extra": {}}),
                json!({"name": "Darkness", "is_user": false, "send_date": "2025-01-01T00:00:01.000Z", "mes": "Hey", "extra": {}}),
            ],
        ),
    ]
}

#[tokio::test]
async fn generated_sillytavern_chats_come_back_line_for_line() {
    let app = spawn_app().await;
    for (name, lines) in generated() {
        assert_round_trip(&app, name, &file(&lines)).await;
    }
    let (_, lines) = generated().remove(0);
    let chat = imported(&app, "", file(&lines)).await;
    let chat_id = chat["id"].as_str().unwrap();
    let all = app
        .list(&format!("/api/chats/{chat_id}/messages?includeSwipes=true"))
        .await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 1 + 2 + 2 + 1, "every swipe is a message");
    assert_eq!(items[1]["role"], "user");
    assert_eq!(items[1]["swipeActive"], false);
    assert_eq!(items[3]["reasoning"], "think A");
    assert_eq!(items[3]["createdAt"], "2025-03-04T05:05:00.000Z");
    assert_eq!(items[4]["tokenCount"], 12);
    assert_eq!(items[5]["role"], "system");
    assert_eq!(chat["lastMessageAt"], "2025-03-04T05:07:00.000Z");
}

#[tokio::test]
async fn speakers_become_participants_by_name_or_as_named() {
    let app = spawn_app().await;
    let aqua = app.create("characters", json!({"name": "aqua"})).await;
    let darkness = app.create("characters", json!({"name": "Darkness"})).await;
    let persona = app.create("personas", json!({"name": "You"})).await;
    let (_, lines) = generated().remove(1);
    let chat = imported(&app, "", file(&lines)).await;
    assert_eq!(chat["title"], "Chat with Aqua and Darkness");
    let participants = chat["participants"].as_array().unwrap();
    let ids: Vec<&Value> = participants
        .iter()
        .map(|p| p.get("characterId").or(p.get("personaId")).unwrap())
        .collect();
    assert_eq!(ids, vec![&aqua["id"], &darkness["id"], &persona["id"]]);
    let chat_id = chat["id"].as_str().unwrap();
    let messages = app.list(&format!("/api/chats/{chat_id}/messages")).await;
    for (message, participant) in messages["items"].as_array().unwrap().iter().zip([0, 2, 1]) {
        assert_eq!(message["participantId"], participants[participant]["id"]);
    }
    let found = app
        .list(&format!(
            "/api/chats?characterId={}",
            darkness["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        found["items"][0]["id"], chat["id"],
        "the characterId filter finds it"
    );

    let (_, lines) = generated().remove(0);
    let query = format!(
        "?title=Renamed&characterId={}&personaId={}",
        aqua["id"].as_str().unwrap(),
        persona["id"].as_str().unwrap()
    );
    let chat = imported(&app, &query, file(&lines)).await;
    assert_eq!(chat["title"], "Renamed");
    assert_eq!(chat["participants"][0]["characterId"], aqua["id"]);
    assert_eq!(chat["participants"][1]["personaId"], persona["id"]);
}

#[tokio::test]
async fn a_bom_and_a_multipart_file_part_import_like_a_raw_body() {
    let app = spawn_app().await;
    let (_, lines) = generated().remove(2);
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(file(&lines).as_bytes());
    let chat = imported(&app, "", with_bom).await;
    assert_eq!(chat["messageCount"], 2);

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(file(&lines).into_bytes()).file_name("chat.jsonl"),
    );
    let response = app
        .send(
            app.request(Method::POST, "/api/chats/import")
                .multipart(form),
        )
        .await;
    let status = response.status();
    let chat = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    assert_eq!(chat["messageCount"], 2);
    assert_eq!(
        chat["sillyTavernMetadata"]["chat_metadata"]["tainted"],
        true
    );

    let stray = reqwest::multipart::Form::new().text("notes", "x");
    let response = app
        .send(
            app.request(Method::POST, "/api/chats/import")
                .multipart(stray),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[tokio::test]
async fn bad_requests_are_refused_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let (_, lines) = generated().remove(0);
    let body = file(&lines);
    let response = import(&app, "?titel=typo", body.clone()).await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    let response = import(&app, "?characterId=not-an-id", body.clone()).await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    let missing = "01a207fc-4cff-7330-8e7a-cd10c2932061";
    let response = import(&app, &format!("?characterId={missing}"), body.clone()).await;
    let error = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["error"]["details"][0]["field"], "characterId");
    let response = import(&app, "?title=%20", body.clone()).await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let mut broken = lines.clone();
    broken[3]["swipe_id"] = json!(7);
    let response = import(&app, "", file(&broken)).await;
    let error = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["error"]["details"][0]["field"], "line 4: swipe_id");
    let response = import(&app, "", format!("{}\n{{\"no\": \"message\"}}", lines[1])).await;
    let error = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["error"]["details"][0]["field"], "line 2: mes");
    let response = import(&app, "", "{\"neither\": 1}").await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    assert_eq!(app.list("/api/chats?includeTotal=true").await["total"], 0);
    let response = app
        .get("/api/chats/01a207fc-4cff-7330-8e7a-cd10c2932061/export?format=word")
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[tokio::test]
async fn new_message_fields_are_client_owned_and_dates_stay_server_owned() {
    let app = spawn_app().await;
    let chat = app.create("chats", json!({"title": "t"})).await;
    let path = format!("/api/chats/{}/messages", chat["id"].as_str().unwrap());
    let response = app
        .post(&path, &json!({"role": "assistant", "content": "x", "speakerName": "Aria", "reasoning": "r",
                             "sillyTavernData": {"is_name": true}, "sillyTavernSwipeInfo": {"extra": {}}}))
        .await;
    let message = json_body(response).await;
    assert_eq!(message["speakerName"], "Aria");
    assert_eq!(message["reasoning"], "r");
    let response = app
        .post(
            &path,
            &json!({"role": "user", "content": "x", "createdAt": "2020-01-01T00:00:00.000Z"}),
        )
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
}
