//! Accounts: everything one user owns, taken as a whole. An account leaves as one archive
//! (`export`), comes back from one (`import`), or goes entirely (`deletion`); quotas bound what
//! one user may store (`quota`) and `usage` says what they store now.
//!
//! The archive (`archive` frames it, `manifest` describes it) is a tar file:
//!
//! | path | what |
//! |---|---|
//! | `collections/{collection}/{part}.jsonl` | the stored documents of one collection (every collection but chats), a page per part |
//! | `chats/{chatId}/{part}.jsonl` | one chat in the native export format (`chats::format`): the header line in part 1, then its messages; the parts joined are one chat export |
//! | `blobs/{sha256}` | the bytes of the user's files, once per distinct content |
//! | `manifest.json` | last: format, archive id, user, counts, and every entry's size and SHA-256 |
//!
//! Secrets (API keys) stay sealed: the archive carries the ciphertext, never a plaintext key.
//! Only this instance's master keys open it, and only for the same user and record id, so an
//! import re-seals keys whose owner or id changes and leaves out the ones it cannot open.

mod apply;
pub mod archive;
pub mod deletion;
pub mod export;
pub mod import;
mod import_error;
pub mod manifest;
pub mod quota;
pub mod usage;
mod verify;

use crate::blob::{BlobKey, BlobStores};
use crate::model::{Collection, Document, UserId};
use crate::store::{ListQuery, MetadataStore, Page, StoreResult};

/// Documents read per store call while an account is walked.
pub const PAGE: usize = 200;

/// The prefix of the small records an account keeps in the blob store beside its blobs:
/// which archives it imported, and an unfinished deletion.
pub fn records_prefix(user: &UserId) -> String {
    format!("accounts/{user}/")
}

/// Where the markers of deletions under way are kept: apart from the account records, so
/// start-up lists only deletions to finish (normally none), not every account's records.
pub const DELETIONS_PREFIX: &str = "account-deletions/";

/// The key of the record that an account's deletion is under way.
pub fn deletion_marker(user: &UserId) -> BlobKey {
    BlobKey::parse(&format!("{DELETIONS_PREFIX}{user}.json"))
        .expect("user ids are valid key segments")
}

/// The stores an account lives in.
#[derive(Clone)]
pub struct AccountStores {
    pub metadata: MetadataStore,
    /// The current blob store, and the old one while blobs move (`BLOBS_FALLBACK`).
    pub blobs: BlobStores,
}

/// One page of `user`'s documents of `collection`, after `after` (the previous page's `next`).
pub async fn page(
    store: &MetadataStore,
    collection: Collection,
    user: &UserId,
    after: Option<(crate::store::SortValue, uuid::Uuid)>,
) -> StoreResult<Page> {
    let query = ListQuery {
        after,
        ..ListQuery::all_of(collection, user, PAGE)
    };
    store.list(&query).await
}

/// Walks every page of one user's documents of one collection.
pub struct Pages {
    collection: Collection,
    user: UserId,
    after: Option<(crate::store::SortValue, uuid::Uuid)>,
    done: bool,
}

impl Pages {
    pub fn new(collection: Collection, user: &UserId) -> Self {
        Self {
            collection,
            user: user.clone(),
            after: None,
            done: false,
        }
    }

    /// The next page; `None` after the last.
    pub async fn next(&mut self, store: &MetadataStore) -> StoreResult<Option<Vec<Document>>> {
        if self.done {
            return Ok(None);
        }
        let page = page(store, self.collection, &self.user, self.after.take()).await?;
        self.after = page.next;
        self.done = self.after.is_none();
        Ok(Some(page.items))
    }
}
