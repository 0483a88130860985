//! `quillstore migrate copy` between the fs blob store and S3 (a real Garage), both ways, as
//! the real binary: the data read back through the API is the same at every step.

use quillstore::config::RawConfig;

use crate::helpers::migrate::{populate, quillstore_with_env, snapshot};
use crate::helpers::{TestBlobs, pin_fs_blobs, s3_blobs_only, spawn_app_in, suite_s3};

fn on_fs(raw: &mut RawConfig) {
    raw.data_backend = Some("json".to_owned());
    pin_fs_blobs(raw);
}

#[tokio::test]
async fn blobs_move_from_fs_to_s3_and_back() {
    if !s3_blobs_only("blobs_move_from_fs_to_s3_and_back") {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let (source, moved, back) = (
        temp.path().join("source"),
        temp.path().join("moved"),
        temp.path().join("back"),
    );
    let mut app = spawn_app_in(&source, on_fs).await;
    populate(&app.api, "local").await;
    let before = snapshot(&app.api).await;
    app.stop().await;

    let bucket = TestBlobs::on_s3(suite_s3());
    let env = bucket.env_vars();
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let copy = |from: String, to: String, from_blobs: String, to_blobs: String| {
        let env = env.clone();
        async move {
            let args = [
                "migrate".to_owned(),
                "copy".to_owned(),
                format!("--from=json:{from}"),
                format!("--to=json:{to}"),
                format!("--from-blobs={from_blobs}"),
                format!("--to-blobs={to_blobs}"),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = quillstore_with_env(&args, &env).await;
            assert!(run.success, "{}\n{}", run.stdout, run.stderr);
            assert!(run.stdout.contains("verification passed"), "{}", run.stdout);
        }
    };
    let dir = |path: &std::path::Path| path.display().to_string();
    copy(
        dir(&source),
        dir(&moved),
        format!("fs:{}", dir(&source)),
        "s3".to_owned(),
    )
    .await;
    assert!(
        !bucket.keys().await.is_empty(),
        "the blobs are in the bucket"
    );
    let mut on_s3 = spawn_app_in(&moved, |raw| {
        raw.data_backend = Some("json".to_owned());
        bucket.configure(raw);
    })
    .await;
    // Where the blobs now are stays in the records (`storage` is never shown); what a client
    // sees is the same, and the bytes come from the bucket.
    let after = snapshot(&on_s3.api).await;
    assert_eq!(after, before);
    on_s3.stop().await;

    copy(
        dir(&moved),
        dir(&back),
        "s3".to_owned(),
        format!("fs:{}", dir(&back)),
    )
    .await;
    let restored = spawn_app_in(&back, on_fs).await;
    assert_eq!(snapshot(&restored.api).await, before);
}
