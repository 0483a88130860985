//! `quillstore migrate` with MongoDB: `schema` applies the migrations once, and a copy from
//! json to MongoDB and back again serves identical data. Needs a server at `MONGODB_TEST_URI`;
//! without one these tests say loudly that they are skipped.

use quillstore::config::RawConfig;

use crate::helpers::migrate::{populate, quillstore, quillstore_with_env, snapshot};
use crate::helpers::spawn_app_in;

fn mongodb_test_uri(test: &str) -> Option<String> {
    let uri = std::env::var("MONGODB_TEST_URI").ok();
    if uri.is_none() {
        crate::helpers::skip(
            test,
            "it needs a MongoDB server: MONGODB_TEST_URI is not set",
        );
    }
    uri
}

fn fresh_database() -> String {
    format!("quillstore_migrate_{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn schema_needs_a_mongodb_uri() {
    let run = quillstore(&["migrate", "schema"]).await;
    assert!(!run.success);
    assert!(run.stderr.contains("MONGODB_URI"), "{}", run.stderr);
}

#[tokio::test]
async fn schema_applies_the_migrations_once() {
    let Some(uri) = mongodb_test_uri("schema_applies_the_migrations_once") else {
        return;
    };
    let database = fresh_database();
    let env = [
        ("MONGODB_URI", uri.as_str()),
        ("MONGODB_DATABASE", database.as_str()),
    ];
    let first = quillstore_with_env(&["migrate", "schema"], &env).await;
    assert!(first.success, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("applied 0001_initial.json"),
        "{}",
        first.stdout
    );
    let second = quillstore_with_env(&["migrate", "schema"], &env).await;
    assert!(second.success, "{}\n{}", second.stdout, second.stderr);
    assert!(second.stdout.contains("up to date"), "{}", second.stdout);
}

#[tokio::test]
async fn json_to_mongodb_and_back_serves_identical_data() {
    let Some(uri) = mongodb_test_uri("json_to_mongodb_and_back_serves_identical_data") else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let (source, moved, back) = (
        temp.path().join("source"),
        temp.path().join("moved"),
        temp.path().join("back"),
    );
    // The copy is between `fs:` blob directories, whatever blob store the suite runs on.
    let json = |raw: &mut RawConfig| {
        raw.data_backend = Some("json".to_owned());
        crate::helpers::pin_fs_blobs(raw);
    };
    let mut app = spawn_app_in(&source, json).await;
    populate(&app.api, "local").await;
    let before = snapshot(&app.api).await;
    app.stop().await;

    let database = fresh_database();
    let mongodb = format!("mongodb:{uri}#{database}");
    let to_mongodb = [
        "migrate".to_owned(),
        "copy".to_owned(),
        format!("--from=json:{}", source.display()),
        format!("--to={mongodb}"),
        format!("--from-blobs=fs:{}", source.display()),
        format!("--to-blobs=fs:{}", moved.display()),
    ];
    let run = quillstore(&to_mongodb.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("verification passed"), "{}", run.stdout);

    let (database_for_app, uri_for_app) = (database.clone(), uri.clone());
    let mut on_mongodb = spawn_app_in(&moved, move |raw: &mut RawConfig| {
        crate::helpers::pin_fs_blobs(raw);
        raw.data_backend = Some("mongodb".to_owned());
        raw.mongodb_uri = Some(uri_for_app);
        raw.mongodb_database = Some(database_for_app);
        raw.encryption_master_key = Some(crate::helpers::TEST_MASTER_KEY.to_owned());
    })
    .await;
    assert_eq!(snapshot(&on_mongodb.api).await, before);
    on_mongodb.stop().await;

    let rollback = [
        "migrate".to_owned(),
        "copy".to_owned(),
        format!("--from={mongodb}"),
        format!("--to=json:{}", back.display()),
        format!("--from-blobs=fs:{}", moved.display()),
        format!("--to-blobs=fs:{}", back.display()),
    ];
    let run = quillstore(&rollback.iter().map(String::as_str).collect::<Vec<_>>()).await;
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let restored = spawn_app_in(&back, json).await;
    assert_eq!(snapshot(&restored.api).await, before);
}
