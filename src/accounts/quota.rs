//! Quotas: `QUOTA_BYTES_PER_USER` and `QUOTA_FILES_PER_USER`. An upload reserves its room
//! before it writes a byte: the stored usage (the user's file records) plus what uploads in
//! flight reserved, plus this one, must stay within the quota, else it is refused (413, `quota_exceeded`) and
//! nothing is stored. An upload that states its `Content-Length` reserves that; one that does
//! not reserves all the room left and is cut there. So concurrent uploads never pass the
//! quota together. The reservation ends when the upload's record is stored (it then counts
//! in the stored usage) or the upload fails.
//!
//! A check reads the reservations in flight before the stored records, and a reservation
//! whose file record is already among them counts once, as stored: a write that stores its
//! record and ends its reservation while a check runs is never counted zero times. A
//! reservation ends only after its record is stored (it travels with the registration, which
//! runs to its end even when the client goes away).
//!
//! Reservations are kept in this process: several instances over one MongoDB each keep their
//! own, so together they may pass a quota by at most one upload per other instance.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::usage::file_records;
use crate::config::AccountsConfig;
use crate::error::ApiError;
use crate::model::{FieldError, UserId};
use crate::store::{MetadataStore, StoreError};

/// Bytes and files reserved by one write in flight.
#[derive(Debug, Clone, Copy)]
struct Reserved {
    bytes: u64,
    files: u64,
    /// The file record the write stores, when it is known.
    file: Option<Uuid>,
}

pub struct Quotas {
    bytes: Option<u64>,
    files: Option<u64>,
    /// The reservations in flight, per user, by token.
    reserved: Mutex<HashMap<UserId, HashMap<u64, Reserved>>>,
    next_token: AtomicU64,
    /// One check at a time: read the stored usage, compare, reserve.
    check: tokio::sync::Mutex<()>,
}

/// What a write asks for: `bytes` when it knows them (else all the room left), and files;
/// `file`: the id of the one file record it stores, when known (see the module's notes).
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    pub bytes: Option<u64>,
    pub files: u64,
    pub file: Option<Uuid>,
}

/// Room held for one write; dropping it gives the room back.
pub struct Reservation {
    quotas: Arc<Quotas>,
    user: UserId,
    /// The key of this reservation in [`Quotas::reserved`]; `None` when nothing is held.
    token: Option<u64>,
    limit: u64,
    /// The stored and reserved bytes when the room was given.
    usage: u64,
}

impl Reservation {
    /// The most bytes the write may store.
    pub fn byte_limit(&self) -> u64 {
        self.limit
    }

    /// The error of a write that needed more than [`Reservation::byte_limit`].
    pub fn cut_off(&self) -> QuotaError {
        let limit = self.quotas.bytes.unwrap_or(u64::MAX);
        bytes_exceeded(limit, self.usage, None)
    }
}

fn bytes_exceeded(limit: u64, usage: u64, requested: Option<u64>) -> QuotaError {
    let needs = requested.map_or_else(|| "more".to_owned(), |bytes| format!("up to {bytes}"));
    QuotaError::Exceeded {
        message: format!(
            "storage quota exceeded: you use {usage} of {limit} bytes (QUOTA_BYTES_PER_USER) \
             and this needs {needs} bytes; delete files you no longer need (GET /api/usage \
             shows your usage) or ask the operator for a larger quota"
        ),
        quota: "bytes",
        limit,
        usage,
        requested,
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut reserved = self
            .quotas
            .reserved
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(token) = self.token
            && let Some(held) = reserved.get_mut(&self.user)
        {
            held.remove(&token);
            if held.is_empty() {
                reserved.remove(&self.user);
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("{message}")]
    Exceeded {
        message: String,
        quota: &'static str,
        limit: u64,
        usage: u64,
        requested: Option<u64>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<QuotaError> for ApiError {
    fn from(error: QuotaError) -> Self {
        match error {
            QuotaError::Exceeded {
                message,
                quota,
                limit,
                usage,
                requested,
            } => ApiError::InsufficientStorage {
                details: vec![
                    FieldError::new("quota", message.clone())
                        .with_quota(quota, limit, usage, requested),
                ],
                message,
            },
            QuotaError::Store(error) => error.into(),
        }
    }
}

impl Quotas {
    pub fn new(config: &AccountsConfig) -> Self {
        Self {
            bytes: config.quota_bytes,
            files: config.quota_files,
            reserved: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(0),
            check: tokio::sync::Mutex::new(()),
        }
    }

    /// Reserves room for a write of `user` of at most `max_bytes` (the upload limit), or
    /// says which quota it would pass. Without quotas it reads nothing.
    pub async fn reserve(
        self: &Arc<Self>,
        store: &MetadataStore,
        user: &UserId,
        request: Needs,
        max_bytes: u64,
    ) -> Result<Reservation, QuotaError> {
        let reservation = |token: Option<u64>, limit: u64, usage: u64| Reservation {
            quotas: Arc::clone(self),
            user: user.clone(),
            token,
            limit,
            usage,
        };
        if self.bytes.is_none() && self.files.is_none() {
            return Ok(reservation(None, max_bytes, 0));
        }
        let _one_at_a_time = self.check.lock().await;
        // The reservations first, then the records (see the module's notes).
        let in_flight = self.held(user);
        let (stored, ids) = file_records(store, user).await?;
        let held = in_flight
            .iter()
            .filter(|held| !held.file.is_some_and(|id| ids.contains(&id)));
        let (held_bytes, held_files) = held.fold((0, 0), |(bytes, files), held| {
            (bytes + held.bytes, files + held.files)
        });
        let files_used = stored.files + held_files;
        if let Some(limit) = self.files
            && files_used + request.files > limit
        {
            return Err(QuotaError::Exceeded {
                message: format!(
                    "file quota exceeded: you have {files_used} of {limit} files \
                     (QUOTA_FILES_PER_USER) and this needs {} more; delete files you no longer \
                     need (GET /api/usage shows your usage) or ask the operator for a larger quota",
                    request.files
                ),
                quota: "files",
                limit,
                usage: files_used,
                requested: Some(request.files),
            });
        }
        let bytes_used = stored.bytes + held_bytes;
        let bytes = match self.bytes {
            None => request.bytes.unwrap_or(max_bytes).min(max_bytes),
            Some(limit) => {
                let room = limit.saturating_sub(bytes_used);
                let wanted = request.bytes.unwrap_or(room).min(max_bytes);
                if wanted > room || room == 0 {
                    return Err(bytes_exceeded(limit, bytes_used, request.bytes));
                }
                wanted
            }
        };
        let reserved = Reserved {
            bytes,
            files: request.files,
            file: request.file,
        };
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let mut all = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(user.clone()).or_default().insert(token, reserved);
        drop(all);
        Ok(reservation(Some(token), bytes, bytes_used))
    }

    fn held(&self, user: &UserId) -> Vec<Reserved> {
        let reserved = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        reserved
            .get(user)
            .map(|held| held.values().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{Collection, Document, Timestamp, ids};
    use crate::store::json::JsonStore;

    fn quotas(files: u64) -> Arc<Quotas> {
        Arc::new(Quotas::new(&AccountsConfig {
            quota_bytes: None,
            quota_files: Some(files),
            max_import_bytes: 0,
        }))
    }

    fn needs(file: Option<Uuid>) -> Needs {
        Needs {
            bytes: Some(10),
            files: 1,
            file,
        }
    }

    async fn store_record(store: &MetadataStore, user: &UserId, id: Uuid) {
        let body = json!({"size": 10}).as_object().cloned().unwrap();
        let document = Document::new(id, user.clone(), Timestamp::now(), body);
        store.insert(Collection::Files, document).await.unwrap();
    }

    #[tokio::test]
    async fn a_write_whose_record_is_stored_counts_once_until_its_room_is_given_back() {
        let directory = tempfile::tempdir().unwrap();
        let store = MetadataStore::Json(JsonStore::open(directory.path()).await.unwrap());
        let user = UserId::parse("user-1").unwrap();
        let quotas = quotas(2);
        let first = ids::new_id();
        let room = quotas
            .reserve(&store, &user, needs(Some(first)), 100)
            .await
            .unwrap();
        // Its record is stored, its room not yet given back: one file, not two.
        store_record(&store, &user, first).await;
        let second = ids::new_id();
        let second_room = quotas
            .reserve(&store, &user, needs(Some(second)), 100)
            .await
            .expect("one stored file and one in flight are within a quota of 2");
        // Two now count (one stored, one in flight): a third is refused, before and after
        // the first room is given back.
        let refused = quotas.reserve(&store, &user, needs(None), 100).await;
        assert!(matches!(
            refused,
            Err(QuotaError::Exceeded { usage: 2, .. })
        ));
        drop(room);
        let refused = quotas.reserve(&store, &user, needs(None), 100).await;
        assert!(matches!(
            refused,
            Err(QuotaError::Exceeded { usage: 2, .. })
        ));
        // A write whose record is unknown counts while in flight, beside what is stored.
        drop(second_room);
        let unknown = quotas
            .reserve(&store, &user, needs(None), 100)
            .await
            .unwrap();
        let refused = quotas.reserve(&store, &user, needs(None), 100).await;
        assert!(matches!(
            refused,
            Err(QuotaError::Exceeded { usage: 2, .. })
        ));
        drop(unknown);
        assert!(
            quotas
                .reserve(&store, &user, needs(None), 100)
                .await
                .is_ok()
        );
    }
}
