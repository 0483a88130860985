//! Quotas: `QUOTA_BYTES_PER_USER` and `QUOTA_FILES_PER_USER`. An upload reserves its room
//! before it writes a byte: the stored usage (the user's file records) plus what uploads in
//! flight reserved, plus this one, must stay within the quota, else it is refused (413, `quota_exceeded`) and
//! nothing is stored. An upload that states its `Content-Length` reserves that; one that does
//! not reserves all the room left and is cut there. So concurrent uploads never pass the
//! quota together. The reservation ends when the upload's record is stored (it then counts
//! in the stored usage) or the upload fails.
//!
//! Reservations are kept in this process: several instances over one MongoDB each keep their
//! own, so together they may pass a quota by at most one upload per other instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::usage::file_usage;
use crate::config::AccountsConfig;
use crate::error::ApiError;
use crate::model::{FieldError, UserId};
use crate::store::{MetadataStore, StoreError};

/// Bytes and files reserved by writes in flight, per user.
#[derive(Debug, Default, Clone, Copy)]
struct Reserved {
    bytes: u64,
    files: u64,
}

pub struct Quotas {
    bytes: Option<u64>,
    files: Option<u64>,
    reserved: Mutex<HashMap<UserId, Reserved>>,
    /// One check at a time: read the stored usage, compare, reserve.
    check: tokio::sync::Mutex<()>,
}

/// What a write asks for: `bytes` when it knows them (else all the room left), and files.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    pub bytes: Option<u64>,
    pub files: u64,
}

/// Room held for one write; dropping it gives the room back.
pub struct Reservation {
    quotas: Arc<Quotas>,
    user: UserId,
    reserved: Reserved,
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
        if let Some(entry) = reserved.get_mut(&self.user) {
            entry.bytes -= self.reserved.bytes;
            entry.files -= self.reserved.files;
            if entry.bytes == 0 && entry.files == 0 {
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
        let reservation = |reserved: Reserved, limit: u64, usage: u64| Reservation {
            quotas: Arc::clone(self),
            user: user.clone(),
            reserved,
            limit,
            usage,
        };
        if self.bytes.is_none() && self.files.is_none() {
            return Ok(reservation(Reserved::default(), max_bytes, 0));
        }
        let _one_at_a_time = self.check.lock().await;
        let stored = file_usage(store, user).await?;
        let held = self.held(user);
        let files_used = stored.files + held.files;
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
        let bytes_used = stored.bytes + held.bytes;
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
        };
        let mut all = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        let entry = all.entry(user.clone()).or_default();
        entry.bytes += reserved.bytes;
        entry.files += reserved.files;
        drop(all);
        Ok(reservation(reserved, bytes, bytes_used))
    }

    fn held(&self, user: &UserId) -> Reserved {
        let reserved = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        reserved.get(user).copied().unwrap_or_default()
    }
}
