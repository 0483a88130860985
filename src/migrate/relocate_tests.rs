//! The move off a fallback on real embedded stores (a json store, two fs blob stores in temp
//! dirs standing for the old and the new store): only a blob whose bytes hash to its record's SHA-256 in the new store gets its
//! records flipped; a missing or damaged one is named and its records stay where they are.

use axum::body::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::relocate::{MoveOptions, move_blobs};
use crate::blob::{BlobKey, BlobStore, FsBlobStore};
use crate::files::storage_key;
use crate::model::file::FileCategory;
use crate::model::{Collection, Document, Timestamp, UserId, ids};
use crate::store::MetadataStore;
use crate::store::json::JsonStore;

async fn put(store: &BlobStore, key: &BlobKey, bytes: &'static [u8]) {
    let body = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(bytes))]);
    store.put(key, body, 1024).await.unwrap();
}

/// A file record of `bytes` (as recorded) whose blob is at `key` on `backend`.
async fn record(metadata: &MetadataStore, key: &BlobKey, bytes: &[u8], backend: &str) -> Uuid {
    let id = ids::new_id();
    let body = json!({
        "category": "document", "originalFilename": "a.txt", "mimeType": "text/plain",
        "size": bytes.len(), "sha256": hex::encode(Sha256::digest(bytes)),
        "storage": {"backend": backend, "key": key.as_str()},
    });
    let serde_json::Value::Object(body) = body else {
        unreachable!()
    };
    let document = Document::new(id, UserId::local(), Timestamp::now(), body);
    metadata.insert(Collection::Files, document).await.unwrap();
    id
}

#[tokio::test]
async fn only_verified_blobs_move_and_their_records_follow() {
    let directory = tempfile::tempdir().unwrap();
    let metadata = MetadataStore::Json(JsonStore::open(directory.path()).await.unwrap());
    let (old, new) = (directory.path().join("old"), directory.path().join("new"));
    let from = BlobStore::Fs(FsBlobStore::open(&old).await.unwrap());
    let to = BlobStore::Fs(FsBlobStore::open(&new).await.unwrap());
    let user = UserId::local();
    let key = |name| BlobKey::for_file(&user, FileCategory::Document, ids::new_id(), name);
    let (good, damaged, missing) = (key("good"), key("damaged"), key("missing"));
    put(&from, &good, b"good bytes").await;
    put(&from, &damaged, b"not what the record says").await;
    let shared = [
        record(&metadata, &good, b"good bytes", "fs").await,
        record(&metadata, &good, b"good bytes", "fs").await,
    ];
    let bad = [
        record(&metadata, &damaged, b"the recorded bytes", "fs").await,
        record(&metadata, &missing, b"gone", "fs").await,
    ];
    let elsewhere = record(&metadata, &key("other"), b"x", "s3").await;

    let preview = MoveOptions {
        dry_run: true,
        limit: None,
    };
    let counted = move_blobs(&metadata, &from, &to, preview).await.unwrap();
    assert_eq!((counted.records, counted.blobs), (4, 3));
    assert!(!to.exists(&good).await.unwrap(), "a dry run writes nothing");

    let report = move_blobs(&metadata, &from, &to, MoveOptions::default())
        .await
        .unwrap();
    assert_eq!((report.copied, report.flipped), (1, 2), "{report}");
    assert_eq!(report.problems.len(), 2, "{report}");
    assert!(to.exists(&good).await.unwrap());
    assert!(
        !to.exists(&damaged).await.unwrap(),
        "a copy that does not hash to its record is removed"
    );
    let version = |id| {
        let metadata = &metadata;
        let user = &user;
        async move {
            let document = metadata.get(Collection::Files, user, id).await.unwrap();
            let key = storage_key(&document).unwrap().to_owned();
            (document.version, key)
        }
    };
    for id in shared {
        assert_eq!(version(id).await, (2, good.to_string()), "flipped once");
    }
    for id in bad.into_iter().chain([elsewhere]) {
        assert_eq!(version(id).await.0, 1, "left as it was");
    }
    // Run again (both ends are fs here, so the moved records still name `fs`): the blob in
    // the new store is read back and kept, not copied again; the damaged ones named again.
    let again = move_blobs(&metadata, &from, &to, MoveOptions::default())
        .await
        .unwrap();
    assert_eq!((again.records, again.copied), (4, 0), "{again}");
    assert_eq!(again.problems.len(), 2, "{again}");
}
