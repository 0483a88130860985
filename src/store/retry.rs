//! Retrying a read-modify-write that lost a race. Every write checks the version it read
//! (optimistic concurrency), so a concurrent writer makes it fail with
//! [`StoreError::VersionMismatch`]; the writer then reads again and recomputes its change.
//! This is the one loop that does so, for every caller.

use std::future::Future;

use serde_json::{Map, Value};

use super::{StoreError, StoreResult};
use crate::model::Document;

/// What one attempt of a read-modify-write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    /// The write was made.
    Done(T),
    /// A concurrent writer changed what the attempt read: read again and recompute.
    Conflict,
}

impl<T> Attempt<T> {
    /// A store write's result as an attempt: a version mismatch means "read again".
    pub fn of_write(result: StoreResult<T>) -> StoreResult<Self> {
        match result {
            Ok(value) => Ok(Self::Done(value)),
            Err(StoreError::VersionMismatch) => Ok(Self::Conflict),
            Err(error) => Err(error),
        }
    }

    /// The same outcome with `done`'s value transformed.
    pub fn map<U>(self, transform: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Self::Done(value) => Attempt::Done(transform(value)),
            Self::Conflict => Attempt::Conflict,
        }
    }
}

/// Why [`retry_on_conflict`] gave up.
#[derive(Debug, PartialEq, Eq)]
pub enum RetryError<E> {
    /// Every attempt met a concurrent change; nothing was written.
    KeptColliding,
    /// An attempt failed for another reason; its error, unchanged.
    Failed(E),
}

impl<E> RetryError<E> {
    /// The caller's error, with `kept_colliding` standing for the attempts running out (each
    /// caller words its own 409).
    pub fn or_colliding(self, kept_colliding: impl FnOnce() -> E) -> E {
        match self {
            Self::KeptColliding => kept_colliding(),
            Self::Failed(error) => error,
        }
    }
}

/// Runs `step` (read, compute, write) until it is done, fails, or has met a conflict
/// `attempts` times.
pub async fn retry_on_conflict<T, E, F, Fut>(
    attempts: usize,
    mut step: F,
) -> Result<T, RetryError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, E>>,
{
    for _ in 0..attempts {
        match step().await.map_err(RetryError::Failed)? {
            Attempt::Done(value) => return Ok(value),
            Attempt::Conflict => continue,
        }
    }
    Err(RetryError::KeptColliding)
}

/// Edits one stored document in place: reads it, lets `edit` change its body, and writes it
/// back with the version it read, again on a version mismatch. Returns whether it was written:
/// false when the document is gone or `edit` found nothing to change (returned false). A
/// document that concurrent writers keep changing past `attempts` is
/// [`StoreError::Contended`], never a silent give-up.
pub async fn edit_document<Read, ReadFut, Write, WriteFut>(
    attempts: usize,
    mut read: Read,
    edit: impl Fn(&mut Map<String, Value>) -> bool,
    write: Write,
) -> StoreResult<bool>
where
    Read: FnMut() -> ReadFut,
    ReadFut: Future<Output = StoreResult<Document>>,
    Write: Fn(u64, Map<String, Value>) -> WriteFut,
    WriteFut: Future<Output = StoreResult<Document>>,
{
    let outcome = retry_on_conflict(attempts, || {
        let current = read();
        let (edit, write) = (&edit, &write);
        async move {
            let current = match current.await {
                Ok(current) => current,
                Err(StoreError::NotFound) => return Ok(Attempt::Done(false)),
                Err(error) => return Err(error),
            };
            let mut body = current.body;
            if !edit(&mut body) {
                return Ok(Attempt::Done(false));
            }
            match write(current.version, body).await {
                Err(StoreError::NotFound) => Ok(Attempt::Done(false)),
                written => Attempt::of_write(written).map(|attempt| attempt.map(|_| true)),
            }
        }
    })
    .await;
    outcome.map_err(|error| error.or_colliding(|| StoreError::Contended))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_conflict_reads_again_until_the_write_is_made() {
        let mut calls = 0;
        let result: Result<u32, RetryError<()>> = retry_on_conflict(5, || {
            calls += 1;
            let attempt = if calls < 3 {
                Attempt::Conflict
            } else {
                Attempt::Done(calls)
            };
            async move { Ok(attempt) }
        })
        .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn running_out_of_attempts_is_told_apart_from_a_failure() {
        let mut calls = 0;
        let colliding: Result<(), RetryError<&str>> = retry_on_conflict(4, || {
            calls += 1;
            async { Ok(Attempt::Conflict) }
        })
        .await;
        assert_eq!(colliding, Err(RetryError::KeptColliding));
        assert_eq!(calls, 4);
        let failed: Result<(), RetryError<&str>> =
            retry_on_conflict(4, || async { Err("broken") }).await;
        assert_eq!(failed, Err(RetryError::Failed("broken")));
    }

    #[test]
    fn only_a_version_mismatch_is_a_conflict() {
        assert!(matches!(
            Attempt::<()>::of_write(Err(StoreError::VersionMismatch)),
            Ok(Attempt::Conflict)
        ));
        assert!(matches!(
            Attempt::<()>::of_write(Err(StoreError::NotFound)),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(Attempt::of_write(Ok(7)), Ok(Attempt::Done(7))));
    }

    fn stored(version: u64, flag: bool) -> Document {
        let mut body = Map::new();
        body.insert("isDefault".into(), Value::Bool(flag));
        let mut document = Document::new(
            uuid::Uuid::nil(),
            crate::model::UserId::parse("u").unwrap(),
            crate::model::Timestamp::now(),
            body,
        );
        document.version = version;
        document
    }

    fn clear(body: &mut Map<String, Value>) -> bool {
        let holds = body.get("isDefault") == Some(&Value::Bool(true));
        body.insert("isDefault".into(), Value::Bool(false));
        holds
    }

    #[tokio::test]
    async fn an_edit_is_written_with_the_version_it_read_after_a_conflict() {
        let reads = std::cell::Cell::new(0);
        let written = edit_document(
            4,
            || {
                reads.set(reads.get() + 1);
                std::future::ready(Ok(stored(reads.get(), true)))
            },
            clear,
            |version, body| {
                let result = if version < 2 {
                    Err(StoreError::VersionMismatch)
                } else {
                    assert_eq!(body.get("isDefault"), Some(&Value::Bool(false)));
                    Ok(stored(version + 1, false))
                };
                std::future::ready(result)
            },
        )
        .await;
        assert!(matches!(written, Ok(true)));
        assert_eq!(reads.get(), 2);
    }

    #[tokio::test]
    async fn a_gone_or_unchanged_document_is_not_written_and_endless_collisions_are_an_error() {
        let never = |_: u64, _: Map<String, Value>| async { panic!("nothing to write") };
        let gone = edit_document(4, || async { Err(StoreError::NotFound) }, clear, never).await;
        assert!(matches!(gone, Ok(false)));
        let unchanged = edit_document(4, || async { Ok(stored(1, false)) }, clear, never).await;
        assert!(matches!(unchanged, Ok(false)));
        let colliding = edit_document(
            3,
            || async { Ok(stored(1, true)) },
            clear,
            |_, _| async { Err(StoreError::VersionMismatch) },
        )
        .await;
        assert!(matches!(colliding, Err(StoreError::Contended)));
    }
}
