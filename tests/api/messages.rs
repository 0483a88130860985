//! Messages: `seq` assignment (also under concurrent appenders), pages in both directions,
//! reads, merge patches with `If-Match`, deletes, and pages of a 100,000-message chat.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::chats::{append, create_chat};
use crate::helpers::{Api, assert_detail_field, assert_error, header, json_body, spawn_app};

pub fn seqs(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["seq"].as_u64().unwrap())
        .collect()
}

/// Imports a chat of `count` plain messages (one atomic batch) and returns its id.
pub async fn import_chat_of(api: &Api, count: u64) -> String {
    let mut body =
        json!({"type": "quillstore-chat", "version": 1, "chat": {"title": "big"}}).to_string();
    body.push('\n');
    for seq in 1..=count {
        let role = if seq % 2 == 1 { "user" } else { "assistant" };
        body.push_str(
            &json!({"seq": seq, "role": role, "content": format!("message {seq}")}).to_string(),
        );
        body.push('\n');
    }
    let response = api
        .send(api.request(Method::POST, "/api/chats/import").body(body))
        .await;
    let status = response.status();
    let chat = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    assert_eq!(chat["messageCount"], count);
    chat["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn append_read_patch_delete() {
    let app = spawn_app().await;
    let chat = create_chat(&app, "c", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap();
    let first = append(&app, chat_id, "user", "hello").await;
    assert_eq!(first["seq"], 1);
    assert_eq!(first["chatId"], chat_id);
    assert_eq!(first["type"], "message");
    let path = format!(
        "/api/chats/{chat_id}/messages/{}",
        first["id"].as_str().unwrap()
    );

    let response = app.get(&path).await;
    assert_eq!(header(response.headers(), "etag"), "\"1\"");
    assert_eq!(json_body(response).await, first);

    let stale = app
        .patch_if_match(&path, &json!({"content": "x"}), "\"7\"")
        .await;
    assert_error(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let patched = app
        .patch_if_match(
            &path,
            &json!({"content": "hello there", "tokenCount": 3}),
            "\"1\"",
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched = json_body(patched).await;
    assert_eq!(
        (
            patched["content"].as_str(),
            patched["version"].as_u64(),
            patched["seq"].as_u64()
        ),
        (Some("hello there"), Some(2), Some(1))
    );
    let summary = app
        .post(
            &format!("/api/chats/{chat_id}/messages"),
            &json!({"type": "context-summary", "role": "system", "content": "s"}),
        )
        .await;
    assert_eq!(json_body(summary).await["seq"], 2);

    for (body, field) in [
        (json!({"role": "wizard", "content": "x"}), "role"),
        (json!({"role": "user", "type": "note"}), "type"),
        (json!({"content": "no role"}), "role"),
    ] {
        let response = app
            .post(&format!("/api/chats/{chat_id}/messages"), &body)
            .await;
        let body = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&body, field);
    }
    for body in [
        json!({"role": "user", "seq": 9}),
        json!({"role": "user", "chatId": chat_id}),
        json!({"role": "user", "swipeActive": true}),
    ] {
        let response = app
            .post(&format!("/api/chats/{chat_id}/messages"), &body)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }

    let stale_delete = app
        .send(
            app.request(Method::DELETE, &path)
                .header("if-match", "\"1\""),
        )
        .await;
    assert_error(
        stale_delete,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
    let third = append(&app, chat_id, "user", "after a delete").await;
    assert_eq!(third["seq"], 3, "seq never goes back");
}

#[tokio::test]
async fn pages_walk_both_directions() {
    let app = spawn_app().await;
    let chat_id = import_chat_of(&app, 25).await;
    let base = format!("/api/chats/{chat_id}/messages");
    let first = app.list(&format!("{base}?limit=10")).await;
    assert_eq!(seqs(&first), (1..=10).collect::<Vec<_>>());
    assert!(first["nextCursor"].is_string(), "{first}");
    assert_eq!(first["prevCursor"], Value::Null, "nothing before the start");
    let next = app.list(&format!("{base}?limit=10&after=10")).await;
    assert_eq!(seqs(&next), (11..=20).collect::<Vec<_>>());
    let end = app.list(&format!("{base}?limit=10&after=20")).await;
    assert_eq!(
        (seqs(&end), end["nextCursor"].clone()),
        ((21..=25).collect(), Value::Null)
    );
    let latest = app.list(&format!("{base}?limit=10&latest=true")).await;
    assert_eq!(seqs(&latest), (16..=25).collect::<Vec<_>>());
    assert!(latest["nextCursor"].is_string(), "{latest}");
    let earlier = app.list(&format!("{base}?limit=10&before=16")).await;
    assert_eq!(seqs(&earlier), (6..=15).collect::<Vec<_>>());
    let start = app.list(&format!("{base}?limit=10&before=6")).await;
    assert_eq!(
        (seqs(&start), start["nextCursor"].clone()),
        ((1..=5).collect(), Value::Null)
    );
    let window = app.list(&format!("{base}?after=3&before=7")).await;
    assert_eq!(seqs(&window), vec![4, 5, 6]);
    for bad in [
        "limit=0",
        "limit=201",
        "after=x",
        "latest=true&after=1",
        "sort=seq",
        "cursor=nonsense",
        "cursor=eyJkIjoiYSIsInMiOjN9&after=1",
    ] {
        assert_error(
            app.get(&format!("{base}?{bad}")).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
}

/// Messages page with cursors like every collection: `nextCursor` carries a walk on in its
/// direction (older from `latest`, newer from the start), `prevCursor` turns it around, and
/// a `latest` page's `prevCursor` finds the messages written since.
#[tokio::test]
async fn message_cursors_walk_older_and_newer() {
    let app = spawn_app().await;
    let chat_id = import_chat_of(&app, 25).await;
    let base = format!("/api/chats/{chat_id}/messages");
    let page = |cursor: &Value| {
        let cursor = cursor.as_str().expect("a cursor").to_owned();
        let (app, base) = (&app, &base);
        async move { app.list(&format!("{base}?limit=10&cursor={cursor}")).await }
    };
    // Older, from the end.
    let latest = app.list(&format!("{base}?limit=10&latest=true")).await;
    let older = page(&latest["nextCursor"]).await;
    assert_eq!(seqs(&older), (6..=15).collect::<Vec<_>>());
    let oldest = page(&older["nextCursor"]).await;
    assert_eq!(seqs(&oldest), (1..=5).collect::<Vec<_>>());
    assert_eq!(oldest["nextCursor"], Value::Null, "the start reached");
    // And back again, newer.
    let newer = page(&oldest["prevCursor"]).await;
    assert_eq!(seqs(&newer), (6..=15).collect::<Vec<_>>());
    let newest = page(&newer["nextCursor"]).await;
    assert_eq!(seqs(&newest), (16..=25).collect::<Vec<_>>());
    assert_eq!(
        newest["nextCursor"],
        Value::Null,
        "the end reached, for now"
    );
    // Newer, from the start; turning around goes older from the page's first position.
    let first = app.list(&format!("{base}?limit=10")).await;
    let second = page(&first["nextCursor"]).await;
    assert_eq!(seqs(&second), (11..=20).collect::<Vec<_>>());
    let back = page(&second["prevCursor"]).await;
    assert_eq!(seqs(&back), (1..=10).collect::<Vec<_>>());
    // A poll from the latest page sees what was written since, and nothing else.
    let quiet = page(&latest["prevCursor"]).await;
    assert_eq!(seqs(&quiet), Vec::<u64>::new());
    append(&app, &chat_id, "user", "new").await;
    let since = page(&latest["prevCursor"]).await;
    assert_eq!(seqs(&since), vec![26]);
    assert_eq!(since["nextCursor"], Value::Null);
    let empty = app.list(&format!("{base}?after=26")).await;
    assert_eq!(
        (empty["nextCursor"].clone(), empty["prevCursor"].clone()),
        (Value::Null, Value::Null),
        "an empty page has no edges"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appenders_get_gapless_unique_seqs() {
    let app = spawn_app().await;
    let chat = create_chat(&app, "busy", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    // 16 clients at once everywhere; on the one-threaded emulator each sends 25, not 200
    // (3200 appends take it over ten minutes and prove nothing more than 400).
    let per_client: u64 = if crate::helpers::mongodb_is_emulated() {
        eprintln!("concurrent_appenders_get_gapless_unique_seqs: 16 x 25 appends on the emulator");
        25
    } else {
        200
    };
    let tasks: Vec<_> = (0..16)
        .map(|client| {
            let (api, chat_id) = (app.api.clone(), chat_id.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for index in 0..per_client {
                    let message =
                        append(&api, &chat_id, "user", &format!("{client}-{index}")).await;
                    seen.push(message["seq"].as_u64().unwrap());
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let seen = task.await.unwrap();
        assert!(
            seen.windows(2).all(|pair| pair[0] < pair[1]),
            "one client's seqs increase"
        );
        all.extend(seen);
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=16 * per_client).collect::<Vec<_>>(),
        "seq 1..16*per_client with no gap or duplicate"
    );

    let mut walked = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = app
            .list(&format!(
                "/api/chats/{chat_id}/messages?limit=200&after={after}"
            ))
            .await;
        let page_seqs = seqs(&page);
        after = *page_seqs.last().unwrap_or(&after);
        walked.extend(page_seqs);
        if page["nextCursor"].is_null() {
            break;
        }
    }
    assert_eq!(walked.len(), 16 * per_client as usize);
    assert_eq!(
        app.read("chats", &chat_id).await["messageCount"],
        16 * per_client
    );
}

#[tokio::test]
async fn pages_of_a_100000_message_chat_are_right_at_both_ends() {
    if crate::helpers::on_mongodb_emulator(
        "pages_of_a_100000_message_chat_are_right_at_both_ends",
        "importing 100,000 messages takes longer than REQUEST_TIMEOUT_SECS (pure Python)",
    ) {
        return;
    }
    let app = spawn_app().await;
    let chat_id = import_chat_of(&app, 100_000).await;
    let base = format!("/api/chats/{chat_id}/messages");
    let first = app.list(&format!("{base}?limit=50")).await;
    assert_eq!(seqs(&first), (1..=50).collect::<Vec<_>>());
    assert_eq!(first["items"][0]["content"], "message 1");
    let last = app.list(&format!("{base}?limit=50&latest=true")).await;
    assert_eq!(seqs(&last), (99_951..=100_000).collect::<Vec<_>>());
    assert_eq!(last["items"][49]["content"], "message 100000");
    let tail = app.list(&format!("{base}?after=99990")).await;
    assert_eq!(
        (seqs(&tail).len(), tail["nextCursor"].clone()),
        (10, Value::Null)
    );
    let middle = app.list(&format!("{base}?before=50001&limit=2")).await;
    assert_eq!(seqs(&middle), vec![49_999, 50_000]);
    let message = &middle["items"][1];
    let path = format!("{base}/{}", message["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn attachments_name_the_users_files_and_leave_with_them() {
    let mut app = spawn_app().await;
    let chat = create_chat(&app, "files", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap();
    let file = app
        .upload(b"hello attachment", "note.txt", Some("text/plain"))
        .await;
    let file_id = file["id"].as_str().unwrap();
    let base = format!("/api/chats/{chat_id}/messages");

    let unknown = json!({"role": "user", "content": "x", "attachments": ["01a20800-0000-7000-8000-0000000000aa"]});
    let response = app.post(&base, &unknown).await;
    let body = assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_detail_field(&body, "attachments");

    let with_file = app
        .post(
            &base,
            &json!({"role": "user", "content": "see", "attachments": [file_id]}),
        )
        .await;
    assert_eq!(with_file.status(), StatusCode::CREATED);
    let message = json_body(with_file).await;
    let path = format!("{base}/{}", message["id"].as_str().unwrap());
    let deleted = app.delete(&format!("/api/files/{file_id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let after = json_body(app.get(&path).await).await;
    assert_eq!(
        after["attachments"],
        json!([]),
        "the deleted file left the message"
    );
    assert_eq!(after["version"], 2);
    app.restart().await;
    assert_eq!(
        json_body(app.get(&path).await).await["attachments"],
        json!([])
    );
}
