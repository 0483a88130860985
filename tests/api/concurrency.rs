//! Optimistic concurrency: `If-Match`, and no lost updates under concurrent writers.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Api, assert_error, header, json_body, spawn_app};

#[tokio::test]
async fn if_match_guards_patch_and_delete() {
    let app = spawn_app().await;
    let character = app.create("characters", json!({"name": "guarded"})).await;
    let id = character["id"].as_str().unwrap();
    let path = format!("/api/characters/{id}");

    let response = app
        .patch_if_match(&path, &json!({"title": "v2"}), "\"1\"")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "etag"), "\"2\"");

    let stale = app
        .patch_if_match(&path, &json!({"title": "lost"}), "\"1\"")
        .await;
    assert_error(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let delete = app
        .send(
            app.request(Method::DELETE, &path)
                .header("if-match", "\"1\""),
        )
        .await;
    assert_error(
        delete,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;
    let current = app.read("characters", id).await;
    assert_eq!(
        (current["title"].as_str(), current["version"].as_u64()),
        (Some("v2"), Some(2))
    );

    let weak = app
        .patch_if_match(&path, &json!({"title": "v3"}), "W/\"2\"")
        .await;
    assert_eq!(weak.status(), StatusCode::OK, "weak validators match too");
    let any = app
        .patch_if_match(&path, &json!({"title": "v4"}), "*")
        .await;
    assert_eq!(json_body(any).await["version"], 4);
    let future = app
        .patch_if_match(&path, &json!({"title": "v?"}), "\"99\"")
        .await;
    assert_error(
        future,
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
    )
    .await;

    let delete = app
        .send(
            app.request(Method::DELETE, &path)
                .header("if-match", "\"4\""),
        )
        .await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_error(app.get(&path).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn malformed_if_match_is_a_bad_request() {
    let app = spawn_app().await;
    let character = app.create("characters", json!({"name": "guarded"})).await;
    let id = character["id"].as_str().unwrap();
    let path = format!("/api/characters/{id}");
    for if_match in ["1", "\"one\"", "\"1", "W/1", "\"\""] {
        let response = app
            .patch_if_match(&path, &json!({"title": "x"}), if_match)
            .await;
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        let request = app
            .request(Method::DELETE, &path)
            .header("if-match", if_match);
        assert_error(
            app.send(request).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    assert_eq!(
        app.read("characters", id).await,
        character,
        "nothing was applied"
    );
}

/// Adds one to the counter kept in the character's `description`, retrying on 412.
/// Returns how many attempts were rejected as stale.
async fn increment(api: &Api, path: &str) -> usize {
    let mut stale_attempts = 0;
    loop {
        let response = api.get(path).await;
        assert_eq!(response.status(), StatusCode::OK);
        let etag = header(response.headers(), "etag");
        let document = json_body(response).await;
        let counter: u64 = document["description"].as_str().unwrap().parse().unwrap();
        let patch = json!({"description": (counter + 1).to_string()});
        let response = api.patch_if_match(path, &patch, &etag).await;
        match response.status() {
            StatusCode::OK => return stale_attempts,
            StatusCode::PRECONDITION_FAILED => stale_attempts += 1,
            other => panic!("unexpected {other}: {}", json_body(response).await),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_loses_no_update() {
    const CLIENTS: u64 = 16;
    const INCREMENTS: u64 = 50;
    let app = spawn_app().await;
    let character = app
        .create("characters", json!({"name": "counter", "description": "0"}))
        .await;
    let id = character["id"].as_str().unwrap().to_owned();
    let path = format!("/api/characters/{id}");

    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (api, path) = (app.api.clone(), path.clone());
            tokio::spawn(async move {
                let mut stale = 0;
                for _ in 0..INCREMENTS {
                    stale += increment(&api, &path).await;
                }
                stale
            })
        })
        .collect();
    let mut stale_total = 0;
    for task in tasks {
        stale_total += task.await.expect("client task");
    }

    let document = app.read("characters", &id).await;
    assert_eq!(
        document["description"],
        (CLIENTS * INCREMENTS).to_string(),
        "after {stale_total} retries"
    );
    assert_eq!(document["version"], CLIENTS * INCREMENTS + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_without_if_match_all_apply() {
    const WRITERS: usize = 16;
    let app = spawn_app().await;
    let character = app
        .create(
            "characters",
            json!({"name": "shared", "sillyTavernData": {}}),
        )
        .await;
    let id = character["id"].as_str().unwrap().to_owned();
    let path = format!("/api/characters/{id}");

    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (api, path) = (app.api.clone(), path.clone());
            tokio::spawn(async move {
                let patch = json!({"sillyTavernData": {format!("writer{writer}"): writer}});
                let response = api.patch(&path, &patch).await;
                assert_eq!(response.status(), StatusCode::OK);
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }

    let document = app.read("characters", &id).await;
    let data = document["sillyTavernData"].as_object().unwrap();
    for writer in 0..WRITERS {
        assert_eq!(
            data.get(&format!("writer{writer}")),
            Some(&json!(writer)),
            "{document}"
        );
    }
    assert_eq!(document["version"], WRITERS + 1);
}

/// The status of a response that must be `expected` or the documented 409 asking to retry;
/// the body when it is `expected`.
async fn landed(response: reqwest::Response, expected: StatusCode, what: &str) -> Option<Value> {
    let status = response.status();
    let body = if status == StatusCode::NO_CONTENT {
        Value::Null
    } else {
        json_body(response).await
    };
    match status {
        status if status == expected => Some(body),
        StatusCode::CONFLICT if body["error"]["code"] == "conflict" => None,
        other => panic!("{what}: {other} {body}"),
    }
}

/// What one writer does: appends its own messages, edits the shared ones, deletes its own
/// target and some of its appends, and adds a swipe to the shared assistant message and later
/// removes it (multi-document batches). Returns the ids it deleted.
async fn write_mix(api: Api, chat: String, shared: Vec<String>, target: String) -> Vec<String> {
    const ROUNDS: usize = 4;
    let messages = format!("/api/chats/{chat}/messages");
    let mut deleted = Vec::new();
    let response = api.delete(&format!("{messages}/{target}")).await;
    landed(response, StatusCode::NO_CONTENT, "delete target").await;
    deleted.push(target);
    let swipe = api
        .post(
            &format!("{messages}/{}/swipes", shared[0]),
            &json!({"content": "racing swipe"}),
        )
        .await;
    let swipe = landed(swipe, StatusCode::CREATED, "swipe").await;
    for round in 0..ROUNDS {
        let body = json!({"role": "user", "content": format!("round {round}")});
        let appended = landed(
            api.post(&messages, &body).await,
            StatusCode::CREATED,
            "append",
        )
        .await;
        let edited = &shared[1 + round % (shared.len() - 1)];
        let patch = json!({"content": format!("edited in round {round}")});
        let response = api.patch(&format!("{messages}/{edited}"), &patch).await;
        landed(response, StatusCode::OK, "edit").await;
        if let Some(appended) = appended.filter(|_| round % 2 == 0) {
            let id = appended["id"].as_str().unwrap().to_owned();
            let response = api.delete(&format!("{messages}/{id}")).await;
            if landed(response, StatusCode::NO_CONTENT, "delete append")
                .await
                .is_some()
            {
                deleted.push(id);
            }
        }
    }
    if let Some(swipe) = swipe {
        let id = swipe["id"].as_str().unwrap().to_owned();
        let response = api.delete(&format!("{messages}/{id}")).await;
        if landed(response, StatusCode::NO_CONTENT, "delete swipe")
            .await
            .is_some()
        {
            deleted.push(id);
        }
    }
    deleted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_edits_and_deletes_on_one_chat_keep_it_consistent() {
    const WRITERS: usize = 6;
    let app = spawn_app().await;
    let chat = app
        .create("chats", json!({"title": "busy", "participants": []}))
        .await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let messages = format!("/api/chats/{chat_id}/messages");
    let mut seeded = Vec::new();
    for (role, content) in [("user", "question"), ("assistant", "answer")]
        .into_iter()
        .chain((0..3 + WRITERS).map(|_| ("user", "seed")))
    {
        let body = json!({"role": role, "content": content});
        let response = app.post(&messages, &body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        seeded.push(json_body(response).await["id"].as_str().unwrap().to_owned());
    }
    // The assistant answer and three user messages are shared by every writer; each writer
    // deletes one seed of its own.
    let shared: Vec<String> = seeded[1..5].to_vec();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let target = seeded[5 + writer].clone();
            let (api, chat, shared) = (app.api.clone(), chat_id.clone(), shared.clone());
            tokio::spawn(write_mix(api, chat, shared, target))
        })
        .collect();
    let mut deleted = Vec::new();
    for writer in writers {
        deleted.extend(writer.await.expect("writer task"));
    }

    let all = app
        .list(&format!("{messages}?includeSwipes=true&limit=200"))
        .await;
    let all = all["items"].as_array().unwrap();
    for message in all {
        let id = message["id"].as_str().unwrap();
        assert!(!deleted.iter().any(|gone| gone == id), "{id} was deleted");
        let read = app.get(&format!("{messages}/{id}")).await;
        assert_eq!(read.status(), StatusCode::OK, "a listed message is found");
    }
    for id in seeded.iter().filter(|id| !deleted.contains(id)) {
        assert!(
            all.iter().any(|message| message["id"] == id.as_str()),
            "{id} survives"
        );
    }
    for id in &deleted {
        let read = app.get(&format!("{messages}/{id}")).await;
        assert_error(read, StatusCode::NOT_FOUND, "not_found").await;
    }
    let visible = app.list(&format!("{messages}?limit=200")).await;
    let seqs: Vec<u64> = visible["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    let answer_seq = all
        .iter()
        .find(|message| message["id"] == shared[0].as_str())
        .unwrap()["seq"]
        .clone();
    let active = all
        .iter()
        .filter(|message| message["seq"] == answer_seq && message["swipeActive"] != false)
        .count();
    assert_eq!(active, 1, "one active member at the answer's position");
    let chat = app.read("chats", &chat_id).await;
    assert_eq!(chat["messageCount"], seqs.len(), "{chat}");
}
