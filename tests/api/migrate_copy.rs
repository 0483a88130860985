//! `quillstore migrate copy` between json + fs data directories, run as the real binary: a dry
//! run writes nothing, a copy verifies itself, a second copy skips everything, and a server
//! started on the copy answers exactly what the original answered.

use quillstore::config::RawConfig;

use crate::helpers::migrate::{append, as_strs, dirs_args, populate, quillstore, snapshot};
use crate::helpers::{TEST_JWT_SECRET, blob_files, spawn_app_in};

/// Two users' data on the json store, behind JWT auth.
pub fn jwt_json(raw: &mut RawConfig) {
    raw.data_backend = Some("json".to_owned());
    // The copy is between `fs:` blob directories, whatever blob store the suite runs on.
    crate::helpers::pin_fs_blobs(raw);
    raw.auth_mode = Some("jwt".to_owned());
    raw.auth_jwt_secret = Some(TEST_JWT_SECRET.to_owned());
}

#[tokio::test]
async fn a_copy_to_fresh_directories_serves_identical_data() {
    let temp = tempfile::tempdir().unwrap();
    let (source, destination) = (temp.path().join("source"), temp.path().join("copy"));
    let mut app = spawn_app_in(&source, jwt_json).await;
    let (alice, bob) = (app.api.as_user("alice"), app.api.as_user("bob"));
    populate(&alice, "alice").await;
    populate(&bob, "bob").await;
    let (alice_before, bob_before) = (snapshot(&alice).await, snapshot(&bob).await);
    app.stop().await;

    let mut dry_run = dirs_args("copy", &source, &destination);
    dry_run.push("--dry-run".to_owned());
    let dry = quillstore(&as_strs(&dry_run)).await;
    assert!(dry.success, "{}\n{}", dry.stdout, dry.stderr);
    // source, skipped, would copy, only at the destination, removed
    assert_eq!(dry.row("dry run", "characters"), [2, 0, 2, 0, 0]);
    assert_eq!(dry.row("dry run", "files"), [8, 0, 8, 0, 0]);
    assert_eq!(dry.row("dry run", "messages"), [8, 0, 8, 0, 0]);
    assert_eq!(dry.row("dry run", "blobs"), [6, 0, 6, 0, 0]);
    assert!(
        blob_files(&destination).is_empty(),
        "a dry run writes no blob"
    );
    let written = std::fs::read_dir(destination.join("characters")).map_or(0, Iterator::count);
    assert_eq!(written, 0, "a dry run writes no document");

    let copy = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(copy.success, "{}\n{}", copy.stdout, copy.stderr);
    assert!(
        copy.stdout.contains("verification passed"),
        "{}",
        copy.stdout
    );
    // source, destination, identical, missing, different, extra
    assert_eq!(copy.row("verify", "tags"), [4, 4, 4, 0, 0, 0]);
    assert_eq!(copy.row("verify", "chats"), [4, 4, 4, 0, 0, 0]);
    assert_eq!(copy.row("verify", "messages"), [8, 8, 8, 0, 0, 0]);
    assert_eq!(copy.row("verify", "blobs"), [6, 6, 6, 0, 0, 0]);
    assert_eq!(
        blob_files(&destination).len(),
        6,
        "shared blobs stay shared"
    );

    let again = quillstore(&as_strs(&dirs_args("copy", &source, &destination))).await;
    assert!(again.success, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("wrote 0 record(s)"),
        "{}",
        again.stdout
    );
    assert_eq!(again.skipped(), 4 + 2 + 2 + 4 + 8 + 8 + 6);

    let copied = spawn_app_in(&destination, jwt_json).await;
    let (alice_after, bob_after) = (copied.api.as_user("alice"), copied.api.as_user("bob"));
    assert_eq!(snapshot(&alice_after).await, alice_before);
    assert_eq!(snapshot(&bob_after).await, bob_before);

    // The deleted last message's seq (4) is not handed out again at the destination.
    let chat = alice_before["chats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|chat| chat["messageCount"] == 3)
        .expect("the chat with messages")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = append(&alice_after, &chat, "user", "after the move").await;
    assert_eq!(next["seq"], 5);
}
