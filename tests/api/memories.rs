//! `/api/memories`: fields, references, list filters and sorts, cleanup when a character or
//! chat goes, and `POST /api/memories/search` (exact cosine top-k, one user and character).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    assert_detail_field, assert_error, header, item_ids, json_body, spawn_app, spawn_jwt_app,
};

async fn character(api: &crate::helpers::Api, name: &str) -> String {
    let created = api.create("characters", json!({"name": name})).await;
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn memory_fields_round_trip_and_are_checked() {
    let app = spawn_app().await;
    let aria = character(&app, "Aria").await;
    let chat = app.create("chats", json!({"title": "c"})).await;
    let body = json!({
        "characterId": aria, "chatId": chat["id"], "content": "The ship is the Kestrel.",
        "summary": "ship name", "keywords": ["ship"], "importance": 0.75, "source": "auto",
        "lastAccessedAt": "2026-01-02T03:04:05.678Z",
        "embedding": {"model": "m", "vector": [0.1, 0.2, 0.3]},
    });
    let created = app.create("memories", body.clone()).await;
    for (field, value) in body.as_object().unwrap() {
        assert_eq!(&created[field], value, "field {field}");
    }
    let ghost = uuid::Uuid::now_v7().to_string();
    for (bad, field) in [
        (json!({"content": "x"}), "characterId"),
        (json!({"characterId": aria, "content": " "}), "content"),
        (json!({"characterId": ghost, "content": "x"}), "characterId"),
        (
            json!({"characterId": aria, "content": "x", "chatId": ghost}),
            "chatId",
        ),
        (
            json!({"characterId": aria, "content": "x", "importance": 1.5}),
            "importance",
        ),
        (
            json!({"characterId": aria, "content": "x", "source": "other"}),
            "source",
        ),
        (
            json!({"characterId": aria, "content": "x", "embedding": {"model": "m", "vector": []}}),
            "embedding.vector",
        ),
        (
            json!({"characterId": aria, "content": "x", "embedding": {"model": "m", "vector": vec![0.5; 4097]}}),
            "embedding.vector",
        ),
        // Vectors of one model have one dimension per user.
        (
            json!({"characterId": aria, "content": "x", "embedding": {"model": "m", "vector": [1.0, 2.0]}}),
            "embedding.vector",
        ),
    ] {
        let body = assert_error(
            app.post("/api/memories", &bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_detail_field(&body, field);
    }
    // Another model may have another dimension.
    app.create(
        "memories",
        json!({"characterId": aria, "content": "y", "embedding": {"model": "other", "vector": [1.0, 2.0]}}),
    )
    .await;
}

#[tokio::test]
async fn memory_lists_filter_and_sort() {
    let app = spawn_app().await;
    let (aria, bram) = (character(&app, "Aria").await, character(&app, "Bram").await);
    let chat = app.create("chats", json!({"title": "c"})).await;
    let tag = app.create("tags", json!({"name": "t"})).await;
    let low = app
        .create(
            "memories",
            json!({"characterId": aria, "content": "low tide", "importance": 0.1}),
        )
        .await;
    let high = app
        .create(
            "memories",
            json!({"characterId": aria, "content": "High noon", "importance": 0.9,
                   "chatId": chat["id"], "tags": [tag["id"]], "source": "auto"}),
        )
        .await;
    let other = app
        .create(
            "memories",
            json!({"characterId": bram, "content": "elsewhere", "importance": 0.5}),
        )
        .await;
    let ids = |values: &[&Value]| -> Vec<String> {
        values
            .iter()
            .map(|value| value["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let page = app
        .list(&format!(
            "/api/memories?characterId={aria}&sort=-importance"
        ))
        .await;
    assert_eq!(item_ids(&page), ids(&[&high, &low]));
    let page = app
        .list(&format!(
            "/api/memories?characterId={aria}&sort=importance&limit=1"
        ))
        .await;
    assert_eq!(item_ids(&page), ids(&[&low]));
    let cursor = page["nextCursor"].as_str().unwrap();
    let next = app
        .list(&format!(
            "/api/memories?characterId={aria}&sort=importance&limit=1&cursor={cursor}"
        ))
        .await;
    assert_eq!(item_ids(&next), ids(&[&high]));
    assert_eq!(
        item_ids(&app.list("/api/memories?sort=-createdAt").await),
        ids(&[&other, &high, &low])
    );
    assert_eq!(
        item_ids(
            &app.list(&format!(
                "/api/memories?chatId={}",
                chat["id"].as_str().unwrap()
            ))
            .await
        ),
        ids(&[&high])
    );
    assert_eq!(
        item_ids(
            &app.list(&format!(
                "/api/memories?tag={}",
                tag["id"].as_str().unwrap()
            ))
            .await
        ),
        ids(&[&high])
    );
    assert_eq!(
        item_ids(&app.list("/api/memories?q=noon").await),
        ids(&[&high])
    );
    assert_eq!(
        item_ids(&app.list("/api/memories?source=auto").await),
        ids(&[&high])
    );
    assert_error(
        app.get("/api/memories?source=dream").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        app.get("/api/memories?sort=-salience").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        app.get("/api/characters?chatId=x").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[tokio::test]
async fn deleting_a_character_deletes_its_memories_and_deleting_a_chat_clears_chat_id() {
    let app = spawn_app().await;
    let (aria, bram) = (character(&app, "Aria").await, character(&app, "Bram").await);
    let chat = app.create("chats", json!({"title": "c"})).await;
    let chat_id = chat["id"].as_str().unwrap();
    let kept = app
        .create(
            "memories",
            json!({"characterId": bram, "content": "kept", "chatId": chat_id}),
        )
        .await;
    for content in ["one", "two"] {
        app.create("memories", json!({"characterId": aria, "content": content}))
            .await;
    }
    let response = app.delete(&format!("/api/characters/{aria}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(response.headers(), "x-references-cleared"), "2");
    assert_eq!(
        item_ids(&app.list("/api/memories").await),
        vec![kept["id"].as_str().unwrap()]
    );

    let response = app.delete(&format!("/api/chats/{chat_id}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let kept = app.read("memories", kept["id"].as_str().unwrap()).await;
    assert!(kept.get("chatId").is_none(), "{kept}");
    assert_eq!(kept["version"], 2);
}

/// A deterministic pseudo-random unit-ish vector.
fn vector(seed: u64, dimensions: usize) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..dimensions)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        })
        .collect()
}

#[tokio::test]
async fn search_ranks_a_planted_nearest_vector_first_and_sees_only_one_user_and_character() {
    let app = spawn_jwt_app().await;
    let (alice, bob) = (app.as_user("alice"), app.as_user("bob"));
    let aria = character(&alice, "Aria").await;
    let other_character = character(&alice, "Bram").await;
    let query = vector(1, 64);
    for seed in 10..40 {
        alice
            .create(
                "memories",
                json!({"characterId": aria, "content": format!("noise {seed}"),
                     "embedding": {"model": "m", "vector": vector(seed, 64)}}),
            )
            .await;
    }
    // Nearly the query: slightly perturbed.
    let near: Vec<f64> = query
        .iter()
        .enumerate()
        .map(|(i, v)| v + if i == 0 { 0.01 } else { 0.0 })
        .collect();
    let planted = alice
        .create(
            "memories",
            json!({"characterId": aria, "content": "planted",
                 "embedding": {"model": "m", "vector": near}}),
        )
        .await;
    // The exact query vector, but another character's and another model's: never returned.
    alice
        .create(
            "memories",
            json!({"characterId": other_character, "content": "other character",
                 "embedding": {"model": "m", "vector": query}}),
        )
        .await;
    alice
        .create(
            "memories",
            json!({"characterId": aria, "content": "other model",
                 "embedding": {"model": "m2", "vector": query}}),
        )
        .await;
    let search = json!({"characterId": aria, "model": "m", "vector": query, "limit": 5});
    let response = alice.post("/api/memories/search", &search).await;
    assert_eq!(response.status(), StatusCode::OK);
    let found = json_body(response).await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["memory"]["id"], planted["id"]);
    assert!(items[0]["score"].as_f64().unwrap() > 0.99, "{found}");
    let scores: Vec<f64> = items
        .iter()
        .map(|item| item["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|pair| pair[0] >= pair[1]),
        "{scores:?}"
    );
    for item in items {
        assert_eq!(item["memory"]["characterId"], aria.as_str());
        assert_eq!(item["memory"]["embedding"]["model"], "m");
    }
    // minScore leaves out what scores lower.
    let strict = json!({"characterId": aria, "model": "m", "vector": query, "minScore": 0.99});
    let found = json_body(alice.post("/api/memories/search", &strict).await).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    // Another user cannot search Alice's character, nor see her memories.
    assert_error(
        bob.post("/api/memories/search", &search).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // A vector of the wrong dimension is a 422.
    let short = json!({"characterId": aria, "model": "m", "vector": [1.0, 2.0]});
    assert_error(
        alice.post("/api/memories/search", &short).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}
