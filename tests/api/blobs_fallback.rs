//! Gradual blob migration (`BLOBS_FALLBACK`) against a real Garage: a store populated on fs
//! is switched to S3 with the fs store as fallback, every file is downloaded before, during
//! and after the move (`quillstore migrate copy --from-fallback` beside the live service on
//! MongoDB; `BLOBS_FALLBACK_MOVE`, the service moving them itself, on the json store, which
//! admits no second process), uploads after the switch land on S3; then the same back from
//! S3 to fs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use quillstore::config::RawConfig;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::images::{halves, jpeg};
use crate::helpers::migrate::quillstore_with_env;
use crate::helpers::{
    Api, Backend, TestApp, TestBlobs, blob_files, json_body, pin_fs_blobs, s3_blobs_only,
    spawn_app_in, suite_s3, text_bytes,
};

/// Every file of the app: id to bytes.
type Files = BTreeMap<String, Vec<u8>>;

/// Uploads `count` text files of different sizes (the first two with the same content, so
/// they share a blob) and a photo.
async fn upload_files(api: &Api, count: usize, seed: u64) -> Files {
    let mut files = Files::new();
    for index in 0..count {
        let shape = if index == 1 { 0 } else { index };
        let bytes = text_bytes(2_000 + shape * 7_919, seed + shape as u64);
        let file = api.upload(&bytes, &format!("f{index}.txt"), None).await;
        files.insert(file["id"].as_str().unwrap().to_owned(), bytes);
    }
    let photo = jpeg(&halves(96, 64));
    let uploaded = api.upload(&photo, "p.jpg", None).await;
    files.insert(uploaded["id"].as_str().unwrap().to_owned(), photo);
    files
}

/// Downloads every file (whole, and a range of the larger ones) and checks the bytes.
async fn download_all(api: &Api, files: &Files) {
    for (id, bytes) in files {
        assert_eq!(&api.download_bytes(id).await, bytes, "file {id}");
        if bytes.len() > 100 {
            let part = api.download(id, &[("range", "bytes=10-99")]).await;
            assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "file {id}");
            assert_eq!(part.bytes().await.unwrap(), bytes[10..100], "file {id}");
        }
    }
}

/// `storage.backend` of every file record, by id.
async fn backends(api: &Api) -> BTreeMap<String, String> {
    let page = api.list("/api/files?limit=200").await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            let backend = file["storage"]["backend"].as_str().unwrap().to_owned();
            (file["id"].as_str().unwrap().to_owned(), backend)
        })
        .collect()
}

/// What `/api/health` says of the fallback.
async fn fallback_health(api: &Api) -> Value {
    let response = api.get("/api/health").await;
    let body = json_body(response).await;
    assert_eq!(body["status"], "healthy", "{body}");
    body["services"]["blobsFallback"].clone()
}

/// Moves the blobs off the fallback of `app` while downloading every file in a loop:
/// `migrate copy --from-fallback` beside it on MongoDB, the service itself on json.
async fn move_while_downloading(app: &mut TestApp, files: &Files, env: &[(&str, String)]) {
    let to = if env.iter().any(|(name, _)| *name == "S3_MODE") {
        "s3"
    } else {
        "fs"
    };
    if Backend::under_test() == Backend::Json {
        app.stop().await;
        app.raw_config_mut().blobs_fallback_move = Some("true".to_owned());
        app.start().await;
    }
    let done = Arc::new(AtomicBool::new(false));
    let downloads = {
        let (api, files, done) = (app.api.clone(), files.clone(), done.clone());
        tokio::spawn(async move {
            let mut rounds = 0;
            while !done.load(Ordering::SeqCst) || rounds == 0 {
                download_all(&api, &files).await;
                rounds += 1;
            }
            rounds
        })
    };
    match Backend::under_test() {
        Backend::Mongodb => {
            let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let run = quillstore_with_env(&["migrate", "copy", "--from-fallback"], &env).await;
            assert!(run.success, "{}\n{}", run.stdout, run.stderr);
            assert!(
                run.stdout.contains("file record(s) moved"),
                "{}",
                run.stdout
            );
        }
        Backend::Json => {
            for _ in 0..600 {
                if backends(&app.api)
                    .await
                    .values()
                    .all(|backend| backend == to)
                {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    done.store(true, Ordering::SeqCst);
    assert!(downloads.await.unwrap() >= 1);
    let records = backends(&app.api).await;
    assert!(records.values().all(|backend| backend == to), "{records:?}");
}

/// The settings of the service under test as environment variables (for the CLI).
fn service_env(data_dir: &Path, blobs: &TestBlobs, fallback: &str) -> Vec<(&'static str, String)> {
    let mut env = Backend::under_test().env_vars(data_dir);
    env.push(("DATA_DIR", data_dir.display().to_string()));
    env.extend(blobs.env_vars());
    env.push(("BLOBS_FALLBACK", fallback.to_owned()));
    env
}

#[tokio::test]
async fn files_move_between_fs_and_s3_while_every_one_stays_readable() {
    let test = "files_move_between_fs_and_s3_while_every_one_stays_readable";
    if !s3_blobs_only(test) {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let bucket = TestBlobs::on_s3(suite_s3());

    // Before: on fs.
    let mut app = spawn_app_in(dir, pin_fs_blobs).await;
    let mut files = upload_files(&app.api, 24, 1).await;
    download_all(&app.api, &files).await;
    app.stop().await;

    // Switched to S3 with the fs store as fallback: everything still reads.
    let on_s3 = |raw: &mut RawConfig| {
        bucket.configure(raw);
        raw.blobs_fallback = Some("fs".to_owned());
    };
    let mut app = spawn_app_in(dir, on_s3).await;
    assert_eq!(fallback_health(&app.api).await["backend"], "fs");
    download_all(&app.api, &files).await;
    // An image variant is made from the original on fs and kept on S3.
    let photo = jpeg(&halves(96, 64));
    let photo = files.iter().find(|(_, bytes)| **bytes == photo).unwrap().0;
    let variant = app
        .get(&format!("/api/files/{photo}?w=32&format=png"))
        .await;
    let status = variant.status();
    assert_eq!(status, StatusCode::OK, "{}", variant.text().await.unwrap());
    assert_eq!(bucket.keys_under("variants").await.len(), 1);
    // New uploads go to S3, copies of fs files too (blobs of their own there): three texts,
    // the first two alike, and the photo make three blobs.
    let new = upload_files(&app.api, 3, 1).await;
    let records = backends(&app.api).await;
    for id in new.keys() {
        assert_eq!(records[id], "s3", "{id}");
    }
    let keys_on_s3 = bucket.keys().await;
    assert_eq!(keys_on_s3.len(), 3, "{keys_on_s3:?}");
    files.extend(new);
    // Deleting a file still on fs (sharing its blob with no other) removes its blob there.
    let fs_blobs = blob_files(dir).len();
    let unique_on_fs = |(id, bytes): (&String, &Vec<u8>)| {
        records[id] == "fs" && files.values().filter(|other| *other == bytes).count() == 1
    };
    let gone = files
        .iter()
        .find(|file| unique_on_fs(*file))
        .unwrap()
        .0
        .clone();
    let deleted = app.delete(&format!("/api/files/{gone}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    files.remove(&gone);
    assert_eq!(blob_files(dir).len(), fs_blobs - 1);

    // During: the move, with downloads running.
    move_while_downloading(&mut app, &files, &service_env(dir, &bucket, "fs")).await;
    download_all(&app.api, &files).await;
    app.stop().await;

    // After: S3 alone serves everything.
    let mut app = spawn_app_in(dir, |raw| bucket.configure(raw)).await;
    assert!(fallback_health(&app.api).await.is_null());
    download_all(&app.api, &files).await;
    app.stop().await;

    // And back: fs with S3 as fallback (S3_MODE disabled, the S3_* settings kept).
    let back = |raw: &mut RawConfig| {
        bucket.configure(raw);
        raw.s3_mode = Some("disabled".to_owned());
        raw.blobs_fallback = Some("s3".to_owned());
    };
    let mut app = spawn_app_in(dir, back).await;
    assert_eq!(fallback_health(&app.api).await["backend"], "s3");
    download_all(&app.api, &files).await;
    let new = upload_files(&app.api, 2, 99).await;
    let records = backends(&app.api).await;
    assert!(new.keys().all(|id| records[id] == "fs"), "{records:?}");
    files.extend(new);
    let mut env = service_env(dir, &bucket, "s3");
    env.retain(|(name, _)| *name != "S3_MODE");
    move_while_downloading(&mut app, &files, &env).await;
    app.stop().await;
    let app = spawn_app_in(dir, pin_fs_blobs).await;
    download_all(&app.api, &files).await;
}
