//! List endpoints: cursor pagination under concurrent inserts, filters, sorting, totals,
//! and rejection of bad query parameters.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Api, assert_error, item_ids, json_body, spawn_app};

/// One page of `/api/characters` with the given query pairs (values are URL-encoded).
async fn page(api: &Api, query: &[(&str, &str)]) -> Value {
    let response = api
        .send(api.request(Method::GET, "/api/characters").query(query))
        .await;
    let status = response.status();
    let body = json_body(response).await;
    assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
    body
}

/// The `field` of every item of a page, as strings.
fn field_of_items(page: &Value, field: &str) -> Vec<String> {
    let items = page["items"].as_array().expect("items");
    items
        .iter()
        .map(|item| item[field].as_str().expect(field).to_owned())
        .collect()
}

/// Keeps creating characters (names spread over the existing ones) until `stop` is set.
fn spawn_creator(
    api: Api,
    stop: Arc<AtomicBool>,
    created: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let n = created.fetch_add(1, Ordering::Relaxed);
            let name = format!("char-{:03}-new-{n}", (n * 7) % 60);
            api.create("characters", json!({"name": name})).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cursor_walk_visits_every_existing_document_once_during_inserts() {
    let app = spawn_app().await;
    let mut existing = HashSet::new();
    for i in 0..60 {
        let character = app
            .create("characters", json!({"name": format!("char-{i:03}")}))
            .await;
        existing.insert(character["id"].as_str().unwrap().to_owned());
    }

    for (sort, order_field, ascending) in
        [("-updatedAt", "updatedAt", false), ("name", "name", true)]
    {
        let stop = Arc::new(AtomicBool::new(false));
        let created = Arc::new(AtomicUsize::new(0));
        let creator = spawn_creator(app.api.clone(), stop.clone(), created.clone());
        let (mut seen, mut order_values, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
        for page_number in 0.. {
            assert!(page_number < 100, "the walk with sort={sort} never ended");
            let mut query = vec![("limit", "7"), ("sort", sort)];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor));
            }
            let body = page(&app, &query).await;
            assert!(body["items"].as_array().unwrap().len() <= 7);
            seen.extend(item_ids(&body));
            order_values.extend(field_of_items(&body, order_field));
            // Besides the background creator, insert between every two pages for certain.
            let name = format!("char-{:03}-between-{page_number}", (page_number * 13) % 60);
            app.create("characters", json!({"name": name})).await;
            match body["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        stop.store(true, Ordering::Relaxed);
        creator.await.expect("creator task");

        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "sort={sort}: a document was returned twice"
        );
        let missing: Vec<_> = existing.difference(&unique).collect();
        assert!(missing.is_empty(), "sort={sort}: never saw {missing:?}");
        let mut sorted = order_values.clone();
        sorted.sort();
        if !ascending {
            sorted.reverse();
        }
        assert_eq!(order_values, sorted, "sort={sort}: the walk is in order");
        existing = unique;
    }
}

async fn create_named(app: &Api, name: &str, extra: Value) -> String {
    let mut body = json!({"name": name});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.create("characters", body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn id_set(page: &Value) -> HashSet<String> {
    item_ids(page).into_iter().collect()
}

#[tokio::test]
async fn filters_select_the_matching_documents() {
    let app = spawn_app().await;
    let tag = app.create("tags", json!({"name": "t"})).await;
    let tag_id = tag["id"].as_str().unwrap();
    let alice = create_named(
        &app,
        "Alice Wonder",
        json!({"isFavorite": true, "tags": [tag_id]}),
    )
    .await;
    let bob = create_named(
        &app,
        "bob",
        json!({"title": "The WONDERFUL", "tags": [tag_id]}),
    )
    .await;
    let carol = create_named(&app, "Carol", json!({"title": "nothing"})).await;
    let dave = create_named(&app, "dave", json!({"isFavorite": true})).await;
    let set = |ids: &[&String]| ids.iter().map(|id| (*id).clone()).collect::<HashSet<_>>();

    assert_eq!(
        id_set(&page(&app, &[("q", "wonder")]).await),
        set(&[&alice, &bob])
    );
    assert_eq!(
        id_set(&page(&app, &[("q", "WoNdEr")]).await),
        set(&[&alice, &bob])
    );
    assert_eq!(id_set(&page(&app, &[("q", "THING")]).await), set(&[&carol]));
    assert_eq!(id_set(&page(&app, &[("q", "zzz")]).await), set(&[]));
    assert_eq!(
        id_set(&page(&app, &[("tag", tag_id)]).await),
        set(&[&alice, &bob])
    );
    assert_eq!(
        id_set(&page(&app, &[("favorite", "true")]).await),
        set(&[&alice, &dave])
    );
    assert_eq!(
        id_set(&page(&app, &[("favorite", "false")]).await),
        set(&[&bob, &carol])
    );
    let both = page(&app, &[("q", "wonder"), ("favorite", "true")]).await;
    assert_eq!(id_set(&both), set(&[&alice]));
    let none = uuid::Uuid::now_v7().to_string();
    assert_eq!(id_set(&page(&app, &[("tag", &none)]).await), set(&[]));
}

#[tokio::test]
async fn sort_orders() {
    let app = spawn_app().await;
    let mut ids = std::collections::HashMap::new();
    for name in ["delta", "alpha", "charlie", "bravo"] {
        ids.insert(name, create_named(&app, name, json!({})).await);
        // Distinct millisecond timestamps, so the updatedAt order is fully determined.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let response = app
        .patch(
            &format!("/api/characters/{}", ids["alpha"]),
            &json!({"title": "t"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let names = |page: Value| field_of_items(&page, "name");
    assert_eq!(
        names(page(&app, &[("sort", "name")]).await),
        ["alpha", "bravo", "charlie", "delta"]
    );
    assert_eq!(
        names(page(&app, &[("sort", "-name")]).await),
        ["delta", "charlie", "bravo", "alpha"]
    );
    let by_update = ["delta", "charlie", "bravo", "alpha"];
    assert_eq!(names(page(&app, &[("sort", "updatedAt")]).await), by_update);
    let newest_first: Vec<_> = by_update.iter().rev().collect();
    assert_eq!(
        names(page(&app, &[("sort", "-updatedAt")]).await)
            .iter()
            .collect::<Vec<_>>(),
        newest_first
    );
    assert_eq!(
        names(page(&app, &[]).await).iter().collect::<Vec<_>>(),
        newest_first,
        "default sort"
    );
}

#[tokio::test]
async fn include_total_counts_every_match() {
    let app = spawn_app().await;
    for name in ["match one", "match two", "match three", "other", "another"] {
        create_named(&app, name, json!({})).await;
    }
    let first = page(&app, &[("limit", "2"), ("includeTotal", "true")]).await;
    assert_eq!(first["total"], 5);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert!(first["nextCursor"].is_string());
    let filtered = page(
        &app,
        &[("q", "MATCH"), ("limit", "1"), ("includeTotal", "true")],
    )
    .await;
    assert_eq!(filtered["total"], 3);
    let plain = page(&app, &[("limit", "200")]).await;
    assert!(
        plain.get("total").is_none(),
        "no total unless asked: {plain}"
    );
    assert_eq!(plain["items"].as_array().unwrap().len(), 5);
    assert!(plain["nextCursor"].is_null());
}

#[tokio::test]
async fn bad_list_parameters_are_rejected() {
    let app = spawn_app().await;
    for i in 0..3 {
        create_named(&app, &format!("c{i}"), json!({})).await;
    }
    let by_name = page(&app, &[("limit", "1"), ("sort", "name")]).await;
    let name_cursor = by_name["nextCursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let bad_queries: [&[(&str, &str)]; 10] = [
        &[("limit", "0")],
        &[("limit", "201")],
        &[("limit", "-1")],
        &[("limit", "ten")],
        &[("cursor", "garbage!!")],
        &[("cursor", "eyJub3QiOiJhIGN1cnNvciJ9")],
        &[("sort", "-name"), ("cursor", &name_cursor)],
        &[("sort", "size")],
        &[("favorite", "maybe")],
        &[("color", "red")],
    ];
    for query in bad_queries {
        let response = app
            .send(app.request(Method::GET, "/api/characters").query(query))
            .await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(body["error"]["message"].is_string(), "{query:?}");
    }
    for collection in ["tags", "personas"] {
        let response = app.get(&format!("/api/{collection}?unknown=1")).await;
        assert_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let followed = page(
        &app,
        &[("limit", "1"), ("sort", "name"), ("cursor", &name_cursor)],
    )
    .await;
    assert_eq!(
        field_of_items(&followed, "name"),
        ["c1"],
        "the cursor itself is valid"
    );
}
