//! `DATA_BACKEND=dual` when the secondary goes away mid-run (the real binary, in the dual
//! passes of `scripts/test.sh`): every write still succeeds on the primary; each write the
//! secondary misses is logged, counted in `/metrics` and shown as `degraded` in `/api/health`;
//! `quillstore migrate copy --prune` from the primary brings the secondary back in line, and
//! the service started again afterwards is healthy.
//!
//! The outage is real: a MongoDB secondary is reached through a relay that is cut (connections
//! dropped, new ones refused); a json secondary has its collection directories replaced by
//! plain files, so that every file it writes there fails as on a broken disk (chmod would not
//! stop root).

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::{RunningBinary, spawn_binary_with};
use crate::helpers::migrate::{append, quillstore, snapshot};
use crate::helpers::relay::{Relay, first_mongodb_host, mongodb_uri_through};
use crate::helpers::{Api, Backend, database_for, json_body, mongodb_test_uri, skip, spawn_app_in};

const TEST: &str = "a_secondary_outage_is_logged_counted_degraded_and_repaired_by_migrate_copy";
const METRICS_TOKEN: &str = "metrics-token-of-the-dual-outage-test";
const MISSED: &str = "dual store: the secondary missed a write";
const FAILURES: &str = "quillstore_dual_secondary_write_failures_total";
/// The json store's directories the outage writes go to.
const JSON_DIRS: [&str; 3] = ["tags", "characters", "chats"];

/// The MongoDB URI of this test: the database every app on `data_dir` uses.
fn mongodb_spec(data_dir: &Path) -> String {
    format!("mongodb:{}#{}", mongodb_test_uri(), database_for(data_dir))
}

async fn start_dual(data_dir: &Path, mongodb_uri: &str) -> (RunningBinary, Api) {
    let binary = spawn_binary_with(data_dir, |command| {
        command
            .env("MONGODB_URI", mongodb_uri)
            .env("MONGODB_CONNECTION_TIMEOUT_MS", "500")
            .env("METRICS_TOKEN", METRICS_TOKEN);
    })
    .await;
    let api = Api::at(binary.address.clone());
    (binary, api)
}

fn stop(mut binary: RunningBinary) -> String {
    binary.child.kill().unwrap();
    binary.child.wait().unwrap();
    // The stderr reader has the last lines once the pipe is closed.
    std::thread::sleep(std::time::Duration::from_millis(200));
    binary.stderr.lock().unwrap().clone()
}

/// The sum of a counter over all its label sets.
fn counter_total(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Everything the secondary alone serves (an app on it alone, with the dual one stopped).
async fn secondary_alone(data_dir: &Path, secondary: Backend) -> serde_json::Map<String, Value> {
    let mut app = spawn_app_in(data_dir, |raw| {
        raw.dual_primary = None;
        raw.data_backend = Some(
            match secondary {
                Backend::Json => "json",
                _ => "mongodb",
            }
            .to_owned(),
        );
    })
    .await;
    let seen = snapshot(&app).await;
    app.stop().await;
    seen
}

/// Breaks (or mends) a json secondary: each collection directory becomes a plain file.
fn break_json_dirs(data_dir: &Path, broken: bool) {
    for name in JSON_DIRS {
        let (dir, away) = (data_dir.join(name), data_dir.join(format!("{name}.away")));
        if broken {
            if dir.exists() {
                std::fs::rename(&dir, &away).unwrap();
            }
            std::fs::write(&dir, b"not a directory: the disk is broken").unwrap();
        } else {
            std::fs::remove_file(&dir).unwrap();
            if away.exists() {
                std::fs::rename(&away, &dir).unwrap();
            }
        }
    }
}

fn ids(snapshot: &serde_json::Map<String, Value>, collection: &str) -> Vec<String> {
    snapshot[collection]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A dual service whose secondary is away, and what was written before and during that.
struct Outage {
    backend: Backend,
    secondary: Backend,
    data_dir: tempfile::TempDir,
    relay: Relay,
    binary: RunningBinary,
    api: Api,
    /// A tag created during the outage.
    outage_tag: Value,
}

/// Starts the dual service, writes to both stores, takes the secondary away (a cut relay, or
/// broken json directories) and writes every kind of change again; `None` (said loudly) when
/// the backend under test is not dual.
async fn begin_outage(test: &str) -> Option<Outage> {
    let backend = Backend::under_test();
    let Some(secondary) = backend.secondary() else {
        skip(
            test,
            &format!(
                "it needs DATA_BACKEND=dual; the backend under test is {backend:?} (the dual \
                 passes of scripts/test.sh run it)"
            ),
        );
        return None;
    };
    let Some(mongodb_host) = first_mongodb_host(&mongodb_test_uri()) else {
        skip(
            test,
            "MONGODB_TEST_URI is not a mongodb:// URI a relay can stand in for",
        );
        return None;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::start(mongodb_host).await;
    let relayed = mongodb_uri_through(&mongodb_test_uri(), relay.address).unwrap();
    let (binary, api) = start_dual(data_dir.path(), &relayed).await;

    // Before the outage: written to both.
    let kept = api.create("tags", json!({"name": "kept"})).await;
    let doomed = api.create("tags", json!({"name": "doomed"})).await;
    let chat = api
        .create("chats", json!({"title": "before", "participants": []}))
        .await;
    append(&api, chat["id"].as_str().unwrap(), "user", "before").await;

    match secondary {
        Backend::Json => break_json_dirs(data_dir.path(), true),
        _ => relay.cut().await,
    }
    // During the outage: every write still succeeds (the primary has it).
    let outage_tag = api.create("tags", json!({"name": "during"})).await;
    let path = format!("/api/tags/{}", kept["id"].as_str().unwrap());
    let patched = api.patch(&path, &json!({"name": "kept, renamed"})).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let path = format!("/api/tags/{}", doomed["id"].as_str().unwrap());
    assert_eq!(api.delete(&path).await.status(), StatusCode::NO_CONTENT);
    api.create("characters", json!({"name": "Outage"})).await;
    let outage_chat = api
        .create("chats", json!({"title": "during", "participants": []}))
        .await;
    let outage_chat_id = outage_chat["id"].as_str().unwrap();
    append(&api, outage_chat_id, "user", "during 1").await;
    append(&api, outage_chat_id, "assistant", "during 2").await;
    append(&api, chat["id"].as_str().unwrap(), "user", "during 3").await;
    Some(Outage {
        backend,
        secondary,
        data_dir,
        relay,
        binary,
        api,
        outage_tag,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_outage_is_logged_counted_degraded_and_repaired_by_migrate_copy() {
    let Some(Outage {
        backend,
        secondary,
        data_dir,
        relay: _relay,
        binary,
        api,
        outage_tag,
    }) = begin_outage(TEST).await
    else {
        return;
    };
    let data_dir = data_dir.path();

    // Shown in health...
    let response = api.get("/api/health").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health = json_body(response).await;
    let metadata = &health["services"]["metadata"];
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(metadata["status"], "degraded", "{health}");
    assert_eq!(metadata["backend"], backend.health_name(), "{health}");
    let message = metadata["message"].as_str().unwrap_or_default();
    assert!(message.contains("wait to be copied again"), "{health}");
    assert!(message.contains("quillstore migrate copy"), "{health}");
    // ...counted in the metrics...
    let metrics = api.with_token(METRICS_TOKEN).get("/metrics").await;
    let metrics = metrics.text().await.unwrap();
    let counted = counter_total(&metrics, FAILURES);
    // the tag insert and replace, the character, the chat and its messages at least
    assert!(counted >= 5.0, "{counted} failures counted:\n{metrics}");
    let everything = snapshot(&api).await;
    // ...and logged, one line per missed write.
    let logs = stop(binary);
    assert_eq!(
        logs.matches(MISSED).count() as f64,
        counted,
        "one log line per counted failure:\n{logs}"
    );

    // The outage was real: the secondary alone lacks what was written during it.
    if secondary == Backend::Json {
        break_json_dirs(data_dir, false);
    }
    let stale = secondary_alone(data_dir, secondary).await;
    let outage_id = outage_tag["id"].as_str().unwrap().to_owned();
    assert!(!ids(&stale, "tags").contains(&outage_id), "{stale:?}");
    assert_ne!(stale, everything);

    // The repair: a copy from the primary, with the service stopped (the json store's lock).
    let json_end = format!("json:{}", data_dir.display());
    let (from, to) = match secondary {
        Backend::Json => (mongodb_spec(data_dir), json_end),
        _ => (json_end, mongodb_spec(data_dir)),
    };
    let copy = quillstore(&[
        "migrate",
        "copy",
        &format!("--from={from}"),
        &format!("--to={to}"),
        "--prune",
    ])
    .await;
    assert!(copy.success, "{}\n{}", copy.stdout, copy.stderr);
    assert!(
        copy.stdout.contains("verification passed"),
        "{}",
        copy.stdout
    );
    assert_eq!(secondary_alone(data_dir, secondary).await, everything);

    // Started again on the repaired stores (and a reachable secondary): healthy, no count.
    let (binary, api) = start_dual(data_dir, &mongodb_test_uri()).await;
    let response = api.get("/api/health").await;
    let health = json_body(response).await;
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(
        health["services"]["metadata"]["status"], "healthy",
        "{health}"
    );
    let metrics = api.with_token(METRICS_TOKEN).get("/metrics").await;
    let metrics = metrics.text().await.unwrap();
    assert_eq!(counter_total(&metrics, FAILURES), 0.0, "{metrics}");
    assert_eq!(snapshot(&api).await, everything);
    let logs = stop(binary);
    assert!(!logs.contains(MISSED), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_back_from_an_outage_gets_what_it_missed_without_a_restart() {
    const TEST: &str = "a_secondary_back_from_an_outage_gets_what_it_missed_without_a_restart";
    let Some(Outage {
        secondary,
        data_dir,
        mut relay,
        binary,
        api,
        ..
    }) = begin_outage(TEST).await
    else {
        return;
    };
    let data_dir = data_dir.path();
    let health = json_body(api.get("/api/health").await).await;
    assert_eq!(health["status"], "degraded", "{health}");
    let message = health["services"]["metadata"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("wait to be copied again"), "{health}");

    // Back, with the service still running: the repair task copies what was missed.
    match secondary {
        Backend::Json => break_json_dirs(data_dir, false),
        _ => relay.resume().await,
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let health = json_body(api.get("/api/health").await).await;
        if health["status"] == "healthy" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still not healthy a minute after the secondary came back: {health}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let everything = snapshot(&api).await;
    stop(binary);
    assert_eq!(secondary_alone(data_dir, secondary).await, everything);
}
