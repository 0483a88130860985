//! The dedup and reference-counting rules on real embedded stores (a json store and an fs
//! blob store in a temp dir), without a server.

use axum::body::Bytes;
use uuid::Uuid;

use super::registration::{PendingBlob, register_file};
use super::removal::{remove_file, still_used};
use super::{FileLocks, FileStores, storage_key};
use crate::blob::{BlobKey, BlobStore, BlobStores, FsBlobStore};
use crate::config::ImageConfig;
use crate::error::{ApiError, Result};
use crate::images::Variants;
use crate::model::file::{File, FileCategory, StorageRef};
use crate::model::{Collection, Document, UserId, ids};
use crate::store::MetadataStore;
use crate::store::json::JsonStore;

struct Stores {
    _directory: tempfile::TempDir,
    metadata: MetadataStore,
    blobs: BlobStores,
    locks: FileLocks,
    variants: Variants,
}

impl Stores {
    async fn open() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let metadata = MetadataStore::Json(JsonStore::open(directory.path()).await.unwrap());
        let blobs = FsBlobStore::open(&directory.path().join("blobs"))
            .await
            .unwrap();
        Self {
            _directory: directory,
            metadata,
            blobs: BlobStores::from(BlobStore::Fs(blobs)),
            locks: FileLocks::default(),
            variants: Variants::new(&ImageConfig {
                variant_sizes: vec![64],
                max_concurrent: 1,
                max_pixels: 1 << 20,
            }),
        }
    }

    fn borrow(&self) -> FileStores<'_> {
        FileStores {
            metadata: &self.metadata,
            blobs: &self.blobs,
            locks: &self.locks,
            variants: &self.variants,
        }
    }

    /// Writes `content` as a new blob of `user` and records it, as an upload does.
    async fn upload(&self, user: &UserId, content: &'static [u8]) -> Document {
        let file_id = ids::new_id();
        let key = BlobKey::for_file(user, FileCategory::Document, file_id, "a.txt");
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(content))]);
        let outcome = self.blobs.put(&key, body, 1024).await.unwrap();
        let file: File = serde_json::from_value(serde_json::json!({
            "category": "document",
            "originalFilename": "a.txt",
            "mimeType": "text/plain",
            "size": outcome.size,
            "sha256": outcome.sha256,
            "storage": StorageRef { backend: "fs".to_owned(), key: key.to_string() },
        }))
        .unwrap();
        let pending = PendingBlob::new(self.blobs.current().clone(), key);
        register_file(self.borrow(), user, file_id, file, pending)
            .await
            .unwrap()
    }

    async fn remove(&self, user: &UserId, id: Uuid) -> Result<()> {
        let delete_record = self.metadata.delete(Collection::Files, user, id, None);
        let delete_record = async { delete_record.await.map_err(ApiError::from) };
        remove_file(self.borrow(), user, id, delete_record).await
    }

    async fn blob_exists(&self, record: &Document) -> bool {
        let key = BlobKey::parse(storage_key(record).unwrap()).unwrap();
        self.blobs.exists(&key).await.unwrap()
    }
}

#[tokio::test]
async fn the_same_content_of_one_user_shares_a_blob_until_its_last_record_goes() {
    let stores = Stores::open().await;
    let user = UserId::local();
    let first = stores.upload(&user, b"hello").await;
    let second = stores.upload(&user, b"hello").await;
    assert_eq!(storage_key(&first), storage_key(&second));
    let own_key = BlobKey::for_file(&user, FileCategory::Document, second.id, "a.txt");
    assert!(
        !stores.blobs.exists(&own_key).await.unwrap(),
        "the blob written for the second upload is removed once it shares the first one"
    );
    stores.remove(&user, first.id).await.unwrap();
    assert!(
        stores.blob_exists(&second).await,
        "one record still uses it"
    );
    stores.remove(&user, second.id).await.unwrap();
    assert!(
        !stores.blob_exists(&second).await,
        "the last record took it away"
    );
}

#[tokio::test]
async fn dedup_never_crosses_users_or_contents() {
    let stores = Stores::open().await;
    let (alice, bob) = (
        UserId::parse("alice").unwrap(),
        UserId::parse("bob").unwrap(),
    );
    let mine = stores.upload(&alice, b"hello").await;
    let theirs = stores.upload(&bob, b"hello").await;
    let other = stores.upload(&alice, b"world").await;
    assert_ne!(storage_key(&mine), storage_key(&theirs));
    assert_ne!(storage_key(&mine), storage_key(&other));
    stores.remove(&alice, mine.id).await.unwrap();
    assert!(stores.blob_exists(&theirs).await);
    assert!(stores.blob_exists(&other).await);
}

#[tokio::test]
async fn a_record_that_is_not_deleted_keeps_its_blob() {
    let stores = Stores::open().await;
    let user = UserId::local();
    let record = stores.upload(&user, b"hello").await;
    let refused = async { Err::<(), _>(ApiError::PreconditionFailed { current_etag: None }) };
    let removed = remove_file(stores.borrow(), &user, record.id, refused).await;
    assert!(matches!(removed, Err(ApiError::PreconditionFailed { .. })));
    assert!(stores.blob_exists(&record).await);
    let stored = stores
        .metadata
        .get(Collection::Files, &user, record.id)
        .await;
    assert!(stored.is_ok());
}

#[test]
fn a_blob_is_used_while_a_record_points_at_it() {
    let record = |key: &str| Document {
        id: ids::new_id(),
        user_id: UserId::local(),
        created_at: crate::model::Timestamp::now(),
        updated_at: crate::model::Timestamp::now(),
        version: 1,
        body: serde_json::json!({"storage": {"backend": "fs", "key": key}})
            .as_object()
            .unwrap()
            .clone(),
    };
    assert!(still_used(&[record("a"), record("b")], "b"));
    assert!(!still_used(&[record("a")], "b"));
    assert!(!still_used(&[], "b"));
}

#[test]
fn the_hash_lookup_reads_an_indexed_field() {
    for field in super::same_hash("00").fields() {
        assert!(
            Collection::Files.indexed_fields().contains(field),
            "{field}"
        );
    }
}
