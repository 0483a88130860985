//! SillyTavern → quillstore → SillyTavern, without a server: the import's bodies are stamped
//! the way the store stamps them, then written back and compared line by line (JSON-equal).

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::write::{self, Names};
use super::{Cast, is_header, parse};
use crate::chats::StoredMessage;
use crate::model::{Document, Timestamp, UserId, ids};
use crate::store::messages::MessageStamp;

fn objects(lines: &[Value]) -> Vec<Map<String, Value>> {
    lines
        .iter()
        .map(|line| line.as_object().unwrap().clone())
        .collect()
}

/// Imports `lines` (a file's lines, header first when it has one) the way the handler does,
/// returning the chat and its messages as the store would hold them.
fn import(lines: &[Value], cast: &Cast) -> (Document, Vec<Document>) {
    let mut lines: Vec<(usize, Map<String, Value>)> = objects(lines)
        .into_iter()
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .collect();
    let header = (!lines.is_empty() && is_header(&lines[0].1)).then(|| lines.remove(0).1);
    let parsed = parse(header, lines.into_iter().map(Ok))
        .expect("the file imports")
        .into_import(cast);
    let user = UserId::parse("local").unwrap();
    let chat_id = ids::new_id();
    let stamp = MessageStamp::new(&user, chat_id);
    let messages = parsed
        .positions
        .into_iter()
        .enumerate()
        .flat_map(|(index, position)| {
            position
                .into_bodies()
                .into_iter()
                .map(|body| stamp.new_message(body, index as u64 + 1))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut chat = Document::new(chat_id, user, Timestamp::now(), parsed.chat);
    chat.created_at = parsed.created_at.unwrap_or(chat.created_at);
    (chat, messages)
}

fn names() -> Names {
    Names {
        user: "You".to_owned(),
        character: "Aria".to_owned(),
        participants: HashMap::new(),
    }
}

/// The chat written back as SillyTavern lines.
fn export(chat: &Document, messages: &[Document]) -> Vec<Value> {
    let names = names();
    let mut lines: Vec<Value> = write::header(chat, &names)
        .map(Value::Object)
        .into_iter()
        .collect();
    let mut start = 0;
    while start < messages.len() {
        let seq = messages[start].seq();
        let end = start
            + messages[start..]
                .iter()
                .take_while(|m| m.seq() == seq)
                .count();
        lines.push(Value::Object(write::line(&messages[start..end], &names)));
        start = end;
    }
    lines
}

fn assert_round_trip(name: &str, lines: &[Value]) {
    let (chat, messages) = import(lines, &Cast::default());
    let back = export(&chat, &messages);
    assert_eq!(back.len(), lines.len(), "{name}: as many lines");
    for (number, (original, written)) in lines.iter().zip(&back).enumerate() {
        assert_eq!(written, original, "{name}, line {}", number + 1);
    }
}

fn real_chats() -> Option<PathBuf> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/real/chats");
    if directory.is_dir() {
        Some(directory)
    } else {
        eprintln!(
            "SKIPPED: real SillyTavern chats: {} is absent",
            directory.display()
        );
        None
    }
}

#[test]
fn every_real_chat_comes_back_line_for_line() {
    let Some(directory) = real_chats() else {
        return;
    };
    let mut files = 0;
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_round_trip(&path.display().to_string(), &lines);
        files += 1;
    }
    assert!(files >= 7, "the real chats are all read ({files})");
}

/// Lines of the shapes current SillyTavern writes, and older ones.
pub fn generated_chats() -> Vec<(&'static str, Vec<Value>)> {
    let reasoning_swipes = json!({
        "name": "Aria", "is_user": false, "is_system": false, "send_date": "2025-03-04T05:06:07.089Z",
        "mes": "Second answer", "extra": {"api": "openai", "model": "gpt-4o", "reasoning": "think B", "token_count": 12, "reasoning_duration": 800},
        "swipe_id": 1, "swipes": ["First answer", "Second answer", "Third"],
        "swipe_info": [
            {"send_date": "2025-03-04T05:05:00.000Z", "gen_started": "2025-03-04T05:04:59.000Z", "gen_finished": "2025-03-04T05:05:00.000Z", "extra": {"api": "openai", "model": "gpt-4o", "reasoning": "think A", "token_count": 10}},
            {"send_date": "2025-03-04T05:06:07.089Z", "gen_started": "2025-03-04T05:06:00.000Z", "gen_finished": "2025-03-04T05:06:07.089Z", "extra": {"api": "openai", "model": "gpt-4o", "reasoning": "think B", "token_count": 12, "reasoning_duration": 800}},
            {"send_date": "March 4, 2025 5:10am", "extra": {}}
        ],
        "gen_started": "2025-03-04T05:06:00.000Z", "gen_finished": "2025-03-04T05:06:07.089Z", "force_avatar": "/thumbnail?type=avatar&file=Aria.png"
    });
    vec![
        (
            "swipes, reasoning, images, system and user swipes",
            vec![
                json!({"user_name": "Sam", "character_name": "Aria", "create_date": "2025-3-4@05h00m00s", "chat_metadata": {"integrity": "abc", "note_prompt": "", "variables": {"x": 1}}, "extra_header_key": [1, 2]}),
                json!({"name": "Aria", "is_user": false, "is_system": false, "send_date": "March 4, 2025 5:00am", "mes": "Hello!", "extra": {}, "swipes": ["Hello!"], "swipe_id": 0, "swipe_info": [{"send_date": "March 4, 2025 5:00am", "extra": {}}]}),
                json!({"name": "Sam", "is_user": true, "is_system": false, "send_date": "March 4, 2025 5:01am", "mes": "Look", "extra": {"image": "/user/images/Aria/cat.png", "inline_image": true, "title": "a cat", "file": {"url": "/user/files/a.txt", "size": 3, "name": "a.txt"}}, "force_avatar": "User Avatars/sam.png"}),
                json!({"name": "Sam", "is_user": true, "mes": "take two", "send_date": 1_741_064_500_000_i64, "swipes": ["take one", "take two"], "swipe_id": 1, "swipe_info": [{"send_date": 1_741_064_400_000_i64, "extra": {}}, {"send_date": 1_741_064_500_000_i64, "extra": {}}]}),
                reasoning_swipes,
                json!({"name": "System", "is_user": false, "is_system": true, "send_date": "2025-03-04T05:07:00.000Z", "mes": "The scene shifts.", "extra": {"type": "narrator", "isSmallSys": true}, "force_avatar": "img/five.png"}),
                json!({"name": "Sam", "is_user": true, "is_system": true, "send_date": "2025-03-04T05:08:00.000Z", "mes": "(hidden)", "extra": {"bias": null}}),
                json!({"name": "Aria", "is_user": false, "send_date": "someday", "mes": "no date", "is_name": true, "swipes": ["a", "no date"], "swipe_id": 1}),
                json!({"is_user": false, "mes": "no name, no date", "swipes": [], "swipe_info": null, "extra": {"reasoning": "", "token_count": 1.5}}),
            ],
        ),
        (
            "group chat before SillyTavern 1.13: no header",
            vec![
                json!({"name": "Aqua", "is_user": false, "is_name": true, "send_date": "2023-4-21 @20h 02m 47s 124ms", "mes": "Hi from Aqua", "extra": {}, "force_avatar": "characters/Aqua.png", "original_avatar": "Aqua.png"}),
                json!({"name": "You", "is_user": true, "is_name": true, "send_date": "2023-4-21 @20h 03m 00s 000ms", "mes": "Hello both", "extra": {}}),
                json!({"name": "Darkness", "is_user": false, "is_name": true, "send_date": "2023-4-21 @20h 03m 10s 500ms", "mes": "And Darkness", "extra": {"gen_id": 17}, "force_avatar": "characters/Darkness.png", "original_avatar": "Darkness.png", "swipes": ["And Darkness"], "swipe_id": 0, "swipe_info": []}),
            ],
        ),
        (
            "group chat since SillyTavern 1.13: header names nobody",
            vec![
                json!({"user_name": "unused", "character_name": "unused", "chat_metadata": {"scenario": "x", "tainted": true}}),
                json!({"name": "Aqua", "is_user": false, "send_date": "2025-01-01T00:00:00.000Z", "mes": "Hi", "extra": {}, "original_avatar": "Aqua.png"}),
                json!({"name": "Darkness", "is_user": false, "send_date": "2025-01-01T00:00:01.000Z", "mes": "Hey", "extra": {}, "original_avatar": "Darkness.png"}),
            ],
        ),
    ]
}

#[test]
fn generated_chats_come_back_line_for_line() {
    for (name, lines) in generated_chats() {
        assert_round_trip(name, &lines);
    }
}

#[test]
fn dates_extras_and_swipes_are_mapped() {
    let (_, lines) = generated_chats().remove(0);
    let (chat, messages) = import(&lines, &Cast::default());
    assert_eq!(chat.created_at.to_string(), "2025-03-04T05:00:00.000Z");
    assert_eq!(chat.body["title"], "Chat with Aria");
    assert_eq!(
        chat.body["sillyTavernMetadata"]["extra_header_key"],
        json!([1, 2])
    );
    let first = &messages[0];
    assert_eq!(first.created_at.to_string(), "2025-03-04T05:00:00.000Z");
    assert_eq!(first.body["speakerName"], "Aria");
    assert!(
        first.swipe().is_some(),
        "a one-swipe line is a group of one"
    );
    let user_swipes: Vec<&Document> = messages.iter().filter(|m| m.seq() == 3).collect();
    assert_eq!(user_swipes.len(), 2);
    assert_eq!(user_swipes[0].body["role"], "user");
    assert_eq!(user_swipes[0].created_at.millis(), 1_741_064_400_000);
    let answers: Vec<&Document> = messages.iter().filter(|m| m.seq() == 4).collect();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0].body["reasoning"], "think A");
    assert_eq!(answers[0].body["tokenCount"], 10);
    assert_eq!(
        answers[0].created_at.to_string(),
        "2025-03-04T05:05:00.000Z"
    );
    assert!(answers[1].is_shown());
    assert_eq!(answers[1].body["reasoning"], "think B");
    assert_eq!(
        answers[1].body["sillyTavernData"]["gen_started"],
        "2025-03-04T05:06:00.000Z"
    );
    assert_eq!(
        answers[2].created_at.to_string(),
        "2025-03-04T05:10:00.000Z"
    );
    let system = messages.iter().find(|m| m.seq() == 5).unwrap();
    assert_eq!(system.body["role"], "system");
    let undated = messages
        .iter()
        .find(|m| m.seq() == 7 && m.is_shown())
        .unwrap();
    assert_eq!(
        undated.created_at,
        messages.iter().find(|m| m.seq() == 6).unwrap().created_at,
        "a line without a readable date takes the previous one's"
    );
}

#[test]
fn what_changed_in_quillstore_wins_over_the_kept_originals() {
    let (_, lines) = generated_chats().remove(0);
    let (chat, mut messages) = import(&lines, &Cast::default());
    // Select the first swipe at seq 4, change its reasoning, and turn the system line into
    // an assistant one.
    for message in messages.iter_mut().filter(|m| m.seq() == 4) {
        let first = message.swipe_index() == 0;
        message.body.insert("swipeActive".to_owned(), json!(first));
        if first {
            message
                .body
                .insert("reasoning".to_owned(), json!("rethought"));
        }
    }
    let system = messages.iter_mut().find(|m| m.seq() == 5).unwrap();
    system.body.insert("role".to_owned(), json!("assistant"));
    let back = export(&chat, &messages);
    let answer = &back[4];
    assert_eq!(answer["swipe_id"], 0);
    assert_eq!(answer["mes"], "First answer");
    assert_eq!(answer["send_date"], "2025-03-04T05:05:00.000Z");
    assert_eq!(answer["extra"]["reasoning"], "rethought");
    assert_eq!(answer["extra"]["token_count"], 10);
    assert_eq!(answer["swipe_info"][0]["extra"]["reasoning"], "rethought");
    assert_eq!(
        answer["swipe_info"][1], lines[4]["swipe_info"][1],
        "the line's own entry is kept"
    );
    assert_eq!(back[5]["is_system"], false);
    assert_eq!(back[5]["is_user"], false);
}

#[test]
fn a_chat_made_in_quillstore_gets_every_field_sillytavern_reads() {
    let user = UserId::parse("local").unwrap();
    let chat_id = Uuid::now_v7();
    let chat = Document::new(
        chat_id,
        user.clone(),
        Timestamp::from_millis(0),
        json!({"title": "t"}).as_object().unwrap().clone(),
    );
    let stamp = MessageStamp::new(&user, chat_id);
    let group = ids::new_id().to_string();
    let messages = vec![
        stamp.new_message(json!({"role": "user", "content": "hi"}).as_object().unwrap().clone(), 1),
        stamp.new_message(json!({"role": "assistant", "content": "a", "reasoning": "r", "swipeGroupId": group, "swipeIndex": 0, "swipeActive": false}).as_object().unwrap().clone(), 2),
        stamp.new_message(json!({"role": "assistant", "content": "b", "tokenCount": 3, "swipeGroupId": group, "swipeIndex": 1, "swipeActive": true}).as_object().unwrap().clone(), 2),
    ];
    let back = export(&chat, &messages);
    assert_eq!(
        back[0],
        json!({"user_name": "You", "character_name": "Aria", "create_date": "1970-01-01T00:00:00.000Z", "chat_metadata": {}})
    );
    let sent = messages[0].created_at.to_string();
    assert_eq!(
        back[1],
        json!({"name": "You", "is_user": true, "is_system": false, "send_date": sent, "mes": "hi", "extra": {}})
    );
    assert_eq!(back[2]["name"], "Aria");
    assert_eq!(back[2]["mes"], "b");
    assert_eq!(back[2]["swipes"], json!(["a", "b"]));
    assert_eq!(back[2]["swipe_id"], 1);
    assert_eq!(back[2]["extra"], json!({"token_count": 3}));
    assert_eq!(
        back[2]["swipe_info"][0],
        json!({"send_date": sent, "extra": {"reasoning": "r"}})
    );
}

#[test]
fn speakers_become_participants() {
    let (_, lines) = generated_chats().remove(1);
    let aqua = Uuid::now_v7();
    let persona = Uuid::now_v7();
    let cast = Cast {
        persona: Some(persona),
        characters_by_name: HashMap::from([("aqua".to_owned(), aqua)]),
        ..Cast::default()
    };
    let (chat, messages) = import(&lines, &cast);
    assert_eq!(chat.body["title"], "Chat with Aqua and Darkness");
    assert_eq!(
        chat.body["sillyTavernMetadata"],
        json!({}),
        "no header, and none written back"
    );
    let participants = chat.body["participants"].as_array().unwrap();
    assert_eq!(participants.len(), 2);
    assert_eq!(participants[0]["characterId"], aqua.to_string());
    assert_eq!(participants[1]["personaId"], persona.to_string());
    assert_eq!(messages[0].body["participantId"], participants[0]["id"]);
    assert_eq!(messages[1].body["participantId"], participants[1]["id"]);
    assert!(
        messages[2].body.get("participantId").is_none(),
        "Darkness matched no character"
    );
}
