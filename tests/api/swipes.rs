//! Swipes: alternative assistant messages at one position, exactly one of them active and
//! that choice stored; pages show the active member unless `includeSwipes=true`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::chats::{append, create_chat};
use crate::helpers::{Api, Backend, assert_error, json_body, skip, spawn_app};

async fn add_swipe(api: &Api, chat_id: &str, message_id: &str, content: &str) -> Value {
    let path = format!("/api/chats/{chat_id}/messages/{message_id}/swipes");
    let response = api.post(&path, &json!({"content": content})).await;
    let status = response.status();
    let body = json_body(response).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn select(api: &Api, chat_id: &str, message_id: &str, index: u64) -> reqwest::Response {
    let path = format!("/api/chats/{chat_id}/messages/{message_id}/swipes/active");
    api.send(
        api.request(Method::PUT, &path)
            .json(&json!({"swipeIndex": index})),
    )
    .await
}

/// (content, swipeIndex, swipeActive) of every item of a page.
fn shape(page: &Value) -> Vec<(String, u64, bool)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| {
            (
                message["content"].as_str().unwrap().to_owned(),
                message["swipeIndex"].as_u64().unwrap_or(0),
                message["swipeActive"].as_bool().unwrap_or(true),
            )
        })
        .collect()
}

#[tokio::test]
async fn swipe_groups_keep_exactly_one_stored_active_member() {
    let mut app = spawn_app().await;
    let chat = create_chat(&app, "swipes", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    append(&app, &chat_id, "user", "question").await;
    let original = append(&app, &chat_id, "assistant", "answer A").await;
    let original_id = original["id"].as_str().unwrap().to_owned();
    append(&app, &chat_id, "user", "follow-up").await;

    let second = add_swipe(&app, &chat_id, &original_id, "answer B").await;
    let group = second["swipeGroupId"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            second["seq"].as_u64(),
            second["swipeIndex"].as_u64(),
            second["swipeActive"].as_bool()
        ),
        (Some(2), Some(1), Some(true))
    );
    let original_now = app
        .get(&format!("/api/chats/{chat_id}/messages/{original_id}"))
        .await;
    let original_now = json_body(original_now).await;
    assert_eq!(
        original_now["swipeGroupId"],
        group.as_str(),
        "the original joins the group"
    );
    assert_eq!(
        (
            original_now["swipeIndex"].as_u64(),
            original_now["swipeActive"].as_bool()
        ),
        (Some(0), Some(false))
    );
    add_swipe(&app, &chat_id, &original_id, "answer C").await;

    let page = app.list(&format!("/api/chats/{chat_id}/messages")).await;
    let visible: Vec<String> = shape(&page)
        .into_iter()
        .map(|(content, ..)| content)
        .collect();
    assert_eq!(
        visible,
        vec!["question", "answer C", "follow-up"],
        "the active swipe sits at the group's position"
    );
    let all = app
        .list(&format!("/api/chats/{chat_id}/messages?includeSwipes=true"))
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);

    let selected = select(&app, &chat_id, second["id"].as_str().unwrap(), 0).await;
    assert_eq!(selected.status(), StatusCode::OK);
    assert_eq!(json_body(selected).await["content"], "answer A");
    app.restart().await;
    let page = app
        .list(&format!(
            "/api/chats/{chat_id}/messages?after=1&before=3&includeSwipes=true"
        ))
        .await;
    assert_eq!(
        shape(&page),
        vec![
            ("answer A".into(), 0, true),
            ("answer B".into(), 1, false),
            ("answer C".into(), 2, false)
        ],
        "the choice is stored"
    );
    assert_error(
        select(&app, &chat_id, &original_id, 9).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn deleting_swipes_hands_over_the_active_role() {
    let app = spawn_app().await;
    let chat = create_chat(&app, "swipes", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let user = append(&app, &chat_id, "user", "question").await;
    let original = append(&app, &chat_id, "assistant", "A").await;
    let original_id = original["id"].as_str().unwrap();
    let b = add_swipe(&app, &chat_id, original_id, "B").await;
    add_swipe(&app, &chat_id, original_id, "C").await;
    assert_eq!(
        select(&app, &chat_id, original_id, 1).await.status(),
        StatusCode::OK
    );

    let deleted = app
        .delete(&format!(
            "/api/chats/{chat_id}/messages/{}",
            b["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let page = app
        .list(&format!("/api/chats/{chat_id}/messages?includeSwipes=true"))
        .await;
    assert_eq!(
        shape(&page)[1..].to_vec(),
        vec![("A".into(), 0, true), ("C".into(), 2, false)],
        "the nearest lower member becomes active"
    );
    let visible = app.list(&format!("/api/chats/{chat_id}/messages")).await;
    assert_eq!(visible["items"].as_array().unwrap().len(), 2);

    let response = app
        .post(
            &format!(
                "/api/chats/{chat_id}/messages/{}/swipes",
                user["id"].as_str().unwrap()
            ),
            &json!({"content": "x"}),
        )
        .await;
    assert_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let group = app
        .delete(&format!(
            "/api/chats/{chat_id}/messages/{original_id}?group=true"
        ))
        .await;
    assert_eq!(group.status(), StatusCode::NO_CONTENT);
    let page = app
        .list(&format!("/api/chats/{chat_id}/messages?includeSwipes=true"))
        .await;
    assert_eq!(shape(&page), vec![("question".into(), 0, true)]);
    assert_eq!(app.read("chats", &chat_id).await["messageCount"], 1);
}

#[tokio::test]
async fn concurrent_swipes_on_one_message_all_land_with_distinct_indexes() {
    const WRITERS: usize = 8;
    let app = spawn_app().await;
    let chat = create_chat(&app, "racing swipes", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    append(&app, &chat_id, "user", "question").await;
    let original = append(&app, &chat_id, "assistant", "answer 0").await;
    let original_id = original["id"].as_str().unwrap().to_owned();

    // Each swipe is a multi-document batch (the new member, the group on the original, the
    // active role moving); on MongoDB a transaction, retried when two collide.
    let added = futures::future::join_all((1..=WRITERS).map(|writer| {
        let (api, chat_id, original_id) = (app.api.clone(), chat_id.clone(), original_id.clone());
        async move { add_swipe(&api, &chat_id, &original_id, &format!("answer {writer}")).await }
    }))
    .await;
    let group = added[0]["swipeGroupId"].as_str().unwrap();
    assert!(added.iter().all(|swipe| swipe["swipeGroupId"] == group));

    let page = app
        .list(&format!(
            "/api/chats/{chat_id}/messages?includeSwipes=true&limit=50"
        ))
        .await;
    let members: Vec<_> = shape(&page).into_iter().skip(1).collect();
    assert_eq!(members.len(), WRITERS + 1, "{page}");
    let mut indexes: Vec<u64> = members.iter().map(|(_, index, _)| *index).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..=WRITERS as u64).collect::<Vec<_>>(), "{page}");
    let active = members.iter().filter(|(_, _, active)| *active).count();
    assert_eq!(active, 1, "exactly one active member: {page}");
    let chat = app.read("chats", &chat_id).await;
    assert_eq!(chat["messageCount"], 2, "a swipe group counts once: {chat}");
}

/// Turns the server's `failCommand` fail point on (`mode` "alwaysOn") or off for inserts into
/// `database.messages`: each answered as a write conflict in a transaction would be. Err when
/// the server has no such fail point (mongod needs `enableTestCommands`).
async fn fail_message_inserts(database: &str, mode: &str) -> mongodb::error::Result<()> {
    use mongodb::bson::doc;
    let uri = std::env::var("MONGODB_TEST_URI").expect("the mongodb pass sets MONGODB_TEST_URI");
    let client = mongodb::Client::with_uri_str(uri).await?;
    let command = doc! {
        "configureFailPoint": "failCommand",
        "mode": mode,
        "data": {
            "failCommands": ["insert"],
            "namespace": format!("{database}.messages"),
            "errorCode": 112,
            "errorLabels": ["TransientTransactionError"],
        },
    };
    client.database("admin").run_command(command).await?;
    Ok(())
}

#[tokio::test]
async fn a_swipe_whose_transaction_keeps_colliding_is_a_409_and_loses_nothing() {
    const TEST: &str = "a_swipe_whose_transaction_keeps_colliding_is_a_409_and_loses_nothing";
    if Backend::under_test().primary() != Backend::Mongodb {
        skip(
            TEST,
            "it forces MongoDB transaction collisions with a fail point; json (the store reads \
             come from) has no transactions",
        );
        return;
    }
    let app = spawn_app().await;
    let database = app
        .raw_config()
        .mongodb_database
        .expect("a mongodb test app");
    let chat = create_chat(&app, "colliding swipes", json!([])).await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    let question = append(&app, &chat_id, "user", "question").await;
    let original = append(&app, &chat_id, "assistant", "answer 0").await;
    let original_id = original["id"].as_str().unwrap().to_owned();
    let first = add_swipe(&app, &chat_id, &original_id, "answer 1").await;

    if let Err(error) = fail_message_inserts(&database, "alwaysOn").await {
        skip(
            TEST,
            &format!("the server refused the failCommand fail point: {error}"),
        );
        return;
    }
    let path = format!("/api/chats/{chat_id}/messages/{original_id}/swipes");
    let colliding = app.post(&path, &json!({"content": "answer 2"})).await;
    fail_message_inserts(&database, "off")
        .await
        .expect("the fail point is turned off again");
    assert_error(colliding, StatusCode::CONFLICT, "conflict").await;

    for message in [&question, &original, &first] {
        let id = message["id"].as_str().unwrap();
        let read = app
            .get(&format!("/api/chats/{chat_id}/messages/{id}"))
            .await;
        assert_eq!(read.status(), StatusCode::OK, "{message} is still found");
    }
    let again = add_swipe(&app, &chat_id, &original_id, "answer 2").await;
    assert_eq!(
        again["swipeIndex"], 2,
        "the failed attempts left nothing behind"
    );
    let page = app
        .list(&format!("/api/chats/{chat_id}/messages?includeSwipes=true"))
        .await;
    assert_eq!(
        shape(&page)[1..].to_vec(),
        vec![
            ("answer 0".into(), 0, false),
            ("answer 1".into(), 1, false),
            ("answer 2".into(), 2, true)
        ]
    );
    assert_eq!(app.read("chats", &chat_id).await["messageCount"], 2);
}
